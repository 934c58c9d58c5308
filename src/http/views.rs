//! The JSON shapes of mailfault's own resources: what a session looks like
//! to a client, in summary (lists, events) and in full. Messages have
//! Mailpit's shapes (`compat::mailpit`).

use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::proto::event::Event;
use crate::store::transcript::{self, Direction};
use crate::store::{OpenSession, SessionRecord};

pub(super) fn time(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

/// Scenario or session offsets as a person reads them: `12.031s`.
pub(super) fn seconds(d: Duration) -> String {
    format!("{}.{:03}s", d.as_secs(), d.subsec_millis())
}

#[derive(Serialize)]
pub(super) struct SessionSummary {
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
    /// Events on record (see `dropped` for those left out past the cap).
    pub events: usize,
    /// Events left out because the session outgrew its record.
    pub dropped: u64,
    /// Replies a scenario rule produced.
    pub faults: usize,
    /// How it ended: `client closed`, `server closed (after QUIT)`, ...;
    /// `None` while in progress.
    pub ended: Option<String>,
}

impl SessionSummary {
    pub(super) fn of(s: &SessionRecord) -> Self {
        let events = s.log.events();
        let faults = events
            .iter()
            .filter(|e| matches!(&e.event, Event::Reply(r) if r.rule.is_some()))
            .count();
        let ended = events.iter().rev().find_map(|e| match &e.event {
            Event::ServerClosed(reason) => Some(format!("server closed ({})", reason.describe())),
            Event::ClientClosed { .. } => Some("client closed".to_owned()),
            Event::ReadFailed { .. } => Some("read error".to_owned()),
            _ => None,
        });
        Self {
            id: s.id,
            client: s.client.to_string(),
            connection: s.connection,
            epoch: s.epoch,
            started_at: time(s.started_at),
            ended_at: Some(time(s.ended_at)),
            open: false,
            messages: s.messages.clone(),
            events: s.log.len(),
            dropped: s.log.dropped(),
            faults,
            ended,
        }
    }
}

impl SessionSummary {
    pub(super) fn open(s: &OpenSession) -> Self {
        Self {
            id: s.id,
            client: s.client.to_string(),
            connection: s.connection,
            epoch: s.epoch,
            started_at: time(s.started_at),
            ended_at: None,
            open: true,
            messages: Vec::new(),
            events: 0,
            dropped: 0,
            faults: 0,
            ended: None,
        }
    }
}

#[derive(Serialize)]
pub(super) struct TranscriptLine {
    pub at: String,
    pub at_ms: f64,
    /// Scenario time (virtual when the scenario's clock is).
    pub scenario_at: String,
    pub dir: &'static str,
    pub text: String,
    pub rule: Option<String>,
}

#[derive(Serialize)]
pub(super) struct SessionDetail {
    #[serde(flatten)]
    pub summary: SessionSummary,
    /// Rendered from `events`, for people.
    pub transcript: Vec<TranscriptLine>,
    /// What happened, as typed facts (see `session_events`).
    pub events: Vec<serde_json::Value>,
}

impl SessionDetail {
    pub(super) fn of(s: &SessionRecord) -> Self {
        Self {
            summary: SessionSummary::of(s),
            events: super::session_events::events(s),
            transcript: transcript::lines(&s.log)
                .into_iter()
                .map(|l| TranscriptLine {
                    at: seconds(l.at),
                    at_ms: l.at.as_secs_f64() * 1000.0,
                    scenario_at: seconds(s.scenario_time(l.at)),
                    dir: match l.direction {
                        Direction::Client => "client",
                        Direction::Server => "server",
                        Direction::Note => "note",
                    },
                    text: l.text,
                    rule: l.rule.map(|r| r.to_string()),
                })
                .collect(),
        }
    }
}
