//! The text transcript of a session, rendered from its events when someone
//! reads it (the API, the page, report evidence): client lines (`C:`),
//! server lines (`S:`, with the rule behind each reply) and mailfault's
//! notes (`--`). Nothing is stored as text: the events are the record.

use std::sync::Arc;
use std::time::Duration;

use super::log::EventLog;
use crate::proto::event::{CloseReason, Deviation, Discard, Event, Fate};
use crate::proto::reply::{Malformed, Wire};

/// Who produced a transcript line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Direction {
    /// What the client sent.
    Client,
    /// What the server replied.
    Server,
    /// mailfault's own remark: a tolerated deviation, an anomaly, a summary.
    Note,
}

impl Direction {
    /// `C: `, `S: ` or `-- `.
    pub fn prefix(self) -> &'static str {
        match self {
            Direction::Client => "C: ",
            Direction::Server => "S: ",
            Direction::Note => "-- ",
        }
    }
}

/// One rendered line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// The event it renders (several lines may share one: a multiline reply).
    pub event: usize,
    /// Time since the session started.
    pub at: Duration,
    /// Who said it.
    pub direction: Direction,
    /// Printable: valid UTF-8 as is, other bytes and controls escaped.
    pub text: String,
    /// The scenario rule behind a reply.
    pub rule: Option<Arc<str>>,
}

impl Line {
    /// `C: ...`, `S: ...  [rule: x]`, `-- ...`.
    pub fn shown(&self) -> String {
        let mut out = String::with_capacity(self.text.len() + 4);
        out.push_str(self.direction.prefix());
        out.push_str(&self.text);
        if let Some(rule) = &self.rule {
            out.push_str("  [rule: ");
            out.push_str(rule);
            out.push(']');
        }
        out
    }
}

/// Bytes a client sent, made safe to show: controls and invalid UTF-8
/// escaped, so a transcript can never inject into a terminal or a page.
pub fn printable(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
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

/// Every line of a session, in order.
pub fn lines(log: &EventLog) -> Vec<Line> {
    let mut out = Vec::with_capacity(log.len() + 4);
    for (index, stamped) in log.events().iter().enumerate() {
        event_lines(&stamped.event, |direction, text, rule| {
            out.push(Line {
                event: index,
                at: stamped.at,
                direction,
                text,
                rule: rule.cloned(),
            })
        });
    }
    out
}

/// The whole transcript as prefixed text, one line each: for logs and tests.
pub fn render(log: &EventLog) -> String {
    let mut out = String::new();
    for line in lines(log) {
        out.push_str(&line.shown());
        out.push('\n');
    }
    out
}

/// The line a reader quotes for one event: a command's line, a reply's
/// last line (the one that completes it), a note's text.
pub fn quote(log: &EventLog, index: usize) -> Option<Line> {
    let stamped = log.events().get(index)?;
    let mut last = None;
    event_lines(&stamped.event, |direction, text, rule| {
        if last.is_none() || direction != Direction::Note {
            last = Some(Line {
                event: index,
                at: stamped.at,
                direction,
                text,
                rule: rule.cloned(),
            });
        }
    });
    last
}

/// Renders one event as zero or more lines.
pub fn event_lines(event: &Event, mut emit: impl FnMut(Direction, String, Option<&Arc<str>>)) {
    let mut note = |text: String| emit(Direction::Note, text, None);
    match event {
        Event::Connected { .. } => {}
        Event::Command(c) => emit(Direction::Client, printable(&c.line), None),
        Event::Reply(r) => {
            let mut wire = Vec::with_capacity(64);
            match r.wire {
                Wire::Malformed(kind) => r.reply.write_malformed(&mut wire, r.enhanced, kind),
                _ => r.reply.write_to(&mut wire, r.enhanced),
            }
            for line in wire.split(|&b| b == b'\n') {
                if line.is_empty() {
                    continue;
                }
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                emit(Direction::Server, printable(line), r.rule.as_ref());
            }
            match r.wire {
                Wire::Normal => {}
                Wire::Drip { bytes_per_sec } => emit(
                    Direction::Note,
                    format!("reply dripped at {bytes_per_sec} B/s"),
                    None,
                ),
                Wire::Malformed(Malformed::Split) => emit(
                    Direction::Note,
                    "reply split into small fragments, a few milliseconds apart".to_owned(),
                    None,
                ),
                Wire::Malformed(kind) => emit(
                    Direction::Note,
                    format!("reply malformed on purpose ({})", kind.name()),
                    None,
                ),
            }
        }
        Event::Tolerated(d) => note(match d {
            Deviation::Syntax(what) => format!("tolerated: {what}"),
            Deviation::BareLfCommand => "command line ended with bare LF (accepted)".to_owned(),
            Deviation::BareCrInCommand => "bare CR inside command line".to_owned(),
        }),
        Event::TlsFault(fault) => note(match fault {
            crate::proto::policy::TlsFault::AbortHandshake => {
                "TLS fault: closed after 220, before the handshake (abort_handshake)".to_owned()
            }
            other => format!("TLS fault: handshake with {}", other.name()),
        }),
        Event::TlsEstablished { version, cipher } => {
            note(format!("TLS established: {version} {cipher}"))
        }
        Event::TlsFailed { error: Some(e) } => note(format!("TLS handshake failed: {e}")),
        Event::TlsFailed { error: None } => note("TLS handshake timed out".to_owned()),
        Event::PlaintextDiscarded { bytes } => note(format!(
            "discarded {bytes} byte(s) pipelined after STARTTLS before the TLS handshake (command injection attempt, CVE-2011-0411 class)"
        )),
        Event::Auth {
            mechanism,
            user,
            granted,
        } => note(match (granted, user) {
            (true, Some(user)) => format!("authenticated as {user:?} ({})", mechanism.name()),
            _ => format!(
                "authentication failed ({}; the name tried is not recorded)",
                mechanism.name()
            ),
        }),
        Event::Content {
            bytes,
            bare_lf,
            smuggling,
        } => {
            note(format!("message content: {bytes} bytes"));
            if *smuggling > 0 {
                note(format!(
                    "SMTP smuggling attempt: {smuggling} dot line(s) next to a bare LF or CR inside the content"
                ));
            }
            if *bare_lf {
                note("message content has bare LF line endings".to_owned());
            }
        }
        Event::RuleNote(text) => note(text.to_string()),
        Event::TransactionEnded(fate) => match fate {
            Fate::Stored { .. } | Fate::Refused { .. } => {}
            Fate::Discarded(why) => note(match why {
                Discard::StoreFalse => "message not stored (store: false)".to_owned(),
                Discard::NoReply => "no reply sent; message not stored".to_owned(),
                Discard::ClosedBeforeReply => {
                    "connection closed before the final reply; message not stored".to_owned()
                }
                Discard::Cut { bytes } => format!(
                    "connection cut after {bytes} bytes of message content (disconnect_after_bytes); partial message discarded"
                ),
                Discard::ConnectionLost => {
                    "connection lost during message content; partial message discarded".to_owned()
                }
                Discard::StoreFailed { error } => format!("store failed: {error}"),
            }),
        },
        Event::ClientClosed { .. } => note("client closed the connection".to_owned()),
        Event::ReadFailed { error } => note(format!("read error: {error}")),
        Event::ServerClosed(reason) => match reason {
            CloseReason::WriteFailed => {
                note("could not write reply (client gone or not reading)".to_owned())
            }
            other => note(format!(
                "server closed the connection ({})",
                other.describe()
            )),
        },
        Event::Lingered { unread, late } => {
            if *unread > 0 {
                note(format!(
                    "{unread} byte(s) pipelined before the 421 went out were not read"
                ));
            }
            if *late > 0 {
                note(format!(
                    "client sent {late} byte(s) after the 421 (read while closing, not answered)"
                ));
            }
        }
        Event::Truncated { dropped } => note(format!(
            "record truncated: {dropped} later event(s) left out (NOOPs, notes and their like; what verdicts read is kept)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::command::Verb;
    use crate::proto::event::{Answer, CommandEvent, ReplyEvent};
    use crate::proto::reply::{EnhancedCode, Reply};

    #[test]
    fn renders_both_directions_with_rules() {
        let mut log = EventLog::new();
        log.push(
            Duration::ZERO,
            Event::Command(CommandEvent {
                verb: Some(Verb::Rcpt),
                ..CommandEvent::unparsed(b"RCPT TO:<x@y>")
            }),
        );
        log.push(
            Duration::from_millis(1),
            Event::Reply(ReplyEvent {
                answers: Answer::Command,
                reply: Reply::new(550, Some(EnhancedCode::new(5, 1, 1)), "no\nsuch user"),
                enhanced: true,
                rule: Some(Arc::from("unknown user")),
                wire: Wire::Normal,
            }),
        );
        log.push(
            Duration::from_millis(2),
            Event::ClientClosed { in_content: false },
        );
        assert_eq!(
            render(&log),
            "C: RCPT TO:<x@y>\nS: 550-5.1.1 no  [rule: unknown user]\nS: 550 5.1.1 such user  [rule: unknown user]\n-- client closed the connection\n"
        );
        assert_eq!(lines(&log)[1].at, Duration::from_millis(1));
        assert_eq!(
            quote(&log, 1).map(|l| l.text),
            Some("550 5.1.1 such user".to_owned())
        );
    }

    #[test]
    fn escapes_binary_and_controls() {
        assert_eq!(
            printable(b"HELO \x00\xff\x1b[31m"),
            "HELO \\u{0}\\xff\\u{1b}[31m"
        );
    }
}
