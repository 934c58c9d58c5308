//! `mailfault explain`: say what reply lines mean, for a person reading a
//! bounce or for a script (`--json`) sorting a whole bounce log.

use std::borrow::Cow;
use std::io::{self, BufRead, Write};

use crate::codes::{Explanation, explain};

/// Explains each line and writes the result; returns the exit code. Lines
/// without a reply are reported in the output, not treated as errors: a
/// bounce log holds plenty of them.
pub fn run(lines: &[String], json: bool, out: &mut dyn Write) -> u8 {
    let explanations: Vec<Explanation> = lines.iter().map(|l| explain(l)).collect();
    let written = if json {
        serde_json::to_writer_pretty(&mut *out, &explanations)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        explanations
            .iter()
            .enumerate()
            .try_for_each(|(i, x)| write_human(x, i > 0, out))
    };
    super::exit_after_output(written)
}

/// Reads a bounce log: one reply per line, blank lines skipped, bytes that
/// are not UTF-8 replaced rather than refused (logs mix encodings).
pub fn read_lines(input: &mut dyn BufRead) -> io::Result<Vec<String>> {
    let mut lines = Vec::new();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            return Ok(lines);
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end_matches(['\r', '\n']);
        if !line.trim().is_empty() {
            lines.push(line.to_owned());
        }
    }
}

/// Reply text comes from remote servers: escape control characters so a
/// crafted bounce cannot send terminal escape sequences to whoever reads it.
fn printable(line: &str) -> Cow<'_, str> {
    if !line.chars().any(|c| c.is_control() && c != '\t') {
        return Cow::Borrowed(line);
    }
    Cow::Owned(
        line.chars()
            .map(|c| {
                if c.is_control() && c != '\t' {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

fn write_human(x: &Explanation, separate: bool, out: &mut dyn Write) -> io::Result<()> {
    if separate {
        writeln!(out)?;
    }
    writeln!(out, "{}", printable(x.line.trim()))?;
    match (x.code, x.class) {
        (Some(code), Some(class)) => {
            let title = x.reply.map_or("(not in the catalog)", |r| r.title);
            let kind = match x.reply {
                Some(r) if !r.standard => ", non-standard",
                _ => "",
            };
            writeln!(out, "  code      {code} ({}{kind}) {title}", class.as_str())?;
            if let Some(r) = x.reply {
                writeln!(out, "  meaning   {}", r.meaning)?;
            }
        }
        _ => writeln!(out, "  code      none found")?,
    }
    if let Some(e) = x.enhanced {
        let subject = x.subject.map_or("unknown subject", |s| s.title);
        match x.detail {
            Some(d) => {
                let title = if d.deprecated() {
                    "deprecated, a duplicate of X.6.8"
                } else {
                    d.title
                };
                writeln!(out, "  enhanced  {e} {subject}: {title} ({})", d.rfc)?;
            }
            None if x.field_text.is_some_and(|f| f.enhanced.is_some()) => writeln!(
                out,
                "  enhanced  {e} {subject}: provider code, not in the IANA registry"
            )?,
            None => writeln!(out, "  enhanced  {e} {subject}: not in the catalog")?,
        }
        if let Some(d) = x.detail {
            writeln!(out, "            {}", d.meaning)?;
        }
    }
    if let Some(p) = x.provider {
        writeln!(out, "  provider  {}", p.as_str())?;
    }
    if let Some(f) = x.field_text {
        writeln!(
            out,
            "  known as  {} ({}): {}",
            f.id,
            f.source.as_str(),
            f.meaning
        )?;
    }
    writeln!(out, "  category  {}", x.category.as_str())?;
    writeln!(
        out,
        "  bounce    {}, retry: {}",
        x.bounce.as_str(),
        if x.retry { "yes" } else { "no" }
    )?;
    writeln!(out, "  advice    {}", x.advice)?;
    for w in &x.warnings {
        writeln!(out, "  warning   {w}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_log_skipping_blank_lines_and_bad_bytes() {
        let log = b"550 5.1.1 a\r\n\n   \n421 4.7.0 b\xff\n250 ok";
        let lines = read_lines(&mut &log[..]).unwrap();
        assert_eq!(lines, ["550 5.1.1 a", "421 4.7.0 b\u{fffd}", "250 ok"]);
    }

    #[test]
    fn control_characters_are_escaped_in_text_output() {
        let mut out = Vec::new();
        run(
            &["550 5.1.1 \u{1b}[31mred\u{7}".to_owned()],
            false,
            &mut out,
        );
        let text = String::from_utf8(out).unwrap();
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text:?}"
        );
        assert!(
            text.starts_with("550 5.1.1 \\u{1b}[31mred\\u{7}\n"),
            "{text:?}"
        );
    }

    #[test]
    fn human_output_has_one_block_per_line() {
        let mut out = Vec::new();
        let lines = ["550 5.1.1 No such user".to_owned(), "nonsense".to_owned()];
        assert_eq!(run(&lines, false, &mut out), super::super::exit::OK);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("  category  ").count(), 2, "{text}");
        assert!(text.contains("  code      550 (permanent) Requested action not taken"));
        assert!(text.contains("  bounce    hard, retry: no"));
        assert!(text.contains("  code      none found"));
        assert!(text.contains("  warning   no reply code found"));
    }
}
