//! The library's error type: what went wrong, in words a user can act on.

use std::time::Duration;

use crate::scenario::{NotVirtual, ScenarioErrors};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
/// Everything that can stop a server or a fixture from starting or running.
#[non_exhaustive]
pub enum Error {
    #[error("{0}")]
    /// The scenario did not load or validate; each problem with its place.
    Scenario(#[from] ScenarioErrors),
    #[error("{0}")]
    /// The store could not be opened or written.
    Store(#[from] StoreError),
    #[error(
        "cannot listen on {addr} ({flag}): {source}; {}",
        bind_hint(source, addr, flag)
    )]
    /// A listener could not bind.
    Bind {
        /// The command-line flag that names this listener: `--smtp` or `--smtps`.
        flag: &'static str,
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// Why the OS refused.
        source: std::io::Error,
    },
    #[error(
        "cannot serve HTTP on {addr} (--http): {source}; {}, or --http off",
        bind_hint(source, addr, "--http")
    )]
    /// The HTTP listener could not bind.
    HttpBind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// Why the OS refused.
        source: std::io::Error,
    },
    #[error("{0}")]
    /// The clock was told to advance but the scenario's clock is real.
    Clock(#[from] NotVirtual),
    #[error(
        "advancing the virtual clock by {} would take it past {}; advance by at most {}",
        humantime::format_duration(*by),
        humantime::format_duration(crate::scenario::MAX_VIRTUAL),
        humantime::format_duration(*room)
    )]
    /// The virtual clock was told to move further than it goes.
    ClockLimit {
        /// The advance asked for.
        by: Duration,
        /// How far it could still go.
        room: Duration,
    },
    #[error("{0}")]
    /// Certificates could not be generated, read or used.
    Tls(#[from] crate::tls::TlsError),
    #[error("--smtps needs a certificate: add --tls auto (or --tls CERT,KEY)")]
    /// `--smtps` needs certificates: `--tls auto` or `--tls CERT,KEY`.
    SmtpsWithoutTls,
    #[error("cannot write the report {}: {source}", path.display())]
    /// A report file could not be written.
    Report {
        /// The file asked for.
        path: std::path::PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    #[error("network error: {0}")]
    /// Any other I/O failure.
    Io(#[from] std::io::Error),
    #[error("timed out after {timeout:?} waiting for {what} (got {got})")]
    /// A wait ended before what it waited for arrived.
    Timeout {
        /// What was waited for (`messages`, `sessions`).
        what: String,
        /// How many had arrived.
        got: usize,
        /// How long it waited.
        timeout: Duration,
    },
}

impl Error {
    /// The process exit code for this error: 2 when the command line or the
    /// scenario file must change (a usage or configuration error), 1 when
    /// the same command may work once the system lets it (a port in use, a
    /// disk that refuses a write).
    pub fn exit_code(&self) -> u8 {
        use crate::commands::exit;
        use crate::tls::TlsError;
        match self {
            Error::Scenario(_)
            | Error::SmtpsWithoutTls
            | Error::Tls(TlsError::Read { .. } | TlsError::Config(_)) => exit::USAGE,
            Error::Store(_)
            | Error::Bind { .. }
            | Error::HttpBind { .. }
            | Error::Clock(_)
            | Error::ClockLimit { .. }
            | Error::Tls(TlsError::Generate(_) | TlsError::Write { .. })
            | Error::Report { .. }
            | Error::Io(_)
            | Error::Timeout { .. } => exit::FAILURE,
        }
    }
}

/// What to do about a listener that cannot bind, by what the system said.
fn bind_hint(source: &std::io::Error, addr: &std::net::SocketAddr, flag: &str) -> String {
    use std::io::ErrorKind;
    match source.kind() {
        ErrorKind::AddrInUse => format!(
            "another program (or another mailfault) is using port {}; stop it or choose another address with {flag}",
            addr.port()
        ),
        ErrorKind::PermissionDenied => {
            format!("ports below 1024 need extra privileges; choose a port above 1023 with {flag}")
        }
        ErrorKind::AddrNotAvailable => format!(
            "{} is not an address of this machine; use 127.0.0.1, 0.0.0.0 or one of its own addresses with {flag}",
            addr.ip()
        ),
        _ => format!("choose another address with {flag}"),
    }
}
