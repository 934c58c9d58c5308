//! The tokio side: listeners, connection tasks, limits, time-outs, shutdown.
//!
//! Everything here moves bytes and executes what the session decided; no
//! SMTP decision is made in this module.

mod connection;
mod listener;
mod stream;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;

use crate::proto::extensions::Extension;
use crate::proto::session;
use crate::scenario::{Engine, NotVirtual, Scenario};
use crate::store::Store;
use crate::tls::{FaultAcceptors, TlsAcceptor};

/// What every connection task shares.
pub(crate) struct Shared {
    pub engine: Arc<Engine>,
    pub config: Arc<session::Config>,
    pub store: Arc<Store>,
    pub command_timeout: Duration,
    pub data_timeout: Duration,
    /// Connection slots shared by the plain and implicit-TLS listeners.
    pub slots: Arc<Semaphore>,
    /// Present when the server has a certificate (STARTTLS and SMTPS).
    pub tls: Option<TlsAcceptor>,
    /// The broken certificates `tls_fault:` serves.
    pub tls_faults: Option<Arc<FaultAcceptors>>,
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
    smtps_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    tracker: TaskTracker,
    accept: Vec<JoinHandle<()>>,
}

impl ServerHandle {
    pub fn smtp_addr(&self) -> SocketAddr {
        self.smtp_addr
    }

    /// The implicit-TLS (SMTPS) listener, when one was asked for.
    pub fn smtps_addr(&self) -> Option<SocketAddr> {
        self.smtps_addr
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
        for accept in self.accept {
            let _ = accept.await;
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

async fn bind(addr: SocketAddr) -> Result<TcpListener, crate::Error> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| crate::Error::Bind { addr, source })
}

/// Binds every listener `listen` names and starts serving.
pub async fn start_with(
    listen: Listen,
    scenario: Arc<Scenario>,
    store: Arc<Store>,
) -> Result<ServerHandle, crate::Error> {
    let smtp = listen
        .smtp
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 2525)));
    let listener = bind(smtp).await?;
    let smtp_addr = listener.local_addr()?;
    let smtps = match (listen.smtps, &listen.tls) {
        (Some(addr), Some(_)) => Some(bind(addr).await?),
        (Some(_), None) => return Err(crate::Error::SmtpsWithoutTls),
        (None, _) => None,
    };
    let smtps_addr = smtps.as_ref().map(TcpListener::local_addr).transpose()?;
    let limits = &scenario.server.limits;
    let max_connections = limits.max_connections.max(1);
    let mut config = session_config(&scenario);
    config.starttls = listen.tls.is_some() && scenario.server.tls.starttls != Some(false);
    config.tls_required = scenario.server.tls.required;
    let shared = Arc::new(Shared {
        config: Arc::new(config),
        command_timeout: limits.command_timeout,
        data_timeout: limits.data_timeout,
        slots: Arc::new(Semaphore::new(max_connections)),
        tls: listen.tls,
        tls_faults: listen.tls_faults,
        engine: Arc::new(Engine::new(Arc::clone(&scenario))),
        store,
        shutdown: CancellationToken::new(),
        next_session: AtomicU64::new(1),
    });
    let tracker = TaskTracker::new();
    let mut accept = vec![tokio::spawn(listener::accept_loop(
        listener,
        Arc::clone(&shared),
        tracker.clone(),
        false,
    ))];
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
