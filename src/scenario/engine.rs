//! The rule engine: walks a scenario's rules for each stage and keeps the
//! state rules share across connections (fired counts, attempt counters, the
//! seeded random generator, connection and message numbers, greylist tables
//! and rate windows), all timed by the scenario's [`Clock`].
//!
//! Rules that need no shared state are evaluated without taking a lock, so
//! an accept-all or pattern-only scenario costs nothing under load.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::clock::Clock;
use super::greylist::{self, Verdict};
use super::mime::{self, MessageView};
use super::rate;
use super::{RateLimit, Rule, Scenario};
use crate::proto::policy::{Context, Decision, Followup, Policy, Stage};

/// The memory of one stateful rule.
#[derive(Debug)]
enum RuleState {
    Stateless,
    Greylist(greylist::Table),
    Window(rate::Windows),
    Concurrent(rate::Concurrent),
}

struct Shared {
    rng: StdRng,
    /// Sightings of (client, sender, recipient): the count and when it was
    /// last seen, in sightings since start.
    attempts: HashMap<(IpAddr, String, String), (u32, u64)>,
    sightings: u64,
    /// Times the attempt table was over [`MAX_ATTEMPT_KEYS`].
    attempts_forgotten: u64,
    /// One per rule, by index.
    rules: Vec<RuleState>,
    /// Scratch space for rendering keys, so checking one costs no allocation
    /// once the key has been seen.
    key: String,
}

/// Message size from which message-stage rules run off the runtime's
/// worker threads.
const OFF_RUNTIME_FROM: usize = 1 << 20;

/// `block_in_place` needs a multi-thread runtime; tests and embedders may
/// run a current-thread one, where matching stays inline.
fn on_multi_thread_runtime() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

/// Distinct (client, sender, recipient) triplets counted for `attempt:`
/// before the least recently seen half is forgotten (their counts start
/// again): a client inventing recipients cannot grow the table for ever.
pub(crate) const MAX_ATTEMPT_KEYS: usize = 200_000;

/// Entries in the engine's tables that grow with client input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StateSizes {
    pub attempts: usize,
    pub greylist: usize,
    pub rate_windows: usize,
    pub concurrent: usize,
    pub clock_history: usize,
    /// Times a table was over its cap and forgot live entries.
    pub forgotten: u64,
}

impl Shared {
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

pub struct Engine {
    scenario: Arc<Scenario>,
    clock: Arc<Clock>,
    fired: Vec<AtomicU32>,
    connections: AtomicU64,
    accepted: AtomicU64,
    uses_attempts: bool,
    /// Whether a rule reads the body: if none does, a message's header
    /// section is all that is parsed.
    reads_body: bool,
    parser: mail_parser::MessageParser,
    shared: Mutex<Shared>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("scenario", &self.scenario.name)
            .finish()
    }
}

impl Engine {
    pub fn new(scenario: Arc<Scenario>) -> Self {
        Self {
            fired: scenario.rules.iter().map(|_| AtomicU32::new(0)).collect(),
            uses_attempts: scenario
                .rules
                .iter()
                .any(|r| r.conditions.attempt.is_some()),
            reads_body: scenario.rules.iter().any(|r| r.conditions.body.is_some()),
            parser: mime::parser(),
            shared: Mutex::new(Shared {
                rng: StdRng::seed_from_u64(scenario.seed),
                attempts: HashMap::new(),
                sightings: 0,
                attempts_forgotten: 0,
                rules: scenario.rules.iter().map(rule_state).collect(),
                key: String::new(),
            }),
            clock: Arc::new(Clock::new(scenario.clock)),
            connections: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            scenario,
        }
    }

    pub fn scenario(&self) -> &Arc<Scenario> {
        &self.scenario
    }

    pub fn clock(&self) -> &Arc<Clock> {
        &self.clock
    }

    /// How often each rule has fired, in file order: the rule-hit counters
    /// of `/metrics`.
    pub fn rule_hits(&self) -> impl Iterator<Item = (&str, u32)> {
        self.scenario
            .rules
            .iter()
            .zip(&self.fired)
            .map(|(rule, n)| (&*rule.name, n.load(Ordering::Relaxed)))
    }

    pub fn next_connection(&self) -> u64 {
        self.connections.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn session_policy(self: &Arc<Self>) -> ScenarioPolicy {
        ScenarioPolicy {
            engine: Arc::clone(self),
            attempt: 0,
            held: Vec::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one more sighting of (ip, from, to) and returns the count.
    fn see_attempt(&self, ip: IpAddr, from: &str, to: &str) -> u32 {
        let mut shared = self.lock();
        if shared.attempts.len() >= MAX_ATTEMPT_KEYS {
            shared.forget_older_attempts();
        }
        shared.sightings += 1;
        let now = shared.sightings;
        let (n, touched) = shared
            .attempts
            .entry((ip, from.to_ascii_lowercase(), to.to_ascii_lowercase()))
            .or_insert((0, 0));
        *n = n.saturating_add(1);
        *touched = now;
        *n
    }

    /// Sizes of the tables that grow with what clients send, for `/metrics`.
    pub fn state_sizes(&self) -> StateSizes {
        let shared = self.lock();
        let mut sizes = StateSizes {
            attempts: shared.attempts.len(),
            forgotten: shared.attempts_forgotten,
            clock_history: self.clock.history_len(),
            ..StateSizes::default()
        };
        for rule in &shared.rules {
            match rule {
                RuleState::Greylist(t) => {
                    sizes.greylist += t.len();
                    sizes.forgotten += t.forgotten();
                }
                RuleState::Window(w) => {
                    sizes.rate_windows += w.len();
                    sizes.forgotten += w.forgotten();
                }
                RuleState::Concurrent(c) => sizes.concurrent += c.len(),
                RuleState::Stateless => {}
            }
        }
        sizes
    }

    fn applies(
        &self,
        rule: &Rule,
        ctx: &Context<'_>,
        message: &MessageView<'_, '_>,
        attempt: u32,
    ) -> bool {
        let c = &rule.conditions;
        let text = |m: &Option<super::TextMatcher>, v: Option<&str>| {
            m.as_ref().is_none_or(|m| v.is_some_and(|v| m.matches(v)))
        };
        let to_ok = match (&c.to, ctx.to) {
            (None, _) => true,
            (Some(m), Some(to)) => m.matches(to),
            (Some(m), None) => ctx.recipients.iter().any(|r| m.matches(&r.address)),
        };
        let ok = to_ok
            && text(&c.from, ctx.from)
            && text(&c.helo, ctx.helo)
            && text(&c.auth_user, ctx.auth_user)
            && (c.client_ip.is_empty() || c.client_ip.iter().any(|n| n.contains(ctx.client_ip)))
            && c.tls.is_none_or(|t| t == ctx.tls)
            // At `auth`, `auth_user` is the user being tried, not yet one
            // that authenticated (AUTH after success never reaches rules).
            && c.authenticated
                .is_none_or(|a| a == (ctx.auth_user.is_some() && ctx.stage != Stage::Auth))
            && c.header
                .iter()
                .all(|(name, glob)| message.any_header(name, |v| glob.matches(v)))
            && c.body.as_ref().is_none_or(|g| g.matches(message.body()))
            && c.size
                .is_none_or(|s| s.matches(ctx.message.map_or(0, <[u8]>::len) as u64))
            && c.connection
                .as_ref()
                .is_none_or(|k| k.matches(ctx.connection))
            && c.message
                .as_ref()
                .is_none_or(|k| k.matches(self.accepted.load(Ordering::Relaxed) + 1))
            && c.command.as_ref().is_none_or(|k| k.matches(ctx.command))
            && c.attempt
                .as_ref()
                .is_none_or(|k| k.matches(u64::from(attempt)))
            && c.elapsed.is_none_or(|r| r.contains(self.clock.now()));
        if !ok {
            return false;
        }
        match c.probability {
            None => true,
            Some(p) => self.lock().rng.random::<f64>() < p,
        }
    }

    /// Claims one firing of a rule with `times`; false once it has retired.
    fn claim(&self, index: usize, times: Option<u32>) -> bool {
        let Some(limit) = times else {
            if let Some(f) = self.fired.get(index) {
                f.fetch_add(1, Ordering::Relaxed);
            }
            return true;
        };
        let Some(f) = self.fired.get(index) else {
            return false;
        };
        f.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < limit).then_some(n + 1)
        })
        .is_ok()
    }

    /// Consults (and updates) the memory of a greylist or rate-limit rule
    /// whose conditions hold: whether it applies now, and why, for the
    /// transcript. Connections counted for `max_concurrent` are added to
    /// `held`, to be released when the session ends. Rules without memory
    /// always apply.
    fn stateful(
        &self,
        index: usize,
        rule: &Rule,
        ctx: &Context<'_>,
        held: &mut Vec<(usize, String)>,
    ) -> (bool, Option<String>) {
        if rule.greylist.is_none() && rule.rate_limit.is_none() {
            return (true, None);
        }
        let now = self.clock.now();
        let mut guard = self.lock();
        let shared = &mut *guard;
        let mut key = std::mem::take(&mut shared.key);
        let state = shared.rules.get_mut(index);
        let verdict = match (state, &rule.greylist, &rule.rate_limit) {
            (Some(RuleState::Greylist(table)), Some(g), _) => {
                g.key.render(ctx, &mut key);
                match table.check(&key, now, g.retry_after, g.expire) {
                    Verdict::Pass => (false, None),
                    Verdict::Defer { wait } => (
                        true,
                        Some(format!(
                            "greylisted: a retry is accepted in {} (key {})",
                            humantime::format_duration(round_secs(wait)),
                            printable(&key)
                        )),
                    ),
                }
            }
            (Some(RuleState::Window(windows)), _, Some(r)) => {
                r.key.render(ctx, &mut key);
                match r.limit {
                    RateLimit::Window { max, per, count } if windows.hit(&key, now, max, per) => (
                        true,
                        Some(format!(
                            "rate limit: more than {max} {} within {} (key {})",
                            count.name(),
                            humantime::format_duration(per),
                            printable(&key)
                        )),
                    ),
                    _ => (false, None),
                }
            }
            (Some(RuleState::Concurrent(live)), _, Some(r)) => {
                r.key.render(ctx, &mut key);
                let open = live.enter(&key);
                held.push((index, key.clone()));
                match r.limit {
                    RateLimit::Concurrent { max } if open > max => (
                        true,
                        Some(format!(
                            "rate limit: {open} concurrent connections, max {max} (key {})",
                            printable(&key)
                        )),
                    ),
                    _ => (false, None),
                }
            }
            _ => (true, None),
        };
        shared.key = key;
        verdict
    }

    /// A session ended: its connections no longer count as concurrent.
    fn release(&self, held: &[(usize, String)]) {
        let mut shared = self.lock();
        for (index, key) in held {
            if let Some(RuleState::Concurrent(live)) = shared.rules.get_mut(*index) {
                live.leave(key);
            }
        }
    }

    fn retired(&self, index: usize, times: Option<u32>) -> bool {
        match (times, self.fired.get(index)) {
            (Some(limit), Some(f)) => f.load(Ordering::Acquire) >= limit,
            _ => false,
        }
    }
}

/// The recipients a report of `rule` is about: at `rcpt` the one being
/// accepted; later, those its `to:` matches (all without one).
fn about(rule: &Rule, ctx: &Context<'_>) -> Vec<String> {
    if let Some(to) = ctx.to {
        return vec![to.to_owned()];
    }
    ctx.recipients
        .iter()
        .filter(|r| {
            rule.conditions
                .to
                .as_ref()
                .is_none_or(|m| m.matches(&r.address))
        })
        .map(|r| r.address.clone())
        .collect()
}

/// Whole seconds read better in a transcript than nanoseconds.
fn round_secs(d: std::time::Duration) -> std::time::Duration {
    std::time::Duration::from_secs(d.as_secs() + u64::from(d.subsec_nanos() > 0))
}

/// A rendered key as text: its parts joined by `/`, the global key as `global`.
fn printable(key: &str) -> String {
    let parts: Vec<&str> = key.split_terminator('\0').collect();
    if parts.is_empty() {
        "global".into()
    } else {
        parts.join(" / ")
    }
}

fn rule_state(rule: &Rule) -> RuleState {
    match (&rule.greylist, &rule.rate_limit) {
        (Some(_), _) => RuleState::Greylist(greylist::Table::default()),
        (None, Some(r)) => match r.limit {
            RateLimit::Window { .. } => RuleState::Window(rate::Windows::default()),
            RateLimit::Concurrent { .. } => RuleState::Concurrent(rate::Concurrent::default()),
        },
        (None, None) => RuleState::Stateless,
    }
}

/// A session's view of the engine; remembers the attempt number of the
/// transaction's first recipient for the later stages, and the concurrent
/// connections it counts for, released when the session is dropped.
pub struct ScenarioPolicy {
    engine: Arc<Engine>,
    attempt: u32,
    held: Vec<(usize, String)>,
}

impl Drop for ScenarioPolicy {
    fn drop(&mut self) {
        if !self.held.is_empty() {
            self.engine.release(&self.held);
        }
    }
}

impl Policy for ScenarioPolicy {
    fn decide(&mut self, ctx: &Context<'_>) -> Option<Decision> {
        let decision = self.decide_by_rules(ctx);
        if decision.is_none()
            && ctx.stage == Stage::Rcpt
            && self.engine.scenario.server.address_faults
        {
            return ctx.to.and_then(super::address_faults::fault_for);
        }
        decision
    }

    fn message_accepted(&mut self) {
        self.engine.accepted.fetch_add(1, Ordering::Relaxed);
    }
}

impl ScenarioPolicy {
    fn decide_by_rules(&mut self, ctx: &Context<'_>) -> Option<Decision> {
        let engine = &*self.engine;
        if engine.scenario.rules.is_empty() {
            return None;
        }
        match ctx.stage {
            Stage::Mail | Stage::Helo | Stage::Rset => self.attempt = 0,
            Stage::Rcpt if engine.uses_attempts => {
                let n =
                    engine.see_attempt(ctx.client_ip, ctx.from.unwrap_or(""), ctx.to.unwrap_or(""));
                if ctx.recipients.is_empty() {
                    self.attempt = n;
                }
                return self.first_match(ctx, n);
            }
            _ => {}
        }
        self.first_match(ctx, self.attempt)
    }

    fn first_match(&mut self, ctx: &Context<'_>, attempt: u32) -> Option<Decision> {
        let engine = Arc::clone(&self.engine);
        let raw = ctx.message.unwrap_or_default();
        let mut decide = || {
            MessageView::with(raw, &engine.parser, engine.reads_body, |message| {
                self.first_match_in(ctx, message, attempt)
            })
        };
        // Parsing and matching a large body takes milliseconds to tens of
        // them; on a runtime worker that would stall every session sharing
        // the thread, so the worker hands its other tasks on first.
        if raw.len() >= OFF_RUNTIME_FROM && on_multi_thread_runtime() {
            tokio::task::block_in_place(decide)
        } else {
            decide()
        }
    }

    fn first_match_in(
        &mut self,
        ctx: &Context<'_>,
        message: &MessageView<'_, '_>,
        attempt: u32,
    ) -> Option<Decision> {
        let engine = &*self.engine;
        for (i, rule) in engine.scenario.rules.iter().enumerate() {
            if !rule.stages.contains(&ctx.stage) || engine.retired(i, rule.times) {
                continue;
            }
            if !engine.applies(rule, ctx, message, attempt) {
                continue;
            }
            let (applies, note) = engine.stateful(i, rule, ctx, &mut self.held);
            if applies && engine.claim(i, rule.times) {
                return Some(Decision {
                    rule: Arc::clone(&rule.name),
                    reply: rule.reply.clone(),
                    delay: rule.delay,
                    disconnect: rule.disconnect,
                    store: rule.store,
                    wire: rule.wire,
                    cut_after: rule.cut_after,
                    note,
                    tls_fault: rule.tls_fault,
                    followup: rule.followup.as_ref().map(|(after, later)| Followup {
                        rule: Arc::clone(&rule.name),
                        after: *after,
                        later: later.clone(),
                        recipients: about(rule, ctx),
                    }),
                });
            }
        }
        None
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
