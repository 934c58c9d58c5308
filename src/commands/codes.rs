//! `mailfault codes`: the whole catalog, to browse or to feed another tool.

use std::io::{self, Write};

use serde::Serialize;

use crate::codes::{
    ENHANCED_CODES, EnhancedEntry, ProviderEntry, REPLY_CODES, ReplyCodeEntry, SUBJECTS,
    SubjectEntry, provider_texts,
};

#[derive(Serialize)]
struct Catalog {
    reply_codes: &'static [ReplyCodeEntry],
    subjects: &'static [SubjectEntry],
    enhanced_codes: &'static [EnhancedEntry],
    provider_texts: Vec<&'static ProviderEntry>,
}

/// Writes the catalog as tables or as one JSON object; returns the exit code.
pub fn run(json: bool, out: &mut dyn Write) -> u8 {
    let written = if json {
        let catalog = Catalog {
            reply_codes: REPLY_CODES,
            subjects: SUBJECTS,
            enhanced_codes: ENHANCED_CODES,
            provider_texts: provider_texts().collect(),
        };
        serde_json::to_writer_pretty(&mut *out, &catalog)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        write_tables(out)
    };
    super::exit_after_output(written)
}

fn write_tables(out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "Reply codes")?;
    for e in REPLY_CODES {
        let class = e.class().map_or("?", |c| c.as_str());
        writeln!(
            out,
            "  {}  {class:<12}  {:<18}  {:<17}  {}",
            e.code,
            e.rfc_short(),
            e.category.as_str(),
            e.title
        )?;
    }
    writeln!(out)?;
    writeln!(out, "Enhanced status codes (IANA registry)")?;
    for e in ENHANCED_CODES {
        let classes: Vec<String> = e.classes.iter().map(u8::to_string).collect();
        writeln!(
            out,
            "  {:<7}  {:<5}  {:<28}  {:<17}  {}",
            e.pattern(),
            classes.join(","),
            e.rfc,
            e.category.as_str(),
            e.title
        )?;
    }
    writeln!(out)?;
    writeln!(out, "Provider and blocklist texts (non-standard)")?;
    for p in provider_texts() {
        let code = p.enhanced.map_or_else(|| "-".to_owned(), |r| r.to_string());
        writeln!(
            out,
            "  {code:<11}  {:<9}  {:<17}  {:<34}  {}",
            p.source.as_str(),
            p.category.as_str(),
            p.id,
            p.example
        )?;
    }
    Ok(())
}
