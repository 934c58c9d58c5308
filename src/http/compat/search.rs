//! Mailpit's search syntax: `from:`, `to:`, `cc:`, `bcc:`, `reply-to:`,
//! `addressed:`, `subject:`, `message-id:`, `tag:`, `is:read|unread|tagged`,
//! `has:attachment`, `before:`/`after:` (dates, UTC), `larger:`/`smaller:`,
//! quoted phrases, `-` (or `!`) negation, and free words that must appear in
//! the subject, an address or the text body. Every match is a
//! case-insensitive substring, as in Mailpit.

use std::time::SystemTime;

use super::parsed::{Mailbox, Parsed};
use crate::store::StoredMessage;

#[derive(Debug, PartialEq)]
enum Kind {
    From(String),
    To(String),
    Cc(String),
    Bcc(String),
    ReplyTo(String),
    Addressed(String),
    Subject(String),
    MessageId(String),
    Tag(String),
    Read(bool),
    Tagged,
    Attachment,
    Before(SystemTime),
    After(SystemTime),
    Larger(u64),
    Smaller(u64),
    Text(String),
}

#[derive(Debug, PartialEq)]
struct Term {
    negate: bool,
    kind: Kind,
}

/// A parsed query: every term must hold (an empty query matches all).
#[derive(Debug, PartialEq)]
pub(super) struct Query {
    terms: Vec<Term>,
}

/// Splits on whitespace, keeping quoted phrases (`subject:"two words"`,
/// `"two words"`) whole and dropping the quotes.
fn words(q: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut started = false;
    for c in q.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            c if c.is_whitespace() && !quoted => {
                if started {
                    out.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            c => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        out.push(word);
    }
    out
}

/// `2024-05-01`, `2024-05-01 13:00`, or a full RFC 3339 time, read as UTC.
fn date(value: &str) -> Result<SystemTime, String> {
    let text = match value.len() {
        10 => format!("{value}T00:00:00Z"),
        16 => format!("{value}:00Z"),
        _ => value.to_owned(),
    };
    humantime::parse_rfc3339_weak(&text.replace('T', " ").replace('Z', ""))
        .or_else(|_| humantime::parse_rfc3339(&text))
        .map_err(|_| {
            format!("`{value}` is not a date; use YYYY-MM-DD, YYYY-MM-DD HH:MM or RFC 3339 (UTC)")
        })
}

/// `100`, `10K`, `2M`, `1G` (powers of 1024).
fn size(value: &str) -> Result<u64, String> {
    let upper = value.trim().to_ascii_uppercase();
    let upper = upper.trim_end_matches('B');
    let (digits, unit) = match upper.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => upper.split_at(i),
        None => (upper, ""),
    };
    let factor = match unit {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        _ => u64::MAX,
    };
    match digits.parse::<u64>() {
        Ok(n) if factor != u64::MAX => Ok(n.saturating_mul(factor)),
        _ => Err(format!("`{value}` is not a size; use e.g. 500, 10K, 2M")),
    }
}

impl Query {
    pub(super) fn parse(q: &str) -> Result<Self, String> {
        let mut terms = Vec::new();
        for word in words(q) {
            let (negate, word) = match word.strip_prefix(['-', '!']) {
                Some(rest) if !rest.is_empty() => (true, rest.to_owned()),
                _ => (false, word),
            };
            let lower = word.to_lowercase();
            let kind = match lower.split_once(':') {
                Some((key, value)) => {
                    let value = value.to_owned();
                    match key {
                        "from" => Kind::From(value),
                        "to" => Kind::To(value),
                        "cc" => Kind::Cc(value),
                        "bcc" => Kind::Bcc(value),
                        "reply-to" => Kind::ReplyTo(value),
                        "addressed" => Kind::Addressed(value),
                        "subject" => Kind::Subject(value),
                        "message-id" => Kind::MessageId(value.trim_matches(['<', '>']).to_owned()),
                        "tag" => Kind::Tag(value),
                        "is" => match value.as_str() {
                            "read" => Kind::Read(true),
                            "unread" => Kind::Read(false),
                            "tagged" => Kind::Tagged,
                            _ => {
                                return Err(format!(
                                    "`is:{value}` is unknown; use is:read, is:unread or is:tagged"
                                ));
                            }
                        },
                        "has" => match value.as_str() {
                            "attachment" | "attachments" => Kind::Attachment,
                            _ => {
                                return Err(format!(
                                    "`has:{value}` is unknown; use has:attachment"
                                ));
                            }
                        },
                        "before" => Kind::Before(date(&value)?),
                        "after" => Kind::After(date(&value)?),
                        "larger" => Kind::Larger(size(&value)?),
                        "smaller" => Kind::Smaller(size(&value)?),
                        // A colon in a free word (a URL, a time) is text.
                        _ => Kind::Text(lower),
                    }
                }
                None => Kind::Text(lower),
            };
            terms.push(Term { negate, kind });
        }
        Ok(Self { terms })
    }

    pub(super) fn matches(&self, m: &StoredMessage, p: &Parsed, read: bool) -> bool {
        self.terms
            .iter()
            .all(|t| t.negate != t.kind.holds(m, p, read))
    }
}

fn has(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(needle)
}

fn any_mailbox(list: &[Mailbox], needle: &str) -> bool {
    list.iter()
        .any(|a| has(&a.address, needle) || has(&a.name, needle))
}

impl Kind {
    fn holds(&self, m: &StoredMessage, p: &Parsed, read: bool) -> bool {
        let envelope_to = |n: &str| m.recipients.iter().any(|r| has(&r.address, n));
        match self {
            Kind::From(n) => {
                p.from.iter().any(|a| has(&a.address, n) || has(&a.name, n)) || has(&m.mail_from, n)
            }
            Kind::To(n) => any_mailbox(&p.to, n) || envelope_to(n),
            Kind::Cc(n) => any_mailbox(&p.cc, n),
            Kind::Bcc(n) => any_mailbox(&p.bcc, n) || envelope_to(n),
            Kind::ReplyTo(n) => any_mailbox(&p.reply_to, n),
            Kind::Addressed(n) => {
                any_mailbox(&p.to, n)
                    || any_mailbox(&p.cc, n)
                    || any_mailbox(&p.bcc, n)
                    || envelope_to(n)
            }
            Kind::Subject(n) => has(&p.subject, n),
            Kind::MessageId(n) => has(&p.message_id, n),
            Kind::Tag(_) | Kind::Tagged => false,
            Kind::Read(want) => read == *want,
            Kind::Attachment => p.attachments().next().is_some(),
            Kind::Before(t) => m.received_at < *t,
            Kind::After(t) => m.received_at > *t,
            Kind::Larger(n) => m.size() as u64 > *n,
            Kind::Smaller(n) => (m.size() as u64) < *n,
            Kind::Text(n) => {
                has(&p.subject, n)
                    || has(&p.text, n)
                    || p.from.iter().any(|a| has(&a.address, n) || has(&a.name, n))
                    || any_mailbox(&p.to, n)
                    || any_mailbox(&p.cc, n)
                    || any_mailbox(&p.bcc, n)
                    || has(&m.mail_from, n)
                    || envelope_to(n)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(q: &str) -> Vec<(bool, Kind)> {
        Query::parse(q)
            .unwrap()
            .terms
            .into_iter()
            .map(|t| (t.negate, t.kind))
            .collect()
    }

    #[test]
    fn parses_filters_phrases_and_negation() {
        assert_eq!(
            kinds("from:Ann subject:\"big news\" -is:read \"two words\" !has:attachment"),
            [
                (false, Kind::From("ann".into())),
                (false, Kind::Subject("big news".into())),
                (true, Kind::Read(true)),
                (false, Kind::Text("two words".into())),
                (true, Kind::Attachment),
            ]
        );
        assert_eq!(
            kinds("message-id:<a@b>"),
            [(false, Kind::MessageId("a@b".into()))]
        );
        assert_eq!(kinds("larger:2K"), [(false, Kind::Larger(2048))]);
    }

    #[test]
    fn dates_and_bad_input_say_what_works() {
        assert!(Query::parse("before:2024-05-01").is_ok());
        assert!(Query::parse("after:2024-05-01 10:30").is_ok());
        assert!(
            Query::parse("after:yesterday")
                .unwrap_err()
                .contains("YYYY-MM-DD")
        );
        assert!(Query::parse("is:starred").unwrap_err().contains("is:read"));
        assert!(Query::parse("").unwrap().terms.is_empty());
    }
}
