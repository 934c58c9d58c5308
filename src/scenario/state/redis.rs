//! Rule state in Redis (or Valkey), shared by every instance pointed at the
//! same server and namespace: a greylisted retry that lands on another
//! instance passes, a rate limit holds across all of them.
//!
//! Each check-and-update is one Lua script, so two instances never read
//! then write past each other. Real time is the Redis server's (`TIME`),
//! the one clock every instance agrees on; a virtual clock's reading is
//! passed in. Keys are `{NAMESPACE:FAMILY}:SCENARIO:...`: the hash tag
//! keeps a family on one Redis Cluster slot (greylist entries and rate
//! windows are one family, `check`, so one script can check both), the
//! scenario fingerprint keeps two different scenarios apart, and every key
//! that a client can create expires, so Redis sweeps what clients invent.
//!
//! A session's decisions fetch these answers asynchronously, over one
//! multiplexed connection (see `scenario::tape`): the greylist and window
//! checks of one decision go together in one script that stops at the
//! first that fires. Where a decision cannot wait (message content, the
//! fixture) the same scripts run blocking, under `block_in_place` on the
//! multi-thread runtime. All calls are bounded by short timeouts. A
//! failure refuses the transaction with a 4xx (the engine's choice), is
//! logged once per outage, and the next call tries again: service resumes
//! by itself.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::{RedisResult, Script};

use super::link::{Blocking, Multiplexed, Target};
use super::{Now, RuleState, StateError, StateSizes};
use crate::scenario::Scenario;
use crate::scenario::greylist::Verdict;
use crate::scenario::tape::{Answer, Ask};

/// How long a connection attempt or a reply may take before the store
/// counts as unavailable.
const TIMEOUT: Duration = Duration::from_millis(500);

/// Client-created keys (greylist, windows, attempts) without traffic
/// expire after at least this long on a virtual clock, whose own times
/// cannot give Redis a TTL.
const VIRTUAL_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Attempt counters are forgotten after a day without a sighting.
const ATTEMPT_TTL: Duration = Duration::from_secs(24 * 3600);

/// `now` in ms, or -1 for the Redis server's own time.
const NOW: &str = "local now = tonumber(ARGV[1]) \
if now < 0 then local t = redis.call('TIME') now = t[1] * 1000 + math.floor(t[2] / 1000) end ";

/// `grey(key, retry, expire, ttl)` (ms): -1 when the key passes, else the
/// ms still to wait.
const GREY_FN: &str = "local function grey(key, retry, expire, ttl) \
local e = redis.call('HMGET', key, 'first', 'last', 'passed') \
local function fresh() redis.call('HSET', key, 'first', now, 'last', now, 'passed', 0) redis.call('PEXPIRE', key, ttl) return retry end \
if not e[1] then return fresh() end \
local first, last, passed = tonumber(e[1]), tonumber(e[2]), tonumber(e[3]) \
local since = first if passed == 1 then since = last end \
if now - since > expire then return fresh() end \
local waited = now - first \
if passed == 1 or waited >= retry then redis.call('HSET', key, 'last', now, 'passed', 1) redis.call('PEXPIRE', key, ttl) return -1 end \
return retry - waited end ";

/// KEYS[1] the entry; ARGV now, retry, expire, ttl (ms).
const GREYLIST: &str =
    "return grey(KEYS[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))";

/// `window(slots, counts, per, width, ttl)` (a sorted set, a hash; ms):
/// counts one event and returns the events within `per`, exact to the slot
/// (a 1/1024th of the window), as in memory. A slot's first event adds it
/// to the set and renews both keys' TTL (outliving the slot by `ttl`);
/// later events of the slot only count, which is most of them under load.
const WINDOW_FN: &str = "local function window(slots, counts, per, width, ttl) \
local edge = now - per \
local old = redis.call('ZRANGEBYSCORE', slots, '-inf', edge) \
for _, s in ipairs(old) do local n = tonumber(redis.call('HGET', counts, s) or '0') redis.call('HDEL', counts, s) redis.call('HINCRBY', counts, 'total', -n) end \
if #old > 0 then redis.call('ZREMRANGEBYSCORE', slots, '-inf', edge) end \
local slot = now - (now % width) \
if redis.call('HINCRBY', counts, slot, 1) == 1 then \
  redis.call('ZADD', slots, slot, slot) \
  redis.call('PEXPIRE', slots, ttl + width) redis.call('PEXPIRE', counts, ttl + width) \
end \
return redis.call('HINCRBY', counts, 'total', 1) end ";

/// KEYS[1] slots, KEYS[2] counts; ARGV now, per, slot width, ttl (ms).
const WINDOW: &str =
    "return window(KEYS[1], KEYS[2], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))";

/// Several greylist and window checks of one decision, in rule order, in
/// one round trip: ARGV now, then per check `g retry expire ttl` (one key)
/// or `w per width ttl max` (two keys). Stops after the first check that
/// fires (a greylist that defers, a window over `max`), as the rules
/// would; returns the answers of the checks it made.
const CHECKS: &str = "local out, k, a = {}, 1, 2 \
while a <= #ARGV do \
  local r, fired \
  if ARGV[a] == 'g' then \
    r = grey(KEYS[k], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])) \
    fired = r >= 0 k = k + 1 a = a + 4 \
  else \
    r = window(KEYS[k], KEYS[k + 1], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])) \
    fired = r > tonumber(ARGV[a + 4]) k = k + 2 a = a + 5 \
  end \
  out[#out + 1] = r \
  if fired then break end \
end \
return out";

/// KEYS[1] counter; ARGV ttl (ms). INCR that keeps the key expiring.
const COUNT: &str = "local n = redis.call('INCR', KEYS[1]) redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1])) return n";

/// KEYS[1] a concurrency count; ARGV ttl (ms). One more open connection;
/// the TTL bounds what an instance killed mid-session leaves counted.
const ENTER: &str = "local n = redis.call('INCR', KEYS[1]) redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1])) return n";

/// KEYS[1] a concurrency count. One connection fewer; the key goes at zero,
/// so keys do not pile up for every client ever seen.
const LEAVE: &str =
    "local n = redis.call('DECR', KEYS[1]) if n <= 0 then redis.call('DEL', KEYS[1]) end return n";

/// A concurrency count outlives its last refresh by this much at most.
const CONCURRENT_TTL: Duration = Duration::from_secs(3600);

/// KEYS[1] fired count; ARGV limit. One firing within the budget.
const CLAIM: &str = "local n = tonumber(redis.call('GET', KEYS[1]) or '0') \
if n < tonumber(ARGV[1]) then redis.call('INCR', KEYS[1]) return 1 end return 0";

/// KEYS[1] the shared scenario (hash); ARGV the YAML, 1 for a reset else
/// 0. Returns its version.
const PUBLISH: &str = "local v = redis.call('HINCRBY', KEYS[1], 'version', 1) \
redis.call('HSET', KEYS[1], 'yaml', ARGV[1], 'reset', ARGV[2]) return v";

/// A virtual clock's advance outlives its last change by this much: a
/// scenario nobody advances for a week is long finished.
const CLOCK_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// KEYS[1] a virtual clock's total advance (microseconds); ARGV by, ttl
/// (ms). Returns the new total.
const ADVANCE: &str = "local n = redis.call('INCRBY', KEYS[1], ARGV[1]) \
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2])) return n";

/// One Redis server and namespace, with a few open connections.
pub struct Redis {
    target: Target,
    namespace: String,
    idle: Mutex<Vec<Blocking>>,
    /// The async connection the store's appends share (pipelined); dropped
    /// after a failure, made anew on next use.
    multiplexed: tokio::sync::Mutex<Option<Multiplexed>>,
    /// The same connection, for the common case where it is made already:
    /// taken without an asynchronous lock on every request.
    current: Mutex<Option<Multiplexed>>,
    /// Set during an outage, so it is logged once.
    down: AtomicBool,
    /// Requests sent, for `/metrics` (what shared state costs per message).
    round_trips: AtomicU64,
    greylist: Script,
    window: Script,
    checks: Script,
    count: Script,
    claim: Script,
    publish: Script,
    advance: Script,
    enter: Script,
    leave: Script,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

/// `redis://user:secret@host` with the password masked, for messages.
pub(crate) fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let auth = &url[scheme + 3..at];
            match auth.split_once(':') {
                Some((user, _)) => format!("{}{user}:****{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl Redis {
    /// Checks the URL; connects on first use (an instance may start before
    /// Redis does, and is not ready until it answers).
    pub(crate) fn open(url: &str, namespace: &str) -> Result<Self, String> {
        let target = Target::parse(url, TIMEOUT)?;
        if namespace.is_empty() || namespace.contains(['{', '}']) {
            return Err(format!(
                "`{namespace}` cannot be a state namespace: use letters, digits, `-` or `_`"
            ));
        }
        Ok(Self {
            target,
            namespace: namespace.to_owned(),
            idle: Mutex::new(Vec::new()),
            multiplexed: tokio::sync::Mutex::new(None),
            current: Mutex::new(None),
            down: AtomicBool::new(false),
            round_trips: AtomicU64::new(0),
            greylist: Script::new(&format!("{NOW}{GREY_FN}{GREYLIST}")),
            window: Script::new(&format!("{NOW}{WINDOW_FN}{WINDOW}")),
            checks: Script::new(&format!("{NOW}{GREY_FN}{WINDOW_FN}{CHECKS}")),
            count: Script::new(COUNT),
            claim: Script::new(CLAIM),
            publish: Script::new(PUBLISH),
            advance: Script::new(ADVANCE),
            enter: Script::new(ENTER),
            leave: Script::new(LEAVE),
        })
    }

    /// A key of `family` for scenario `scope`.
    fn key(&self, family: &str, scope: &str, rest: &str) -> String {
        format!("{{{}:{family}}}:{scope}:{rest}", self.namespace)
    }

    /// A key of `family` that belongs to no scenario (the store's log, ids).
    pub(crate) fn shared_key(&self, family: &str, rest: &str) -> String {
        format!("{{{}:{family}}}:{rest}", self.namespace)
    }

    /// A connection of its own, for a reader that blocks (`XREAD BLOCK`)
    /// up to just under `read_timeout`.
    pub(crate) fn dedicated(&self, read_timeout: Duration) -> RedisResult<Blocking> {
        self.target.blocking(TIMEOUT, read_timeout)
    }

    fn connection(&self) -> RedisResult<Blocking> {
        if let Some(c) = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            return Ok(c);
        }
        self.target.blocking(TIMEOUT, TIMEOUT)
    }

    /// Runs `f` on a connection, off the async workers; a failure drops
    /// the connection and is logged once per outage.
    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&mut Blocking) -> RedisResult<T>,
    ) -> Result<T, StateError> {
        let run = || {
            self.round_trips.fetch_add(1, Ordering::Relaxed);
            let mut c = self.connection()?;
            let out = f(&mut c)?;
            self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(c);
            Ok(out)
        };
        let result: RedisResult<T> = if crate::scenario::engine::on_multi_thread_runtime() {
            tokio::task::block_in_place(run)
        } else {
            run()
        };
        self.outcome(result)
    }

    /// Runs `f` on the shared async connection (made on first use, bounded
    /// by the same time-outs); a failure drops it and is logged once per
    /// outage.
    pub(crate) async fn with_async<T, F>(
        &self,
        f: impl FnOnce(Multiplexed) -> F,
    ) -> Result<T, StateError>
    where
        F: std::future::Future<Output = RedisResult<T>>,
    {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let current = self
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let connection = match current {
            Some(c) => Ok(c),
            None => {
                let mut slot = self.multiplexed.lock().await;
                match slot.as_ref() {
                    Some(c) => Ok(c.clone()),
                    None => {
                        let made = self.target.multiplexed(TIMEOUT).await;
                        if let Ok(c) = &made {
                            *slot = Some(c.clone());
                            *self.current.lock().unwrap_or_else(|p| p.into_inner()) =
                                Some(c.clone());
                        }
                        made
                    }
                }
            }
        };
        let result = match connection {
            Ok(c) => f(c).await,
            Err(e) => Err(e),
        };
        if result.is_err() {
            *self.current.lock().unwrap_or_else(|p| p.into_inner()) = None;
            *self.multiplexed.lock().await = None;
        }
        self.outcome(result)
    }

    /// Runs a script for a caller that must have the answer now (a rule
    /// check inside the synchronous engine). On the multi-thread runtime it
    /// goes over the shared async connection, pipelined with every other
    /// session's requests, while this worker hands its tasks on; elsewhere
    /// over a blocking connection.
    pub(crate) fn script<T: redis::FromRedisValue>(
        &self,
        call: &redis::ScriptInvocation<'_>,
    ) -> Result<T, StateError> {
        if !crate::scenario::engine::on_multi_thread_runtime() {
            return self.with(|c| call.invoke(c));
        }
        let runtime = tokio::runtime::Handle::current();
        tokio::task::block_in_place(|| {
            runtime
                .block_on(self.with_async(|mut c| async move { call.invoke_async(&mut c).await }))
        })
    }

    /// Runs a script over the shared async connection.
    pub(crate) async fn script_async<T: redis::FromRedisValue>(
        &self,
        call: redis::ScriptInvocation<'_>,
    ) -> Result<T, StateError> {
        self.with_async(|mut c| async move { call.invoke_async(&mut c).await })
            .await
    }

    /// Sends a command over the shared async connection.
    pub(crate) async fn command_async<T: redis::FromRedisValue>(
        &self,
        cmd: redis::Cmd,
    ) -> Result<T, StateError> {
        self.with_async(|mut c| async move { cmd.query_async(&mut c).await })
            .await
    }

    /// Logs an outage once, and its end.
    pub(crate) fn outcome<T>(&self, result: RedisResult<T>) -> Result<T, StateError> {
        match result {
            Ok(v) => {
                if self.down.swap(false, Ordering::AcqRel) {
                    tracing::info!("Redis answers again; shared state is back");
                }
                Ok(v)
            }
            Err(e) => {
                if !self.down.swap(true, Ordering::AcqRel) {
                    tracing::error!(error = %e, "Redis unavailable: transactions get 451 4.3.0 and new connections 421 4.3.2 until it answers");
                }
                Err(StateError(e.to_string()))
            }
        }
    }

    fn scenario_key(&self) -> String {
        format!("{{{}:scenario}}:active", self.namespace)
    }

    /// Makes `yaml` the scenario of every instance, marked as a reset or
    /// not; returns its version.
    pub(crate) fn publish_scenario(&self, yaml: &str, reset: bool) -> Result<u64, StateError> {
        let key = self.scenario_key();
        self.with(|c| {
            self.publish
                .key(&key)
                .arg(yaml)
                .arg(u8::from(reset))
                .invoke(c)
        })
    }

    /// The shared scenario, when its version is newer than `known`. The
    /// poll reads the version alone; version, text and reset mark are then
    /// read together, so they belong to one publication.
    pub(crate) fn shared_scenario(
        &self,
        known: u64,
    ) -> Result<Option<super::SharedScenario>, StateError> {
        let key = self.scenario_key();
        let version: Option<u64> =
            self.with(|c| redis::cmd("HGET").arg(&key).arg("version").query(c))?;
        if version.is_none_or(|v| v <= known) {
            return Ok(None);
        }
        let (version, yaml, reset): (Option<u64>, Option<String>, Option<String>) =
            self.with(|c| {
                redis::cmd("HMGET")
                    .arg(&key)
                    .arg("version")
                    .arg("yaml")
                    .arg("reset")
                    .query(c)
            })?;
        Ok(match (version, yaml) {
            (Some(version), Some(yaml)) if version > known => Some(super::SharedScenario {
                version,
                yaml,
                reset: reset.as_deref() == Some("1"),
            }),
            _ => None,
        })
    }

    /// Requests sent to Redis since start.
    pub(crate) fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// Whether Redis answers a PING now.
    pub(crate) fn ping(&self) -> bool {
        self.with(|c| redis::cmd("PING").query::<String>(c)).is_ok()
    }
}

/// A short stable fingerprint of a scenario's text: instances running the
/// same file share state, a different scenario starts from nothing.
fn fingerprint(yaml: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in yaml.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The Redis state of one scenario.
#[derive(Debug)]
pub(crate) struct Scoped {
    redis: Arc<Redis>,
    scope: String,
    rules: usize,
    /// A rule reads `connection:`: each connection's number is taken from
    /// Redis as it comes, in the order connections reach any instance.
    /// Otherwise the number is only a label, and numbers are taken in
    /// blocks (one instance still counts 1, 2, 3...).
    exact_connections: bool,
    connections: std::sync::Mutex<Block>,
    /// A rule reads `message:`: the accepted messages are counted.
    counts_messages: bool,
}

/// Connection numbers taken from Redis and not handed out yet.
#[derive(Debug, Default)]
struct Block {
    next: u64,
    end: u64,
}

/// Connection numbers taken at once when they are only labels.
const CONNECTION_BLOCK: u64 = 256;

impl Scoped {
    /// `version` is the shared scenario's (0 for one loaded from a file):
    /// each PUT starts from fresh state even when its text is the same.
    pub(crate) fn new(redis: Arc<Redis>, scenario: &Scenario, version: u64) -> Self {
        Self {
            redis,
            scope: format!("{}.{version}", fingerprint(&scenario.yaml)),
            rules: scenario.rules.len(),
            exact_connections: scenario
                .rules
                .iter()
                .any(|r| r.conditions.connection.is_some()),
            connections: std::sync::Mutex::new(Block::default()),
            counts_messages: scenario
                .rules
                .iter()
                .any(|r| r.conditions.message.is_some()),
        }
    }

    /// A number from the block in hand, if any is left.
    fn next_in_block(&self) -> Option<u64> {
        let mut block = self.connections.lock().unwrap_or_else(|p| p.into_inner());
        (block.next < block.end).then(|| {
            block.next += 1;
            block.next - 1
        })
    }

    /// Takes the block ending at `end` (what `INCRBY` answered) and hands
    /// out its first number.
    fn take_block(&self, end: u64) -> u64 {
        let mut block = self.connections.lock().unwrap_or_else(|p| p.into_inner());
        let first = end + 1 - CONNECTION_BLOCK;
        *block = Block {
            next: first + 1,
            end: end + 1,
        };
        first
    }

    /// `now` for a script, and the TTL a client-created key gets.
    fn now(now: Now, lasting: Duration) -> (i64, i64) {
        match now {
            Now::Real(_) => (-1, ms(lasting) + 1000),
            Now::Virtual(d) => (ms(d), ms(lasting.max(VIRTUAL_TTL))),
        }
    }

    fn clock_key(&self) -> String {
        self.redis.key("clock", &self.scope, "advanced")
    }

    fn fired_key(&self, rule: usize) -> String {
        self.redis
            .key("count", &self.scope, &format!("fired:{rule}"))
    }
}

impl Scoped {
    /// The greylist script's call for `key` of rule `rule`.
    fn greylist_call(
        &self,
        rule: usize,
        key: &str,
        now: Now,
        retry_after: Duration,
        expire: Duration,
    ) -> redis::ScriptInvocation<'_> {
        let k = self.grey_key(rule, key);
        let (now, ttl) = Self::now(now, expire + retry_after);
        let mut call = self.redis.greylist.key(&k);
        call.arg(now).arg(ms(retry_after)).arg(ms(expire)).arg(ttl);
        call
    }

    /// The rate window script's call for `key` of rule `rule`.
    fn window_call(
        &self,
        rule: usize,
        key: &str,
        now: Now,
        per: Duration,
    ) -> redis::ScriptInvocation<'_> {
        let (slots, counts) = self.window_keys(rule, key);
        let (now, ttl) = Self::now(now, per);
        let width = (ms(per) / 1024).max(1);
        let mut call = self.redis.window.key(&slots);
        call.key(&counts).arg(now).arg(ms(per)).arg(width).arg(ttl);
        call
    }
}

impl Scoped {
    /// Greylist entries and rate windows share a hash tag (one Cluster
    /// slot), so one script can check both for a decision.
    fn grey_key(&self, rule: usize, key: &str) -> String {
        self.redis
            .key("check", &self.scope, &format!("grey:{rule}:{key}"))
    }

    fn window_keys(&self, rule: usize, key: &str) -> (String, String) {
        let at = |part: &str| {
            self.redis
                .key("check", &self.scope, &format!("rate:{rule}:{key}:{part}"))
        };
        (at("slots"), at("counts"))
    }

    /// Greylist and window checks of one decision as one script call;
    /// `None` if some other question is among them.
    fn checks_call(&self, asks: &[Ask]) -> Option<redis::ScriptInvocation<'_>> {
        let now = match asks.first()? {
            Ask::Greylist { now, .. } | Ask::RateHit { now, .. } => {
                Self::now(*now, Duration::ZERO).0
            }
            _ => return None,
        };
        let mut call = self.redis.checks.prepare_invoke();
        call.arg(now);
        for ask in asks {
            match ask {
                Ask::Greylist {
                    rule,
                    key,
                    now,
                    retry_after,
                    expire,
                } => {
                    let ttl = Self::now(*now, *expire + *retry_after).1;
                    call.key(self.grey_key(*rule, key));
                    call.arg("g")
                        .arg(ms(*retry_after))
                        .arg(ms(*expire))
                        .arg(ttl);
                }
                Ask::RateHit {
                    rule,
                    key,
                    now,
                    per,
                    max,
                } => {
                    let ttl = Self::now(*now, *per).1;
                    let (slots, counts) = self.window_keys(*rule, key);
                    call.key(slots).key(counts);
                    call.arg("w")
                        .arg(ms(*per))
                        .arg((ms(*per) / 1024).max(1))
                        .arg(ttl)
                        .arg(*max);
                }
                _ => return None,
            }
        }
        Some(call)
    }

    fn concurrent_key(&self, rule: usize, key: &str) -> String {
        self.redis
            .key("conc", &self.scope, &format!("{rule}:{key}"))
    }

    fn attempt_key(&self, ip: IpAddr, from: &str, to: &str) -> String {
        self.redis.key(
            "attempt",
            &self.scope,
            &format!(
                "{ip}\0{}\0{}",
                from.to_ascii_lowercase(),
                to.to_ascii_lowercase()
            ),
        )
    }

    fn messages_key(&self) -> String {
        self.redis.key("count", &self.scope, "messages")
    }
}

/// The greylist script's answer: milliseconds left to wait, or -1 to pass.
fn verdict(wait: i64) -> Verdict {
    match u64::try_from(wait) {
        Ok(wait) => Verdict::Defer {
            wait: Duration::from_millis(wait),
        },
        Err(_) => Verdict::Pass,
    }
}

impl RuleState for Scoped {
    fn greylist(
        &self,
        rule: usize,
        key: &str,
        now: Now,
        retry_after: Duration,
        expire: Duration,
    ) -> Result<Verdict, StateError> {
        let call = self.greylist_call(rule, key, now, retry_after, expire);
        Ok(verdict(self.redis.script(&call)?))
    }

    fn rate_hit(&self, rule: usize, key: &str, now: Now, per: Duration) -> Result<u64, StateError> {
        self.redis.script(&self.window_call(rule, key, now, per))
    }

    fn waits(&self) -> bool {
        true
    }

    fn answers_later(&self, ask: &Ask) -> bool {
        !matches!(ask, Ask::Draw)
    }

    fn batches(&self, ask: &Ask) -> bool {
        matches!(ask, Ask::Greylist { .. } | Ask::RateHit { .. })
    }

    fn answer_batch(&self, asks: &[Ask]) -> Option<super::StateFuture<'_, Vec<Answer>>> {
        let call = self.checks_call(asks)?;
        let greylists: Vec<bool> = asks
            .iter()
            .map(|a| matches!(a, Ask::Greylist { .. }))
            .collect();
        Some(Box::pin(async move {
            let answers: Vec<i64> = self.redis.script_async(call).await?;
            Ok(answers
                .into_iter()
                .zip(greylists)
                .map(|(n, greylist)| {
                    if greylist {
                        Answer::Verdict(verdict(n))
                    } else {
                        Answer::Count(u64::try_from(n).unwrap_or(0))
                    }
                })
                .collect())
        }))
    }

    fn answer_later(&self, ask: &Ask) -> Option<super::StateFuture<'_, Answer>> {
        let ask = ask.clone();
        Some(Box::pin(async move {
            Ok(match ask {
                Ask::Greylist {
                    rule,
                    key,
                    now,
                    retry_after,
                    expire,
                } => {
                    let call = self.greylist_call(rule, &key, now, retry_after, expire);
                    Answer::Verdict(verdict(self.redis.script_async(call).await?))
                }
                Ask::RateHit {
                    rule,
                    key,
                    now,
                    per,
                    ..
                } => Answer::Count(
                    self.redis
                        .script_async(self.window_call(rule, &key, now, per))
                        .await?,
                ),
                Ask::Enter { rule, key } => {
                    let k = self.concurrent_key(rule, &key);
                    let mut call = self.redis.enter.key(&k);
                    call.arg(ms(CONCURRENT_TTL));
                    Answer::Count(self.redis.script_async(call).await?)
                }
                Ask::SeeAttempt { ip, from, to } => {
                    let k = self.attempt_key(ip, &from, &to);
                    let mut call = self.redis.count.key(&k);
                    call.arg(ms(ATTEMPT_TTL));
                    Answer::Count(self.redis.script_async(call).await?)
                }
                Ask::Claim { rule, times: None } => {
                    let incr = redis::cmd("INCR").arg(self.fired_key(rule)).clone();
                    let _: u64 = self.redis.command_async(incr).await?;
                    Answer::Flag(true)
                }
                Ask::Claim {
                    rule,
                    times: Some(limit),
                } => {
                    let k = self.fired_key(rule);
                    let mut call = self.redis.claim.key(&k);
                    call.arg(limit);
                    let won: i64 = self.redis.script_async(call).await?;
                    Answer::Flag(won == 1)
                }
                Ask::Retired { rule, times } => {
                    let get = redis::cmd("GET").arg(self.fired_key(rule)).clone();
                    let n: Option<u64> = self.redis.command_async(get).await?;
                    Answer::Flag(n.unwrap_or(0) >= u64::from(times))
                }
                Ask::Accepted => {
                    let get = redis::cmd("GET").arg(self.messages_key()).clone();
                    let n: Option<u64> = self.redis.command_async(get).await?;
                    Answer::Count(n.unwrap_or(0))
                }
                Ask::Draw => Answer::Draw(0.0),
            })
        }))
    }

    fn enter(&self, rule: usize, key: &str) -> Result<u64, StateError> {
        let k = self.concurrent_key(rule, key);
        self.redis.with(|c| {
            self.redis
                .enter
                .key(&k)
                .arg(ms(CONCURRENT_TTL))
                .invoke::<u64>(c)
        })
    }

    fn leave(&self, rule: usize, key: &str) {
        let k = self.concurrent_key(rule, key);
        let _ = self
            .redis
            .with(|c| self.redis.leave.key(&k).invoke::<i64>(c));
    }

    fn see_attempt(&self, ip: IpAddr, from: &str, to: &str) -> Result<u32, StateError> {
        let k = self.attempt_key(ip, from, to);
        let n: u64 = self
            .redis
            .with(|c| self.redis.count.key(&k).arg(ms(ATTEMPT_TTL)).invoke(c))?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn next_connection(&self) -> Result<u64, StateError> {
        let k = self.redis.key("count", &self.scope, "connections");
        if self.exact_connections {
            return self
                .redis
                .with(|c| redis::cmd("INCR").arg(&k).query::<u64>(c));
        }
        if let Some(n) = self.next_in_block() {
            return Ok(n);
        }
        let end: u64 = self
            .redis
            .with(|c| redis::cmd("INCRBY").arg(&k).arg(CONNECTION_BLOCK).query(c))?;
        Ok(self.take_block(end))
    }

    fn next_connection_async(&self) -> super::StateFuture<'_, u64> {
        let k = self.redis.key("count", &self.scope, "connections");
        if self.exact_connections {
            return Box::pin(async move {
                self.redis
                    .command_async(redis::cmd("INCR").arg(&k).clone())
                    .await
            });
        }
        if let Some(n) = self.next_in_block() {
            return Box::pin(std::future::ready(Ok(n)));
        }
        Box::pin(async move {
            let incr = redis::cmd("INCRBY").arg(&k).arg(CONNECTION_BLOCK).clone();
            let end: u64 = self.redis.command_async(incr).await?;
            Ok(self.take_block(end))
        })
    }

    fn accepted(&self) -> Result<u64, StateError> {
        let k = self.messages_key();
        self.redis
            .with(|c| redis::cmd("GET").arg(&k).query::<Option<u64>>(c))
            .map(Option::unwrap_or_default)
    }

    /// Nothing waits for this count: on a runtime it is sent without
    /// blocking the session that accepted the message.
    fn message_accepted(&self) {
        if !self.counts_messages {
            return;
        }
        let k = self.messages_key();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let redis = Arc::clone(&self.redis);
                runtime.spawn(async move {
                    let _ = redis
                        .with_async(|mut c| async move {
                            redis::cmd("INCR").arg(&k).query_async::<u64>(&mut c).await
                        })
                        .await;
                });
            }
            Err(_) => {
                let _ = self
                    .redis
                    .with(|c| redis::cmd("INCR").arg(&k).query::<u64>(c));
            }
        }
    }

    fn claim(&self, rule: usize, times: Option<u32>) -> Result<bool, StateError> {
        let k = self.fired_key(rule);
        match times {
            None => self
                .redis
                .with(|c| redis::cmd("INCR").arg(&k).query::<u64>(c))
                .map(|_| true),
            Some(limit) => self
                .redis
                .with(|c| self.redis.claim.key(&k).arg(limit).invoke::<i64>(c))
                .map(|won| won == 1),
        }
    }

    fn retired(&self, rule: usize, times: u32) -> Result<bool, StateError> {
        let k = self.fired_key(rule);
        self.redis
            .with(|c| redis::cmd("GET").arg(&k).query::<Option<u64>>(c))
            .map(|n| n.unwrap_or(0) >= u64::from(times))
    }

    fn fired(&self) -> Vec<u32> {
        if self.rules == 0 {
            return Vec::new();
        }
        let keys: Vec<String> = (0..self.rules).map(|i| self.fired_key(i)).collect();
        // One MGET across the keys: they share the `count` hash tag.
        self.redis
            .with(|c| redis::cmd("MGET").arg(&keys).query::<Vec<Option<u32>>>(c))
            .map(|v| v.into_iter().map(Option::unwrap_or_default).collect())
            .unwrap_or_else(|_| vec![0; self.rules])
    }

    fn sizes(&self) -> StateSizes {
        StateSizes::default()
    }

    fn available(&self) -> bool {
        !self.redis.down.load(Ordering::Acquire) || self.redis.ping()
    }

    fn advance_clock(&self, by: Duration) -> Result<Option<Duration>, StateError> {
        let k = self.clock_key();
        let by = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        let total: i64 = self.redis.with(|c| {
            self.redis
                .advance
                .key(&k)
                .arg(by)
                .arg(ms(CLOCK_TTL))
                .invoke(c)
        })?;
        Ok(Some(micros(total)))
    }

    fn clock_total(&self) -> Result<Option<Duration>, StateError> {
        let k = self.clock_key();
        let total: Option<i64> = self.redis.with(|c| redis::cmd("GET").arg(&k).query(c))?;
        Ok(Some(micros(total.unwrap_or(0))))
    }
}

/// A total read from Redis as a duration; a negative one (a key someone
/// else wrote) reads as no advance.
fn micros(total: i64) -> Duration {
    Duration::from_micros(u64::try_from(total).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked_in_urls() {
        assert_eq!(
            redacted("redis://app:s3cret@127.0.0.1:6379/0"),
            "redis://app:****@127.0.0.1:6379/0"
        );
        assert_eq!(redacted("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }

    #[test]
    fn keys_carry_a_hash_tag_per_family() {
        let r = Redis::open("redis://127.0.0.1:1/0", "mf").unwrap();
        assert_eq!(r.key("check", "abc", "grey:0:k"), "{mf:check}:abc:grey:0:k");
        assert!(Redis::open("redis://127.0.0.1:1/0", "a{b").is_err());
        assert!(Redis::open("http://x", "mf").is_err());
    }

    #[test]
    fn fingerprints_are_stable() {
        assert_eq!(fingerprint("version: 1\n"), fingerprint("version: 1\n"));
        assert_ne!(fingerprint("version: 1\n"), fingerprint("version: 1\n#\n"));
    }
}
