//! What arrived: how many messages were captured and for whom.

use std::collections::BTreeSet;

use crate::scenario::Delivered;
use crate::store::StoredMessage;

use super::exchanges::seconds;
use super::{EvidenceLine, Seen, Verdict};
use crate::proto::command::Verb;
use crate::proto::event::{Event, Fate};

/// A captured message as an evidence line, timed by the session's record
/// of storing it.
pub(super) fn message_line(seen: &Seen<'_>, m: &StoredMessage, why: &str) -> EvidenceLine {
    let stored = seen
        .sessions
        .iter()
        .filter(|s| s.id() == m.session_id)
        .flat_map(|s| s.events())
        .find(|(_, e)| matches!(e, Event::TransactionEnded(Fate::Stored { id }) if *id == m.id))
        .map(|(said, _)| said);
    let to: Vec<String> = m
        .recipients
        .iter()
        .map(|r| format!("<{}>", r.address))
        .collect();
    EvidenceLine {
        session: m.session_id,
        at: stored.map_or_else(|| "-".to_owned(), |s| seconds(s.at)),
        line: format!(
            "message {}: <{}> -> {} ({} bytes)",
            m.id,
            m.mail_from,
            to.join(", "),
            m.content.len()
        ),
        why: why.to_owned(),
    }
}

pub(super) fn delivered(expect: Delivered, seen: &Seen<'_>) -> Verdict {
    let n = seen.evidence.messages.len() as u64;
    let (expected, ok) = match expect {
        Delivered::Exactly(k) => (format!("exactly {k} message(s) delivered"), n == k),
        Delivered::Bounds(b) => match (b.min, b.max) {
            (Some(lo), Some(hi)) => (
                format!("between {lo} and {hi} message(s) delivered"),
                (lo..=hi).contains(&n),
            ),
            (Some(lo), None) => (format!("at least {lo} message(s) delivered"), n >= lo),
            (None, Some(hi)) => (format!("at most {hi} message(s) delivered"), n <= hi),
            (None, None) => ("any number of messages delivered".to_owned(), true),
        },
    };
    let evidence = if ok {
        Vec::new()
    } else {
        seen.evidence
            .messages
            .iter()
            .map(|m| message_line(seen, m, "captured"))
            .collect()
    };
    let found = format!("{n} message(s) captured");
    Verdict::new("delivered", ok, expected, found, evidence)
}

fn bare(address: &str) -> String {
    let a = address.trim();
    let a = a.strip_prefix('<').unwrap_or(a);
    a.strip_suffix('>').unwrap_or(a).to_lowercase()
}

/// The set of recipients over all captured messages equals `expected`
/// (case-insensitive). A missing recipient's RCPT lines and replies are
/// the evidence: they show whether it was never tried or refused.
pub(super) fn recipients(expected: &[String], seen: &Seen<'_>) -> Verdict {
    let want: BTreeSet<String> = expected.iter().map(|a| bare(a)).collect();
    let got: BTreeSet<String> = seen
        .evidence
        .messages
        .iter()
        .flat_map(|m| m.recipients.iter().map(|r| bare(&r.address)))
        .collect();
    let missing: Vec<&String> = want.difference(&got).collect();
    let unexpected: Vec<&String> = got.difference(&want).collect();
    let mut evidence = Vec::new();
    for addr in &missing {
        let tries = seen
            .sessions
            .iter()
            .flat_map(|s| s.exchanges.iter())
            .filter(|e| {
                e.command().is_some_and(|c| {
                    c.is(Verb::Rcpt) && c.address().as_deref() == Some(addr.as_str())
                })
            });
        let mut any = false;
        for e in tries {
            any = true;
            if let Some(c) = e.command() {
                evidence.push(c.said.evidence(format!("<{addr}> was tried")));
            }
            if let Some(r) = e.reply {
                evidence.push(r.said.evidence("the answer"));
            }
        }
        if !any {
            evidence.push(EvidenceLine {
                session: 0,
                at: "-".into(),
                line: format!("<{addr}>"),
                why: "expected, but no RCPT TO named it".into(),
            });
        }
    }
    for m in seen.evidence.messages.iter() {
        if m.recipients
            .iter()
            .any(|r| unexpected.contains(&&bare(&r.address)))
        {
            evidence.push(message_line(
                seen,
                m,
                "delivered to a recipient not expected",
            ));
        }
    }
    let list = |v: &[&String]| {
        v.iter()
            .map(|a| format!("<{a}>"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let expected_text = format!(
        "messages delivered to exactly {{{}}}",
        list(&want.iter().collect::<Vec<_>>())
    );
    let ok = missing.is_empty() && unexpected.is_empty();
    let found = if ok {
        format!("delivered to exactly those {} recipient(s)", got.len())
    } else {
        let mut parts = Vec::new();
        if !missing.is_empty() {
            parts.push(format!("missing {}", list(&missing)));
        }
        if !unexpected.is_empty() {
            parts.push(format!("unexpected {}", list(&unexpected)));
        }
        parts.join("; ")
    };
    Verdict::new("recipients", ok, expected_text, found, evidence)
}
