//! Counters for `/metrics`: plain atomics bumped by the connection tasks,
//! read by the HTTP side. Nothing here allocates or locks on the hot path.

use std::sync::atomic::{AtomicU64, Ordering};

/// Reply codes are three digits from 200 to 599; one counter each.
const FIRST_CODE: u16 = 200;
const CODES: usize = 400;

/// Counters of outbound webhook POSTs.
#[derive(Debug, Default)]
pub(crate) struct Outbound {
    /// Delivered (answered 2xx).
    pub sent: AtomicU64,
    /// A failed attempt that was retried.
    pub retried: AtomicU64,
    /// Given up after the last attempt.
    pub failed: AtomicU64,
    /// Never attempted: a queue was full or the reader fell behind.
    pub dropped: AtomicU64,
}

#[derive(Debug)]
pub(crate) struct Metrics {
    connections: AtomicU64,
    refused: AtomicU64,
    active: AtomicU64,
    messages: AtomicU64,
    bytes: AtomicU64,
    replies: Box<[AtomicU64]>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            connections: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            active: AtomicU64::new(0),
            messages: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            replies: (0..CODES).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub connections: u64,
    pub refused: u64,
    pub active: u64,
    pub messages: u64,
    pub bytes: u64,
    /// (code, count) for every code sent at least once, ascending.
    pub replies: Vec<(u16, u64)>,
}

impl Metrics {
    pub(crate) fn connected(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
        self.active.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn disconnected(&self) {
        self.active.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn message(&self, bytes: usize) {
        self.messages.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn reply(&self, code: u16) {
        let slot = code
            .checked_sub(FIRST_CODE)
            .and_then(|i| self.replies.get(usize::from(i)));
        if let Some(n) = slot {
            n.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        Snapshot {
            connections: self.connections.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            active: self.active.load(Ordering::Relaxed),
            messages: self.messages.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            replies: self
                .replies
                .iter()
                .zip(FIRST_CODE..)
                .filter_map(|(n, code)| {
                    let n = n.load(Ordering::Relaxed);
                    (n > 0).then_some((code, n))
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_replies_by_code_and_ignores_impossible_codes() {
        let m = Metrics::default();
        m.reply(250);
        m.reply(250);
        m.reply(550);
        m.reply(199);
        m.reply(600);
        m.reply(0);
        assert_eq!(m.snapshot().replies, [(250, 2), (550, 1)]);
    }

    #[test]
    fn tracks_live_connections() {
        let m = Metrics::default();
        m.connected();
        m.connected();
        m.disconnected();
        m.message(10);
        let s = m.snapshot();
        assert_eq!(
            (s.connections, s.active, s.messages, s.bytes),
            (2, 1, 1, 10)
        );
    }
}
