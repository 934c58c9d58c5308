//! A report in the three forms people read it in: a terminal, a program
//! (JSON) and a CI server (JUnit XML, one test case per verdict, which
//! GitHub Actions reporters and GitLab's test report both show per case).

use std::fmt::Write as _;

use super::exchanges::seconds;
use super::{Report, Verdict};

impl Report {
    /// For a terminal: PASS/FAIL per verdict, evidence indented under it.
    pub fn to_text(&self) -> String {
        let s = &self.summary;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "expectations {}: {} passed, {} failed ({} session(s), {} message(s))",
            if self.passed { "PASSED" } else { "FAILED" },
            s.passed,
            s.failed,
            s.sessions,
            s.messages
        );
        if let Some(run) = &s.run {
            let how = match (run.timed_out, run.exit) {
                (true, _) => "stopped at the time-out".to_owned(),
                (false, Some(code)) => format!("exited with {code}"),
                (false, None) => "was killed".to_owned(),
            };
            let _ = writeln!(out, "sender {how} after {}", seconds(run.elapsed));
        }
        for v in &self.verdicts {
            let _ = writeln!(
                out,
                "\n{}  {}",
                if v.passed { "PASS" } else { "FAIL" },
                v.name
            );
            let _ = writeln!(out, "      expected: {}", v.expected);
            let _ = writeln!(out, "      found:    {}", v.found);
            for e in &v.evidence {
                let _ = writeln!(
                    out,
                    "        [session {} at {}] {}",
                    e.session, e.at, e.line
                );
                let _ = writeln!(out, "            {}", e.why);
            }
        }
        if !s.not_judged.is_empty() {
            let _ = writeln!(
                out,
                "\nnot judged (set to false): {}",
                s.not_judged.join(", ")
            );
        }
        out
    }

    /// The report as pretty-printed JSON, field for field.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| {
            // Only a serializer bug gets here; say so in valid JSON.
            format!(
                "{{\"error\": {}}}",
                serde_json::Value::String(e.to_string())
            )
        })
    }

    /// JUnit XML: a `testsuite` named `suite_name` with one `testcase` per
    /// verdict; expectations set to `false` appear as skipped cases.
    pub fn to_junit(&self, suite_name: &str) -> String {
        let s = &self.summary;
        let tests = self.verdicts.len() + s.not_judged.len();
        let time = s.run.map_or(0.0, |r| r.elapsed.as_secs_f64());
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuite name=\"{}\" tests=\"{tests}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{time:.3}\">",
            attr(suite_name),
            s.failed,
            s.not_judged.len()
        );
        for v in &self.verdicts {
            let _ = write!(
                out,
                "  <testcase name=\"{}\" classname=\"mailfault.expect\" time=\"0\">",
                attr(v.name)
            );
            if v.passed {
                let _ = write!(out, "\n    <system-out>{}</system-out>", text(&body(v)));
            } else {
                let _ = write!(
                    out,
                    "\n    <failure message=\"{}\" type=\"expectation\">{}</failure>",
                    attr(&v.found),
                    text(&body(v))
                );
            }
            out.push_str("\n  </testcase>\n");
        }
        for name in &s.not_judged {
            let _ = writeln!(
                out,
                "  <testcase name=\"{}\" classname=\"mailfault.expect\" time=\"0\">\n    <skipped message=\"set to false in the scenario: not judged\"/>\n  </testcase>",
                attr(name)
            );
        }
        out.push_str("</testsuite>\n");
        out
    }
}

/// What a CI page shows inside a test case: the sentences, then evidence.
fn body(v: &Verdict) -> String {
    let mut b = format!("expected: {}\nfound: {}\n", v.expected, v.found);
    for e in &v.evidence {
        let _ = writeln!(
            b,
            "[session {} at {}] {}\n    {}",
            e.session, e.at, e.line, e.why
        );
    }
    b
}

/// XML 1.0 cannot carry most control characters even escaped; client bytes
/// may contain them, so they become U+FFFD.
fn allowed(c: char) -> char {
    match c {
        '\t' | '\n' | '\r' => c,
        c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
        c => c,
    }
}

fn text(s: &str) -> String {
    escape(s, false)
}

/// Attribute values also escape quotes and keep line breaks as references
/// (a literal newline in an attribute is normalised to a space).
fn attr(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, in_attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().map(allowed) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if in_attribute => out.push_str("&quot;"),
            '\'' if in_attribute => out.push_str("&apos;"),
            '\n' if in_attribute => out.push_str("&#10;"),
            '\r' if in_attribute => out.push_str("&#13;"),
            '\t' if in_attribute => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
