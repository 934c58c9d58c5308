//! The journal shared through Redis: every change is appended to one
//! stream, and every instance (the writer too) applies the stream in order.
//!
//! The append is one Lua script that also keeps the stream within the
//! store's bounds (bytes and entries, oldest first; a reset drops all that
//! came before it), so Redis holds what an instance's memory would.
//! A writer waits for Redis to acknowledge the append, so a 250 is only
//! sent for a message that is in Redis; an instance killed a moment later
//! loses nothing another instance cannot read.
//!
//! Each instance reads the stream on a thread of its own with a blocking
//! `XREAD`: it starts from the beginning (a new instance catches up on
//! everything still held), reconnects after a failure, and stops when the
//! store it feeds is dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use redis::{Script, Value};

use super::{Change, Commit, Committed, IdKind, Journal, JournalError, Position};
use crate::scenario::state::redis::Redis;
use crate::store::{Filed, Store, codec};

/// KEYS[1] the stream, KEYS[2] its byte count; ARGV kind, payload, max
/// bytes, max entries, the writing instance, its token for the change.
/// Appends one change and trims the oldest entries past the bounds;
/// returns the new entry's id.
const APPEND: &str = "local id = redis.call('XADD', KEYS[1], '*', 'k', ARGV[1], 'p', ARGV[2], 'i', ARGV[5], 't', ARGV[6]) \
local size = string.len(ARGV[2]) + 64 \
if ARGV[1] == 'x' then redis.call('XTRIM', KEYS[1], 'MINID', id) redis.call('SET', KEYS[2], size) return id end \
local total = redis.call('INCRBY', KEYS[2], size) \
local max, maxlen = tonumber(ARGV[3]), tonumber(ARGV[4]) \
local len = redis.call('XLEN', KEYS[1]) \
while total > max or len > maxlen do \
  local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1] \
  if not first or first[1] == id then break end \
  local n = 64 \
  for i = 1, #first[2], 2 do if first[2][i] == 'p' then n = n + string.len(first[2][i + 1]) end end \
  redis.call('XDEL', KEYS[1], first[1]) \
  total = redis.call('INCRBY', KEYS[2], -n) \
  len = len - 1 \
end \
return id";

/// Ids taken from Redis at a time: one round trip per this many messages.
const ID_BLOCK: u64 = 256;

/// KEYS[1] an id counter; ARGV block size, floor. Takes a block of ids
/// above the floor (the highest id this instance has seen), so a Redis that
/// restarted empty never hands out an id still in use; returns its last.
const TAKE_IDS: &str = "local n = tonumber(redis.call('GET', KEYS[1]) or '0') \
local floor = tonumber(ARGV[2]) if n < floor then n = floor end \
n = n + tonumber(ARGV[1]) redis.call('SET', KEYS[1], n) return n";

/// Entries read per `XREAD`, and how long one waits for new ones.
const READ_COUNT: usize = 512;
const READ_BLOCK_MS: u64 = 1000;

/// Pause before reconnecting after the reader failed.
const RETRY: Duration = Duration::from_millis(250);

/// Each instance says it is alive this often, for this long: an instance
/// killed in the middle of sessions cannot announce their end, and the
/// others drop them from the sessions in progress once it has been silent
/// for two looks in a row.
const BEAT: Duration = Duration::from_secs(1);
const ALIVE_FOR: Duration = Duration::from_secs(5);
const LOOK: Duration = Duration::from_secs(3);

#[derive(Debug, Default)]
struct Block {
    next: u64,
    end: u64,
}

/// The store's changes in a Redis stream; see the module doc.
#[derive(Debug)]
pub(crate) struct Shared {
    redis: Arc<Redis>,
    stream: String,
    bytes: String,
    ids: Arc<Ids>,
    /// Marks this instance's entries, so it tells its own changes from
    /// others' (webhooks fire only where a change was made).
    instance: String,
    /// This instance's changes on their way through the stream, by token:
    /// read back, they are applied as they are instead of decoded again.
    own: Arc<Own>,
    max_bytes: usize,
    max_entries: usize,
    append: Script,
}

/// Message, session and report ids: blocks taken from Redis counters, never
/// below the highest id this instance has seen or handed out.
#[derive(Debug)]
struct Ids {
    keys: [String; 3],
    blocks: [Mutex<Block>; 3],
    /// The highest id of each kind applied here, from any instance.
    seen: [AtomicU64; 3],
    take: Script,
}

fn slot(kind: IdKind) -> usize {
    match kind {
        IdKind::Message => 0,
        IdKind::Session => 1,
        IdKind::Report => 2,
    }
}

impl Ids {
    fn floor(&self, i: usize, block: &Block) -> u64 {
        self.seen
            .get(i)
            .map_or(0, |s| s.load(Ordering::Relaxed))
            .max(block.end.saturating_sub(1))
    }

    fn next(&self, redis: &Redis, kind: IdKind) -> Result<u64, JournalError> {
        let i = slot(kind);
        let (Some(key), Some(block)) = (self.keys.get(i), self.blocks.get(i)) else {
            return Err(JournalError("no such id kind".into()));
        };
        let mut block = block.lock().unwrap_or_else(|p| p.into_inner());
        if block.next >= block.end {
            let floor = self.floor(i, &block);
            let end: u64 = redis
                .with(|c| self.take.key(key).arg(ID_BLOCK).arg(floor).invoke(c))
                .map_err(|e| JournalError(e.0))?;
            *block = Block {
                next: end.saturating_sub(ID_BLOCK - 1),
                end: end + 1,
            };
        }
        let id = block.next;
        block.next += 1;
        Ok(id)
    }

    fn note(&self, change: &Change) {
        let (kind, id) = match change {
            Change::Message(m) => (IdKind::Message, m.id),
            Change::SessionStarted(o) => (IdKind::Session, o.id),
            Change::SessionFinished(r) => (IdKind::Session, r.id),
            Change::Report(f) => (IdKind::Report, f.view.id),
            _ => return,
        };
        if let Some(seen) = self.seen.get(slot(kind)) {
            seen.fetch_max(id, Ordering::Relaxed);
        }
    }

    /// Raises the counters to what this instance knows: after a Redis
    /// that restarted empty, the next block anyone takes is above every id
    /// still held.
    fn raise(&self, c: &mut redis::Connection) -> redis::RedisResult<()> {
        for (i, key) in self.keys.iter().enumerate() {
            let floor = match self.blocks.get(i) {
                Some(b) => self.floor(i, &b.lock().unwrap_or_else(|p| p.into_inner())),
                None => 0,
            };
            self.take.key(key).arg(0).arg(floor).invoke::<u64>(c)?;
        }
        Ok(())
    }
}

impl Shared {
    /// The log of `redis`'s namespace, bounded like the store:
    /// `max_messages` messages (and as many sessions), `max_bytes` in all.
    pub(crate) fn new(redis: Arc<Redis>, max_messages: usize, max_bytes: usize) -> Self {
        let key = |rest: &str| redis.shared_key("store", rest);
        Self {
            stream: key("log"),
            bytes: key("bytes"),
            ids: Arc::new(Ids {
                keys: [key("ids:message"), key("ids:session"), key("ids:report")],
                blocks: Default::default(),
                seen: Default::default(),
                take: Script::new(TAKE_IDS),
            }),
            instance: format!("{:016x}", rand::random::<u64>()),
            own: Arc::new(Own::default()),
            // Room for the session starts and marks between the messages
            // and sessions an instance's memory keeps.
            max_entries: max_messages.saturating_mul(4).max(1024),
            max_bytes,
            append: Script::new(APPEND),
            redis,
        }
    }
}

impl Journal for Shared {
    fn next_id(&self, kind: IdKind) -> Result<u64, JournalError> {
        self.ids.next(&self.redis, kind)
    }

    fn commit<'a>(&'a self, change: &'a Change) -> Commit<'a> {
        let (kind, payload) = encode(change);
        let token = self.own.hold(change);
        Box::pin(async move {
            let id: String = self
                .redis
                .with_async(|mut c| async move {
                    self.append
                        .key(&self.stream)
                        .key(&self.bytes)
                        .arg(kind)
                        .arg(payload)
                        .arg(self.max_bytes)
                        .arg(self.max_entries)
                        .arg(&self.instance)
                        .arg(token)
                        .invoke_async(&mut c)
                        .await
                })
                .await
                .map_err(|e| {
                    self.own.take(token);
                    JournalError(e.0)
                })?;
            let position = position(&id).ok_or_else(|| {
                JournalError(format!("Redis gave an entry id `{id}` this cannot read"))
            })?;
            Ok(Committed::At(position))
        })
    }

    fn follow(&self, store: Weak<Store>) {
        let reader = Reader {
            alive: self.redis.shared_key("store", "alive:"),
            redis: Arc::clone(&self.redis),
            stream: self.stream.clone(),
            instance: self.instance.clone(),
            own: Arc::clone(&self.own),
            ids: Arc::clone(&self.ids),
            store,
            complained: AtomicBool::new(false),
        };
        let started = std::thread::Builder::new()
            .name("mailfault-journal".into())
            .spawn(move || reader.run());
        if let Err(e) = started {
            tracing::error!(error = %e, "cannot start the shared store reader: this instance shows only its own mail");
        }
    }
}

/// This instance's changes between their append and their reading back.
#[derive(Debug, Default)]
struct Own {
    next: AtomicU64,
    held: Mutex<HashMap<u64, Change>>,
}

/// Changes held at most: one never read back (trimmed away before the
/// reader got to it, say) must not pile up; past this they are dropped
/// and read back the slow way, decoded.
const MAX_OWN: usize = 4096;

impl Own {
    fn hold(&self, change: &Change) -> u64 {
        let token = self.next.fetch_add(1, Ordering::Relaxed);
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if held.len() >= MAX_OWN {
            held.clear();
        }
        held.insert(token, change.clone());
        token
    }

    fn take(&self, token: u64) -> Option<Change> {
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&token)
    }

    fn take_text(&self, token: &[u8]) -> Option<Change> {
        let token = std::str::from_utf8(token).ok()?.parse().ok()?;
        self.take(token)
    }
}

/// The stream entry of a change: a one-letter kind and its bytes.
fn encode(change: &Change) -> (&'static str, Vec<u8>) {
    let ids = |ids: &[u64]| serde_json::to_vec(ids).unwrap_or_default();
    match change {
        Change::Message(m) => ("m", codec::encode_message(m)),
        Change::SessionStarted(o) => ("o", codec::encode_open(o)),
        Change::SessionFinished(r) => ("s", codec::encode_session(r)),
        Change::ClearMessages => ("c", Vec::new()),
        Change::DeleteMessages(list) => ("d", ids(list)),
        Change::SetRead {
            ids: list,
            read: true,
        } => ("r", ids(list)),
        Change::SetRead {
            ids: list,
            read: false,
        } => ("u", ids(list)),
        Change::Report(filed) => ("b", encode_report(filed)),
        Change::Reset => ("x", Vec::new()),
    }
}

/// The change a stream entry holds; `Err` names what did not decode.
fn decode(kind: &[u8], payload: &[u8]) -> Result<Change, String> {
    let ids = || serde_json::from_slice::<Vec<u64>>(payload).map_err(|e| e.to_string());
    Ok(match kind {
        b"m" => Change::Message(Arc::new(
            codec::decode_message(payload).map_err(|e| e.to_string())?,
        )),
        b"o" => Change::SessionStarted(codec::decode_open(payload).map_err(|e| e.to_string())?),
        b"s" => Change::SessionFinished(Arc::new(
            codec::decode_session(payload).map_err(|e| e.to_string())?,
        )),
        b"c" => Change::ClearMessages,
        b"d" => Change::DeleteMessages(ids()?),
        b"r" => Change::SetRead {
            ids: ids()?,
            read: true,
        },
        b"u" => Change::SetRead {
            ids: ids()?,
            read: false,
        },
        b"b" => Change::Report(Arc::new(decode_report(payload)?)),
        b"x" => Change::Reset,
        other => return Err(format!("unknown kind `{}`", String::from_utf8_lossy(other))),
    })
}

/// A report: its view as JSON, a newline, then its bytes when built.
fn encode_report(filed: &Filed) -> Vec<u8> {
    let mut out = serde_json::to_vec(&filed.view).unwrap_or_default();
    if let Some(raw) = &filed.raw {
        out.push(b'\n');
        out.extend_from_slice(raw);
    }
    out
}

fn decode_report(payload: &[u8]) -> Result<Filed, String> {
    let (view, raw) = match payload.iter().position(|&b| b == b'\n') {
        Some(end) => (&payload[..end], payload.get(end + 1..).map(Arc::from)),
        None => (payload, None),
    };
    let view = serde_json::from_slice(view).map_err(|e| e.to_string())?;
    Ok(Filed { view, raw })
}

/// `1700000000000-3` as numbers, to compare.
fn position(id: &str) -> Option<Position> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// The thread that applies the stream to one store.
struct Reader {
    /// Key prefix of the instances' heartbeats (`...alive:INSTANCE`).
    alive: String,
    redis: Arc<Redis>,
    stream: String,
    instance: String,
    own: Arc<Own>,
    ids: Arc<Ids>,
    store: Weak<Store>,
    /// An entry did not decode: said once, not for every entry.
    complained: AtomicBool,
}

impl Reader {
    fn run(self) {
        let mut last = String::from("0-0");
        let mut connection = None;
        let mut liveness = Liveness::default();
        while self.store.strong_count() > 0 {
            let c = match connection.take() {
                Some(c) => c,
                None => {
                    let made = self
                        .redis
                        .dedicated(Duration::from_millis(READ_BLOCK_MS * 3))
                        .and_then(|mut c| self.ids.raise(&mut c).map(|()| c));
                    match made {
                        Ok(c) => c,
                        Err(_) => {
                            std::thread::sleep(RETRY);
                            continue;
                        }
                    }
                }
            };
            let mut c = c;
            if liveness.due(&self, &mut c).is_err() {
                std::thread::sleep(RETRY);
                continue;
            }
            let read: redis::RedisResult<Value> = redis::cmd("XREAD")
                .arg("COUNT")
                .arg(READ_COUNT)
                .arg("BLOCK")
                .arg(READ_BLOCK_MS)
                .arg("STREAMS")
                .arg(&self.stream)
                .arg(&last)
                .query(&mut c);
            match read {
                Ok(value) => {
                    connection = Some(c);
                    let Some(store) = self.store.upgrade() else {
                        return;
                    };
                    for entry in entries(value) {
                        let Some(at) = position(&entry.id) else {
                            continue;
                        };
                        let here = entry.instance == self.instance.as_bytes();
                        let held = if here {
                            self.own.take_text(&entry.token)
                        } else {
                            None
                        };
                        let change = held.map_or_else(|| decode(&entry.kind, &entry.payload), Ok);
                        match change {
                            Ok(change) => {
                                self.ids.note(&change);
                                if !here {
                                    liveness.note(&entry.instance, &change);
                                }
                                store.apply(change, Some(at), here);
                            }
                            Err(e) => {
                                if !self.complained.swap(true, Ordering::Relaxed) {
                                    tracing::warn!(entry = %entry.id, error = %e, "a shared store entry does not decode here (another release?); skipped");
                                }
                                store.skip_to(at);
                            }
                        }
                        last = entry.id;
                    }
                }
                Err(_) => std::thread::sleep(RETRY),
            }
        }
    }
}

/// Which other instances have sessions in progress, and whether they are
/// still alive.
#[derive(Default)]
struct Liveness {
    beaten: Option<std::time::Instant>,
    looked: Option<std::time::Instant>,
    /// Sessions in progress, by the instance that runs them.
    open: HashMap<Vec<u8>, std::collections::HashSet<u64>>,
    /// Instances found silent at the last look.
    silent: std::collections::HashSet<Vec<u8>>,
}

impl Liveness {
    fn note(&mut self, instance: &[u8], change: &Change) {
        match change {
            Change::SessionStarted(o) => {
                self.open.entry(instance.to_vec()).or_default().insert(o.id);
            }
            Change::SessionFinished(r) => {
                if let Some(ids) = self.open.get_mut(instance) {
                    ids.remove(&r.id);
                }
            }
            Change::Reset => self.open.clear(),
            _ => {}
        }
    }

    /// Says this instance is alive, and drops the sessions of instances
    /// silent for two looks in a row, when it is time to.
    fn due(&mut self, reader: &Reader, c: &mut redis::Connection) -> redis::RedisResult<()> {
        let now = std::time::Instant::now();
        if self.beaten.is_none_or(|at| now.duration_since(at) >= BEAT) {
            let key = format!("{}{}", reader.alive, reader.instance);
            redis::cmd("SET")
                .arg(&key)
                .arg(1)
                .arg("PX")
                .arg(ALIVE_FOR.as_millis() as u64)
                .query::<()>(c)?;
            self.beaten = Some(now);
        }
        if self.looked.is_some_and(|at| now.duration_since(at) < LOOK) {
            return Ok(());
        }
        self.looked = Some(now);
        self.open.retain(|_, ids| !ids.is_empty());
        let mut gone = Vec::new();
        for instance in self.open.keys() {
            let key = format!("{}{}", reader.alive, String::from_utf8_lossy(instance));
            let alive: bool = redis::cmd("EXISTS").arg(&key).query(c)?;
            if alive {
                self.silent.remove(instance);
            } else if !self.silent.insert(instance.clone()) {
                gone.push(instance.clone());
            }
        }
        if let Some(store) = reader.store.upgrade() {
            for instance in gone {
                self.silent.remove(&instance);
                if let Some(ids) = self.open.remove(&instance) {
                    tracing::info!(
                        instance = %String::from_utf8_lossy(&instance),
                        sessions = ids.len(),
                        "an instance stopped answering; its sessions in progress are dropped"
                    );
                    store.abandon_open(&ids);
                }
            }
        }
        Ok(())
    }
}

/// One stream entry, as read.
#[derive(Debug, Default, PartialEq, Eq)]
struct Entry {
    id: String,
    kind: Vec<u8>,
    payload: Vec<u8>,
    /// The instance that wrote it.
    instance: Vec<u8>,
    /// That instance's token for the change.
    token: Vec<u8>,
}

/// The entries of an `XREAD` reply; anything else in it is ignored.
fn entries(value: Value) -> Vec<Entry> {
    let mut out = Vec::new();
    let streams = match value {
        Value::Array(streams) => streams,
        Value::Map(pairs) => pairs
            .into_iter()
            .map(|(k, v)| Value::Array(vec![k, v]))
            .collect(),
        _ => return out,
    };
    for stream in streams {
        let Value::Array(mut parts) = stream else {
            continue;
        };
        let Some(Value::Array(list)) = parts.pop() else {
            continue;
        };
        for entry in list {
            let Value::Array(pair) = entry else { continue };
            let mut pair = pair.into_iter();
            let (Some(id), Some(Value::Array(fields))) = (pair.next(), pair.next()) else {
                continue;
            };
            let Some(id) = text(id) else { continue };
            let mut e = Entry {
                id,
                ..Entry::default()
            };
            let mut fields = fields.into_iter();
            while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
                match (bytes(name).as_deref(), bytes(value)) {
                    (Some(b"k"), Some(v)) => e.kind = v,
                    (Some(b"p"), Some(v)) => e.payload = v,
                    (Some(b"i"), Some(v)) => e.instance = v,
                    (Some(b"t"), Some(v)) => e.token = v,
                    _ => {}
                }
            }
            out.push(e);
        }
    }
    out
}

fn bytes(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.into_bytes()),
        _ => None,
    }
}

fn text(value: Value) -> Option<String> {
    bytes(value).and_then(|b| String::from_utf8(b).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_compare_as_numbers() {
        assert_eq!(position("1700000000000-3"), Some((1_700_000_000_000, 3)));
        assert!(position("9-10") > position("9-9"));
        assert_eq!(position("x-1"), None);
        assert_eq!(position("17"), None);
    }

    #[test]
    fn small_changes_decode_to_what_was_encoded() {
        for change in [
            Change::ClearMessages,
            Change::Reset,
            Change::DeleteMessages(vec![3, 1]),
            Change::SetRead {
                ids: vec![7],
                read: false,
            },
        ] {
            let (kind, payload) = encode(&change);
            let back = decode(kind.as_bytes(), &payload).map(|c| format!("{c:?}"));
            assert_eq!(back, Ok(format!("{change:?}")));
        }
        assert!(decode(b"d", b"not json").is_err());
        assert!(decode(b"?", b"").is_err());
    }

    #[test]
    fn an_xread_reply_yields_its_entries_and_ignores_junk() {
        let bulk = |s: &[u8]| Value::BulkString(s.to_vec());
        let reply = Value::Array(vec![Value::Array(vec![
            bulk(b"{ns:store}:log"),
            Value::Array(vec![
                Value::Array(vec![
                    bulk(b"5-0"),
                    Value::Array(vec![
                        bulk(b"k"),
                        bulk(b"c"),
                        bulk(b"p"),
                        bulk(b""),
                        bulk(b"i"),
                        bulk(b"a1"),
                    ]),
                ]),
                Value::Int(3),
                Value::Array(vec![bulk(b"6-1")]),
            ]),
        ])]);
        let want = Entry {
            id: "5-0".into(),
            kind: b"c".to_vec(),
            payload: Vec::new(),
            instance: b"a1".to_vec(),
            token: Vec::new(),
        };
        assert_eq!(entries(reply), vec![want]);
        assert!(entries(Value::Nil).is_empty());
    }
}
