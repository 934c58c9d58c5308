//! Greylisting as real greylisters do it (RFC 6647): the first sight of a key
//! records it and defers; retries before `retry_after` are deferred again
//! without restarting the wait; a retry after it passes, and the key then
//! stays allowed until `expire` of inactivity. A key that never came back
//! within `expire` is forgotten and starts over.
//!
//! Pure data: "now" is passed in, so the virtual clock and the tests drive it.

use std::collections::HashMap;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not yet allowed: defer. `wait` is how much longer a retry must wait.
    Defer {
        wait: Duration,
    },
    Pass,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    first_seen: Duration,
    last_seen: Duration,
    passed: bool,
    /// When the key was last checked, in checks since start: recency that
    /// a virtual clock standing still cannot blur.
    touched: u64,
}

#[derive(Debug, Default)]
pub(super) struct Table {
    entries: HashMap<String, Entry>,
    next_sweep: usize,
    /// Times the table was over [`MAX_KEYS`] and lost keys that were live.
    forgotten: u64,
    checks: u64,
}

/// Tables are swept of expired keys whenever they grow past this many (or
/// twice their size after the last sweep), so memory follows live keys only.
const SWEEP_FROM: usize = 4096;

/// A client inventing keys faster than they expire (distinct senders or
/// recipients by the hundred thousand) must not grow the server without
/// bound: past this many live keys the least recently seen half is
/// forgotten (those clients are greylisted again, as after a restart).
pub(super) const MAX_KEYS: usize = 200_000;

impl Table {
    pub(super) fn check(
        &mut self,
        key: &str,
        now: Duration,
        retry_after: Duration,
        expire: Duration,
    ) -> Verdict {
        if self.entries.len() >= self.next_sweep.clamp(SWEEP_FROM, MAX_KEYS) {
            self.entries.retain(|_, e| !expired(e, now, expire));
            if self.entries.len() >= MAX_KEYS {
                tracing::warn!(
                    keys = self.entries.len(),
                    "greylist holds too many live keys; forgetting the least recently seen half to bound memory"
                );
                let mut seen: Vec<u64> = self.entries.values().map(|e| e.touched).collect();
                let half = seen.len() / 2;
                let (_, median, _) = seen.select_nth_unstable(half);
                let median = *median;
                self.entries.retain(|_, e| e.touched >= median);
                self.forgotten += 1;
            }
            self.next_sweep = self.entries.len().saturating_mul(2);
        }
        self.checks += 1;
        let fresh = Entry {
            first_seen: now,
            last_seen: now,
            passed: false,
            touched: self.checks,
        };
        let Some(e) = self.entries.get_mut(key) else {
            self.entries.insert(key.to_owned(), fresh);
            return Verdict::Defer { wait: retry_after };
        };
        e.touched = self.checks;
        if expired(e, now, expire) {
            *e = fresh;
            return Verdict::Defer { wait: retry_after };
        }
        let waited = now.saturating_sub(e.first_seen);
        if e.passed || waited >= retry_after {
            e.passed = true;
            e.last_seen = now;
            return Verdict::Pass;
        }
        Verdict::Defer {
            wait: retry_after - waited,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn forgotten(&self) -> u64 {
        self.forgotten
    }
}

/// An allowed key expires after `expire` without traffic; a waiting one
/// after `expire` from its first sight.
fn expired(e: &Entry, now: Duration, expire: Duration) -> bool {
    let since = if e.passed { e.last_seen } else { e.first_seen };
    now.saturating_sub(since) > expire
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn rfc6647_lifecycle() {
        let mut t = Table::default();
        let (retry, expire) = (S(30), S(3600));
        let check = |t: &mut Table, at: u64| t.check("k", S(at), retry, expire);
        assert_eq!(check(&mut t, 0), Verdict::Defer { wait: S(30) });
        // An early retry is deferred again and does not restart the wait.
        assert_eq!(check(&mut t, 10), Verdict::Defer { wait: S(20) });
        assert_eq!(check(&mut t, 29), Verdict::Defer { wait: S(1) });
        assert_eq!(check(&mut t, 30), Verdict::Pass);
        // Allowed keys stay allowed while traffic keeps them alive.
        assert_eq!(check(&mut t, 3000), Verdict::Pass);
        assert_eq!(check(&mut t, 6600), Verdict::Pass);
        // An hour and a second of silence: greylisted again.
        assert_eq!(check(&mut t, 10201), Verdict::Defer { wait: S(30) });
        assert_eq!(check(&mut t, 10231), Verdict::Pass);
    }

    #[test]
    fn a_key_that_never_returns_starts_over() {
        let mut t = Table::default();
        let (retry, expire) = (S(30), S(100));
        assert!(matches!(
            t.check("k", S(0), retry, expire),
            Verdict::Defer { .. }
        ));
        assert_eq!(
            t.check("k", S(101), retry, expire),
            Verdict::Defer { wait: S(30) }
        );
        assert_eq!(t.check("k", S(131), retry, expire), Verdict::Pass);
        assert!(matches!(
            t.check("other", S(131), retry, expire),
            Verdict::Defer { .. }
        ));
    }

    #[test]
    fn sweeping_forgets_expired_keys_only() {
        let mut t = Table::default();
        let (retry, expire) = (S(1), S(10));
        for i in 0..SWEEP_FROM {
            t.check(&format!("old{i}"), S(0), retry, expire);
        }
        t.check("live", S(15), retry, expire);
        t.check("trigger", S(20), retry, expire);
        assert_eq!(t.len(), 2, "only `live` and `trigger` survive the sweep");
        assert_eq!(t.check("live", S(20), retry, expire), Verdict::Pass);
    }

    #[test]
    fn live_keys_past_the_cap_lose_the_least_recently_seen_half() {
        let mut t = Table::default();
        let (retry, expire) = (S(1), S(3600));
        // A virtual clock standing still: every key is live.
        for i in 0..MAX_KEYS {
            t.check(&format!("k{i}"), S(0), retry, expire);
        }
        assert_eq!(t.len(), MAX_KEYS);
        t.check("k0", S(5), retry, expire);
        t.check("new", S(5), retry, expire);
        assert!(t.len() <= MAX_KEYS / 2 + 2, "{}", t.len());
        assert_eq!(t.forgotten(), 1);
        // The recently seen survive: k0 was seen at 0 and again at 5.
        assert_eq!(t.check("k0", S(6), retry, expire), Verdict::Pass);
        assert_eq!(
            t.check(&format!("k{}", MAX_KEYS - 1), S(6), retry, expire),
            Verdict::Pass
        );
        assert!(matches!(
            t.check("k1", S(6), retry, expire),
            Verdict::Defer { .. }
        ));
    }
}
