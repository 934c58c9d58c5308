//! Rate limits: sliding-window event logs and concurrent-connection counts,
//! one per key. Every attempt counts, refused or not, as in Postfix's anvil:
//! a client that hammers stays limited until it slows down.
//!
//! Pure data: "now" is passed in, so the virtual clock and the tests drive it.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// Sliding windows of recent events, per key.
#[derive(Debug, Default)]
pub(super) struct Windows {
    logs: HashMap<String, Window>,
    next_sweep: usize,
    /// Slots held by all windows together.
    slots: usize,
    /// Times the windows were over a cap and forgot keys that were live.
    forgotten: u64,
    hits: u64,
}

/// Events in time order, those of one slot (a 1/1024th of the window)
/// merged into one entry: a key costs at most ~1 KiB entries however high
/// `max` is, and the window's edge is exact to that slot.
#[derive(Debug, Default)]
struct Window {
    slots: VecDeque<(Duration, u64)>,
    total: u64,
    /// The latest hit, in hits since start (recency for eviction).
    touched: u64,
}

const SLOTS_PER_WINDOW: u32 = 1024;

const SWEEP_FROM: usize = 4096;

/// A client inventing keys faster than they expire (distinct senders or
/// recipients by the hundred thousand) must not grow the server without
/// bound: past this many live keys, or [`MAX_SLOTS`] slots in all, the
/// least recently hit half is forgotten (their counts start again).
pub(super) const MAX_KEYS: usize = 200_000;
/// 16 bytes each: 64 MiB at most across one rule's windows.
pub(super) const MAX_SLOTS: usize = 4 << 20;

impl Windows {
    /// Records one event for `key` and says whether it is over the limit:
    /// more than `max` events within the last `per`.
    #[cfg(test)]
    pub(super) fn hit(&mut self, key: &str, now: Duration, max: u64, per: Duration) -> bool {
        self.count(key, now, per) > max
    }

    /// Records one event for `key`; returns how many fall within `per`.
    pub(super) fn count(&mut self, key: &str, now: Duration, per: Duration) -> u64 {
        if self.logs.len() >= self.next_sweep.clamp(SWEEP_FROM, MAX_KEYS) || self.slots >= MAX_SLOTS
        {
            self.sweep(now, per);
        }
        self.hits += 1;
        let w = match self.logs.get_mut(key) {
            Some(w) => w,
            None => self.logs.entry(key.to_owned()).or_default(),
        };
        w.touched = self.hits;
        while let Some(&(t, n)) = w.slots.front() {
            if now.saturating_sub(t) < per {
                break;
            }
            w.total -= n;
            w.slots.pop_front();
            self.slots -= 1;
        }
        let slot = slot_start(now, per / SLOTS_PER_WINDOW);
        match w.slots.back_mut() {
            Some((t, n)) if *t == slot => *n += 1,
            _ => {
                w.slots.push_back((slot, 1));
                self.slots += 1;
            }
        }
        w.total += 1;
        w.total
    }

    /// Forgets windows with no event left in them; past a cap, the least
    /// recently hit half of the live ones too.
    fn sweep(&mut self, now: Duration, per: Duration) {
        self.logs.retain(|_, w| {
            w.slots
                .back()
                .is_some_and(|&(t, _)| now.saturating_sub(t) < per)
        });
        self.slots = self.logs.values().map(|w| w.slots.len()).sum();
        if self.logs.len() >= MAX_KEYS || self.slots >= MAX_SLOTS {
            tracing::warn!(
                keys = self.logs.len(),
                slots = self.slots,
                "rate limit tracks too many live keys; forgetting the least recently hit half to bound memory"
            );
            let mut touched: Vec<u64> = self.logs.values().map(|w| w.touched).collect();
            let half = touched.len() / 2;
            if let Some((_, median, _)) =
                (half < touched.len()).then(|| touched.select_nth_unstable(half))
            {
                let median = *median;
                self.logs.retain(|_, w| w.touched >= median);
            }
            self.slots = self.logs.values().map(|w| w.slots.len()).sum();
            self.forgotten += 1;
        }
        self.next_sweep = self.logs.len().saturating_mul(2);
    }

    pub(super) fn len(&self) -> usize {
        self.logs.len()
    }

    pub(super) fn forgotten(&self) -> u64 {
        self.forgotten
    }
}

fn slot_start(now: Duration, slot: Duration) -> Duration {
    let width = slot.as_nanos();
    if width == 0 {
        return now;
    }
    let start = now.as_nanos() / width * width;
    Duration::from_nanos(u64::try_from(start).unwrap_or(u64::MAX))
}

/// Live connections per key, for `max_concurrent`.
#[derive(Debug, Default)]
pub(super) struct Concurrent {
    live: HashMap<String, u64>,
}

impl Concurrent {
    /// One more connection under `key`; returns how many are now open.
    pub(super) fn enter(&mut self, key: &str) -> u64 {
        let n = match self.live.get_mut(key) {
            Some(n) => n,
            None => self.live.entry(key.to_owned()).or_default(),
        };
        *n += 1;
        *n
    }

    pub(super) fn len(&self) -> usize {
        self.live.len()
    }

    pub(super) fn leave(&mut self, key: &str) {
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
    fn a_huge_max_costs_one_entry_per_slot() {
        let mut w = Windows::default();
        for i in 0..100_000u64 {
            assert!(!w.hit("k", Duration::from_micros(i * 10), 1_000_000_000, S(60)));
        }
        let window = &w.logs["k"];
        assert_eq!(window.total, 100_000);
        // One second of events spans 18 slots of 60 s / 1024.
        assert!(window.slots.len() <= 18, "{} slots", window.slots.len());
        assert!(!w.hit("k", S(61), 1, S(60)), "all of them left the window");
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

    #[test]
    fn live_keys_past_the_cap_lose_the_least_recently_hit_half() {
        let mut w = Windows::default();
        for i in 0..MAX_KEYS {
            w.hit(&format!("k{i}"), S(0), 1, S(60));
        }
        assert_eq!(w.len(), MAX_KEYS);
        // The next hit finds the table full: the older half goes first.
        let newest = format!("k{}", MAX_KEYS - 1);
        assert!(
            w.hit(&newest, S(1), 1, S(60)),
            "the newest key's count was kept"
        );
        assert!(w.len() <= MAX_KEYS / 2 + 1, "{}", w.len());
        assert_eq!(w.forgotten(), 1);
        assert!(!w.hit("k0", S(2), 1, S(60)), "k0 was forgotten");
    }

    #[test]
    fn slots_past_the_cap_are_bounded_too() {
        let mut w = Windows::default();
        // Few keys, each with every slot of a long window filled.
        let per = Duration::from_secs(1024);
        let keys = MAX_SLOTS / SLOTS_PER_WINDOW as usize + 8;
        for i in 0..keys {
            for s in 0..u64::from(SLOTS_PER_WINDOW) {
                w.hit(&format!("k{i}"), S(s), u64::MAX, per);
            }
        }
        assert!(w.slots <= MAX_SLOTS, "{}", w.slots);
        assert!(w.forgotten() >= 1);
        let held: usize = w.logs.values().map(|w| w.slots.len()).sum();
        assert_eq!(held, w.slots);
    }
}
