//! The in-memory capture: bounded, oldest evicted first and counted, so a
//! long-running sink never grows without limit and says what it dropped.

use std::collections::VecDeque;
use std::sync::Arc;

/// A bounded FIFO of shared items.
#[derive(Debug)]
pub(super) struct Ring<T> {
    items: VecDeque<Arc<T>>,
    capacity: usize,
    evicted: u64,
}

impl<T> Ring<T> {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            items: VecDeque::new(),
            capacity: capacity.max(1),
            evicted: 0,
        }
    }

    pub(super) fn push(&mut self, item: Arc<T>) {
        while self.items.len() >= self.capacity {
            self.items.pop_front();
            self.evicted += 1;
        }
        self.items.push_back(item);
    }

    pub(super) fn len(&self) -> usize {
        self.items.len()
    }

    /// How many items were dropped to make room since the last clear.
    pub(super) fn evicted(&self) -> u64 {
        self.evicted
    }

    pub(super) fn snapshot(&self) -> Vec<Arc<T>> {
        self.items.iter().cloned().collect()
    }

    /// Drops the items `keep` refuses; returns how many went. Not counted
    /// as evicted: the user asked for it.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) -> usize {
        let before = self.items.len();
        self.items.retain(|item| keep(item));
        before - self.items.len()
    }

    pub(super) fn clear(&mut self) {
        self.items.clear();
        self.evicted = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_oldest_and_counts() {
        let mut r = Ring::new(2);
        for i in 0..5 {
            r.push(Arc::new(i));
        }
        let items: Vec<i32> = r.snapshot().iter().map(|a| **a).collect();
        assert_eq!(items, [3, 4]);
        assert_eq!(r.evicted(), 3);
        r.clear();
        assert_eq!(r.len(), 0);
        assert_eq!(r.evicted(), 0);
    }
}
