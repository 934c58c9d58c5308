//! Rule state in this process: the default, and as fast as a lock and a
//! hash lookup. Counters that need no table are atomics, so a scenario
//! without greylisting or rate limits never takes the lock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::{Now, RuleState, StateError, StateSizes};
use crate::scenario::greylist::{self, Verdict};
use crate::scenario::{RateLimit, Rule, Scenario, rate};

/// Distinct (client, sender, recipient) triplets counted for `attempt:`
/// before the least recently seen half is forgotten (their counts start
/// again): a client inventing recipients cannot grow the table for ever.
pub(crate) const MAX_ATTEMPT_KEYS: usize = 200_000;

/// The memory of one stateful rule.
#[derive(Debug)]
enum Table {
    Stateless,
    Greylist(greylist::Table),
    Window(rate::Windows),
    Concurrent(rate::Concurrent),
}

#[derive(Debug, Default)]
struct Tables {
    /// Sightings of (client, sender, recipient): the count and when it was
    /// last seen, in sightings since start.
    attempts: HashMap<(IpAddr, String, String), (u32, u64)>,
    sightings: u64,
    /// Times the attempt table was over [`MAX_ATTEMPT_KEYS`].
    attempts_forgotten: u64,
    /// One per rule, by index.
    rules: Vec<Table>,
}

#[derive(Debug)]
pub(crate) struct Memory {
    tables: Mutex<Tables>,
    fired: Vec<AtomicU32>,
    connections: AtomicU64,
    accepted: AtomicU64,
}

impl Memory {
    pub(crate) fn new(scenario: &Scenario) -> Self {
        Self {
            tables: Mutex::new(Tables {
                rules: scenario.rules.iter().map(table).collect(),
                ..Tables::default()
            }),
            fired: scenario.rules.iter().map(|_| AtomicU32::new(0)).collect(),
            connections: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn table(rule: &Rule) -> Table {
    match (&rule.greylist, &rule.rate_limit) {
        (Some(_), _) => Table::Greylist(greylist::Table::default()),
        (None, Some(r)) => match r.limit {
            RateLimit::Window { .. } => Table::Window(rate::Windows::default()),
            RateLimit::Concurrent { .. } => Table::Concurrent(rate::Concurrent::default()),
        },
        (None, None) => Table::Stateless,
    }
}

fn at(now: Now) -> Duration {
    match now {
        Now::Real(d) | Now::Virtual(d) => d,
    }
}

impl Tables {
    fn forget_older_attempts(&mut self) {
        tracing::warn!(
            keys = self.attempts.len(),
            "attempt counters track too many (client, sender, recipient) triplets; forgetting the least recently seen half"
        );
        let mut seen: Vec<u64> = self.attempts.values().map(|&(_, t)| t).collect();
        let half = seen.len() / 2;
        if half < seen.len() {
            let (_, median, _) = seen.select_nth_unstable(half);
            let median = *median;
            self.attempts.retain(|_, &mut (_, t)| t >= median);
        }
        self.attempts_forgotten += 1;
    }
}

impl RuleState for Memory {
    fn greylist(
        &self,
        rule: usize,
        key: &str,
        now: Now,
        retry_after: Duration,
        expire: Duration,
    ) -> Result<Verdict, StateError> {
        match self.lock().rules.get_mut(rule) {
            Some(Table::Greylist(t)) => Ok(t.check(key, at(now), retry_after, expire)),
            _ => Ok(Verdict::Pass),
        }
    }

    fn rate_hit(&self, rule: usize, key: &str, now: Now, per: Duration) -> Result<u64, StateError> {
        match self.lock().rules.get_mut(rule) {
            Some(Table::Window(w)) => Ok(w.count(key, at(now), per)),
            _ => Ok(0),
        }
    }

    fn enter(&self, rule: usize, key: &str) -> Result<u64, StateError> {
        match self.lock().rules.get_mut(rule) {
            Some(Table::Concurrent(c)) => Ok(c.enter(key)),
            _ => Ok(0),
        }
    }

    fn leave(&self, rule: usize, key: &str) {
        if let Some(Table::Concurrent(c)) = self.lock().rules.get_mut(rule) {
            c.leave(key);
        }
    }

    fn see_attempt(&self, ip: IpAddr, from: &str, to: &str) -> Result<u32, StateError> {
        let mut tables = self.lock();
        if tables.attempts.len() >= MAX_ATTEMPT_KEYS {
            tables.forget_older_attempts();
        }
        tables.sightings += 1;
        let now = tables.sightings;
        let (n, touched) = tables
            .attempts
            .entry((ip, from.to_ascii_lowercase(), to.to_ascii_lowercase()))
            .or_insert((0, 0));
        *n = n.saturating_add(1);
        *touched = now;
        Ok(*n)
    }

    fn next_connection(&self) -> Result<u64, StateError> {
        Ok(self.connections.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn accepted(&self) -> Result<u64, StateError> {
        Ok(self.accepted.load(Ordering::Relaxed))
    }

    fn message_accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    fn claim(&self, rule: usize, times: Option<u32>) -> Result<bool, StateError> {
        let Some(f) = self.fired.get(rule) else {
            return Ok(times.is_none());
        };
        let Some(limit) = times else {
            f.fetch_add(1, Ordering::Relaxed);
            return Ok(true);
        };
        Ok(f.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < limit).then_some(n + 1)
        })
        .is_ok())
    }

    fn retired(&self, rule: usize, times: u32) -> Result<bool, StateError> {
        Ok(self
            .fired
            .get(rule)
            .is_some_and(|f| f.load(Ordering::Acquire) >= times))
    }

    fn fired(&self) -> Vec<u32> {
        self.fired
            .iter()
            .map(|f| f.load(Ordering::Relaxed))
            .collect()
    }

    fn sizes(&self) -> StateSizes {
        let tables = self.lock();
        let mut sizes = StateSizes {
            attempts: tables.attempts.len(),
            forgotten: tables.attempts_forgotten,
            ..StateSizes::default()
        };
        for rule in &tables.rules {
            match rule {
                Table::Greylist(t) => {
                    sizes.greylist += t.len();
                    sizes.forgotten += t.forgotten();
                }
                Table::Window(w) => {
                    sizes.rate_windows += w.len();
                    sizes.forgotten += w.forgotten();
                }
                Table::Concurrent(c) => sizes.concurrent += c.len(),
                Table::Stateless => {}
            }
        }
        sizes
    }
}
