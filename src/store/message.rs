//! What the store keeps of a delivered message and of a finished session.
//!
//! The raw bytes are kept exactly as received; nothing here parses MIME, so
//! capture can never fail on a strange header (the HTTP side parses lazily).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::log::EventLog;
use super::received::{self, Trace};
use crate::proto::transaction::{Incoming, Recipient};
use crate::scenario::Clock;

/// A message that got its 2xx.
#[derive(Debug, PartialEq, Eq)]
pub struct StoredMessage {
    /// The store's id, also in the `Received:` header and the 250 reply.
    pub id: u64,
    /// The session it came in.
    pub session_id: u64,
    /// The client's address.
    pub client: SocketAddr,
    /// When it was stored.
    pub received_at: SystemTime,
    /// The EHLO/HELO name.
    pub helo: Option<String>,
    /// The MAIL FROM path (`""` for `<>`).
    pub mail_from: String,
    /// ESMTP parameters of MAIL FROM as sent (`SIZE=123 BODY=8BITMIME`).
    pub mail_params: String,
    /// Every accepted RCPT TO.
    pub recipients: Vec<Recipient>,
    /// TLS version and cipher, once TLS exists; `None` for plain SMTP.
    pub tls: Option<String>,
    /// The user AUTH succeeded for.
    pub auth_user: Option<String>,
    /// The `Received:` header we prepend (kept apart so the content is never copied).
    pub received_header: String,
    /// Content after dot-unstuffing, exactly as the client sent it.
    pub content: Vec<u8>,
    /// Dot lines next to a bare LF or CR in the content.
    pub smuggling_attempts: u32,
    /// The content had lines ended by LF alone.
    pub bare_lf: bool,
}

/// What the connection knows of a message's arrival that the session does
/// not: which session, from where, over what, for which server name.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Arrival<'a> {
    pub session_id: u64,
    pub client: SocketAddr,
    /// TLS version and cipher, once TLS exists.
    pub tls: Option<&'a str>,
    /// The server's name, for the Received header.
    pub hostname: &'a str,
    pub at: SystemTime,
}

impl StoredMessage {
    /// A message as it will be stored: the client's transaction with our
    /// `Received:` header before it. `id` comes from [`super::Store::next_id`].
    pub(crate) fn capture(id: u64, incoming: Incoming, arrival: Arrival<'_>) -> Self {
        let single = match incoming.recipients.as_slice() {
            [only] => Some(only.address.as_str()),
            _ => None,
        };
        let received_header = received::header(&Trace {
            helo: incoming.helo.as_deref(),
            client_ip: arrival.client.ip(),
            hostname: arrival.hostname,
            protocol: incoming.protocol,
            id,
            single_recipient: single,
            at: arrival.at,
        });
        StoredMessage {
            id,
            session_id: arrival.session_id,
            client: arrival.client,
            received_at: arrival.at,
            helo: incoming.helo,
            mail_from: incoming.mail_from,
            mail_params: incoming.mail_params,
            recipients: incoming.recipients,
            tls: arrival.tls.map(str::to_owned),
            auth_user: incoming.auth_user,
            received_header,
            content: fitted(incoming.content),
            smuggling_attempts: incoming.smuggling_attempts,
            bare_lf: incoming.bare_lf,
        }
    }

    /// The message as a receiver would store it: our Received header, then
    /// the client's bytes.
    pub fn raw(&self) -> Vec<u8> {
        let mut raw = Vec::with_capacity(self.size());
        raw.extend_from_slice(self.received_header.as_bytes());
        raw.extend_from_slice(&self.content);
        raw
    }

    /// Size as stored: our `Received:` header and the content.
    pub fn size(&self) -> usize {
        self.received_header.len() + self.content.len()
    }

    /// The first value of a header in the client's content, unfolded; a cheap
    /// look for tests and logs, not a MIME parser.
    pub fn header(&self, name: &str) -> Option<String> {
        let head_end = self
            .content
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(self.content.len(), |p| p + 2);
        let head = String::from_utf8_lossy(self.content.get(..head_end)?);
        let mut found: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(value) = found.as_mut() {
                if line.starts_with([' ', '\t']) {
                    value.push_str(line);
                    continue;
                }
                break;
            }
            if let Some((key, value)) = line.split_once(':')
                && key.eq_ignore_ascii_case(name)
            {
                found = Some(value.trim_start().to_owned());
            }
        }
        found.map(|v| v.trim_end().to_owned())
    }
}

/// The content with the spare room of its growth given back: a buffer that
/// doubled as DATA came in holds up to twice the message for as long as
/// the store keeps it, and the `--max-memory` budget counts what is held.
fn fitted(mut content: Vec<u8>) -> Vec<u8> {
    if content.capacity() - content.len() > content.len() / 16 + 4096 {
        content.shrink_to_fit();
    }
    content
}

/// Fixed cost of an entry beyond its variable parts (struct, Arc, list slot).
const ENTRY_OVERHEAD: usize = 256;

impl super::memory::Weigh for StoredMessage {
    fn weight(&self) -> usize {
        let recipients: usize = self
            .recipients
            .iter()
            .map(|r| r.address.len() + r.params.len() + 64)
            .sum();
        ENTRY_OVERHEAD
            + self.received_header.len()
            + self.content.capacity()
            + self.mail_from.len()
            + self.mail_params.len()
            + self.helo.as_ref().map_or(0, String::len)
            + recipients
    }
}

impl super::memory::Weigh for SessionRecord {
    fn weight(&self) -> usize {
        ENTRY_OVERHEAD + self.log.weight() + self.messages.capacity() * 8
    }
}

/// A finished SMTP session.
#[derive(Debug)]
pub struct SessionRecord {
    /// The session's id.
    pub id: u64,
    /// The client's address.
    pub client: SocketAddr,
    /// The scenario's connection counter for it.
    pub connection: u64,
    /// When it connected.
    pub started_at: SystemTime,
    /// When it ended.
    pub ended_at: SystemTime,
    /// Which scenario served it: bumped by every scenario swap and reset, so
    /// a report judges only the sessions its scenario saw.
    pub epoch: u64,
    /// The scenario clock (real or virtual) when the session started.
    pub scenario_started: Duration,
    /// The scenario's clock and the real moment the session started, to
    /// read a virtual clock's time at any line (or, for a record decoded
    /// from another instance, what it read then); `None` for a record built
    /// by hand, where a line is at `scenario_started + line.at`.
    pub(crate) timeline: Option<Timeline>,
    /// Ids of the messages this session delivered.
    pub messages: Vec<u64>,
    /// What happened, as typed events; the transcript is rendered from it.
    pub log: EventLog,
}

/// A session still talking: what the live view shows until it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenSession {
    pub id: u64,
    pub client: SocketAddr,
    pub connection: u64,
    pub started_at: SystemTime,
    pub epoch: u64,
}

/// Where a session sits on its scenario's clock.
#[derive(Debug, Clone)]
pub(crate) enum Timeline {
    /// The session ran here: its clock can be asked about any moment.
    Live { clock: Arc<Clock>, started: Instant },
    /// The session came from another instance, whose clock is not here:
    /// (offset into the session, scenario time then) for each event's
    /// offset, ascending, read off its clock when it was encoded.
    Recorded(Vec<(Duration, Duration)>),
}

impl SessionRecord {
    /// The session as text (`C: `/`S: `/`-- ` lines), rendered from its
    /// events: for logs, tests and people.
    pub fn transcript(&self) -> String {
        super::transcript::render(&self.log)
    }

    /// The transcript's lines with their times and rules.
    pub fn lines(&self) -> Vec<super::transcript::Line> {
        super::transcript::lines(&self.log)
    }

    /// Scenario time of a moment `offset` into the session: comparable across
    /// sessions of one epoch. On a virtual clock it is what that clock read
    /// then, so real milliseconds spent talking do not leak into it.
    pub fn scenario_time(&self, offset: Duration) -> Duration {
        match &self.timeline {
            // An offset past the end of representable time cannot come
            // from a real session; read it as the clock's latest time.
            Some(Timeline::Live { clock, started }) => started
                .checked_add(offset)
                .map_or_else(|| clock.now(), |when| clock.at(when)),
            // Between two readings the clock is taken to have run in step
            // with the session: exact at every event, close enough between.
            Some(Timeline::Recorded(table)) => {
                let before = table.partition_point(|(at, _)| *at <= offset);
                match before.checked_sub(1).and_then(|i| table.get(i)) {
                    Some((at, then)) => then.saturating_add(offset.saturating_sub(*at)),
                    None => self.scenario_started.saturating_add(offset),
                }
            }
            None => self.scenario_started.saturating_add(offset),
        }
    }
}
