//! The rule engine: walks a scenario's rules for each stage and keeps the
//! state rules share across connections (fired counts, attempt counters, the
//! seeded random generator, connection and message numbers, greylist tables
//! and rate windows), all timed by the scenario's [`Clock`].
//!
//! Rules that need no shared state are evaluated without taking a lock, so
//! an accept-all or pattern-only scenario costs nothing under load.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::clock::{Clock, ClockMode, NotVirtual};
use super::greylist::Verdict;
use super::mime::{self, MessageView};
use super::state::{AdvanceError, Now, RuleState, StateConfig, StateError, StateSizes};
use super::tape::{Answer, Ask, Halt, Tape};
use super::{RateLimit, Rule, Scenario};
use crate::proto::policy::{Context, Decision, Disconnect, Followup, Policy, ReplyChoice, Stage};
use crate::proto::reply::{EnhancedCode, Reply, Wire};

/// Message size from which message-stage rules run off the runtime's
/// worker threads.
const OFF_RUNTIME_FROM: usize = 1 << 20;

/// `block_in_place` needs a multi-thread runtime; tests and embedders may
/// run a current-thread one, where the work stays inline.
pub(crate) fn on_multi_thread_runtime() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

pub struct Engine {
    scenario: Arc<Scenario>,
    clock: Arc<Clock>,
    /// Greylists, windows, counters: in memory or in Redis.
    state: Arc<dyn RuleState>,
    /// Seeded draws for `probability:`; per instance even with shared state.
    rng: Mutex<StdRng>,
    uses_attempts: bool,
    /// Decisions may wait for the state asynchronously (see [`Tape`]).
    waits: bool,
    /// Whether a rule reads the body: if none does, a message's header
    /// section is all that is parsed.
    reads_body: bool,
    parser: mail_parser::MessageParser,
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
        Self::with_state(scenario, &StateConfig::Memory, 0)
    }

    /// An engine whose rule state lives where `state` says.
    pub(crate) fn with_state(scenario: Arc<Scenario>, state: &StateConfig, version: u64) -> Self {
        let state = state.open(&scenario, version);
        Self {
            waits: !scenario.rules.is_empty() && state.waits(),
            uses_attempts: scenario
                .rules
                .iter()
                .any(|r| r.conditions.attempt.is_some()),
            reads_body: scenario.rules.iter().any(|r| r.conditions.body.is_some()),
            parser: mime::parser(),
            rng: Mutex::new(StdRng::seed_from_u64(scenario.seed)),
            state,
            clock: Arc::new(Clock::new(scenario.clock)),
            scenario,
        }
    }

    pub fn scenario(&self) -> &Arc<Scenario> {
        &self.scenario
    }

    pub fn clock(&self) -> &Arc<Clock> {
        &self.clock
    }

    /// Moves a virtual clock forward: with shared state the advance is
    /// added to the total every instance reads, and this clock jumps to
    /// that total (advances made elsewhere included). Blocking.
    pub(crate) fn advance_clock(&self, by: Duration) -> Result<Duration, AdvanceError> {
        if self.clock.mode() != ClockMode::Virtual {
            return Err(AdvanceError::NotVirtual(NotVirtual));
        }
        match self.state.advance_clock(by)? {
            Some(total) => Ok(self.clock.advance_to(total)?),
            None => Ok(self.clock.advance(by)?),
        }
    }

    /// Brings a virtual clock up to the advance shared by every instance;
    /// one read from a shared store, nothing otherwise. A store that does
    /// not answer leaves the clock as it is: the rules that read it refuse
    /// with a 4xx on their own. Blocking.
    pub(crate) fn sync_clock(&self) {
        if self.clock.mode() != ClockMode::Virtual {
            return;
        }
        if let Ok(Some(total)) = self.state.clock_total() {
            let _ = self.clock.advance_to(total);
        }
    }

    /// How often each rule has fired, in file order: the rule-hit counters
    /// of `/metrics`.
    pub fn rule_hits(&self) -> Vec<(Arc<str>, u32)> {
        let fired = self.state.fired();
        self.scenario
            .rules
            .iter()
            .enumerate()
            .map(|(i, rule)| (Arc::clone(&rule.name), fired.get(i).copied().unwrap_or(0)))
            .collect()
    }

    /// Numbers a new connection; 0 when the shared state cannot (the
    /// connect-stage decision then refuses it).
    pub fn next_connection(&self) -> u64 {
        self.state.next_connection().unwrap_or(0)
    }

    /// [`Engine::next_connection`] without blocking a runtime worker on a
    /// shared store.
    pub(crate) async fn number_connection(&self) -> u64 {
        self.state.next_connection_async().await.unwrap_or(0)
    }

    pub fn session_policy(self: &Arc<Self>) -> ScenarioPolicy {
        ScenarioPolicy {
            engine: Arc::clone(self),
            attempt: 0,
            held: Vec::new(),
            held_before: 0,
            tape: Tape::default(),
        }
    }

    fn rng(&self) -> MutexGuard<'_, StdRng> {
        self.rng.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sizes of the tables that grow with what clients send, for `/metrics`.
    pub(crate) fn state_sizes(&self) -> StateSizes {
        self.state.sizes()
    }

    /// Advances the virtual clock remembers, for `/metrics`.
    pub fn clock_history(&self) -> usize {
        self.clock.history_len()
    }

    /// Now, as rule state reads it.
    fn now(&self) -> Now {
        match self.clock.mode() {
            ClockMode::Virtual => Now::Virtual(self.clock.now()),
            _ => Now::Real(self.clock.now()),
        }
    }

    fn applies(
        &self,
        rule: &Rule,
        ctx: &Context<'_>,
        message: &MessageView<'_, '_>,
        attempt: u32,
        tape: &mut Tape,
    ) -> Result<bool, Halt> {
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
            && c.command.as_ref().is_none_or(|k| k.matches(ctx.command))
            && c.attempt
                .as_ref()
                .is_none_or(|k| k.matches(u64::from(attempt)))
            && c.elapsed.is_none_or(|r| r.contains(self.clock.now()));
        if !ok {
            return Ok(false);
        }
        if let Some(k) = &c.message {
            let accepted =
                match tape.ask(&*self.state, Ask::Accepted, |a| a.answer_now(&*self.state)) {
                    Ok(n) => n.count(),
                    Err(Halt::Waiting) => return Err(Halt::Waiting),
                    Err(Halt::Unavailable(_)) => 0,
                };
            if !k.matches(accepted + 1) {
                return Ok(false);
            }
        }
        match c.probability {
            None => Ok(true),
            Some(p) => {
                let draw = tape.ask(&*self.state, Ask::Draw, |_| {
                    Ok(Answer::Draw(self.rng().random::<f64>()))
                })?;
                Ok(draw.draw() < p)
            }
        }
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
        tape: &mut Tape,
    ) -> Result<(bool, Option<String>), Halt> {
        let state = &*self.state;
        let mut ask = |ask: Ask| tape.ask(state, ask, |a| a.answer_now(state));
        let mut key = String::new();
        if let Some(g) = &rule.greylist {
            g.key.render(ctx, &mut key);
            let verdict = ask(Ask::Greylist {
                rule: index,
                key: key.clone(),
                now: self.now(),
                retry_after: g.retry_after,
                expire: g.expire,
            })?
            .verdict();
            return Ok(match verdict {
                Verdict::Pass => (false, None),
                Verdict::Defer { wait } => (
                    true,
                    Some(format!(
                        "greylisted: a retry is accepted in {} (key {})",
                        humantime::format_duration(round_secs(wait)),
                        printable(&key)
                    )),
                ),
            });
        }
        let Some(r) = &rule.rate_limit else {
            return Ok((true, None));
        };
        r.key.render(ctx, &mut key);
        Ok(match r.limit {
            RateLimit::Window { max, per, count } => {
                let hits = ask(Ask::RateHit {
                    rule: index,
                    key: key.clone(),
                    now: self.now(),
                    per,
                    max,
                })?
                .count();
                if hits > max {
                    (
                        true,
                        Some(format!(
                            "rate limit: more than {max} {} within {} (key {})",
                            count.name(),
                            humantime::format_duration(per),
                            printable(&key)
                        )),
                    )
                } else {
                    (false, None)
                }
            }
            RateLimit::Concurrent { max } => {
                let open = ask(Ask::Enter {
                    rule: index,
                    key: key.clone(),
                })?
                .count();
                let note = format!(
                    "rate limit: {open} concurrent connections, max {max} (key {})",
                    printable(&key)
                );
                held.push((index, key));
                if open > max {
                    (true, Some(note))
                } else {
                    (false, None)
                }
            }
        })
    }

    /// A session ended: its connections no longer count as concurrent.
    fn release(&self, held: &[(usize, String)]) {
        for (index, key) in held {
            self.state.leave(*index, key);
        }
    }

    fn retired(&self, index: usize, times: Option<u32>, tape: &mut Tape) -> Result<bool, Halt> {
        let Some(times) = times else {
            return Ok(false);
        };
        let state = &*self.state;
        match tape.ask(state, Ask::Retired { rule: index, times }, |a| {
            a.answer_now(state)
        }) {
            Ok(answer) => Ok(answer.flag()),
            Err(Halt::Waiting) => Err(Halt::Waiting),
            Err(Halt::Unavailable(_)) => Ok(false),
        }
    }
}

/// What a session hears when the shared state does not answer: a
/// transaction is refused for now (the message is not lost, the sender
/// retries), a new connection is turned away.
fn unavailable(stage: Stage, error: &StateError) -> Decision {
    let (code, enhanced, close) = match stage {
        Stage::Connect => (421, EnhancedCode::new(4, 3, 2), true),
        _ => (451, EnhancedCode::new(4, 3, 0), false),
    };
    Decision {
        rule: Arc::from("shared state unavailable"),
        reply: ReplyChoice::Custom(Reply {
            code,
            enhanced: Some(enhanced),
            text: Cow::Borrowed("Temporary failure: shared state unavailable, try again later"),
        }),
        delay: None,
        disconnect: close.then_some(Disconnect::AfterReply),
        store: true,
        wire: Wire::Normal,
        cut_after: None,
        note: Some(error.to_string()),
        tls_fault: None,
        followup: None,
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

/// A session's view of the engine; remembers the attempt number of the
/// transaction's first recipient for the later stages, and the concurrent
/// connections it counts for, released when the session is dropped.
pub struct ScenarioPolicy {
    engine: Arc<Engine>,
    attempt: u32,
    held: Vec<(usize, String)>,
    /// `held` before the input being handled, for its replays.
    held_before: usize,
    /// Answers of the input being handled (see [`Tape`]).
    tape: Tape,
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
        self.engine.state.message_accepted();
    }
}

impl ScenarioPolicy {
    /// Whether a decision may wait for the shared state instead of
    /// blocking, when the connection can rewind: with rules, on a store
    /// that answers some questions asynchronously.
    pub(crate) fn can_wait(&self) -> bool {
        self.engine.waits
    }

    /// A pass over an input begins (a replay, if answers were recorded);
    /// `rewindable`: the connection holds a checkpoint of the session.
    pub(crate) fn begin_pass(&mut self, rewindable: bool) {
        if self.tape.is_replaying() {
            self.held.truncate(self.held_before);
        } else {
            self.held_before = self.held.len();
        }
        self.tape.begin(rewindable);
    }

    /// Whether the pass stopped at a question still to be answered.
    pub(crate) fn waiting(&self) -> bool {
        self.tape.waiting()
    }

    /// Fetches that answer, asynchronously, for the replay.
    pub(crate) async fn answer(&mut self) {
        self.tape.answer(&*self.engine.state).await;
    }

    /// The input is handled; its answers are spent.
    pub(crate) fn settled(&mut self) {
        self.tape.clear();
    }

    fn decide_by_rules(&mut self, ctx: &Context<'_>) -> Option<Decision> {
        let engine = &*self.engine;
        if ctx.stage == Stage::Connect && !engine.state.available() {
            return Some(unavailable(
                Stage::Connect,
                &StateError("the store does not answer".into()),
            ));
        }
        if engine.scenario.rules.is_empty() {
            return None;
        }
        match ctx.stage {
            Stage::Mail | Stage::Helo | Stage::Rset => self.attempt = 0,
            Stage::Rcpt if engine.uses_attempts => {
                let state = &*engine.state;
                let seen = self.tape.ask(
                    state,
                    Ask::SeeAttempt {
                        ip: ctx.client_ip,
                        from: ctx.from.unwrap_or("").to_owned(),
                        to: ctx.to.unwrap_or("").to_owned(),
                    },
                    |a| a.answer_now(state),
                );
                let n = match seen {
                    Ok(n) => u32::try_from(n.count()).unwrap_or(u32::MAX),
                    Err(Halt::Waiting) => return None,
                    Err(Halt::Unavailable(e)) => return Some(unavailable(ctx.stage, &e)),
                };
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
            if !rule.stages.contains(&ctx.stage) {
                continue;
            }
            let tape = &mut self.tape;
            let claimed = engine.retired(i, rule.times, tape).and_then(|retired| {
                if retired || !engine.applies(rule, ctx, message, attempt, tape)? {
                    return Ok((false, None));
                }
                let (applies, note) = engine.stateful(i, rule, ctx, &mut self.held, tape)?;
                if !applies {
                    return Ok((false, None));
                }
                let state = &*engine.state;
                let claim = Ask::Claim {
                    rule: i,
                    times: rule.times,
                };
                Ok((
                    tape.ask(state, claim, |a| a.answer_now(state))?.flag(),
                    note,
                ))
            });
            let note = match claimed {
                Ok((true, note)) => note,
                Ok((false, _)) => continue,
                Err(Halt::Waiting) => return None,
                Err(Halt::Unavailable(e)) => return Some(unavailable(ctx.stage, &e)),
            };
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
        None
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
