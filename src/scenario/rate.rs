//! Rate limits: sliding-window event logs and concurrent-connection counts,
//! one per key. Every attempt counts, refused or not, as in Postfix's anvil:
//! a client that hammers stays limited until it slows down.
//!
//! Pure data: "now" is passed in, so the virtual clock and the tests drive it.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// Sliding windows of recent event times, per key.
#[derive(Debug, Default)]
pub struct Windows {
    logs: HashMap<String, VecDeque<Duration>>,
    next_sweep: usize,
}

const SWEEP_FROM: usize = 4096;

impl Windows {
    /// Records one event for `key` and says whether it is over the limit:
    /// more than `max` events within the last `per`. A log keeps at most
    /// `max + 1` entries, which is all the answer needs.
    pub fn hit(&mut self, key: &str, now: Duration, max: u64, per: Duration) -> bool {
        if self.logs.len() >= self.next_sweep.max(SWEEP_FROM) {
            self.logs
                .retain(|_, log| log.back().is_some_and(|&t| now.saturating_sub(t) < per));
            self.next_sweep = self.logs.len().saturating_mul(2);
        }
        let log = match self.logs.get_mut(key) {
            Some(log) => log,
            None => self.logs.entry(key.to_owned()).or_default(),
        };
        while log.front().is_some_and(|&t| now.saturating_sub(t) >= per) {
            log.pop_front();
        }
        log.push_back(now);
        let keep = usize::try_from(max.saturating_add(1)).unwrap_or(usize::MAX);
        while log.len() > keep {
            log.pop_front();
        }
        log.len() as u64 > max
    }
}

/// Live connections per key, for `max_concurrent`.
#[derive(Debug, Default)]
pub struct Concurrent {
    live: HashMap<String, u64>,
}

impl Concurrent {
    /// One more connection under `key`; returns how many are now open.
    pub fn enter(&mut self, key: &str) -> u64 {
        let n = match self.live.get_mut(key) {
            Some(n) => n,
            None => self.live.entry(key.to_owned()).or_default(),
        };
        *n += 1;
        *n
    }

    pub fn leave(&mut self, key: &str) {
        if let Some(n) = self.live.get_mut(key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.live.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn trips_exactly_past_max_and_resets_with_the_window() {
        let mut w = Windows::default();
        let over: Vec<bool> = (0..5).map(|i| w.hit("k", S(i), 3, S(60))).collect();
        assert_eq!(over, [false, false, false, true, true]);
        // Other keys are counted apart.
        assert!(!w.hit("other", S(5), 3, S(60)));
        // Events at 0..4 s have all left the window at 64 s.
        assert!(!w.hit("k", S(64), 3, S(60)));
        // Sliding: at 61 s the events of 0 s and 1 s have left, 2..4 s have not.
        let mut w = Windows::default();
        for i in 0..3 {
            assert!(!w.hit("k", S(i), 3, S(60)));
        }
        assert!(w.hit("k", S(59), 3, S(60)));
        assert!(
            !w.hit("k", S(61), 3, S(60)),
            "only 2 s, 59 s and 61 s are left"
        );
    }

    #[test]
    fn concurrent_counts_come_and_go() {
        let mut c = Concurrent::default();
        assert_eq!(c.enter("a"), 1);
        assert_eq!(c.enter("a"), 2);
        assert_eq!(c.enter("b"), 1);
        c.leave("a");
        assert_eq!(c.enter("a"), 2);
        c.leave("a");
        c.leave("a");
        c.leave("a");
        assert!(!c.live.contains_key("a"), "a key at zero is forgotten");
        assert_eq!(c.enter("a"), 1);
    }
}
