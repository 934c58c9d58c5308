//! Captured messages and session records as bytes, for instances that share
//! them through a stream: what one instance writes another must read back
//! exactly, and bytes read from the network are input, so a damaged or
//! foreign record is an error, never a panic.
//!
//! Every record starts with a four-byte header: `MF`, a kind byte (`M`
//! message, `S` finished session, `O` open session) and a format version,
//! so a reader can refuse what it does not understand instead of guessing.
//! A message follows it with the length of its JSON head (u64, big-endian),
//! the head (every field but the content) and the content as is: content
//! may be any bytes and tens of megabytes, which JSON would mangle or
//! triple. Sessions follow it with JSON alone, in version 2 compact where
//! every event repeats a field: times as nanoseconds, command lines as
//! text when they are UTF-8 (a typical record is a fifth smaller).

use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::log::EventLog;
use super::message::{OpenSession, SessionRecord, StoredMessage, Timeline};
use crate::proto::transaction::Recipient;

/// The first two bytes of every record.
const MAGIC: [u8; 2] = *b"MF";
/// The format version this build writes and reads.
const VERSION: u8 = 2;
/// Magic, kind and version.
const HEADER_LEN: usize = 4;
/// The big-endian length of a message's JSON head.
const HEAD_LEN_BYTES: usize = 8;

/// What a record holds, so one kind is never decoded as another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Message,
    Session,
    Open,
}

impl Kind {
    fn byte(self) -> u8 {
        match self {
            Kind::Message => b'M',
            Kind::Session => b'S',
            Kind::Open => b'O',
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Message => "message",
            Kind::Session => "session",
            Kind::Open => "open session",
        }
    }
}

/// Why bytes are not a record this build can read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CodecError {
    /// Shorter than the fixed part of the header.
    #[error("truncated header: {have} bytes, {need} needed")]
    TruncatedHeader {
        /// Bytes the header needs.
        need: usize,
        /// Bytes there were.
        have: usize,
    },
    /// Does not start with `MF`: not one of our records at all.
    #[error("not a mailfault record (bad magic bytes)")]
    BadMagic,
    /// A record of another kind (a session where a message was expected).
    #[error("expected a {expected} record, found kind byte {found:#04x}")]
    WrongKind {
        /// The kind asked for.
        expected: &'static str,
        /// The kind byte found.
        found: u8,
    },
    /// Written by a version of the format this build does not know.
    #[error("unknown format version {found} (this build reads version {VERSION})")]
    UnknownVersion {
        /// The version byte found.
        found: u8,
    },
    /// The message's JSON head is longer than the bytes that follow.
    #[error("truncated head: {declared} bytes declared, {have} present")]
    TruncatedHead {
        /// Length the prefix declares.
        declared: u64,
        /// Bytes after the prefix.
        have: usize,
    },
    /// The content is not as long as the head says: cut or padded.
    #[error("content is {have} bytes, the head declares {declared}")]
    ContentLength {
        /// Length the head declares.
        declared: u64,
        /// Bytes present.
        have: usize,
    },
    /// The JSON part does not parse into the record.
    #[error("bad JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Times travel as signed nanoseconds since the Unix epoch: serde's own
/// form refuses a time before the epoch, and encoding must not fail.
mod system_time {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    const NANOS: u128 = 1_000_000_000;

    pub(super) fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let nanos = match t.duration_since(UNIX_EPOCH) {
            Ok(after) => i128::try_from(after.as_nanos()).unwrap_or(i128::MAX),
            Err(before) => i128::try_from(before.duration().as_nanos()).map_or(i128::MIN, |n| -n),
        };
        s.serialize_i128(nanos)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let nanos = i128::deserialize(d)?;
        let span =
            duration(nanos.unsigned_abs()).ok_or_else(|| D::Error::custom("time out of range"))?;
        let t = if nanos >= 0 {
            UNIX_EPOCH.checked_add(span)
        } else {
            UNIX_EPOCH.checked_sub(span)
        };
        t.ok_or_else(|| D::Error::custom("time out of range"))
    }

    fn duration(nanos: u128) -> Option<Duration> {
        let secs = u64::try_from(nanos / NANOS).ok()?;
        let sub = u32::try_from(nanos % NANOS).ok()?;
        Some(Duration::new(secs, sub))
    }
}

/// Spans of time travel as whole nanoseconds: a tenth of serde's
/// `{"secs":..,"nanos":..}` in a session record, where every event has one.
pub(crate) mod nanos {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    const NANOS: u128 = 1_000_000_000;

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u128(d.as_nanos())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        from(u128::deserialize(d)?).ok_or_else(|| D::Error::custom("duration out of range"))
    }

    /// `None` past what a [`Duration`] holds.
    pub(super) fn from(nanos: u128) -> Option<Duration> {
        let secs = u64::try_from(nanos / NANOS).ok()?;
        let sub = u32::try_from(nanos % NANOS).ok()?;
        Some(Duration::new(secs, sub))
    }
}

/// A message's fields but its content, which follows the head raw.
#[derive(Serialize, Deserialize)]
struct MessageHead<'a> {
    id: u64,
    session_id: u64,
    client: SocketAddr,
    #[serde(with = "system_time")]
    received_at: SystemTime,
    helo: Option<Cow<'a, str>>,
    mail_from: Cow<'a, str>,
    mail_params: Cow<'a, str>,
    recipients: Cow<'a, [Recipient]>,
    tls: Option<Cow<'a, str>>,
    auth_user: Option<Cow<'a, str>>,
    received_header: Cow<'a, str>,
    smuggling_attempts: u32,
    bare_lf: bool,
    /// Lets the reader tell a cut record from a short message.
    content_len: u64,
}

/// A finished session, its clock readings in place of the clock.
#[derive(Serialize, Deserialize)]
struct SessionBody<'a> {
    id: u64,
    client: SocketAddr,
    connection: u64,
    #[serde(with = "system_time")]
    started_at: SystemTime,
    #[serde(with = "system_time")]
    ended_at: SystemTime,
    epoch: u64,
    #[serde(with = "nanos")]
    scenario_started: Duration,
    /// `None` when the record had no timeline; offsets and readings in
    /// nanoseconds.
    timeline: Option<Vec<(u128, u128)>>,
    messages: Cow<'a, [u64]>,
    log: Cow<'a, EventLog>,
}

/// A session still talking.
#[derive(Serialize, Deserialize)]
struct OpenBody {
    id: u64,
    client: SocketAddr,
    connection: u64,
    #[serde(with = "system_time")]
    started_at: SystemTime,
    epoch: u64,
}

fn header(kind: Kind, out: &mut Vec<u8>) {
    out.extend_from_slice(&MAGIC);
    out.push(kind.byte());
    out.push(VERSION);
}

/// Appends `value` as JSON. Serializing fails only for a map with
/// non-string keys or a type that refuses its value; none is in these
/// records (times go through [`system_time`]), so should it ever happen the
/// JSON is left empty, which the decoder rejects, rather than panic here.
fn json<T: Serialize>(value: &T, out: &mut Vec<u8>) {
    let start = out.len();
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.truncate(start);
    }
}

/// The bytes after a header of `kind` in this build's version.
fn body(bytes: &[u8], kind: Kind) -> Result<&[u8], CodecError> {
    let Some(([m0, m1, found_kind, version], rest)) = bytes.split_first_chunk::<HEADER_LEN>()
    else {
        return Err(CodecError::TruncatedHeader {
            need: HEADER_LEN,
            have: bytes.len(),
        });
    };
    if [*m0, *m1] != MAGIC {
        return Err(CodecError::BadMagic);
    }
    if *found_kind != kind.byte() {
        return Err(CodecError::WrongKind {
            expected: kind.name(),
            found: *found_kind,
        });
    }
    if *version != VERSION {
        return Err(CodecError::UnknownVersion { found: *version });
    }
    Ok(rest)
}

/// A message as bytes: header, JSON head with its length, raw content.
pub(crate) fn encode_message(m: &StoredMessage) -> Vec<u8> {
    let head = MessageHead {
        id: m.id,
        session_id: m.session_id,
        client: m.client,
        received_at: m.received_at,
        helo: m.helo.as_deref().map(Cow::Borrowed),
        mail_from: Cow::Borrowed(&m.mail_from),
        mail_params: Cow::Borrowed(&m.mail_params),
        recipients: Cow::Borrowed(&m.recipients),
        tls: m.tls.as_deref().map(Cow::Borrowed),
        auth_user: m.auth_user.as_deref().map(Cow::Borrowed),
        received_header: Cow::Borrowed(&m.received_header),
        smuggling_attempts: m.smuggling_attempts,
        bare_lf: m.bare_lf,
        content_len: m.content.len() as u64,
    };
    let mut head_json = Vec::with_capacity(512);
    json(&head, &mut head_json);
    let mut out =
        Vec::with_capacity(HEADER_LEN + HEAD_LEN_BYTES + head_json.len() + m.content.len());
    header(Kind::Message, &mut out);
    out.extend_from_slice(&(head_json.len() as u64).to_be_bytes());
    out.extend_from_slice(&head_json);
    out.extend_from_slice(&m.content);
    out
}

/// A message back from [`encode_message`]'s bytes.
pub(crate) fn decode_message(bytes: &[u8]) -> Result<StoredMessage, CodecError> {
    let rest = body(bytes, Kind::Message)?;
    let Some((prefix, rest)) = rest.split_first_chunk::<HEAD_LEN_BYTES>() else {
        return Err(CodecError::TruncatedHeader {
            need: HEADER_LEN + HEAD_LEN_BYTES,
            have: bytes.len(),
        });
    };
    let declared = u64::from_be_bytes(*prefix);
    let truncated = CodecError::TruncatedHead {
        declared,
        have: rest.len(),
    };
    let Some((head, content)) = usize::try_from(declared)
        .ok()
        .and_then(|len| rest.split_at_checked(len))
    else {
        return Err(truncated);
    };
    let head: MessageHead<'_> = serde_json::from_slice(head)?;
    if head.content_len != content.len() as u64 {
        return Err(CodecError::ContentLength {
            declared: head.content_len,
            have: content.len(),
        });
    }
    Ok(StoredMessage {
        id: head.id,
        session_id: head.session_id,
        client: head.client,
        received_at: head.received_at,
        helo: head.helo.map(Cow::into_owned),
        mail_from: head.mail_from.into_owned(),
        mail_params: head.mail_params.into_owned(),
        recipients: head.recipients.into_owned(),
        tls: head.tls.map(Cow::into_owned),
        auth_user: head.auth_user.map(Cow::into_owned),
        received_header: head.received_header.into_owned(),
        content: content.to_vec(),
        smuggling_attempts: head.smuggling_attempts,
        bare_lf: head.bare_lf,
    })
}

/// A finished session as bytes. Its clock stays behind (another instance
/// has another clock); what it read at each event's offset goes instead.
pub(crate) fn encode_session(r: &SessionRecord) -> Vec<u8> {
    let timeline = r.timeline.as_ref().map(|_| {
        let mut offsets: Vec<Duration> = r.log.events().iter().map(|s| s.at).collect();
        offsets.sort_unstable();
        offsets.dedup();
        offsets
            .into_iter()
            .map(|at| (at.as_nanos(), r.scenario_time(at).as_nanos()))
            .collect()
    });
    let record = SessionBody {
        id: r.id,
        client: r.client,
        connection: r.connection,
        started_at: r.started_at,
        ended_at: r.ended_at,
        epoch: r.epoch,
        scenario_started: r.scenario_started,
        timeline,
        messages: Cow::Borrowed(&r.messages),
        log: Cow::Borrowed(&r.log),
    };
    let mut out = Vec::with_capacity(HEADER_LEN + 256 + r.log.len() * 96);
    header(Kind::Session, &mut out);
    json(&record, &mut out);
    out
}

/// A finished session back from [`encode_session`]'s bytes; its
/// `scenario_time` answers from the readings taken when it was encoded.
pub(crate) fn decode_session(bytes: &[u8]) -> Result<SessionRecord, CodecError> {
    let record: SessionBody<'_> = serde_json::from_slice(body(bytes, Kind::Session)?)?;
    let timeline = match record.timeline {
        Some(table) => {
            let mut table = table
                .into_iter()
                .map(|(at, reading)| Some((nanos::from(at)?, nanos::from(reading)?)))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    <serde_json::Error as serde::de::Error>::custom("timeline out of range")
                })?;
            // Lookups search it; bytes from elsewhere may not be in order.
            table.sort_unstable_by_key(|(at, _)| *at);
            Some(Timeline::Recorded(table))
        }
        None => None,
    };
    Ok(SessionRecord {
        id: record.id,
        client: record.client,
        connection: record.connection,
        started_at: record.started_at,
        ended_at: record.ended_at,
        epoch: record.epoch,
        scenario_started: record.scenario_started,
        timeline,
        messages: record.messages.into_owned(),
        log: record.log.into_owned(),
    })
}

/// A session still talking, as bytes.
pub(crate) fn encode_open(o: &OpenSession) -> Vec<u8> {
    let open = OpenBody {
        id: o.id,
        client: o.client,
        connection: o.connection,
        started_at: o.started_at,
        epoch: o.epoch,
    };
    let mut out = Vec::with_capacity(HEADER_LEN + 128);
    header(Kind::Open, &mut out);
    json(&open, &mut out);
    out
}

/// A session still talking, back from [`encode_open`]'s bytes.
pub(crate) fn decode_open(bytes: &[u8]) -> Result<OpenSession, CodecError> {
    let open: OpenBody = serde_json::from_slice(body(bytes, Kind::Open)?)?;
    Ok(OpenSession {
        id: open.id,
        client: open.client,
        connection: open.connection,
        started_at: open.started_at,
        epoch: open.epoch,
    })
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
