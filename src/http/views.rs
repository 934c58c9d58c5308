//! The JSON shapes of the API: what a message and a session look like to a
//! client, in summary (lists, events) and in full.
//!
//! MIME is parsed here, lazily and per request: capture never depends on a
//! parser, and a message that does not parse still shows its envelope with
//! the failure as a field.

use std::time::{Duration, SystemTime};

use mail_parser::{MessageParser, MimeHeaders};
use serde::Serialize;

use crate::proto::event::Event;
use crate::store::transcript::{self, Direction};
use crate::store::{OpenSession, SessionRecord, StoredMessage};

pub fn time(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

/// Scenario or session offsets as a person reads them: `12.031s`.
pub fn seconds(d: Duration) -> String {
    format!("{}.{:03}s", d.as_secs(), d.subsec_millis())
}

/// The decoded Subject, from the client's own headers.
fn subject(m: &StoredMessage) -> Option<String> {
    MessageParser::new()
        .parse_headers(&m.content)
        .and_then(|p| p.subject().map(str::to_owned))
}

#[derive(Serialize)]
pub struct MessageSummary {
    pub id: u64,
    pub session_id: u64,
    pub received_at: String,
    pub from: String,
    pub to: Vec<String>,
    pub subject: Option<String>,
    pub size: usize,
    pub tls: Option<String>,
    pub auth_user: Option<String>,
}

impl MessageSummary {
    pub fn of(m: &StoredMessage) -> Self {
        Self {
            id: m.id,
            session_id: m.session_id,
            received_at: time(m.received_at),
            from: m.mail_from.clone(),
            to: m.recipients.iter().map(|r| r.address.clone()).collect(),
            subject: subject(m),
            size: m.size(),
            tls: m.tls.clone(),
            auth_user: m.auth_user.clone(),
        }
    }
}

#[derive(Serialize)]
pub struct Recipient {
    pub address: String,
    pub params: String,
}

#[derive(Serialize)]
pub struct Header {
    pub name: String,
    pub value: String,
}

#[derive(Serialize)]
pub struct Attachment {
    pub filename: Option<String>,
    pub content_type: String,
    pub size: usize,
}

#[derive(Serialize)]
pub struct MessageDetail {
    #[serde(flatten)]
    pub summary: MessageSummary,
    pub client: String,
    pub helo: Option<String>,
    pub mail_params: String,
    pub recipients: Vec<Recipient>,
    pub headers: Vec<Header>,
    pub text: Option<String>,
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
    /// Why the MIME structure could not be read; the raw message is intact.
    pub parse_error: Option<String>,
    pub smuggling_attempts: u32,
    pub bare_lf: bool,
}

/// A folded header value on one line, as a reader wants it.
fn unfold(raw: &str) -> String {
    raw.split(['\r', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

impl MessageDetail {
    pub fn of(m: &StoredMessage) -> Self {
        let raw = m.raw();
        let parsed = MessageParser::default().parse(&raw);
        let (headers, text, html, attachments, parse_error) = match &parsed {
            None => (
                Vec::new(),
                None,
                None,
                Vec::new(),
                Some("no header section found; see the raw message".to_owned()),
            ),
            Some(p) => (
                p.headers_raw()
                    .map(|(name, value)| Header {
                        name: name.to_owned(),
                        value: unfold(value),
                    })
                    .collect(),
                p.body_text(0).map(|t| t.into_owned()),
                p.body_html(0).map(|t| t.into_owned()),
                p.attachments()
                    .map(|a| Attachment {
                        filename: a.attachment_name().map(str::to_owned),
                        content_type: a.content_type().map_or_else(
                            || "application/octet-stream".to_owned(),
                            |ct| match ct.subtype() {
                                Some(sub) => format!("{}/{sub}", ct.ctype()),
                                None => ct.ctype().to_owned(),
                            },
                        ),
                        size: a.contents().len(),
                    })
                    .collect(),
                None,
            ),
        };
        Self {
            summary: MessageSummary::of(m),
            client: m.client.to_string(),
            helo: m.helo.clone(),
            mail_params: m.mail_params.clone(),
            recipients: m
                .recipients
                .iter()
                .map(|r| Recipient {
                    address: r.address.clone(),
                    params: r.params.clone(),
                })
                .collect(),
            headers,
            text,
            html,
            attachments,
            parse_error,
            smuggling_attempts: m.smuggling_attempts,
            bare_lf: m.bare_lf,
        }
    }
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
    pub fn of(s: &SessionRecord) -> Self {
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
            events: 0,
            dropped: 0,
            faults: 0,
            ended: None,
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
    /// Rendered from `events`, for people.
    pub transcript: Vec<TranscriptLine>,
    /// What happened, as typed facts (see `session_events`).
    pub events: Vec<serde_json::Value>,
}

impl SessionDetail {
    pub fn of(s: &SessionRecord) -> Self {
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
