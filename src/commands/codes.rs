//! `mailfault codes`: the whole catalog, to browse or to feed another tool.

use std::io::{self, Write};

use serde::Serialize;

use crate::codes::{
    ENHANCED_CODES, EnhancedEntry, ProviderEntry, REPLY_CODES, ReplyCodeEntry, SUBJECTS,
    SubjectEntry, provider_texts,
};
use crate::proto::policy::ReplyChoice;
use crate::scenario::Scenario;

#[derive(Serialize)]
struct Catalog {
    reply_codes: &'static [ReplyCodeEntry],
    subjects: &'static [SubjectEntry],
    enhanced_codes: &'static [EnhancedEntry],
    provider_texts: Vec<&'static ProviderEntry>,
    profiles: Vec<ProfileReply>,
}

/// One reply of a built-in provider profile and where its text comes from.
#[derive(Serialize)]
struct ProfileReply {
    profile: &'static str,
    rule: String,
    reply: Option<String>,
    source: Option<String>,
}

/// Every rule of every built-in profile (`scenarios/providers/`).
fn profile_replies() -> Vec<ProfileReply> {
    Scenario::built_in_profiles()
        .filter_map(|name| Scenario::built_in(name).map(|s| (name, s)))
        .flat_map(|(name, s)| {
            s.rules
                .iter()
                .map(|rule| ProfileReply {
                    profile: name,
                    rule: rule.name.to_string(),
                    reply: match &rule.reply {
                        ReplyChoice::Custom(r) => Some(r.to_string()),
                        _ => None,
                    },
                    source: rule.source.as_deref().map(str::to_owned),
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Writes the catalog as tables or as one JSON object; returns the exit code.
pub fn run(json: bool, out: &mut dyn Write) -> u8 {
    let written = if json {
        let catalog = Catalog {
            reply_codes: REPLY_CODES,
            subjects: SUBJECTS,
            enhanced_codes: ENHANCED_CODES,
            provider_texts: provider_texts().collect(),
            profiles: profile_replies(),
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
            if e.deprecated() {
                "(deprecated: duplicate of X.6.8)"
            } else {
                e.title
            }
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
