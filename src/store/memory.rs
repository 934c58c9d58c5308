//! The in-memory capture: messages and finished sessions, bounded by count
//! and, together, by bytes, oldest evicted first and counted, so a
//! long-running sink never grows without limit and says what it dropped.
//!
//! One budget covers both lists because both grow with what clients send: a
//! few dozen 25 MiB messages, or sessions each holding megabytes of
//! record, must evict old entries, not abort the process and lose the lot.

use std::collections::VecDeque;
use std::sync::Arc;

/// Bytes an item holds, its heap included: what the budget counts.
pub(super) trait Weigh {
    fn weight(&self) -> usize;
}

/// A bounded FIFO of shared items, each with its weight and its place in
/// the order of arrival across both lists.
#[derive(Debug)]
pub(super) struct Ring<T> {
    items: VecDeque<(u64, usize, Arc<T>)>,
    capacity: usize,
    bytes: usize,
    evicted: u64,
}

impl<T> Ring<T> {
    fn new(capacity: usize) -> Self {
        Self {
            items: VecDeque::new(),
            capacity: capacity.max(1),
            bytes: 0,
            evicted: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.items.len()
    }

    /// How many items were dropped to make room since the last clear.
    pub(super) fn evicted(&self) -> u64 {
        self.evicted
    }

    pub(super) fn snapshot(&self) -> Vec<Arc<T>> {
        self.items
            .iter()
            .map(|(_, _, item)| Arc::clone(item))
            .collect()
    }

    pub(super) fn find(&self, mut pick: impl FnMut(&T) -> bool) -> Option<Arc<T>> {
        self.items
            .iter()
            .find(|(_, _, item)| pick(item))
            .map(|(_, _, item)| Arc::clone(item))
    }

    pub(super) fn count(&self, mut pick: impl FnMut(&T) -> bool) -> usize {
        self.items.iter().filter(|(_, _, item)| pick(item)).count()
    }

    /// Drops the items `keep` refuses; returns how many went. Not counted
    /// as evicted: the user asked for it.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) -> usize {
        let before = self.items.len();
        let mut freed = 0;
        self.items.retain(|(_, weight, item)| {
            let kept = keep(item);
            if !kept {
                freed += weight;
            }
            kept
        });
        self.bytes -= freed;
        before - self.items.len()
    }

    pub(super) fn clear(&mut self) {
        self.items.clear();
        self.bytes = 0;
        self.evicted = 0;
    }

    fn oldest(&self) -> Option<u64> {
        self.items.front().map(|(seq, _, _)| *seq)
    }

    /// Evicts the oldest item; returns its weight.
    fn evict(&mut self) -> usize {
        match self.items.pop_front() {
            Some((_, weight, _)) => {
                self.bytes -= weight;
                self.evicted += 1;
                weight
            }
            None => 0,
        }
    }
}

/// What eviction has cost since start (never reset, for `/metrics`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Evictions {
    /// Messages evicted.
    pub messages: u64,
    /// Finished sessions evicted.
    pub sessions: u64,
    /// Bytes they held.
    pub bytes: u64,
}

/// Both lists under one byte budget.
#[derive(Debug)]
pub(super) struct Holdings<M, S> {
    pub(super) messages: Ring<M>,
    pub(super) sessions: Ring<S>,
    max_bytes: usize,
    next_seq: u64,
    evictions: Evictions,
}

impl<M: Weigh, S: Weigh> Holdings<M, S> {
    /// `max_items` bounds each list by count; `max_bytes` both together.
    pub(super) fn new(max_items: usize, max_bytes: usize) -> Self {
        Self {
            messages: Ring::new(max_items),
            sessions: Ring::new(max_items),
            max_bytes,
            next_seq: 0,
            evictions: Evictions::default(),
        }
    }

    pub(super) fn push_message(&mut self, message: Arc<M>) {
        let weight = message.weight();
        let seq = self.seq();
        if self.messages.items.len() >= self.messages.capacity {
            self.evictions.bytes += self.messages.evict() as u64;
            self.evictions.messages += 1;
        }
        self.messages.items.push_back((seq, weight, message));
        self.messages.bytes += weight;
        self.fit();
    }

    pub(super) fn push_session(&mut self, session: Arc<S>) {
        let weight = session.weight();
        let seq = self.seq();
        if self.sessions.items.len() >= self.sessions.capacity {
            self.evictions.bytes += self.sessions.evict() as u64;
            self.evictions.sessions += 1;
        }
        self.sessions.items.push_back((seq, weight, session));
        self.sessions.bytes += weight;
        self.fit();
    }

    /// Bytes held by both lists.
    pub(super) fn bytes(&self) -> usize {
        self.messages.bytes + self.sessions.bytes
    }

    pub(super) fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    pub(super) fn evictions(&self) -> Evictions {
        self.evictions
    }

    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Evicts the oldest entries, of either list, until both fit the
    /// budget. The newest entry stays even when it alone is over: it just
    /// got its 250 (or just ended) and a reader is likely waiting for it.
    fn fit(&mut self) {
        while self.bytes() > self.max_bytes && self.messages.len() + self.sessions.len() > 1 {
            let message_first = match (self.messages.oldest(), self.sessions.oldest()) {
                (Some(m), Some(s)) => m < s,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if message_first {
                self.evictions.bytes += self.messages.evict() as u64;
                self.evictions.messages += 1;
            } else {
                self.evictions.bytes += self.sessions.evict() as u64;
                self.evictions.sessions += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Item(usize);

    impl Weigh for Item {
        fn weight(&self) -> usize {
            self.0
        }
    }

    fn weights(r: &Ring<Item>) -> Vec<usize> {
        r.snapshot().iter().map(|i| i.0).collect()
    }

    #[test]
    fn count_bound_evicts_oldest_and_counts() {
        let mut h: Holdings<Item, Item> = Holdings::new(2, usize::MAX);
        for i in 1..=5 {
            h.push_message(Arc::new(Item(i)));
        }
        assert_eq!(weights(&h.messages), [4, 5]);
        assert_eq!(h.messages.evicted(), 3);
        assert_eq!(h.evictions().messages, 3);
        assert_eq!(h.bytes(), 9);
        h.messages.clear();
        assert_eq!(h.messages.len(), 0);
        assert_eq!(h.messages.evicted(), 0);
        assert_eq!(h.bytes(), 0);
        assert_eq!(h.evictions().messages, 3, "totals survive a clear");
    }

    #[test]
    fn byte_budget_evicts_the_oldest_of_either_list() {
        let mut h: Holdings<Item, Item> = Holdings::new(100, 100);
        h.push_message(Arc::new(Item(40)));
        h.push_session(Arc::new(Item(30)));
        h.push_message(Arc::new(Item(20)));
        assert_eq!(h.bytes(), 90);
        h.push_session(Arc::new(Item(50)));
        // The 40-byte message was oldest; then 30+20+50 = 100 fits.
        assert_eq!(weights(&h.messages), [20]);
        assert_eq!(weights(&h.sessions), [30, 50]);
        assert_eq!(h.bytes(), 100);
        assert_eq!(
            h.evictions(),
            Evictions {
                messages: 1,
                sessions: 0,
                bytes: 40
            }
        );
    }

    #[test]
    fn the_newest_entry_stays_even_over_budget() {
        let mut h: Holdings<Item, Item> = Holdings::new(100, 10);
        h.push_message(Arc::new(Item(5)));
        h.push_message(Arc::new(Item(50)));
        assert_eq!(weights(&h.messages), [50]);
        assert_eq!(h.bytes(), 50);
        h.push_session(Arc::new(Item(1)));
        assert_eq!(weights(&h.messages), Vec::<usize>::new());
        assert_eq!(weights(&h.sessions), [1]);
    }

    #[test]
    fn retain_frees_bytes_without_counting_evictions() {
        let mut h: Holdings<Item, Item> = Holdings::new(10, 1000);
        for i in 1..=4 {
            h.push_message(Arc::new(Item(i)));
        }
        assert_eq!(h.messages.retain(|i| i.0 % 2 == 0), 2);
        assert_eq!(h.bytes(), 6);
        assert_eq!(h.evictions(), Evictions::default());
    }
}
