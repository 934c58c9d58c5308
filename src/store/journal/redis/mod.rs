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
//!
//! `ids` hands out message, session and report ids; `reader` is the thread
//! that follows the stream.

mod ids;
mod reader;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use redis::Script;

use super::{Change, Commit, Committed, IdKind, Journal, JournalError, Position};
use crate::scenario::state::redis::Redis;
use crate::store::{Filed, Store, codec};
use ids::Ids;

/// KEYS[1] the stream, KEYS[2] its byte count; ARGV max bytes, max
/// entries, the writing instance, then kind, payload and token of each
/// change. Appends the changes in order and trims the oldest entries past
/// the bounds (never the last one appended; a reset drops all before it);
/// returns the new entries' ids.
const APPEND: &str = "local max, maxlen, inst = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3] \
local ids, last = {}, nil \
for a = 4, #ARGV, 3 do \
  local kind, payload = ARGV[a], ARGV[a + 1] \
  local id = redis.call('XADD', KEYS[1], '*', 'k', kind, 'p', payload, 'i', inst, 't', ARGV[a + 2]) \
  local size = string.len(payload) + 64 \
  if kind == 'x' then redis.call('XTRIM', KEYS[1], 'MINID', id) redis.call('SET', KEYS[2], size) \
  else redis.call('INCRBY', KEYS[2], size) end \
  ids[#ids + 1] = id last = id \
end \
local total = tonumber(redis.call('GET', KEYS[2]) or '0') \
local len = redis.call('XLEN', KEYS[1]) \
while total > max or len > maxlen do \
  local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1] \
  if not first or first[1] == last then break end \
  local n = 64 \
  for i = 1, #first[2], 2 do if first[2][i] == 'p' then n = n + string.len(first[2][i + 1]) end end \
  redis.call('XDEL', KEYS[1], first[1]) \
  total = redis.call('INCRBY', KEYS[2], -n) \
  len = len - 1 \
end \
return ids";

/// Changes no reply waits for (a session's start and end) are gathered
/// this long and appended together: one script call for many sessions.
const GATHER: std::time::Duration = std::time::Duration::from_millis(2);

/// Changes appended in one call at most.
const MAX_BATCH: usize = 256;

/// A change encoded for the stream, and who waits for its entry id.
struct Pending {
    kind: &'static str,
    payload: Vec<u8>,
    token: u64,
    done: tokio::sync::oneshot::Sender<Result<String, JournalError>>,
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
    append: Arc<Script>,
    /// Where gathered changes wait for the task that appends them (started
    /// on first use, on the runtime of the first session).
    gathered: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<Pending>>,
}

impl Shared {
    /// The log of `redis`'s namespace, bounded like the store:
    /// `max_messages` messages (and as many sessions), `max_bytes` in all.
    pub(crate) fn new(redis: Arc<Redis>, max_messages: usize, max_bytes: usize) -> Self {
        let key = |rest: &str| redis.shared_key("store", rest);
        Self {
            stream: key("log"),
            bytes: key("bytes"),
            ids: Arc::new(Ids::new([
                key("ids:message"),
                key("ids:session"),
                key("ids:report"),
            ])),
            instance: format!("{:016x}", rand::random::<u64>()),
            own: Arc::new(Own::default()),
            // Room for the session starts and marks between the messages
            // and sessions an instance's memory keeps.
            max_entries: max_messages.saturating_mul(4).max(1024),
            max_bytes,
            append: Arc::new(Script::new(APPEND)),
            gathered: std::sync::OnceLock::new(),
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
        let gather = matches!(
            change,
            Change::SessionStarted(_) | Change::SessionFinished(_)
        );
        Box::pin(async move {
            let appended = if gather {
                self.gathered(kind, payload, token).await
            } else {
                let batch = [(kind, payload, token)];
                append(&self.redis, self.call(&batch))
                    .await
                    .map(|mut ids| ids.pop().unwrap_or_default())
            };
            let id = appended.inspect_err(|_| {
                self.own.take(token);
            })?;
            let position = position(&id).ok_or_else(|| {
                JournalError(format!("Redis gave an entry id `{id}` this cannot read"))
            })?;
            Ok(Committed::At(position))
        })
    }

    fn follow(&self, store: Weak<Store>) {
        if let Some(store) = store.upgrade() {
            store.set_caught_up(false);
        }
        reader::start(reader::Reader {
            alive: self.redis.shared_key("store", "alive:"),
            redis: Arc::clone(&self.redis),
            stream: self.stream.clone(),
            instance: self.instance.clone(),
            own: Arc::clone(&self.own),
            ids: Arc::clone(&self.ids),
            store,
        });
    }
}

impl Shared {
    /// The append script's call for `batch` (kind, payload, token each).
    fn call(&self, batch: &[(&'static str, Vec<u8>, u64)]) -> redis::ScriptInvocation<'_> {
        let mut call = self.append.key(&self.stream);
        call.key(&self.bytes)
            .arg(self.max_bytes)
            .arg(self.max_entries)
            .arg(&self.instance);
        for (kind, payload, token) in batch {
            call.arg(*kind).arg(payload.as_slice()).arg(*token);
        }
        call
    }

    /// Appends a change with the others gathered over [`GATHER`].
    async fn gathered(
        &self,
        kind: &'static str,
        payload: Vec<u8>,
        token: u64,
    ) -> Result<String, JournalError> {
        let queue = self.gathered.get_or_init(|| self.start_gathering());
        let (done, id) = tokio::sync::oneshot::channel();
        let pending = Pending {
            kind,
            payload,
            token,
            done,
        };
        if queue.send(pending).is_err() {
            return Err(JournalError("the shared store's writer stopped".into()));
        }
        id.await
            .unwrap_or_else(|_| Err(JournalError("the shared store's writer stopped".into())))
    }

    /// The task that appends gathered changes, a batch at a time, in the
    /// order they came.
    fn start_gathering(&self) -> tokio::sync::mpsc::UnboundedSender<Pending> {
        let (queue, mut incoming) = tokio::sync::mpsc::unbounded_channel::<Pending>();
        let shared = Gatherer {
            redis: Arc::clone(&self.redis),
            append: Arc::clone(&self.append),
            stream: self.stream.clone(),
            bytes: self.bytes.clone(),
            instance: self.instance.clone(),
            max_bytes: self.max_bytes,
            max_entries: self.max_entries,
        };
        tokio::spawn(async move {
            while let Some(first) = incoming.recv().await {
                tokio::time::sleep(GATHER).await;
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match incoming.try_recv() {
                        Ok(more) => batch.push(more),
                        Err(_) => break,
                    }
                }
                shared.append(batch).await;
            }
        });
        queue
    }
}

/// What the gathering task needs of [`Shared`].
struct Gatherer {
    redis: Arc<Redis>,
    append: Arc<Script>,
    stream: String,
    bytes: String,
    instance: String,
    max_bytes: usize,
    max_entries: usize,
}

impl Gatherer {
    async fn append(&self, batch: Vec<Pending>) {
        let mut call = self.append.key(&self.stream);
        call.key(&self.bytes)
            .arg(self.max_bytes)
            .arg(self.max_entries)
            .arg(&self.instance);
        for p in &batch {
            call.arg(p.kind).arg(p.payload.as_slice()).arg(p.token);
        }
        let result = append(&self.redis, call).await;
        match result {
            Ok(ids) => {
                for (p, id) in batch.into_iter().zip(ids) {
                    let _ = p.done.send(Ok(id));
                }
            }
            Err(e) => {
                for p in batch {
                    let _ = p.done.send(Err(e.clone()));
                }
            }
        }
    }
}

/// Runs an append call; the new entries' ids, in order.
async fn append(
    redis: &Redis,
    call: redis::ScriptInvocation<'_>,
) -> Result<Vec<String>, JournalError> {
    redis
        .with_async(|mut c| async move { call.invoke_async(&mut c).await })
        .await
        .map_err(|e| JournalError(e.0))
}

/// This instance's changes between their append and their reading back.
#[derive(Debug, Default)]
pub(super) struct Own {
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

    pub(super) fn take_text(&self, token: &[u8]) -> Option<Change> {
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
pub(super) fn decode(kind: &[u8], payload: &[u8]) -> Result<Change, String> {
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
pub(super) fn position(id: &str) -> Option<Position> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
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
}
