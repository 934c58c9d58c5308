//! An in-process server for Rust tests: a scenario in, a running server on
//! `127.0.0.1:0` out, and a handle to read what it captured.
//!
//! ```no_run
//! # async fn demo() -> Result<(), mailfault::Error> {
//! let server = mailfault::TestServer::start().await?;
//! let addr = server.smtp_addr(); // point the code under test here
//! // ... send mail ...
//! let messages = server.wait_for_messages(1, std::time::Duration::from_secs(5)).await?;
//! assert_eq!(messages[0].recipients[0].address, "someone@example.test");
//! server.shutdown().await;
//! # Ok(()) }
//! ```

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::Error;
use crate::scenario::Scenario;
use crate::store::{SessionRecord, Store, StoredMessage};
use crate::transport::{self, ServerHandle};
use crate::{http, tls};

/// How many messages a fixture keeps; tests rarely need more.
const FIXTURE_MAX_MESSAGES: usize = 100_000;

/// A mailfault server running inside the test's own tokio runtime, on free
/// loopback ports; shut it down with [`TestServer::shutdown`].
pub struct TestServer {
    handle: ServerHandle,
    /// The HTTP API and web page, on a port of its own.
    http_addr: SocketAddr,
    /// The development CA a client must trust, when TLS is on.
    ca: Option<PathBuf>,
}

impl TestServer {
    /// An accept-all sink.
    pub async fn start() -> Result<Self, Error> {
        Self::with_scenario(Scenario::accept_all()).await
    }

    /// Starts with the scenario in a YAML file.
    pub async fn with_scenario_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::with_scenario(Scenario::from_file(path.as_ref())?).await
    }

    /// Starts with a scenario written inline.
    pub async fn with_scenario_str(yaml: &str) -> Result<Self, Error> {
        Self::with_scenario(Scenario::from_str(yaml, "<string>")?).await
    }

    /// Starts with a scenario already loaded.
    pub async fn with_scenario(scenario: Scenario) -> Result<Self, Error> {
        let store = Arc::new(Store::memory(FIXTURE_MAX_MESSAGES));
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let handle = transport::start(addr, Arc::new(scenario), store).await?;
        Self::with_http(handle, None).await
    }

    /// Serves the HTTP API beside the SMTP side, so a test can use the
    /// same endpoints a CI script would, or open the page while debugging.
    async fn with_http(mut handle: ServerHandle, ca: Option<PathBuf>) -> Result<Self, Error> {
        let listener = http::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), false).await?;
        let http_addr = listener.local_addr()?;
        let guard = http::Guard::new(http_addr, &[], &[]);
        handle.attach(http::serve(listener, handle.control(), None, guard));
        Ok(Self {
            handle,
            http_addr,
            ca,
        })
    }

    /// A server with STARTTLS on its SMTP port and an implicit-TLS (SMTPS)
    /// port beside it, using the development certificates in `certs_dir`
    /// (made on first use, reused after). Trust [`TestServer::ca_path`].
    pub async fn with_tls(scenario: Scenario, certs_dir: impl AsRef<Path>) -> Result<Self, Error> {
        let hosts = tls::default_hosts(std::slice::from_ref(&scenario.server.hostname));
        let files = tls::auto(certs_dir.as_ref(), &hosts)?;
        let listen = transport::Listen {
            smtp: Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))),
            smtps: Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))),
            tls: Some(tls::acceptor(&files.cert, &files.key)?),
            tls_faults: Some(Arc::new(tls::FaultAcceptors::new(
                &hosts,
                Some(&certs_dir.as_ref().join("ca.key")),
                (&files.cert, &files.key),
            )?)),
            ..transport::Listen::default()
        };
        let store = Arc::new(Store::memory(FIXTURE_MAX_MESSAGES));
        let handle = transport::start_with(listen, Arc::new(scenario), store).await?;
        Self::with_http(handle, Some(files.ca)).await
    }

    /// The implicit-TLS port of a [`TestServer::with_tls`] server.
    pub fn smtps_addr(&self) -> Option<SocketAddr> {
        self.handle.smtps_addr()
    }

    /// The CA certificate (PEM) that signed the server's certificate.
    pub fn ca_path(&self) -> Option<&Path> {
        self.ca.as_deref()
    }

    /// Where to send mail.
    pub fn smtp_addr(&self) -> SocketAddr {
        self.handle.smtp_addr()
    }

    /// Where the HTTP API and web page listen.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// `http://127.0.0.1:PORT`, the base of the API's URLs.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// Puts a new scenario in force for the connections that start from now
    /// on (running sessions finish under the old one); rule state starts
    /// fresh, captured messages are kept.
    pub fn set_scenario(&self, scenario: Scenario) {
        self.handle.set_scenario(Arc::new(scenario));
    }

    /// Judges the scenario's `expect:` block against the sessions that have
    /// ended so far (wait for them first, e.g. with
    /// [`TestServer::wait_for_sessions`]); each verdict carries evidence.
    pub fn report(&self) -> crate::expect::Report {
        let control = self.handle.control();
        let (scenario, epoch) = control.scenario_and_epoch();
        crate::expect::judge(
            &scenario,
            epoch,
            control.store(),
            &control.outbox().facts(epoch),
            None,
        )
    }

    /// Forgets messages, sessions and rule state, keeping the scenario.
    pub fn reset(&self) {
        self.handle.reset();
    }

    /// The capture store behind the server.
    pub fn store(&self) -> &Arc<Store> {
        self.handle.store()
    }

    /// Captured messages, oldest first.
    pub fn messages(&self) -> Vec<Arc<StoredMessage>> {
        self.handle.store().messages()
    }

    /// Finished sessions, oldest first.
    pub fn sessions(&self) -> Vec<Arc<SessionRecord>> {
        self.handle.store().sessions()
    }

    /// Waits until `n` messages are captured and returns them all.
    pub async fn wait_for_messages(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<Arc<StoredMessage>>, Error> {
        if self.handle.store().wait_for_messages(n, timeout).await {
            Ok(self.messages())
        } else {
            Err(Error::Timeout {
                what: format!("{n} message(s)"),
                got: self.messages().len(),
                timeout,
            })
        }
    }

    /// Waits until `n` sessions have ended and returns them all.
    pub async fn wait_for_sessions(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<Arc<SessionRecord>>, Error> {
        if self
            .handle
            .store()
            .wait_for_sessions(n as u64, timeout)
            .await
        {
            Ok(self.sessions())
        } else {
            Err(Error::Timeout {
                what: format!("{n} finished session(s)"),
                got: self.sessions().len(),
                timeout,
            })
        }
    }

    /// Moves the scenario's virtual clock forward (`clock: virtual`), so a
    /// test of "retry after 5 minutes" takes milliseconds. Returns the new
    /// scenario time; fails on a real-clock scenario, and on an advance
    /// past a century of virtual time (the clock is left as it was).
    pub fn advance_clock(&self, by: Duration) -> Result<Duration, Error> {
        let engine = self.handle.control().engine();
        let clock = engine.clock();
        if clock.mode() == crate::scenario::ClockMode::Virtual && by > clock.room() {
            return Err(Error::ClockLimit {
                by,
                room: clock.room(),
            });
        }
        Ok(self.handle.advance_clock(by)?)
    }

    /// Stops accepting, lets sessions finish, and waits for the server to end.
    pub async fn shutdown(self) {
        self.handle.shutdown().await;
    }
}
