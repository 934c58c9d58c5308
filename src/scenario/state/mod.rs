//! Where the rule state shared across connections lives: greylist keys,
//! rate windows, concurrent-connection counts, attempt counters, the
//! connection and message counters, and how often each rule fired.
//!
//! The engine talks to one trait, [`RuleState`], with two implementations
//! side by side: [`memory`] (one process, the default) and [`redis`]
//! (`--state redis://...`, several instances sharing one world). Every
//! check-and-update is one step of the implementation (a lock held, or one
//! Lua script), never a read then a write from the engine.

pub(crate) mod link;
pub(crate) mod memory;
pub(crate) mod redis;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::Scenario;
use super::greylist::Verdict;

/// The shared store failed to answer; the engine refuses with a 4xx.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("shared state unavailable: {0}")]
pub(crate) struct StateError(pub String);

/// Why a virtual clock did not move: the scenario's clock is real, or the
/// store that holds the shared advance did not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AdvanceError {
    #[error(transparent)]
    NotVirtual(#[from] super::clock::NotVirtual),
    #[error(transparent)]
    Unavailable(#[from] StateError),
}

/// What time a check reads: a virtual clock's own reading, or real time
/// (which the Redis store takes from the Redis server, so that every
/// instance reads the same clock).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Now {
    Real(Duration),
    Virtual(Duration),
}

/// An answer of the shared store still on its way.
pub(crate) type StateFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, StateError>> + Send + 'a>>;

/// Sizes of the tables that grow with client input, for `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct StateSizes {
    pub attempts: usize,
    pub greylist: usize,
    pub rate_windows: usize,
    pub concurrent: usize,
    /// Times a table was over its cap and forgot live entries.
    pub forgotten: u64,
}

/// The rule state of one scenario, shared by its connections (and, in
/// Redis, by every instance running the same scenario).
pub(crate) trait RuleState: Send + Sync + std::fmt::Debug {
    /// Greylists `key` of rule `rule`: first sight defers, a retry after
    /// `retry_after` passes, `expire` of silence forgets.
    fn greylist(
        &self,
        rule: usize,
        key: &str,
        now: Now,
        retry_after: Duration,
        expire: Duration,
    ) -> Result<Verdict, StateError>;

    /// Counts one event for `key` and returns how many fall within `per`.
    fn rate_hit(&self, rule: usize, key: &str, now: Now, per: Duration) -> Result<u64, StateError>;

    /// One more open connection under `key`; returns how many are open.
    fn enter(&self, rule: usize, key: &str) -> Result<u64, StateError>;

    /// A connection counted by [`RuleState::enter`] closed.
    fn leave(&self, rule: usize, key: &str);

    /// One more sighting of (client, sender, recipient); returns the count.
    fn see_attempt(&self, ip: IpAddr, from: &str, to: &str) -> Result<u32, StateError>;

    /// Numbers a new connection (1, 2, ...).
    fn next_connection(&self) -> Result<u64, StateError>;

    /// [`RuleState::next_connection`] for a caller that can wait
    /// asynchronously (a connection, before its session starts), so a
    /// shared store's round trip does not block a runtime worker.
    fn next_connection_async(&self) -> StateFuture<'_, u64> {
        Box::pin(std::future::ready(self.next_connection()))
    }

    /// Messages accepted so far.
    fn accepted(&self) -> Result<u64, StateError>;

    /// One more message accepted.
    fn message_accepted(&self);

    /// Claims one firing of rule `rule`, within `times` if it has a budget;
    /// `false` once the budget is spent.
    fn claim(&self, rule: usize, times: Option<u32>) -> Result<bool, StateError>;

    /// Whether rule `rule` has spent its `times` budget.
    fn retired(&self, rule: usize, times: u32) -> Result<bool, StateError>;

    /// How often each rule fired, by index.
    fn fired(&self) -> Vec<u32>;

    /// Table sizes, for `/metrics` (what this process can see).
    fn sizes(&self) -> StateSizes;

    /// `false` while the store is unreachable: new connections get 421.
    fn available(&self) -> bool {
        true
    }

    /// Whether some questions are answered asynchronously (see
    /// [`RuleState::answers_later`]).
    fn waits(&self) -> bool {
        false
    }

    /// Whether this store answers `ask` better asynchronously (a round
    /// trip a decision should not block a runtime worker for).
    fn answers_later(&self, ask: &super::tape::Ask) -> bool {
        let _ = ask;
        false
    }

    /// Whether `ask` can be fetched together with others of its kind, in
    /// one round trip that stops at the first that fires (see
    /// [`RuleState::answer_batch`]).
    fn batches(&self, ask: &super::tape::Ask) -> bool {
        let _ = ask;
        false
    }

    /// The answers to `asks` (each one that [`RuleState::batches`]), in
    /// order, up to and including the first that fires; `None` where the
    /// store cannot fetch them together.
    fn answer_batch(
        &self,
        asks: &[super::tape::Ask],
    ) -> Option<StateFuture<'_, Vec<super::tape::Answer>>> {
        let _ = asks;
        None
    }

    /// The answer to `ask`, fetched asynchronously; `None` where the store
    /// only answers at once (see [`super::tape::Ask::answer_now`]).
    fn answer_later(&self, ask: &super::tape::Ask) -> Option<StateFuture<'_, super::tape::Answer>> {
        let _ = ask;
        None
    }

    /// Adds `by` to a virtual clock's advance shared by every instance and
    /// returns the total; `None` where the clock is this process's own.
    fn advance_clock(&self, by: Duration) -> Result<Option<Duration>, StateError> {
        let _ = by;
        Ok(None)
    }

    /// A virtual clock's shared advance so far; `None` where the clock is
    /// this process's own.
    fn clock_total(&self) -> Result<Option<Duration>, StateError> {
        Ok(None)
    }
}

/// A scenario shared through the store, newer than the one in force here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SharedScenario {
    pub version: u64,
    pub yaml: String,
    /// Published by a reset: the same scenario with fresh state, so each
    /// instance also forgets what it keeps outside the rule state.
    pub reset: bool,
}

/// Which store the rule state lives in (`--state`).
#[derive(Clone, Debug, Default)]
pub enum StateConfig {
    /// In this process.
    #[default]
    Memory,
    /// In Redis, shared by every instance pointed at it.
    Redis(Arc<redis::Redis>),
}

impl StateConfig {
    /// Parses `memory`, `redis://[user:pass@]host:port/db` or
    /// `redis-cluster://[user:pass@]host:port[,host:port...]`; the namespace
    /// prefixes every key so several setups can share one Redis.
    pub fn parse(text: &str, namespace: &str) -> Result<Self, String> {
        if text == "memory" {
            return Ok(Self::Memory);
        }
        if text.starts_with("redis://") || text.starts_with("redis-cluster://") {
            return redis::Redis::open(text, namespace).map(|r| Self::Redis(Arc::new(r)));
        }
        Err(format!(
            "unknown state store `{}`: use `memory`, `redis://HOST:PORT/DB` or `redis-cluster://HOST:PORT[,HOST:PORT...]`",
            redis::redacted(text)
        ))
    }

    /// The state of one scenario's rules.
    /// `version`: of the shared scenario, see [`StateConfig::publish_scenario`].
    pub(crate) fn open(&self, scenario: &Scenario, version: u64) -> Arc<dyn RuleState> {
        match self {
            Self::Memory => Arc::new(memory::Memory::new(scenario)),
            Self::Redis(r) => Arc::new(redis::Scoped::new(Arc::clone(r), scenario, version)),
        }
    }

    /// Whether scenarios are shared between instances (Redis).
    pub(crate) fn shared(&self) -> bool {
        matches!(self, Self::Redis(_))
    }

    /// Makes `yaml` every instance's scenario (`reset`: the current one
    /// again, with fresh state); its version, or `None` in memory, where
    /// there is nothing to share. Blocking.
    pub(crate) fn publish_scenario(
        &self,
        yaml: &str,
        reset: bool,
    ) -> Option<Result<u64, StateError>> {
        match self {
            Self::Memory => None,
            Self::Redis(r) => Some(r.publish_scenario(yaml, reset)),
        }
    }

    /// The shared scenario if newer than `known`. Blocking.
    pub(crate) fn shared_scenario(&self, known: u64) -> Result<Option<SharedScenario>, StateError> {
        match self {
            Self::Memory => Ok(None),
            Self::Redis(r) => r.shared_scenario(known),
        }
    }

    /// Where the store commits its changes: at once in this process, or to
    /// the Redis log every instance follows, bounded like the store.
    pub(crate) fn journal(
        &self,
        max_messages: usize,
        max_bytes: usize,
    ) -> Arc<dyn crate::store::journal::Journal> {
        match self {
            Self::Memory => Arc::new(crate::store::journal::memory::Local::new()),
            Self::Redis(r) => Arc::new(crate::store::journal::redis::Shared::new(
                Arc::clone(r),
                max_messages,
                max_bytes,
            )),
        }
    }

    /// Requests sent to the shared store since start (0 in memory).
    pub fn round_trips(&self) -> u64 {
        match self {
            Self::Memory => 0,
            Self::Redis(r) => r.round_trips(),
        }
    }

    /// Whether the store answers now (`/readyz`).
    pub fn ready(&self) -> bool {
        match self {
            Self::Memory => true,
            Self::Redis(r) => r.ping(),
        }
    }
}
