//! Every attempt of every (sender, recipient) pair on the scenario clock,
//! with the reply class it got and the reports sent about it: the web
//! page's timeline, where a greylist retry, a sender that hammers or one
//! that keeps mailing a bounced address shows at a glance.

use std::collections::HashMap;

use serde::Serialize;

use super::exchanges::{Said, seconds};
use super::history::{Mark, history};
use super::{ReportKind, Seen};
use crate::proto::event::Event;

/// One pair's attempts and reports, oldest first.
#[derive(Clone, Debug, Serialize)]
pub struct Track {
    /// MAIL FROM (lower case; `""` for `<>`).
    pub from: String,
    /// RCPT TO (lower case); `None` for a MAIL refused before any RCPT.
    pub to: Option<String>,
    /// Each RCPT TO (or refused MAIL) of the pair.
    pub attempts: Vec<Attempt>,
    /// Reports released about the pair.
    pub reports: Vec<ReportMark>,
}

/// One attempt and how it ended.
#[derive(Clone, Debug, Serialize)]
pub struct Attempt {
    /// The session it was made in.
    pub session: u64,
    /// Scenario time in seconds.
    pub at: f64,
    /// `12.031s`, as evidence lines print it.
    pub shown_at: String,
    /// The code of the reply that decided it (the failure, else the RCPT reply).
    pub code: Option<u16>,
}

/// A report on the timeline.
#[derive(Clone, Debug, Serialize)]
pub struct ReportMark {
    /// Its id in the outbox.
    pub id: u64,
    /// Scenario time in seconds it was released.
    pub at: f64,
    /// `bounce`, `delay`, `delivered` or `complaint`.
    pub kind: &'static str,
}

fn code_of(said: &Said<'_>) -> Option<u16> {
    match said.record.log.events().get(said.index).map(|e| &e.event) {
        Some(Event::Reply(r)) => Some(r.reply.code),
        _ => None,
    }
}

/// The code of the reply to each command, by (session, event index).
fn answers(seen: &Seen<'_>) -> HashMap<(u64, usize), u16> {
    seen.sessions
        .iter()
        .flat_map(|s| s.exchanges.iter())
        .filter_map(|e| {
            Some((
                (e.command()?.said.record.id, e.command()?.said.index),
                e.code()?,
            ))
        })
        .collect()
}

pub(super) fn tracks(seen: &Seen<'_>) -> Vec<Track> {
    let answered = answers(seen);
    let answer_of = |said: &Said<'_>| answered.get(&(said.record.id, said.index)).copied();
    let mut out = Vec::new();
    for (pair, marks) in history(&seen.sessions) {
        let mut attempts: Vec<Attempt> = Vec::new();
        for mark in &marks {
            match mark {
                Mark::Tried(said) => attempts.push(Attempt {
                    session: said.record.id,
                    at: said.at.as_secs_f64(),
                    shown_at: seconds(said.at),
                    code: answer_of(said),
                }),
                Mark::Failed { reply, .. } => {
                    if let Some(last) = attempts.last_mut() {
                        last.code = code_of(reply).or(last.code);
                    }
                }
            }
        }
        let reports = seen
            .evidence
            .reports
            .iter()
            .filter(|r| {
                r.sender.eq_ignore_ascii_case(&pair.from)
                    && pair
                        .to
                        .as_ref()
                        .is_some_and(|to| r.recipient.eq_ignore_ascii_case(to))
            })
            .filter_map(|r| {
                Some(ReportMark {
                    id: r.id,
                    at: r.released?.as_secs_f64(),
                    kind: match r.kind {
                        ReportKind::Bounce { .. } => "bounce",
                        ReportKind::Delay { .. } => "delay",
                        ReportKind::Delivered => "delivered",
                        ReportKind::Complaint { .. } => "complaint",
                    },
                })
            })
            .collect();
        out.push(Track {
            from: pair.from,
            to: pair.to,
            attempts,
            reports,
        });
    }
    out
}
