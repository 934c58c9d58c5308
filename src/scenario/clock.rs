//! The scenario's clock: what greylist windows, rate windows and `elapsed`
//! read as "now".
//!
//! `clock: real` follows the wall clock from server start. `clock: virtual`
//! stands still until told to move, so a CI job can prove "a retry after 5
//! minutes is accepted" in milliseconds. Delays and tarpits never read this
//! clock: they are about the client's real patience.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Which clock a scenario asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClockMode {
    #[default]
    /// Wall-clock time.
    Real,
    /// A clock that moves only when told (`POST /api/v1/clock/advance`).
    Virtual,
}

#[derive(Debug)]
pub struct Clock {
    started: Instant,
    /// Nanoseconds the virtual clock was advanced by; `None` for real time.
    advanced: Option<AtomicU64>,
    /// When each advance happened and the time it moved to, so a report
    /// can tell what the virtual clock read at any past moment. Advances
    /// come from a test or the API, a handful per run; a script calling it
    /// in a loop gets every other old entry thinned out past
    /// [`MAX_HISTORY`], so old sessions read the clock less precisely.
    history: Mutex<Vec<(Instant, Duration)>>,
}

/// Advances remembered in full.
pub(crate) const MAX_HISTORY: usize = 16_384;

/// Asked to advance a clock that follows real time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the scenario uses the real clock; set `clock: virtual` in the scenario to move time by hand"
)]
pub struct NotVirtual;

/// The furthest a virtual clock may be moved: a century of virtual time
/// covers any retry schedule and stays far from where its nanosecond counter
/// would overflow and stick.
pub(crate) const MAX_VIRTUAL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

impl Clock {
    /// How much further a virtual clock may be advanced (see [`MAX_VIRTUAL`]).
    pub(crate) fn room(&self) -> Duration {
        MAX_VIRTUAL.saturating_sub(self.now())
    }

    pub fn new(mode: ClockMode) -> Self {
        Self {
            started: Instant::now(),
            advanced: (mode == ClockMode::Virtual).then(|| AtomicU64::new(0)),
            history: Mutex::new(Vec::new()),
        }
    }

    pub fn mode(&self) -> ClockMode {
        match self.advanced {
            Some(_) => ClockMode::Virtual,
            None => ClockMode::Real,
        }
    }

    /// Time since the server started, as the scenario sees it.
    pub fn now(&self) -> Duration {
        match &self.advanced {
            None => self.started.elapsed(),
            Some(ns) => Duration::from_nanos(ns.load(Ordering::Acquire)),
        }
    }

    /// Moves a virtual clock forward and returns the new "now".
    pub fn advance(&self, by: Duration) -> Result<Duration, NotVirtual> {
        let ns = self.advanced.as_ref().ok_or(NotVirtual)?;
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let mut history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        let before = ns
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_add(by))
            })
            .unwrap_or(0);
        let now = Duration::from_nanos(before.saturating_add(by));
        if history.len() >= MAX_HISTORY {
            thin(&mut history);
        }
        history.push((Instant::now(), now));
        Ok(now)
    }

    /// Moves a virtual clock forward to `total` since start, never back:
    /// with shared state the instances' advances add up in one total, and a
    /// stale reading from the store must not undo an advance made here.
    /// Returns the new "now".
    pub(crate) fn advance_to(&self, total: Duration) -> Result<Duration, NotVirtual> {
        let ns = self.advanced.as_ref().ok_or(NotVirtual)?;
        let total = u64::try_from(total.as_nanos()).unwrap_or(u64::MAX);
        let mut history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        let moved = ns.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (total > n).then_some(total)
        });
        if moved.is_err() {
            return Ok(Duration::from_nanos(ns.load(Ordering::Acquire)));
        }
        let now = Duration::from_nanos(total);
        if history.len() >= MAX_HISTORY {
            thin(&mut history);
        }
        history.push((Instant::now(), now));
        Ok(now)
    }

    /// Advances remembered, for `/metrics`.
    pub(crate) fn history_len(&self) -> usize {
        self.history.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// What this clock read at a past (or present) real moment: real time
    /// since start, or the virtual time as last advanced before `when`.
    pub fn at(&self, when: Instant) -> Duration {
        if self.advanced.is_none() {
            return when.saturating_duration_since(self.started);
        }
        let history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        let done = history.partition_point(|(at, _)| *at <= when);
        done.checked_sub(1)
            .and_then(|i| history.get(i))
            .map_or(Duration::ZERO, |(_, now)| *now)
    }
}

/// Drops every other entry of the older half: a moment between two kept
/// entries then reads the earlier one's time, an underestimate by at most
/// one advance, while the recent half, which live sessions read, stays exact.
fn thin(history: &mut Vec<(Instant, Duration)>) {
    let half = history.len() / 2;
    let mut i = 0;
    history.retain(|_| {
        i += 1;
        i > half || i % 2 == 1
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_clock_moves_only_when_told() {
        let c = Clock::new(ClockMode::Virtual);
        assert_eq!(c.now(), Duration::ZERO);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(c.now(), Duration::ZERO);
        assert_eq!(
            c.advance(Duration::from_secs(300)),
            Ok(Duration::from_secs(300))
        );
        assert_eq!(
            c.advance(Duration::from_secs(1)),
            Ok(Duration::from_secs(301))
        );
        assert_eq!(c.now(), Duration::from_secs(301));
    }

    #[test]
    fn tells_what_a_virtual_clock_read_at_past_moments() {
        let c = Clock::new(ClockMode::Virtual);
        let before = Instant::now();
        std::thread::sleep(Duration::from_millis(2));
        c.advance(Duration::from_secs(300)).unwrap();
        std::thread::sleep(Duration::from_millis(2));
        let between = Instant::now();
        c.advance(Duration::from_secs(60)).unwrap();
        assert_eq!(c.at(before), Duration::ZERO);
        assert_eq!(c.at(between), Duration::from_secs(300));
        assert_eq!(c.at(Instant::now()), Duration::from_secs(360));
    }

    #[test]
    fn a_real_clock_reads_elapsed_time_at_past_moments() {
        let c = Clock::new(ClockMode::Real);
        std::thread::sleep(Duration::from_millis(5));
        let then = Instant::now();
        let read = c.at(then);
        assert!(
            read >= Duration::from_millis(5) && read <= c.now(),
            "{read:?}"
        );
    }

    #[test]
    fn a_virtual_clock_moves_forward_to_a_total_and_never_back() {
        let c = Clock::new(ClockMode::Virtual);
        assert_eq!(
            c.advance_to(Duration::from_secs(300)),
            Ok(Duration::from_secs(300))
        );
        assert_eq!(c.history_len(), 1);
        assert_eq!(
            c.advance_to(Duration::from_secs(120)),
            Ok(Duration::from_secs(300))
        );
        assert_eq!(
            c.advance_to(Duration::from_secs(300)),
            Ok(Duration::from_secs(300))
        );
        assert_eq!(c.history_len(), 1, "standing still is not an advance");
        assert_eq!(c.now(), Duration::from_secs(300));
        c.advance(Duration::from_secs(1)).unwrap();
        assert_eq!(
            c.advance_to(Duration::from_secs(360)),
            Ok(Duration::from_secs(360))
        );
        assert_eq!(c.at(Instant::now()), Duration::from_secs(360));
        assert_eq!(
            Clock::new(ClockMode::Real).advance_to(Duration::from_secs(1)),
            Err(NotVirtual)
        );
    }

    #[test]
    fn real_clock_cannot_be_advanced() {
        let c = Clock::new(ClockMode::Real);
        assert_eq!(c.advance(Duration::from_secs(1)), Err(NotVirtual));
        assert_eq!(c.mode(), ClockMode::Real);
    }

    #[test]
    fn history_is_thinned_past_its_cap() {
        let c = Clock::new(ClockMode::Virtual);
        let start = Instant::now();
        for _ in 0..MAX_HISTORY * 3 {
            c.advance(Duration::from_secs(1)).unwrap();
        }
        assert!(c.history_len() <= MAX_HISTORY, "{}", c.history_len());
        let secs = (MAX_HISTORY * 3) as u64;
        assert_eq!(c.at(Instant::now()), Duration::from_secs(secs));
        assert_eq!(c.at(start), Duration::ZERO);
        assert_eq!(c.now(), Duration::from_secs(secs));
    }
}
