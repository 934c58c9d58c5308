//! `mailfault serve`: run the server until Ctrl-C or SIGTERM, then shut down
//! gracefully (idle sessions get 421, messages in flight finish) for at most
//! `--shutdown-timeout`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::Error;

/// Prints a status line; a closed stdout (a supervisor that stopped
/// reading) must not turn into a failed shutdown.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
pub use crate::http::BasicAuth;
/// A `--webhook` URL.
pub use crate::http::webhooks::Target as WebhookTarget;
use crate::scenario::Scenario;
use crate::store::{Store, StoreKind};
use crate::tls;
use crate::transport;

/// `--tls`: no TLS, generated development certificates, or the user's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsMode {
    Off,
    Auto,
    Files { cert: PathBuf, key: PathBuf },
}

impl std::str::FromStr for TlsMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "off" => Ok(TlsMode::Off),
            "auto" => Ok(TlsMode::Auto),
            other => match other.split_once(',') {
                Some((cert, key)) if !cert.is_empty() && !key.is_empty() => Ok(TlsMode::Files {
                    cert: cert.into(),
                    key: key.into(),
                }),
                _ => Err(format!(
                    "`{other}` is not a TLS mode; use off, auto, or CERT,KEY (two PEM files)"
                )),
            },
        }
    }
}

/// `--http-cors ORIGIN`, checked.
pub fn parse_origin(s: &str) -> Result<String, String> {
    crate::http::parse_origin(s)
}

/// `--http-allow-host NAME`, checked.
pub fn parse_host(s: &str) -> Result<String, String> {
    crate::http::parse_host(s)
}

/// `--http`: an address, or `off`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpAddr(pub Option<SocketAddr>);

impl std::str::FromStr for HttpAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "off" {
            return Ok(Self(None));
        }
        s.parse().map(|a| Self(Some(a))).map_err(|_| {
            format!("`{s}` is not an address; use IP:PORT (e.g. 127.0.0.1:8025) or off")
        })
    }
}

pub struct ServeOptions {
    pub smtp: SocketAddr,
    pub smtps: Option<SocketAddr>,
    pub http: Option<SocketAddr>,
    pub http_auth: Option<crate::http::BasicAuth>,
    /// `--http-allow-host`: Host names accepted besides IPs and localhost.
    pub http_allow_hosts: Vec<String>,
    /// `--http-cors`: origins whose pages may call the API.
    pub http_cors: Vec<String>,
    pub tls: TlsMode,
    pub certs_dir: PathBuf,
    pub scenario: Option<PathBuf>,
    pub store: StoreKind,
    pub max_messages: usize,
    /// `--max-memory`: bytes of messages and session records held.
    pub max_memory: usize,
    /// `--state`: where rule state lives.
    pub state: crate::StateConfig,
    /// `--proxy-protocol`: connections start with a PROXY protocol header.
    pub proxy_protocol: bool,
    /// After Ctrl-C or SIGTERM, how long sessions may take to finish
    /// before they are dropped.
    pub shutdown_timeout: std::time::Duration,
    /// `--webhook`: URLs that get a JSON POST per message, session, report
    /// and verdict change.
    pub webhooks: Vec<WebhookTarget>,
}

/// `--max-memory`: a size such as `256MiB`, `1GiB` or `500000000`, at least 1 MiB.
pub fn parse_memory(text: &str) -> Result<usize, String> {
    let bytes = crate::scenario::parse_size(text)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| format!("`{text}` is not a size: write e.g. 256MiB, 1GiB or 500000000"))?;
    if bytes < 1 << 20 {
        return Err(format!("`{text}` is too small: give at least 1MiB"));
    }
    Ok(bytes)
}

/// The listeners' TLS side for `--tls`, and the CA a client must trust
/// when the certificates are mailfault's own.
pub fn tls_listen(
    mode: &TlsMode,
    certs_dir: &std::path::Path,
    hostname: &str,
) -> Result<(transport::Listen, Option<PathBuf>), Error> {
    let hosts = tls::default_hosts(&[hostname.to_owned()]);
    let (files, ca) = match mode {
        TlsMode::Off => (None, None),
        TlsMode::Auto => {
            let files = tls::auto(certs_dir, &hosts)?;
            let ca_key = certs_dir.join("ca.key");
            (Some((files.cert, files.key, Some(ca_key))), Some(files.ca))
        }
        TlsMode::Files { cert, key } => (Some((cert.clone(), key.clone(), None)), None),
    };
    let mut listen = transport::Listen::default();
    if let Some((cert, key, ca_key)) = &files {
        listen.tls = Some(tls::acceptor(cert, key)?);
        listen.tls_faults = Some(Arc::new(tls::FaultAcceptors::new(
            &hosts,
            ca_key.as_deref(),
            (cert, key),
        )?));
    }
    Ok((listen, ca))
}

/// Raises the soft limit on open descriptors to the hard one, so each
/// connection slot can have its socket (and a Maildir file) without the
/// usual soft 1024 cutting in first; logs the limit at debug. A failure is
/// only a warning: the server still runs, with fewer descriptors.
pub fn raise_descriptor_limit() {
    #[cfg(unix)]
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open files limit"),
        Err(e) => tracing::warn!(
            error = %e,
            "could not raise the open files limit; raise it with `ulimit -n` if connections are refused"
        ),
    }
}

pub async fn run(opts: ServeOptions) -> Result<(), Error> {
    raise_descriptor_limit();
    let scenario = match &opts.scenario {
        Some(path) => Scenario::from_file(path)?,
        None => Scenario::accept_all(),
    };
    let store = Store::open(&opts.store, opts.max_messages, opts.max_memory)?
        .through(opts.state.journal(opts.max_messages, opts.max_memory));
    let (mut listen, ca) = tls_listen(&opts.tls, &opts.certs_dir, &scenario.server.hostname)?;
    listen.smtp = Some(opts.smtp);
    listen.state = opts.state.clone();
    listen.proxy_protocol = opts.proxy_protocol;
    listen.smtps = opts.smtps;
    // Bound before SMTP starts, so a taken HTTP port fails the start
    // instead of leaving a half-running server.
    let http = match opts.http {
        Some(addr) => Some(crate::http::bind(addr, opts.http_auth.is_some()).await?),
        None => None,
    };
    let mut handle = transport::start_with(listen, Arc::new(scenario), Arc::clone(&store)).await?;
    let scenario = handle.scenario();
    if !opts.webhooks.is_empty() {
        let task = crate::http::webhooks::start(opts.webhooks.clone(), handle.control());
        handle.attach(task);
    }
    say!("mailfault listening on smtp://{}", handle.smtp_addr());
    if let Some(addr) = handle.smtps_addr() {
        say!("mailfault listening on smtps://{addr} (implicit TLS)");
    }
    if let Some(listener) = http {
        let addr = listener.local_addr()?;
        let guard = crate::http::Guard::new(addr, &opts.http_allow_hosts, &opts.http_cors);
        let task = crate::http::serve(listener, handle.control(), opts.http_auth.clone(), guard);
        handle.attach(task);
        say!(
            "web page and API on http://{addr}/{}",
            if opts.http_auth.is_some() {
                " (basic auth)"
            } else {
                ""
            }
        );
        if !opts.http_allow_hosts.is_empty() {
            say!(
                "http: also answering Host {}",
                opts.http_allow_hosts.join(", ")
            );
        }
        if !opts.http_cors.is_empty() {
            say!(
                "http: pages on {} may call the API (CORS)",
                opts.http_cors.join(", ")
            );
        }
        if !addr.ip().is_loopback() && !crate::http::in_container() {
            say!(
                "warning: the HTTP API on {addr} is reachable from other machines; it can read mail and change the scenario{}",
                if opts.http_auth.is_some() {
                    ""
                } else {
                    " (add --http-auth user:password)"
                }
            );
        }
    }
    match (&opts.tls, &ca) {
        (TlsMode::Off, _) => {}
        (_, Some(ca)) => say!(
            "tls: STARTTLS offered; trust the development CA {} in your client (see certs/README.md)",
            ca.display()
        ),
        (_, None) => say!("tls: STARTTLS offered with your certificate"),
    }
    match &opts.scenario {
        Some(path) => say!(
            "scenario: {} ({}, {} rules)",
            scenario.name,
            path.display(),
            scenario.rules.len()
        ),
        None => say!("scenario: accept-all (no --scenario given)"),
    }
    if scenario.clock == crate::scenario::ClockMode::Virtual {
        say!(
            "clock: virtual (time-based rules stand still; move it with POST /api/v1/clock/advance {{\"by\": \"5m\"}})"
        );
    }
    match store.maildir() {
        Some(dir) => say!("store: maildir {}", dir.display()),
        None => say!(
            "store: memory (last {} messages, {} MiB with session records)",
            opts.max_messages,
            opts.max_memory >> 20
        ),
    }
    say!("press Ctrl-C to stop");
    let token = handle.shutdown_token();
    tokio::spawn(async move {
        wait_for_signal().await;
        token.cancel();
    });
    let dropped = handle.wait_at_most(opts.shutdown_timeout).await;
    if dropped > 0 {
        say!(
            "shutdown timeout ({}) reached: {dropped} connection(s) dropped, any message they had not finished is lost",
            humantime::format_duration(opts.shutdown_timeout)
        );
    }
    let usage = store.usage();
    let evicted = usage.evicted.messages;
    say!(
        "stopped: {} message(s) held{}",
        usage.messages,
        if evicted > 0 {
            format!(", {evicted} older one(s) evicted by --max-messages or --max-memory")
        } else {
            String::new()
        }
    );
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
