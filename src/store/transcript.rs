//! Session transcripts: every line in both directions with its time, notes on
//! anomalies, and the rule behind each reply.
//!
//! Lines live in one byte buffer with a compact index beside it, so recording
//! a line costs no allocation of its own, and the total is capped so a client
//! that talks forever cannot grow server memory without bound.

use std::sync::Arc;
use std::time::Duration;

/// Who produced a transcript line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Client,
    Server,
    /// mailfault's own remark: a tolerated deviation, an anomaly, a summary.
    Note,
}

#[derive(Clone, Debug)]
struct Meta {
    at_micros: u64,
    direction: Direction,
    start: u32,
    len: u32,
    rule: Option<Arc<str>>,
}

/// One line, borrowed from its transcript.
#[derive(Clone, Copy, Debug)]
pub struct Line<'a> {
    /// Time since the session started.
    pub at: Duration,
    pub direction: Direction,
    /// The bytes without their line terminator; may be any bytes a client sent.
    pub bytes: &'a [u8],
    pub rule: Option<&'a str>,
}

impl Line<'_> {
    /// Printable form: valid UTF-8 as is, other bytes and controls escaped.
    pub fn text(&self) -> String {
        let mut s = String::with_capacity(self.bytes.len());
        for chunk in self.bytes.utf8_chunks() {
            for c in chunk.valid().chars() {
                if c.is_control() && c != '\t' {
                    s.extend(c.escape_default());
                } else {
                    s.push(c);
                }
            }
            for b in chunk.invalid() {
                s.push_str(&format!("\\x{b:02x}"));
            }
        }
        s
    }
}

#[derive(Clone, Debug)]
pub struct Transcript {
    bytes: Vec<u8>,
    lines: Vec<Meta>,
    max_bytes: usize,
    truncated: bool,
}

impl Default for Transcript {
    fn default() -> Self {
        Self::new(Self::DEFAULT_MAX_BYTES)
    }
}

impl Transcript {
    /// 1 MiB of text per session is far beyond any sane SMTP dialogue.
    pub const DEFAULT_MAX_BYTES: usize = 1 << 20;

    pub fn new(max_bytes: usize) -> Self {
        // Room for a typical one-message session, so recording it does not
        // reallocate on every line.
        Self {
            bytes: Vec::with_capacity(512),
            lines: Vec::with_capacity(16),
            max_bytes,
            truncated: false,
        }
    }

    fn push(&mut self, at: Duration, direction: Direction, line: &[u8], rule: Option<&Arc<str>>) {
        if self.truncated {
            return;
        }
        if self.bytes.len() + line.len() > self.max_bytes {
            self.truncated = true;
            let note = b"transcript truncated: size limit reached";
            let start = self.bytes.len() as u32;
            self.bytes.extend_from_slice(note);
            self.lines.push(Meta {
                at_micros: at.as_micros() as u64,
                direction: Direction::Note,
                start,
                len: note.len() as u32,
                rule: None,
            });
            return;
        }
        let start = self.bytes.len() as u32;
        self.bytes.extend_from_slice(line);
        self.lines.push(Meta {
            at_micros: at.as_micros() as u64,
            direction,
            start,
            len: line.len() as u32,
            rule: rule.cloned(),
        });
    }

    /// A command line as received, terminator stripped.
    pub fn client(&mut self, at: Duration, raw: &[u8]) {
        let line = raw
            .strip_suffix(b"\n")
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .unwrap_or(raw);
        self.push(at, Direction::Client, line, None);
    }

    /// A reply in wire form; each of its lines becomes a transcript line.
    pub fn server(&mut self, at: Duration, wire: &[u8], rule: Option<&Arc<str>>) {
        for line in wire.split(|&b| b == b'\n') {
            if line.is_empty() {
                continue;
            }
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            self.push(at, Direction::Server, line, rule);
        }
    }

    pub fn note(&mut self, at: Duration, text: &str) {
        self.push(at, Direction::Note, text.as_bytes(), None);
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn lines(&self) -> impl Iterator<Item = Line<'_>> {
        self.lines.iter().map(|m| Line {
            at: Duration::from_micros(m.at_micros),
            direction: m.direction,
            bytes: self
                .bytes
                .get(m.start as usize..(m.start + m.len) as usize)
                .unwrap_or(&[]),
            rule: m.rule.as_deref(),
        })
    }

    /// `C: `/`S: `/`-- ` prefixed text, one line each: for logs and tests.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in self.lines() {
            out.push_str(match line.direction {
                Direction::Client => "C: ",
                Direction::Server => "S: ",
                Direction::Note => "-- ",
            });
            out.push_str(&line.text());
            if let Some(rule) = line.rule {
                out.push_str("  [rule: ");
                out.push_str(rule);
                out.push(']');
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_both_directions_with_rules() {
        let mut t = Transcript::default();
        let rule: Arc<str> = Arc::from("unknown user");
        t.client(Duration::ZERO, b"RCPT TO:<x@y>\r\n");
        t.server(
            Duration::from_millis(1),
            b"550-5.1.1 no\r\n550 5.1.1 such user\r\n",
            Some(&rule),
        );
        t.note(Duration::from_millis(2), "hello");
        assert_eq!(
            t.render(),
            "C: RCPT TO:<x@y>\nS: 550-5.1.1 no  [rule: unknown user]\nS: 550 5.1.1 such user  [rule: unknown user]\n-- hello\n"
        );
        assert_eq!(t.lines().nth(1).unwrap().at, Duration::from_millis(1));
    }

    #[test]
    fn escapes_binary_and_controls() {
        let mut t = Transcript::default();
        t.client(Duration::ZERO, b"HELO \x00\xff\x1b[31m\r\n");
        assert_eq!(t.render(), "C: HELO \\u{0}\\xff\\u{1b}[31m\n");
    }

    #[test]
    fn stops_at_the_size_limit() {
        let mut t = Transcript::new(10);
        t.client(Duration::ZERO, b"NOOP\r\n");
        t.client(Duration::ZERO, b"NOOP\r\n");
        t.client(Duration::ZERO, b"NOOP\r\n");
        assert_eq!(t.len(), 3);
        assert!(
            t.render()
                .ends_with("-- transcript truncated: size limit reached\n")
        );
    }
}
