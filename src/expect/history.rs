//! What happened to each (sender, recipient) pair across all sessions: when
//! it was tried and when the server deferred (4xx) or refused (5xx) it. The
//! retry judgements read these timelines.
//!
//! A pair is the MAIL FROM and RCPT TO addresses, compared
//! case-insensitively. Its fate is the first failure on its way: the MAIL
//! reply, its RCPT reply, the DATA reply, the end-of-data reply (or BDAT's),
//! or a 421 before the transaction finished. A MAIL that fails before any
//! RCPT leaves the recipients unknown; it then counts against the sender
//! alone (`to: None`), tried again by its next MAIL FROM.
//!
//! 503 replies are not a fate: they answer the client's own sequence
//! (a RCPT pipelined behind a refused MAIL), not the pair. Content is not
//! compared, so two different messages between the same pair are
//! indistinguishable from a retry of one message.

use std::collections::BTreeMap;
use std::time::Duration;

use super::exchanges::{Prompt, Reply, Said, Session};
use crate::proto::command::Verb;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Pair {
    pub from: String,
    pub to: Option<String>,
}

impl Pair {
    /// `<a@b> -> <c@d>`, or `<a@b> (no recipient named)`.
    pub(super) fn describe(&self) -> String {
        match &self.to {
            Some(to) => format!("<{}> -> <{to}>", self.from),
            None => format!("<{}> (before any RCPT)", self.from),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fate {
    Deferred,
    Refused,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Mark<'a> {
    /// The RCPT TO (or, for a sender alone, the MAIL FROM) command.
    Tried(Said<'a>),
    /// The reply that decided it, with the time it takes effect: a MAIL
    /// refusal counts from the RCPT pipelined behind it.
    Failed {
        fate: Fate,
        reply: Said<'a>,
        order: (Duration, u64, usize),
    },
}

impl Mark<'_> {
    pub(super) fn order(&self) -> (Duration, u64, usize) {
        match self {
            Mark::Tried(s) => s.order(),
            Mark::Failed { order, .. } => *order,
        }
    }
}

/// The first permanent refusal among `marks`, with its index: from there
/// on, every try of the pair goes against a refusal.
pub(super) fn first_refusal<'m, 'a>(marks: &'m [Mark<'a>]) -> Option<(usize, &'m Said<'a>)> {
    marks.iter().enumerate().find_map(|(i, mark)| match mark {
        Mark::Failed {
            fate: Fate::Refused,
            reply,
            ..
        } => Some((i, reply)),
        _ => None,
    })
}

/// Every pair's marks in time order.
pub(super) type History<'a> = BTreeMap<Pair, Vec<Mark<'a>>>;

pub(super) fn history<'a>(sessions: &[Session<'a>]) -> History<'a> {
    let mut h = History::new();
    for s in sessions {
        walk(s, &mut h);
    }
    for marks in h.values_mut() {
        marks.sort_by_key(Mark::order);
    }
    h
}

/// A transaction in progress: from MAIL to its end.
struct Open<'a> {
    from: String,
    /// The MAIL reply when it was a 4xx or 5xx (not 503).
    mail_failed: Option<(Fate, Said<'a>)>,
    /// Recipients named in it, and whether they still await their fate.
    named: Vec<(String, bool)>,
}

fn fate(reply: &Reply<'_>) -> Option<Fate> {
    match reply.code() {
        503 => None,
        400..=499 => Some(Fate::Deferred),
        500..=599 => Some(Fate::Refused),
        _ => None,
    }
}

fn failed<'a>(
    h: &mut History<'a>,
    pair: Pair,
    fate: Fate,
    reply: Said<'a>,
    order: (Duration, u64, usize),
) {
    h.entry(pair)
        .or_default()
        .push(Mark::Failed { fate, reply, order });
}

impl<'a> Open<'a> {
    /// Every recipient still waiting shares the fate of `reply`.
    fn settle(&mut self, h: &mut History<'a>, fate: Fate, reply: Said<'a>) {
        for (to, waiting) in &mut self.named {
            if *waiting {
                *waiting = false;
                let pair = Pair {
                    from: self.from.clone(),
                    to: Some(to.clone()),
                };
                failed(h, pair, fate, reply, reply.order());
            }
        }
    }

    /// A refused MAIL with no RCPT behind it is held against the sender.
    fn close(self, h: &mut History<'a>) {
        if let (Some((fate, reply)), true) = (self.mail_failed, self.named.is_empty()) {
            let pair = Pair {
                from: self.from.clone(),
                to: None,
            };
            failed(h, pair, fate, reply, reply.order());
        }
    }
}

fn walk<'a>(s: &Session<'a>, h: &mut History<'a>) {
    let mut open: Option<Open<'a>> = None;
    for e in &s.exchanges {
        let fate_now = e.reply.as_ref().and_then(fate);
        let line = e.reply.map(|r| r.said);
        let verb = e.command().and_then(|c| c.verb());
        match e.prompt {
            Prompt::Command(c) if c.event.late => {}
            Prompt::Command(c) if verb == Some(Verb::Mail) => {
                if let Some(o) = open.take() {
                    o.close(h);
                }
                let Some(from) = c.address() else {
                    continue;
                };
                h.entry(Pair {
                    from: from.clone(),
                    to: None,
                })
                .or_default()
                .push(Mark::Tried(c.said));
                open = Some(Open {
                    from,
                    mail_failed: fate_now.zip(line),
                    named: Vec::new(),
                });
            }
            Prompt::Command(c) if verb == Some(Verb::Rcpt) => {
                let (Some(o), Some(to)) = (open.as_mut(), c.address()) else {
                    continue;
                };
                let pair = Pair {
                    from: o.from.clone(),
                    to: Some(to.clone()),
                };
                h.entry(pair.clone()).or_default().push(Mark::Tried(c.said));
                let mut after = c.said.order();
                after.2 = after.2.saturating_add(1);
                if let Some((f, mail_reply)) = o.mail_failed {
                    failed(h, pair, f, mail_reply, after);
                    o.named.push((to, false));
                } else if let (Some(f), Some(l)) = (fate_now, line) {
                    failed(h, pair, f, l, l.order());
                    o.named.push((to, false));
                } else {
                    // Accepted (or a 503): its fate comes with the message.
                    let accepted = e.reply.map(|r| r.class()) == Some(2);
                    o.named.push((to, accepted));
                }
                if let (Some(421), Some(l)) = (e.code(), line) {
                    o.settle(h, Fate::Deferred, l);
                }
            }
            Prompt::Command(c) if matches!(verb, Some(Verb::Data | Verb::Bdat)) => {
                let Some(o) = open.as_mut() else { continue };
                if let (Some(f), Some(l)) = (fate_now, line) {
                    o.settle(h, f, l);
                }
                let done = fate_now.is_some() || (c.is(Verb::Bdat) && c.event.last);
                if done && let Some(o) = open.take() {
                    o.close(h);
                }
            }
            Prompt::Content => {
                if let Some(mut o) = open.take() {
                    if let (Some(f), Some(l)) = (fate_now, line) {
                        o.settle(h, f, l);
                    }
                    o.close(h);
                }
            }
            Prompt::Command(_)
                if matches!(
                    verb,
                    Some(Verb::Rset | Verb::Helo | Verb::Ehlo | Verb::Quit)
                ) =>
            {
                if let Some(o) = open.take() {
                    o.close(h);
                }
            }
            _ => {
                // A 421 anywhere defers what the transaction still carried.
                if let (Some(o), Some(l)) = (open.as_mut(), line)
                    && e.code() == Some(421)
                {
                    o.settle(h, Fate::Deferred, l);
                }
            }
        }
    }
    if let Some(o) = open {
        o.close(h);
    }
}
