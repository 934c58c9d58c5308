//! Expectations: judging how a sender behaved from what the server saw.
//!
//! A scenario's `expect:` block names what a well-behaved sender does
//! (retries a greylist, never retries a 5xx, says QUIT, ...). [`evaluate`]
//! judges each of them from the finished sessions' typed events and the
//! captured messages only, so the same report comes out of `mailfault run`,
//! the HTTP API and a Rust test. An expectation left out or set to `false`
//! is not judged and gets no verdict; the summary lists the ones set to
//! `false`, so a report never passes silently on a typo'd intention.
//!
//! `exchanges` reads each session's events as prompts paired with their
//! replies (the session recorded what each reply answers, so nothing is
//! re-parsed or guessed); `history` follows every (sender, recipient) pair
//! across sessions. The judgements: `delivery` (delivered, recipients), `retries`
//! (no_retry_after_permanent, retried_after_temporary, min_retry_interval),
//! `conduct` (quit, no_protocol_errors, closed_after_421), `encryption`
//! (starttls, ehlo_after_starttls), `size` (honours_size), `timing`
//! (within), `bounces` (stops_after_hard_bounce, stops_after_complaint,
//! keeps_trying_after_delay, null_sender_for_reports; these also read the
//! outbox's [`ReportFact`]s). `judge` gathers the evidence from a running server. `render` writes the report as text, JSON and JUnit XML.

mod bounces;
mod conduct;
mod delivery;
mod encryption;
mod exchanges;
mod history;
mod judge;
mod render;
mod retries;
mod size;
mod timeline;
mod timing;

#[cfg(test)]
mod testkit;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::scenario::Expectations;
use crate::store::{SessionRecord, StoredMessage};
use exchanges::Session;
pub use judge::{judge, timeline};
pub use timeline::{Attempt, ReportMark, Track};

/// What a report is judged from.
#[derive(Clone, Copy, Debug)]
pub struct Evidence<'a> {
    /// Finished sessions of the current scenario, oldest first.
    pub sessions: &'a [Arc<SessionRecord>],
    /// Captured messages of those sessions.
    pub messages: &'a [Arc<StoredMessage>],
    /// The SIZE the server advertised; 0 when it advertised none.
    pub max_message_size: u64,
    /// Present when mailfault ran the sender itself (`mailfault run`).
    pub run: Option<RunFacts>,
    /// Bounce, delay and complaint reports the scenario made (the outbox).
    pub reports: &'a [ReportFact],
}

/// A report the server made about a captured message, as the verdicts read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportFact {
    /// Its id in the outbox.
    pub id: u64,
    /// What it says.
    pub kind: ReportKind,
    /// The session of the message it reports on.
    pub session_id: u64,
    /// The original envelope sender it goes to.
    pub sender: String,
    /// The recipient it is about.
    pub recipient: String,
    /// Scenario time it was released; `None` while it waits for its time.
    pub released: Option<Duration>,
    /// Handed to `deliver_to` and accepted there.
    pub delivered: bool,
    /// Delivery to `deliver_to` failed for good: the sender never got it.
    pub failed: bool,
}

/// What a report says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportKind {
    /// A `failed` DSN with this status.
    Bounce {
        /// The enhanced status code, e.g. `5.1.1`.
        status: String,
    },
    /// A `delayed` DSN.
    Delay {
        /// The enhanced status code, e.g. `4.4.7`.
        status: String,
    },
    /// A `delivered` DSN (NOTIFY=SUCCESS).
    Delivered,
    /// An ARF report.
    Complaint {
        /// `abuse`, `fraud`, ...
        feedback_type: String,
    },
}

/// How the sender's process ended, as `mailfault run` saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RunFacts {
    #[serde(serialize_with = "serialize_seconds")]
    /// How long the sender ran.
    pub elapsed: Duration,
    /// `None`: killed (by a signal, or by mailfault on time-out).
    pub exit: Option<i32>,
    /// Stopped at the run's time limit.
    pub timed_out: bool,
}

fn serialize_seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&exchanges::seconds(*d))
}

#[derive(Clone, Debug, Serialize)]
/// The verdicts on one scenario's `expect:` block.
pub struct Report {
    /// Every verdict passed.
    pub passed: bool,
    /// One per expectation judged, in the README's order.
    pub verdicts: Vec<Verdict>,
    /// Counts for the summary line.
    pub summary: Summary,
}

#[derive(Clone, Debug, Serialize)]
/// What a report was judged from, and how it came out.
pub struct Summary {
    /// Sessions judged.
    pub sessions: usize,
    /// Messages captured in them.
    pub messages: usize,
    /// Verdicts that passed.
    pub passed: usize,
    /// Verdicts that failed.
    pub failed: usize,
    /// Expectations set to `false`: deliberately not judged.
    pub not_judged: Vec<&'static str>,
    /// Present when `mailfault run` ran the sender.
    pub run: Option<RunFacts>,
}

#[derive(Clone, Debug, Serialize)]
/// One expectation, judged.
pub struct Verdict {
    /// The expectation's key in the scenario, e.g. `no_retry_after_permanent`.
    pub name: &'static str,
    /// Whether the sender met it.
    pub passed: bool,
    /// What a well-behaved sender does, in words.
    pub expected: String,
    /// One sentence a developer reads to know what happened.
    pub found: String,
    /// The lines that prove it, at most [`MAX_EVIDENCE`] of them.
    pub evidence: Vec<EvidenceLine>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
/// One line of evidence: what was said, where and when, and why it matters.
pub struct EvidenceLine {
    /// The session it comes from.
    pub session: u64,
    /// Scenario time, e.g. `12.031s`.
    pub at: String,
    /// As the transcript shows it: `C: RCPT TO:<a@b>`, `S: 450 ... [rule: greylist]`.
    pub line: String,
    /// Why this line is evidence.
    pub why: String,
}

/// A badly behaved sender can repeat a mistake thousands of times; the
/// first few show the pattern and keep reports readable.
pub const MAX_EVIDENCE: usize = 20;

impl Verdict {
    fn new(
        name: &'static str,
        passed: bool,
        expected: impl Into<String>,
        found: impl Into<String>,
        mut evidence: Vec<EvidenceLine>,
    ) -> Verdict {
        evidence.truncate(MAX_EVIDENCE);
        Verdict {
            name,
            passed,
            expected: expected.into(),
            found: found.into(),
            evidence,
        }
    }
}

/// What every judgement reads: the evidence and the sessions as exchanges.
pub(crate) struct Seen<'a> {
    pub evidence: &'a Evidence<'a>,
    pub sessions: Vec<Session<'a>>,
}

struct Judged<'s> {
    seen: &'s Seen<'s>,
    verdicts: Vec<Verdict>,
    not_judged: Vec<&'static str>,
}

impl Judged<'_> {
    /// A yes/no expectation: `true` is judged, `false` noted as not judged.
    fn flag(&mut self, name: &'static str, set: Option<bool>, judge: fn(&Seen<'_>) -> Verdict) {
        match set {
            Some(true) => self.verdicts.push(judge(self.seen)),
            Some(false) => self.not_judged.push(name),
            None => {}
        }
    }
}

/// Judges every expectation that is set (and not `false`) against the evidence.
pub fn evaluate(expect: &Expectations, evidence: &Evidence<'_>) -> Report {
    let seen = Seen {
        evidence,
        sessions: evidence.sessions.iter().map(|s| Session::of(s)).collect(),
    };
    let mut j = Judged {
        seen: &seen,
        verdicts: Vec::new(),
        not_judged: Vec::new(),
    };
    // In the order the README lists them, so reports read the same way.
    if let Some(d) = &expect.delivered {
        j.verdicts.push(delivery::delivered(d.value, &seen));
    }
    if let Some(r) = &expect.recipients {
        j.verdicts.push(delivery::recipients(r, &seen));
    }
    j.flag(
        "no_retry_after_permanent",
        expect.no_retry_after_permanent,
        retries::no_retry_after_permanent,
    );
    j.flag(
        "retried_after_temporary",
        expect.retried_after_temporary,
        retries::retried_after_temporary,
    );
    if let Some(interval) = expect.retry_interval() {
        j.verdicts
            .push(retries::min_retry_interval(interval, &seen));
    }
    j.flag("quit", expect.quit, conduct::quit);
    j.flag(
        "no_protocol_errors",
        expect.no_protocol_errors,
        conduct::no_protocol_errors,
    );
    j.flag("starttls", expect.starttls, encryption::starttls);
    j.flag(
        "ehlo_after_starttls",
        expect.ehlo_after_starttls,
        encryption::ehlo_after_starttls,
    );
    j.flag("honours_size", expect.honours_size, size::honours_size);
    j.flag(
        "closed_after_421",
        expect.closed_after_421,
        conduct::closed_after_421,
    );
    if let Some(limit) = expect.time_limit() {
        j.verdicts.push(timing::within(limit, &seen));
    }
    j.flag(
        "stops_after_hard_bounce",
        expect.stops_after_hard_bounce,
        bounces::stops_after_hard_bounce,
    );
    j.flag(
        "stops_after_complaint",
        expect.stops_after_complaint,
        bounces::stops_after_complaint,
    );
    j.flag(
        "keeps_trying_after_delay",
        expect.keeps_trying_after_delay,
        bounces::keeps_trying_after_delay,
    );
    j.flag(
        "null_sender_for_reports",
        expect.null_sender_for_reports,
        bounces::null_sender_for_reports,
    );
    let Judged {
        verdicts,
        not_judged,
        ..
    } = j;
    let failed = verdicts.iter().filter(|v| !v.passed).count();
    Report {
        passed: failed == 0,
        summary: Summary {
            sessions: evidence.sessions.len(),
            messages: evidence.messages.len(),
            passed: verdicts.len() - failed,
            failed,
            not_judged,
            run: evidence.run,
        },
        verdicts,
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod bounces_tests;
