//! The in-memory capture: bounded, oldest evicted first and counted, so a
//! long-running sink never grows without limit and says what it dropped.

use std::collections::VecDeque;
use std::sync::Arc;

/// A bounded FIFO of shared items.
#[derive(Debug)]
pub struct Ring<T> {
    items: VecDeque<Arc<T>>,
    capacity: usize,
    evicted: u64,
}

impl<T> Ring<T> {
    pub fn new(capacity: usize) -> Self {
        Self {
            items: VecDeque::new(),
            capacity: capacity.max(1),
            evicted: 0,
        }
    }

    pub fn push(&mut self, item: Arc<T>) {
        while self.items.len() >= self.capacity {
            self.items.pop_front();
            self.evicted += 1;
        }
        self.items.push_back(item);
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// How many items were dropped to make room since the last clear.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    pub fn snapshot(&self) -> Vec<Arc<T>> {
        self.items.iter().cloned().collect()
    }

    /// Drops the items `keep` refuses; returns how many went. Not counted
    /// as evicted: the user asked for it.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) -> usize {
        let before = self.items.len();
        self.items.retain(|item| keep(item));
        before - self.items.len()
    }

    pub fn clear(&mut self) {
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
        assert!(r.is_empty());
        assert_eq!(r.evicted(), 0);
    }
}
