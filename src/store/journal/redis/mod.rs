//! The journal shared through Redis: every change is appended to one
//! stream, and every instance (the writer too) applies the stream in order.
//!
//! An append is one transaction (`MULTI`: the entries, the byte count,
//! the length, each entry's size on a list beside the stream), not a
//! script: a script call costs Redis several times what the commands in it
//! do, and an append is on every message's path. When the answer shows the
//! stream past the store's bounds (bytes and entries), a script drops the
//! oldest entries in the background, so Redis holds what
//! an instance's memory would; a reset, rare, is a script that drops all
//! before it. A writer waits for Redis to acknowledge the append, so a 250
//! is only sent for a message that is in Redis; an instance killed a moment
//! later loses nothing another instance cannot read.
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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use redis::Script;

use super::{Change, Commit, Committed, IdKind, Journal, JournalError, LogEnd, Position};
use crate::scenario::state::redis::Redis;
use crate::store::{Filed, Store, codec};
use ids::Ids;

/// KEYS[1] the stream, KEYS[2] its byte count, KEYS[3] its entries'
/// sizes; ARGV the reset's [`header`], its size. Appends a reset and drops
/// every entry before it; the byte count and the sizes start again from
/// the reset's own.
const RESET: &str = "local id = redis.call('XADD', KEYS[1], '*', ARGV[1], '') \
redis.call('XTRIM', KEYS[1], 'MINID', id) redis.call('SET', KEYS[2], ARGV[2]) \
redis.call('DEL', KEYS[3]) redis.call('RPUSH', KEYS[3], ARGV[2]) return id";

/// KEYS[1] the stream, KEYS[2] its byte count, KEYS[3] its entries'
/// sizes (oldest first, appended with the entries); ARGV max bytes, max
/// entries. Drops the oldest entries while the stream is past either
/// bound, never the newest (one entry larger than the bound stays);
/// returns how many it dropped.
///
/// The sizes let it trim with one `XTRIM` rather than reading each entry
/// to learn its size: once the store is full, a trim drops a thousand
/// entries or so, and reading them would cost Redis more than the appends
/// that filled it. Should the list and the stream disagree (keys removed
/// by hand, say), sizes past the stream's length go, and the oldest
/// entries without one are read to learn theirs.
const TRIM: &str = "local max, maxlen = tonumber(ARGV[1]), tonumber(ARGV[2]) \
local total = tonumber(redis.call('GET', KEYS[2]) or '0') \
local len = redis.call('XLEN', KEYS[1]) \
local known = redis.call('LLEN', KEYS[3]) \
if known > len then redis.call('LTRIM', KEYS[3], known - len, -1) known = len end \
local dropped, freed = 0, 0 \
local function over() return (total - freed > max or len - dropped > maxlen) and len - dropped > 1 end \
while over() and len - dropped > known do \
  local row = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1] \
  local n = ENTRY_OVERHEAD \
  for i = 2, #row[2], 2 do n = n + string.len(row[2][i]) end \
  redis.call('XDEL', KEYS[1], row[1]) \
  freed = freed + n dropped = dropped + 1 \
end \
local sized = 0 \
while over() do \
  local sizes = redis.call('LRANGE', KEYS[3], sized, sized + 255) \
  if #sizes == 0 then break end \
  for _, n in ipairs(sizes) do \
    if not over() then break end \
    freed = freed + tonumber(n) dropped = dropped + 1 sized = sized + 1 \
  end \
end \
if sized > 0 then \
  redis.call('XTRIM', KEYS[1], 'MAXLEN', len - dropped) \
  redis.call('LTRIM', KEYS[3], sized, -1) \
end \
if freed > 0 then redis.call('INCRBY', KEYS[2], -freed) end \
return dropped";

/// KEYS[1] the stream. The newest entry's id ("0-0" when there is none),
/// without its payload: a message can be megabytes.
const END: &str = "local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1] \
if last then return last[1] end return '0-0'";

/// What an entry counts for besides its payload (its id and other fields),
/// in the byte bound.
const ENTRY_OVERHEAD: usize = 64;

/// The stream may pass a bound by this fraction of it (1/64th) before a
/// trim brings it back within: one trim then drops many entries, where
/// trimming at every append past the bound would cost a script call on
/// every message once the store is full.
const SLACK: usize = 64;

/// Changes no reply waits for (a session's start and end) are gathered
/// this long and appended together: one transaction for many sessions.
const GATHER: std::time::Duration = std::time::Duration::from_millis(2);

/// Changes appended in one transaction at most.
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
    writer: Arc<Writer>,
    ids: Arc<Ids>,
    /// This instance's changes on their way through the stream, by token:
    /// read back, they are applied as they are instead of decoded again.
    own: Arc<Own>,
    /// Where gathered changes wait for the task that appends them (started
    /// on first use, on the runtime of the first session).
    gathered: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<Pending>>,
}

/// What appending needs, shared with the gathering and trimming tasks.
#[derive(Debug)]
struct Writer {
    redis: Arc<Redis>,
    stream: String,
    bytes: String,
    /// Each entry's size, in stream order: what a trim reads instead of
    /// the entries.
    sizes: String,
    /// Marks this instance's entries, so it tells its own changes from
    /// others' (webhooks fire only where a change was made).
    instance: String,
    max_bytes: usize,
    max_entries: usize,
    reset: Script,
    trim: Script,
    end: Script,
    /// A trim is under way; appends past the bounds meanwhile leave it to
    /// that one, which goes on until the stream is within them.
    trimming: AtomicBool,
}

impl Shared {
    /// The log of `redis`'s namespace, bounded like the store:
    /// `max_messages` messages (and as many sessions), `max_bytes` in all.
    pub(crate) fn new(redis: Arc<Redis>, max_messages: usize, max_bytes: usize) -> Self {
        let key = |rest: &str| redis.shared_key("store", rest);
        Self {
            ids: Arc::new(Ids::new([
                key("ids:message"),
                key("ids:session"),
                key("ids:report"),
            ])),
            own: Arc::new(Own::default()),
            gathered: std::sync::OnceLock::new(),
            writer: Arc::new(Writer {
                stream: key("log"),
                bytes: key("bytes"),
                sizes: key("sizes"),
                instance: format!("{:016x}", rand::random::<u64>()),
                // Room for the session starts and marks between the
                // messages and sessions an instance's memory keeps.
                max_entries: max_messages.saturating_mul(4).max(1024),
                max_bytes,
                reset: Script::new(RESET),
                end: Script::new(END),
                trim: Script::new(&TRIM.replace("ENTRY_OVERHEAD", &ENTRY_OVERHEAD.to_string())),
                trimming: AtomicBool::new(false),
                redis,
            }),
        }
    }
}

impl Journal for Shared {
    fn next_id(&self, kind: IdKind) -> Result<u64, JournalError> {
        self.ids.next(&self.writer.redis, kind)
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
            } else if matches!(change, Change::Reset) {
                self.writer.reset(token).await
            } else {
                Arc::clone(&self.writer)
                    .append([(kind, payload.as_slice(), token)])
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

    fn commit_behind(&self, change: &Change) {
        let (kind, payload) = encode(change);
        let token = self.own.hold(change);
        // The entry id is not waited for: the session's record, committed
        // later and waited for, comes after it in the stream.
        if let Err(e) = self.gather(kind, payload, token) {
            self.own.take(token);
            tracing::warn!(error = %e, "session start not shared");
        }
    }

    fn end(&self) -> LogEnd<'_> {
        Box::pin(async move {
            let id: String = self
                .writer
                .redis
                .script_async(self.writer.end.key(&self.writer.stream))
                .await
                .map_err(|e| JournalError(e.0))?;
            position(&id).map(Some).ok_or_else(|| {
                JournalError(format!("Redis gave an entry id `{id}` this cannot read"))
            })
        })
    }

    fn follow(&self, store: Weak<Store>) {
        if let Some(store) = store.upgrade() {
            store.set_caught_up(false);
        }
        let redis = &self.writer.redis;
        reader::start(reader::Reader {
            alive: redis.shared_key("store", "alive:"),
            redis: Arc::clone(redis),
            stream: self.writer.stream.clone(),
            instance: self.writer.instance.clone(),
            own: Arc::clone(&self.own),
            ids: Arc::clone(&self.ids),
            store,
        });
    }
}

impl Shared {
    /// Appends a change with the others gathered over [`GATHER`].
    async fn gathered(
        &self,
        kind: &'static str,
        payload: Vec<u8>,
        token: u64,
    ) -> Result<String, JournalError> {
        let id = self.gather(kind, payload, token)?;
        id.await
            .unwrap_or_else(|_| Err(JournalError("the shared store's writer stopped".into())))
    }

    /// Queues a change for the next gathered append (in the order queued);
    /// its entry id, or the append's failure, comes on the returned channel.
    fn gather(
        &self,
        kind: &'static str,
        payload: Vec<u8>,
        token: u64,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<String, JournalError>>, JournalError> {
        let queue = self.gathered.get_or_init(|| self.start_gathering());
        let (done, id) = tokio::sync::oneshot::channel();
        let pending = Pending {
            kind,
            payload,
            token,
            done,
        };
        queue
            .send(pending)
            .map_err(|_| JournalError("the shared store's writer stopped".into()))?;
        Ok(id)
    }

    /// The task that appends gathered changes, a batch at a time, in the
    /// order they came.
    fn start_gathering(&self) -> tokio::sync::mpsc::UnboundedSender<Pending> {
        let (queue, mut incoming) = tokio::sync::mpsc::unbounded_channel::<Pending>();
        let writer = Arc::clone(&self.writer);
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
                let entries = batch
                    .iter()
                    .map(|p| (p.kind, p.payload.as_slice(), p.token));
                let appended = Arc::clone(&writer).append(entries).await;
                match appended {
                    Ok(ids) => {
                        for (p, id) in batch.into_iter().zip(ids) {
                            let _ = p.done.send(Ok(id));
                        }
                    }
                    Err(e) => {
                        let unheard = batch
                            .into_iter()
                            .filter_map(|p| p.done.send(Err(e.clone())).err())
                            .count();
                        if unheard > 0 {
                            tracing::warn!(error = %e, changes = unheard, "session starts not shared");
                        }
                    }
                }
            }
        });
        queue
    }
}

impl Writer {
    /// Appends `entries` (kind, payload, token) in one transaction; the new
    /// entries' ids, in order. Past the bounds and their slack, starts a
    /// trim.
    async fn append<'p>(
        self: Arc<Self>,
        entries: impl IntoIterator<Item = (&'static str, &'p [u8], u64)>,
    ) -> Result<Vec<String>, JournalError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        let (mut size, mut count) = (0, 0);
        let mut sizes = redis::cmd("RPUSH");
        sizes.arg(&self.sizes);
        for (kind, payload, token) in entries {
            pipe.cmd("XADD")
                .arg(&self.stream)
                .arg("*")
                .arg(header(kind, &self.instance, token))
                .arg(payload);
            sizes.arg(payload.len() + ENTRY_OVERHEAD);
            size += payload.len() + ENTRY_OVERHEAD;
            count += 1;
        }
        pipe.add_command(sizes).ignore();
        pipe.cmd("INCRBY").arg(&self.bytes).arg(size);
        pipe.cmd("XLEN").arg(&self.stream);
        let answer: Vec<redis::Value> = self
            .redis
            .with_async(|mut c| async move { pipe.query_async(&mut c).await })
            .await
            .map_err(|e| JournalError(e.0))?;
        let unreadable = || JournalError(format!("Redis answered an append with {answer:?}"));
        let (ids, [total, len]) = match answer.split_at_checked(count) {
            Some((ids, [total, len])) => (ids, [total, len]),
            _ => return Err(unreadable()),
        };
        let ids = ids
            .iter()
            .map(redis::from_redis_value_ref::<String>)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| unreadable())?;
        let over = |v: &redis::Value, bound: usize| {
            redis::from_redis_value_ref::<u64>(v).is_ok_and(|n| n > bound as u64)
        };
        let slack = |bound: usize| bound + bound / SLACK;
        if over(total, slack(self.max_bytes)) || over(len, slack(self.max_entries)) {
            self.start_trim();
        }
        Ok(ids)
    }

    /// Drops what the stream holds past its bounds, oldest first, on a
    /// task of its own: the append that found the stream too long has its
    /// answer already.
    fn start_trim(self: Arc<Self>) {
        if self.trimming.swap(true, Ordering::AcqRel) {
            return;
        }
        tokio::spawn(async move {
            let mut call = self.trim.key(&self.stream);
            call.key(&self.bytes)
                .key(&self.sizes)
                .arg(self.max_bytes)
                .arg(self.max_entries);
            let trimmed: Result<u64, _> = self.redis.script_async(call).await;
            if let Err(e) = trimmed {
                tracing::debug!(error = %e.0, "trimming the shared store waits for the next append");
            }
            self.trimming.store(false, Ordering::Release);
        });
    }

    /// Appends a reset: every entry before it goes.
    async fn reset(&self, token: u64) -> Result<String, JournalError> {
        let mut call = self.reset.key(&self.stream);
        call.key(&self.bytes)
            .key(&self.sizes)
            .arg(header("x", &self.instance, token))
            .arg(ENTRY_OVERHEAD);
        self.redis
            .script_async(call)
            .await
            .map_err(|e| JournalError(e.0))
    }
}

/// An entry's one field name: its kind, the instance that wrote it and
/// that instance's token for the change, space-separated; the field's
/// value is the payload. One field rather than four: every instance reads
/// every entry back, and each field is two more values to parse.
fn header(kind: &str, instance: &str, token: u64) -> String {
    format!("{kind} {instance} {token}")
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
