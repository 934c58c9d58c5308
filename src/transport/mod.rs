//! The tokio side: listeners, connection tasks, limits, time-outs, shutdown.
//!
//! Everything here moves bytes and executes what the session decided; no
//! SMTP decision is made in this module.

mod connection;
mod listener;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;

use crate::proto::extensions::Extension;
use crate::proto::session;
use crate::scenario::{Engine, NotVirtual, Scenario};
use crate::store::Store;

/// What every connection task shares.
pub(crate) struct Shared {
    pub engine: Arc<Engine>,
    pub config: Arc<session::Config>,
    pub store: Arc<Store>,
    pub command_timeout: Duration,
    pub data_timeout: Duration,
    pub max_connections: usize,
    pub shutdown: CancellationToken,
    next_session: AtomicU64,
}

impl Shared {
    fn next_session(&self) -> u64 {
        self.next_session.fetch_add(1, Ordering::Relaxed)
    }

    fn enhanced_codes(&self) -> bool {
        self.config
            .extensions
            .contains(Extension::EnhancedStatusCodes)
    }
}

/// A running server. Dropping it does not stop the server; call
/// [`ServerHandle::shutdown`].
pub struct ServerHandle {
    smtp_addr: SocketAddr,
    shared: Arc<Shared>,
    tracker: TaskTracker,
    accept: JoinHandle<()>,
}

impl ServerHandle {
    pub fn smtp_addr(&self) -> SocketAddr {
        self.smtp_addr
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.shared.store
    }

    pub fn scenario(&self) -> &Arc<Scenario> {
        self.shared.engine.scenario()
    }

    /// Moves a `clock: virtual` scenario's clock forward; returns the new
    /// scenario time. Greylist windows, rate windows and `elapsed` follow it.
    pub fn advance_clock(&self, by: Duration) -> Result<Duration, NotVirtual> {
        self.shared.engine.clock().advance(by)
    }

    /// A token that stops the server when cancelled (e.g. from a signal handler).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shared.shutdown.clone()
    }

    /// Stops accepting, answers idle sessions `421 4.3.2`, lets messages in
    /// flight finish, and returns when every connection has ended.
    pub async fn shutdown(self) {
        self.shared.shutdown.cancel();
        self.wait().await;
    }

    /// Returns once the server has stopped (after the shutdown token fires).
    pub async fn wait(self) {
        let _ = self.accept.await;
        self.tracker.close();
        self.tracker.wait().await;
    }
}

/// Binds the SMTP listener and starts serving.
pub async fn start(
    smtp: SocketAddr,
    scenario: Arc<Scenario>,
    store: Arc<Store>,
) -> Result<ServerHandle, crate::Error> {
    let listener = TcpListener::bind(smtp)
        .await
        .map_err(|source| crate::Error::Bind { addr: smtp, source })?;
    let smtp_addr = listener.local_addr()?;
    let limits = &scenario.server.limits;
    let shared = Arc::new(Shared {
        config: Arc::new(session_config(&scenario)),
        command_timeout: limits.command_timeout,
        data_timeout: limits.data_timeout,
        max_connections: limits.max_connections.max(1),
        engine: Arc::new(Engine::new(Arc::clone(&scenario))),
        store,
        shutdown: CancellationToken::new(),
        next_session: AtomicU64::new(1),
    });
    let tracker = TaskTracker::new();
    let accept = tokio::spawn(listener::accept_loop(
        listener,
        Arc::clone(&shared),
        tracker.clone(),
    ));
    info!(%smtp_addr, scenario = %scenario.name, "listening for SMTP");
    Ok(ServerHandle {
        smtp_addr,
        shared,
        tracker,
        accept,
    })
}

/// The protocol settings a scenario's `server:` block implies.
pub fn session_config(scenario: &Scenario) -> session::Config {
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
