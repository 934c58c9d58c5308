//! The tokio side: listeners, connection tasks, limits, time-outs, shutdown.
//!
//! Everything here moves bytes and executes what the session decided; no
//! SMTP decision is made in this module.

mod connection;
mod listener;
pub(crate) mod metrics;
mod proxy;
mod stream;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::proto::extensions::Extension;
use crate::proto::session;
use crate::scenario::state::{AdvanceError, SharedScenario, StateConfig, StateError};
use crate::scenario::{Engine, NotVirtual, Scenario};
use crate::store::Store;
use crate::tls::{FaultAcceptors, TlsAcceptor};
use metrics::Metrics;

/// The scenario in force and everything derived from it. A connection takes
/// one snapshot when it starts and keeps it to the end, so swapping the
/// scenario never changes the rules under a session in the middle of it.
pub(crate) struct Active {
    pub engine: Arc<Engine>,
    pub config: Arc<session::Config>,
    pub command_timeout: Duration,
    pub data_timeout: Duration,
    /// Bumped by every swap and reset; sessions carry it so a report judges
    /// only what the current scenario saw. With shared state it is the
    /// shared scenario's version plus one, the same number on every instance.
    pub epoch: u64,
    /// Which version of the shared scenario this is (0 in memory).
    version: u64,
}

impl Active {
    fn new(
        scenario: Arc<Scenario>,
        tls_available: bool,
        epoch: u64,
        state: &StateConfig,
        version: u64,
    ) -> Self {
        let mut config = session_config(&scenario);
        config.starttls = tls_available && scenario.server.tls.starttls != Some(false);
        config.tls_required = scenario.server.tls.required;
        let limits = &scenario.server.limits;
        Self {
            config: Arc::new(config),
            command_timeout: limits.command_timeout,
            data_timeout: limits.data_timeout,
            engine: Arc::new(Engine::with_state(scenario, state, version)),
            epoch,
            version,
        }
    }

    pub(crate) fn enhanced_codes(&self) -> bool {
        self.config
            .extensions
            .contains(Extension::EnhancedStatusCodes)
    }
}

/// What every connection task shares.
pub(crate) struct Shared {
    active: RwLock<Arc<Active>>,
    tls_available: bool,
    /// Where rule state lives (`--state`).
    state: StateConfig,
    /// `--proxy-protocol`: read the balancer's header first.
    pub proxy_protocol: bool,
    /// The version of the scenario shared through `state` that is in force
    /// here (0: the one this instance started with).
    scenario_version: AtomicU64,
    pub store: Arc<Store>,
    /// Bounce and complaint reports, planned when a message is stored.
    pub outbox: Arc<crate::reports::Outbox>,
    pub metrics: Metrics,
    /// Webhook POST counters (`--webhook`), for `/metrics`.
    pub webhooks: Arc<metrics::Outbound>,
    /// Connection slots shared by the plain and implicit-TLS listeners.
    pub slots: Arc<Semaphore>,
    /// Present when the server has a certificate (STARTTLS and SMTPS).
    pub tls: Option<TlsAcceptor>,
    /// The broken certificates `tls_fault:` serves.
    pub tls_faults: Option<Arc<FaultAcceptors>>,
    pub shutdown: CancellationToken,
    /// Fires when the shutdown drain time is up: connections still open
    /// are dropped where they stand.
    pub abort: CancellationToken,
    /// Every session, by id, with whether and since when it waits for a
    /// command line, so a newcomer can take the slot of the one idle longest.
    sessions: Mutex<HashMap<u64, Arc<IdleMark>>>,
    /// What [`IdleMark`] times count from.
    started: tokio::time::Instant,
}

/// How long a session must have waited for a command before a newcomer may
/// take its slot: a client between a reply and its next command (a round
/// trip, some work) is not idle, and a flood of new connections must not
/// cut every session in turn the moment it is answered.
const EVICT_AFTER_IDLE: Duration = Duration::from_secs(1);

/// Whether one session waits for a command, and how to close it for a
/// newcomer. Updated with one atomic store per command; only an eviction
/// looks at all of them.
pub(crate) struct IdleMark {
    /// Microseconds from [`Shared::started`] to when the session started
    /// waiting for a command line; [`IdleMark::BUSY`] while it is not.
    since: AtomicU64,
    /// Fired to close the session for a newcomer.
    pub evict: CancellationToken,
}

impl IdleMark {
    const BUSY: u64 = u64::MAX;

    /// The session waits for a command line since `at` (from `Shared::started`).
    pub(crate) fn waiting(&self, at: Duration) {
        let micros = u64::try_from(at.as_micros()).unwrap_or(Self::BUSY - 1);
        self.since.store(micros, Ordering::Relaxed);
    }

    /// The session is working on a command or receiving a message.
    pub(crate) fn busy(&self) {
        self.since.store(Self::BUSY, Ordering::Relaxed);
    }
}

impl Shared {
    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<IdleMark>>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Enters session `id` in the registry, busy.
    fn register(&self, id: u64) -> Arc<IdleMark> {
        let mark = Arc::new(IdleMark {
            since: AtomicU64::new(IdleMark::BUSY),
            evict: CancellationToken::new(),
        });
        self.sessions().insert(id, Arc::clone(&mark));
        mark
    }

    /// Session `id` has ended.
    fn unregister(&self, id: u64) {
        self.sessions().remove(&id);
    }

    /// How long the server has run, the time [`IdleMark`]s are given in.
    fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// With every slot taken, closes the session that has waited longest
    /// for a command (Postfix does the same under load); `false` when no
    /// session has waited [`EVICT_AFTER_IDLE`].
    fn evict_longest_idle(&self) -> bool {
        let sessions = self.sessions();
        let Some((since, victim)) = sessions
            .values()
            .map(|m| (m.since.load(Ordering::Relaxed), m))
            .filter(|(since, m)| *since != IdleMark::BUSY && !m.evict.is_cancelled())
            .min_by_key(|(since, _)| *since)
        else {
            return false;
        };
        let waited = self.uptime().saturating_sub(Duration::from_micros(since));
        if waited < EVICT_AFTER_IDLE {
            return false;
        }
        victim.evict.cancel();
        true
    }

    /// The scenario in force now.
    pub(crate) fn active(&self) -> Arc<Active> {
        Arc::clone(&self.active.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Puts a new scenario (or a fresh copy of the current one) in force
    /// for every connection that starts from now on.
    fn replace(&self, scenario: Arc<Scenario>) -> Arc<Active> {
        self.replace_at(scenario, self.scenario_version.load(Ordering::Acquire))
    }

    /// [`Shared::replace`] with version `version` of the shared scenario.
    /// With shared state the epoch is that version plus one, so every
    /// instance numbers it alike whichever published it; a version older
    /// than the one in force (a PUT here overtaken by one elsewhere) is not
    /// put back, the newest wins on every instance.
    fn replace_at(&self, scenario: Arc<Scenario>, version: u64) -> Arc<Active> {
        let mut slot = self.active.write().unwrap_or_else(|p| p.into_inner());
        let epoch = if self.state.shared() {
            if slot.version > version {
                return Arc::clone(&slot);
            }
            version + 1
        } else {
            slot.epoch + 1
        };
        let next = Arc::new(Active::new(
            scenario,
            self.tls_available,
            epoch,
            &self.state,
            version,
        ));
        *slot = Arc::clone(&next);
        next
    }

    /// Brings a `clock: virtual` scenario's clock up to the advance every
    /// instance shares, so a connection starting here sees an advance made
    /// through another instance; nothing at all without shared state.
    pub(crate) fn sync_clock(&self) {
        if self.state.shared() {
            self.active().engine.sync_clock();
        }
    }

    /// Publishes `yaml` to every instance (`reset`: as a reset of the
    /// current scenario); the new version, or `None` without shared state.
    async fn publish(&self, yaml: Arc<str>, reset: bool) -> Result<Option<u64>, StateError> {
        if !self.state.shared() {
            return Ok(None);
        }
        let state = self.state.clone();
        let published = tokio::task::spawn_blocking(move || state.publish_scenario(&yaml, reset))
            .await
            .map_err(|e| StateError(e.to_string()))?;
        let version = published.transpose()?;
        if let Some(version) = version {
            self.scenario_version.fetch_max(version, Ordering::AcqRel);
        }
        Ok(version)
    }
}

/// What can be asked of, and done to, a running server from outside the
/// SMTP side: the HTTP API and the fixture hold one. Cheap to clone.
#[derive(Clone)]
pub struct Control {
    shared: Arc<Shared>,
}

impl Control {
    pub fn store(&self) -> &Arc<Store> {
        &self.shared.store
    }

    /// Requests sent to the shared rule state store since start.
    pub(crate) fn state_round_trips(&self) -> u64 {
        self.shared.state.round_trips()
    }

    /// Whether the shared rule state answers (`/readyz`).
    pub(crate) fn state_ready(&self) -> bool {
        self.shared.state.ready()
    }

    /// The scenario in force now.
    pub fn scenario(&self) -> Arc<Scenario> {
        Arc::clone(self.shared.active().engine.scenario())
    }

    /// The rule engine in force now: its clock, its rule-hit counters.
    pub fn engine(&self) -> Arc<Engine> {
        Arc::clone(&self.shared.active().engine)
    }

    /// The scenario in force and its epoch, read together so a swap in
    /// between cannot pair one scenario with another's sessions.
    pub fn scenario_and_epoch(&self) -> (Arc<Scenario>, u64) {
        let active = self.shared.active();
        (Arc::clone(active.engine.scenario()), active.epoch)
    }

    /// Which scenario epoch is in force (see [`Control::set_scenario`]).
    pub fn epoch(&self) -> u64 {
        self.shared.active().epoch
    }

    /// Puts `scenario` in force at once for new connections, with fresh
    /// rule state; sessions already running finish under the old one, so no
    /// reply is dropped or mixed. Captured messages are kept. Returns the
    /// new epoch.
    pub fn set_scenario(&self, scenario: Arc<Scenario>) -> u64 {
        let epoch = self.shared.replace(scenario).epoch;
        self.shared.store.scenario_changed(epoch);
        epoch
    }

    /// Puts a scenario in force here and, with shared state, on every
    /// instance: it is published first, so this instance's rule state is
    /// the one the others will share. Fails, changing nothing, when the
    /// shared store does not answer.
    pub(crate) async fn set_scenario_everywhere(
        &self,
        scenario: Arc<Scenario>,
    ) -> Result<u64, StateError> {
        let Some(version) = self
            .shared
            .publish(Arc::clone(&scenario.yaml), false)
            .await?
        else {
            return Ok(self.set_scenario(scenario));
        };
        let epoch = self.shared.replace_at(scenario, version).epoch;
        self.shared.store.scenario_changed(epoch);
        Ok(epoch)
    }

    /// Forgets captured messages, finished sessions and all rule state
    /// (greylist tables, rate windows, counters, the clock): the server is
    /// as fresh as when it started, under the same scenario.
    pub fn reset(&self) -> u64 {
        let scenario = Arc::clone(self.shared.active().engine.scenario());
        let epoch = self.shared.replace(scenario).epoch;
        self.shared.store.reset();
        self.shared.outbox.clear();
        epoch
    }

    /// [`Control::reset`] here and, with shared state, on every instance:
    /// the current scenario is published again as a reset, so all of them
    /// start fresh rule state under the same new epoch and forget their
    /// pending reports. Fails, changing nothing, when the shared store does
    /// not answer.
    pub(crate) async fn reset_everywhere(&self) -> Result<u64, StateError> {
        let scenario = Arc::clone(self.shared.active().engine.scenario());
        let Some(version) = self
            .shared
            .publish(Arc::clone(&scenario.yaml), true)
            .await?
        else {
            return Ok(self.reset());
        };
        let epoch = self.shared.replace_at(scenario, version).epoch;
        self.shared.store.reset();
        self.shared.outbox.clear();
        Ok(epoch)
    }

    /// Bounce and complaint reports: pending, released, delivered, failed.
    pub(crate) fn outbox(&self) -> &Arc<crate::reports::Outbox> {
        &self.shared.outbox
    }

    /// The webhook POST counters.
    pub(crate) fn webhook_stats(&self) -> Arc<metrics::Outbound> {
        Arc::clone(&self.shared.webhooks)
    }

    pub fn metrics(&self) -> metrics::Snapshot {
        self.shared.metrics.snapshot()
    }

    /// Moves a `clock: virtual` scenario's clock forward; returns the new
    /// scenario time. Greylist windows, rate windows and `elapsed` follow it.
    pub fn advance_clock(&self, by: Duration) -> Result<Duration, NotVirtual> {
        let now = self.shared.active().engine.clock().advance(by)?;
        self.shared.outbox.wake();
        Ok(now)
    }

    /// [`Control::advance_clock`] on every instance when the state is
    /// shared: the advance is added to the total they all read.
    pub(crate) async fn advance_clock_everywhere(
        &self,
        by: Duration,
    ) -> Result<Duration, AdvanceError> {
        if !self.shared.state.shared() {
            return Ok(self.advance_clock(by)?);
        }
        let engine = self.engine();
        let now = tokio::task::spawn_blocking(move || engine.advance_clock(by))
            .await
            .map_err(|e| AdvanceError::Unavailable(StateError(e.to_string())))??;
        self.shared.outbox.wake();
        Ok(now)
    }

    /// A token that stops the server when cancelled (e.g. from a signal handler).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shared.shutdown.clone()
    }
}

/// A running server: a `Control` plus the tasks to wait for. Dropping it
/// does not stop the server; call [`ServerHandle::shutdown`].
pub struct ServerHandle {
    smtp_addr: SocketAddr,
    smtps_addr: Option<SocketAddr>,
    control: Control,
    tracker: TaskTracker,
    accept: Vec<JoinHandle<()>>,
}

impl std::ops::Deref for ServerHandle {
    type Target = Control;

    fn deref(&self) -> &Control {
        &self.control
    }
}

impl ServerHandle {
    /// Where the SMTP listener is.
    pub fn smtp_addr(&self) -> SocketAddr {
        self.smtp_addr
    }

    /// The implicit-TLS (SMTPS) listener, when one was asked for.
    pub fn smtps_addr(&self) -> Option<SocketAddr> {
        self.smtps_addr
    }

    pub(crate) fn control(&self) -> Control {
        self.control.clone()
    }

    /// Ties a task that stops on the shutdown token (the HTTP server) to
    /// this server, so [`ServerHandle::wait`] waits for it too.
    pub(crate) fn attach(&mut self, task: JoinHandle<()>) {
        self.accept.push(task);
    }

    /// Stops accepting, answers idle sessions `421 4.3.2`, lets messages in
    /// flight finish, and returns when every connection has ended.
    pub async fn shutdown(self) {
        self.control.shared.shutdown.cancel();
        self.wait().await;
    }

    /// Returns once the server has stopped (after the shutdown token fires).
    pub async fn wait(mut self) {
        self.stopped().await;
    }

    /// Waits for the shutdown token, then at most `drain` for the
    /// connections (and the HTTP server) to finish; what is still open then
    /// is dropped. A message in flight that had not been answered is lost,
    /// never answered 250 without being stored. Returns how many
    /// connections were dropped.
    pub(crate) async fn wait_at_most(mut self, drain: Duration) -> usize {
        let shared = Arc::clone(&self.control.shared);
        shared.shutdown.cancelled().await;
        if tokio::time::timeout(drain, self.stopped()).await.is_ok() {
            return 0;
        }
        let dropped = self.tracker.len();
        warn!(
            connections = dropped,
            drain = %humantime::format_duration(drain),
            "shutdown timeout reached; dropping the connections still open"
        );
        shared.abort.cancel();
        for accept in &self.accept {
            accept.abort();
        }
        self.stopped().await;
        dropped
    }

    /// Waits for the accept loops, the attached tasks and the connections;
    /// may be called again after a time-out cut it short.
    async fn stopped(&mut self) {
        for accept in &mut self.accept {
            // A handle that already gave its result must not be polled again.
            if !accept.is_finished() {
                let _ = accept.await;
            }
        }
        self.tracker.close();
        self.tracker.wait().await;
    }
}

/// Where to listen, and with which certificate.
#[derive(Clone, Default)]
pub struct Listen {
    pub smtp: Option<SocketAddr>,
    /// Implicit TLS (SMTPS, port 465 style); needs `tls`.
    pub smtps: Option<SocketAddr>,
    /// Enables STARTTLS on the plain listener and serves SMTPS.
    pub tls: Option<TlsAcceptor>,
    /// What `tls_fault:` rules serve; without them those rules upgrade normally.
    pub tls_faults: Option<Arc<FaultAcceptors>>,
    /// Where rule state lives (`--state`; memory by default).
    pub state: StateConfig,
    /// Every connection starts with a PROXY protocol header (behind a
    /// balancer that sends one): its client address is the session's.
    pub proxy_protocol: bool,
}

/// Binds the SMTP listener and starts serving.
pub async fn start(
    smtp: SocketAddr,
    scenario: Arc<Scenario>,
    store: Arc<Store>,
) -> Result<ServerHandle, crate::Error> {
    let listen = Listen {
        smtp: Some(smtp),
        ..Listen::default()
    };
    start_with(listen, scenario, store).await
}

/// Binds one SMTP listener; `flag` names it in the error.
async fn bind(addr: SocketAddr, flag: &'static str) -> Result<TcpListener, crate::Error> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| crate::Error::Bind { flag, addr, source })
}

/// Binds every listener `listen` names and starts serving.
pub(crate) async fn start_with(
    listen: Listen,
    scenario: Arc<Scenario>,
    store: Arc<Store>,
) -> Result<ServerHandle, crate::Error> {
    let smtp = listen
        .smtp
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 1025)));
    let listener = bind(smtp, "--smtp").await?;
    let smtp_addr = listener.local_addr()?;
    let smtps = match (listen.smtps, &listen.tls) {
        (Some(addr), Some(_)) => Some(bind(addr, "--smtps").await?),
        (Some(_), None) => return Err(crate::Error::SmtpsWithoutTls),
        (None, _) => None,
    };
    let smtps_addr = smtps.as_ref().map(TcpListener::local_addr).transpose()?;
    // The connection cap is fixed at start; a scenario swapped in later
    // cannot resize the pool under live connections.
    let max_connections = scenario.server.limits.max_connections.max(1);
    let tls_available = listen.tls.is_some();
    let shared = Arc::new(Shared {
        active: RwLock::new(Arc::new(Active::new(
            Arc::clone(&scenario),
            tls_available,
            u64::from(listen.state.shared()),
            &listen.state,
            0,
        ))),
        tls_available,
        state: listen.state.clone(),
        proxy_protocol: listen.proxy_protocol,
        scenario_version: AtomicU64::new(0),
        metrics: Metrics::default(),
        webhooks: Arc::default(),
        slots: Arc::new(Semaphore::new(max_connections)),
        tls: listen.tls,
        tls_faults: listen.tls_faults,
        outbox: Arc::new(crate::reports::Outbox::new(Arc::clone(&store))),
        store,
        shutdown: CancellationToken::new(),
        abort: CancellationToken::new(),
        sessions: Mutex::new(HashMap::new()),
        started: tokio::time::Instant::now(),
    });
    let tracker = TaskTracker::new();
    let reports = tokio::spawn(Arc::clone(&shared.outbox).run(shared.shutdown.clone()));
    if shared.state.shared() {
        tracker.spawn(follow_shared_scenario(Arc::clone(&shared)));
    }
    let mut accept = vec![
        reports,
        tokio::spawn(listener::accept_loop(
            listener,
            Arc::clone(&shared),
            tracker.clone(),
            false,
        )),
    ];
    if let Some(smtps) = smtps {
        accept.push(tokio::spawn(listener::accept_loop(
            smtps,
            Arc::clone(&shared),
            tracker.clone(),
            true,
        )));
    }
    info!(%smtp_addr, scenario = %scenario.name, "listening for SMTP");
    Ok(ServerHandle {
        smtp_addr,
        smtps_addr,
        control: Control { shared },
        tracker,
        accept,
    })
}

/// The protocol settings a scenario's `server:` block implies.
pub(crate) fn session_config(scenario: &Scenario) -> session::Config {
    let server = &scenario.server;
    session::Config {
        hostname: server.hostname.clone(),
        greeting: server.greeting.clone(),
        extensions: server.extensions,
        max_message_size: server.limits.max_message_size,
        max_recipients: server.limits.max_recipients,
        bare_lf: server.bare_lf,
        auth: auth_config(&server.auth),
        ..session::Config::default()
    }
}

/// `None` unless the `auth:` block lets somebody in; names were validated
/// when the scenario was loaded.
fn auth_config(auth: &crate::scenario::AuthSettings) -> Option<session::AuthConfig> {
    if !auth.configured() {
        return None;
    }
    let named: Vec<session::Mechanism> = auth
        .mechanisms
        .iter()
        .filter_map(|m| session::Mechanism::from_name(&m.value))
        .collect();
    Some(session::AuthConfig {
        mechanisms: if named.is_empty() {
            session::Mechanism::DEFAULT.to_vec()
        } else {
            named
        },
        users: auth
            .users
            .iter()
            .map(|u| session::Credential {
                username: u.username.clone(),
                password: u.password.clone(),
            })
            .collect(),
        accept_any: auth.accept_any,
        required: auth.required,
        require_tls: auth.require_tls,
    })
}

/// How often an instance with shared state looks for a scenario put (or a
/// reset, or a virtual clock advanced) on another instance.
const SCENARIO_POLL: Duration = Duration::from_millis(500);

/// Puts in force here every scenario another instance publishes (a PUT or
/// a reset there), and keeps a virtual clock up with the shared one, until
/// shutdown. A version that does not load (an instance of an older
/// release, say) is logged and skipped.
async fn follow_shared_scenario(shared: Arc<Shared>) {
    let mut skipped = 0;
    loop {
        tokio::select! {
            () = shared.shutdown.cancelled() => return,
            () = tokio::time::sleep(SCENARIO_POLL) => {}
        }
        let known = shared.scenario_version.load(Ordering::Acquire).max(skipped);
        let state = shared.state.clone();
        let engine = Arc::clone(&shared.active().engine);
        let Ok(Ok(Some(found))) = tokio::task::spawn_blocking(move || {
            engine.sync_clock();
            state.shared_scenario(known)
        })
        .await
        else {
            continue;
        };
        match shared_scenario(&shared, &found) {
            Ok(scenario) => {
                let SharedScenario { version, reset, .. } = found;
                shared.scenario_version.fetch_max(version, Ordering::AcqRel);
                let epoch = shared.replace_at(scenario, version).epoch;
                shared.store.scenario_changed(epoch);
                if reset {
                    shared.outbox.clear();
                }
                tracing::info!(
                    version,
                    epoch,
                    reset,
                    "scenario put (or reset) on another instance is in force"
                );
            }
            Err(e) => {
                skipped = found.version;
                warn!(version = found.version, error = %e, "the shared scenario does not load here; keeping the current one");
            }
        }
    }
}

/// The scenario `found` describes: the one in force when the text is the
/// same (a reset republishes it, and a file's `extends:` would not load
/// from the API's text), else the text loaded as a PUT body is.
fn shared_scenario(
    shared: &Shared,
    found: &SharedScenario,
) -> Result<Arc<Scenario>, crate::scenario::ScenarioErrors> {
    let current = Arc::clone(shared.active().engine.scenario());
    if *current.yaml == *found.yaml {
        return Ok(current);
    }
    Scenario::from_request(&found.yaml, "<shared scenario>").map(Arc::new)
}
