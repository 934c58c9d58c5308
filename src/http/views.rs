//! The JSON shapes of mailfault's own resources: what a session looks like
//! to a client, in summary (lists, events) and in full. Messages have
//! Mailpit's shapes (`compat::mailpit`).

use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::store::transcript::Direction;
use crate::store::{OpenSession, SessionRecord};

pub fn time(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

/// Scenario or session offsets as a person reads them: `12.031s`.
pub fn seconds(d: Duration) -> String {
    format!("{}.{:03}s", d.as_secs(), d.subsec_millis())
}

#[derive(Serialize)]
pub struct SessionSummary {
    pub id: u64,
    pub client: String,
    pub connection: u64,
    pub epoch: u64,
    pub started_at: String,
    /// `None` while the session is in progress.
    pub ended_at: Option<String>,
    /// In progress: its transcript arrives when it ends.
    pub open: bool,
    pub messages: Vec<u64>,
    pub lines: usize,
    /// Replies a scenario rule produced (one per reply, not per line).
    pub faults: usize,
}

impl SessionSummary {
    pub fn of(s: &SessionRecord) -> Self {
        // One per reply a rule produced: a multiline reply's continuation
        // lines (`250-...`) belong to the reply that follows them.
        let mut faults = 0;
        let mut continued = false;
        for line in s.transcript.lines() {
            if line.direction == Direction::Server && line.rule.is_some() {
                faults += usize::from(!continued);
                continued = line.bytes.get(3) == Some(&b'-');
            } else {
                continued = false;
            }
        }
        Self {
            id: s.id,
            client: s.client.to_string(),
            connection: s.connection,
            epoch: s.epoch,
            started_at: time(s.started_at),
            ended_at: Some(time(s.ended_at)),
            open: false,
            messages: s.messages.clone(),
            lines: s.transcript.len(),
            faults,
        }
    }
}

impl SessionSummary {
    pub fn open(s: &OpenSession) -> Self {
        Self {
            id: s.id,
            client: s.client.to_string(),
            connection: s.connection,
            epoch: s.epoch,
            started_at: time(s.started_at),
            ended_at: None,
            open: true,
            messages: Vec::new(),
            lines: 0,
            faults: 0,
        }
    }
}

#[derive(Serialize)]
pub struct TranscriptLine {
    pub at: String,
    pub at_ms: f64,
    /// Scenario time (virtual when the scenario's clock is).
    pub scenario_at: String,
    pub dir: &'static str,
    pub text: String,
    pub rule: Option<String>,
}

#[derive(Serialize)]
pub struct SessionDetail {
    #[serde(flatten)]
    pub summary: SessionSummary,
    pub transcript: Vec<TranscriptLine>,
}

impl SessionDetail {
    pub fn of(s: &SessionRecord) -> Self {
        Self {
            summary: SessionSummary::of(s),
            transcript: s
                .transcript
                .lines()
                .map(|l| TranscriptLine {
                    at: seconds(l.at),
                    at_ms: l.at.as_secs_f64() * 1000.0,
                    scenario_at: seconds(s.scenario_time(l.at)),
                    dir: match l.direction {
                        Direction::Client => "client",
                        Direction::Server => "server",
                        Direction::Note => "note",
                    },
                    text: l.text(),
                    rule: l.rule.map(str::to_owned),
                })
                .collect(),
        }
    }
}
