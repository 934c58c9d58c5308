//! The thread that follows the shared stream and applies it to one store,
//! in order, from the beginning; it also beats this instance's heartbeat
//! and drops the sessions in progress of instances that stopped beating.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use redis::Value;

use super::super::Change;
use super::ids::Ids;
use super::{Own, decode, position};
use crate::scenario::state::redis::Redis;
use crate::store::Store;

/// Entries read per `XREAD`, and how long one waits for new ones.
const READ_COUNT: usize = 512;
const READ_BLOCK_MS: u64 = 1000;

/// After a read that reached the end of the stream, the reader lets new
/// entries gather this long before it reads again: under load it then
/// takes them by the dozen rather than one or two per wake-up, at a small
/// fraction of the CPU. Nobody's reply waits for it: a 250 waits for Redis
/// to acknowledge the append, and an API request on this instance for
/// the reader to reach this instance's own last write.
const GATHER: Duration = Duration::from_millis(2);

/// Pause before reconnecting after the reader failed.
const RETRY: Duration = Duration::from_millis(250);

/// Each instance says it is alive this often, for this long: an instance
/// killed in the middle of sessions cannot announce their end, and the
/// others drop them from the sessions in progress once it has been silent
/// for two looks in a row.
const BEAT: Duration = Duration::from_secs(1);
const ALIVE_FOR: Duration = Duration::from_secs(5);
const LOOK: Duration = Duration::from_secs(3);

/// What the thread that applies the stream to one store works with.
pub(super) struct Reader {
    /// Key prefix of the instances' heartbeats (`...alive:INSTANCE`).
    pub alive: String,
    pub redis: Arc<Redis>,
    pub stream: String,
    /// This instance's mark on its entries.
    pub instance: String,
    pub own: Arc<Own>,
    pub ids: Arc<Ids>,
    pub store: Weak<Store>,
}

/// Starts the thread; it runs until the store is dropped.
pub(super) fn start(reader: Reader) {
    let started = std::thread::Builder::new()
        .name("mailfault-journal".into())
        .spawn(move || reader.run());
    if let Err(e) = started {
        tracing::error!(error = %e, "cannot start the shared store reader: this instance shows only its own mail");
    }
}

impl Reader {
    fn run(self) {
        // An entry that does not decode is said once, not for every entry.
        let complained = AtomicBool::new(false);
        let mut last = String::from("0-0");
        let mut connection = None;
        let mut liveness = Liveness::default();
        while self.store.strong_count() > 0 {
            let c = match connection.take() {
                Some(c) => c,
                None => {
                    // The reader is always talking to Redis: its failures
                    // and recoveries say whether Redis is there (new
                    // connections get 421 while it is not).
                    let made = self.redis.outcome(
                        self.redis
                            .dedicated(Duration::from_millis(READ_BLOCK_MS * 3))
                            .and_then(|mut c| self.ids.raise(&mut c).map(|()| c)),
                    );
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
            let mut xread = redis::cmd("XREAD");
            xread.arg("COUNT").arg(READ_COUNT);
            // While replaying, an empty answer means the end, at once;
            // after that, wait for what comes.
            if self.store.upgrade().is_some_and(|s| s.caught_up()) {
                xread.arg("BLOCK").arg(READ_BLOCK_MS);
            }
            let read: redis::RedisResult<Value> = xread
                .arg("STREAMS")
                .arg(&self.stream)
                .arg(&last)
                .query(&mut c);
            match self.redis.outcome(read) {
                Ok(value) => {
                    connection = Some(c);
                    let Some(store) = self.store.upgrade() else {
                        return;
                    };
                    let read = entries(value);
                    let got = read.len();
                    // A short read reached the stream's end: once it is
                    // applied, the replay is done.
                    let at_end = read.len() < READ_COUNT;
                    for entry in read {
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
                                if !complained.swap(true, Ordering::Relaxed) {
                                    tracing::warn!(entry = %entry.id, error = %e, "a shared store entry does not decode here (another release?); skipped");
                                }
                                store.skip_to(at);
                            }
                        }
                        last = entry.id;
                    }
                    if at_end && !store.caught_up() {
                        store.set_caught_up(true);
                    }
                    drop(store);
                    if at_end && got > 0 {
                        std::thread::sleep(GATHER);
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
    fn due(
        &mut self,
        reader: &Reader,
        c: &mut crate::scenario::state::link::Blocking,
    ) -> redis::RedisResult<()> {
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
            let mut fields = fields.into_iter();
            let (Some(name), Some(payload)) = (fields.next(), fields.next()) else {
                continue;
            };
            let (Some(name), Some(payload)) = (bytes(name), bytes(payload)) else {
                continue;
            };
            let mut header = name.split(|&b| b == b' ');
            let (Some(kind), Some(instance), Some(token)) =
                (header.next(), header.next(), header.next())
            else {
                continue;
            };
            let e = Entry {
                id,
                kind: kind.to_vec(),
                payload,
                instance: instance.to_vec(),
                token: token.to_vec(),
            };
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
    fn an_xread_reply_yields_its_entries_and_ignores_junk() {
        let bulk = |s: &[u8]| Value::BulkString(s.to_vec());
        let reply = Value::Array(vec![Value::Array(vec![
            bulk(b"{ns:store}:log"),
            Value::Array(vec![
                Value::Array(vec![
                    bulk(b"5-0"),
                    Value::Array(vec![bulk(b"c a1 7"), bulk(b"")]),
                ]),
                Value::Array(vec![bulk(b"5-1"), Value::Array(vec![bulk(b"no payload")])]),
                Value::Array(vec![
                    bulk(b"5-2"),
                    Value::Array(vec![bulk(b"c a1"), bulk(b"no token")]),
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
            token: b"7".to_vec(),
        };
        assert_eq!(entries(reply), vec![want]);
        assert!(entries(Value::Nil).is_empty());
    }
}
