//! Message, session and report ids for instances sharing one store: taken
//! from Redis counters in blocks, so a message costs no round trip for its
//! id, and never below what an instance has seen, so a Redis that restarted
//! empty cannot hand out an id still held.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use redis::Script;

use super::super::{Change, IdKind, JournalError};
use crate::scenario::state::redis::Redis;

/// Ids taken from Redis at a time: one round trip per this many messages.
const ID_BLOCK: u64 = 256;

/// KEYS[1] an id counter; ARGV block size, floor. Takes a block of ids
/// above the floor (the highest id this instance has seen), so a Redis that
/// restarted empty never hands out an id still in use; returns its last.
const TAKE_IDS: &str = "local n = tonumber(redis.call('GET', KEYS[1]) or '0') \
local floor = tonumber(ARGV[2]) if n < floor then n = floor end \
n = n + tonumber(ARGV[1]) redis.call('SET', KEYS[1], n) return n";

#[derive(Debug, Default)]
struct Block {
    next: u64,
    end: u64,
}

/// Message, session and report ids: blocks taken from Redis counters, never
/// below the highest id this instance has seen or handed out.
#[derive(Debug)]
pub(super) struct Ids {
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
    /// Ids from these counters (messages, sessions, reports).
    pub(super) fn new(keys: [String; 3]) -> Self {
        Self {
            keys,
            blocks: Default::default(),
            seen: Default::default(),
            take: Script::new(TAKE_IDS),
        }
    }

    fn floor(&self, i: usize, block: &Block) -> u64 {
        self.seen
            .get(i)
            .map_or(0, |s| s.load(Ordering::Relaxed))
            .max(block.end.saturating_sub(1))
    }

    pub(super) fn next(&self, redis: &Redis, kind: IdKind) -> Result<u64, JournalError> {
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

    pub(super) fn note(&self, change: &Change) {
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
    pub(super) fn raise(
        &self,
        c: &mut crate::scenario::state::link::Blocking,
    ) -> redis::RedisResult<()> {
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
