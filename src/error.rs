//! The library's error type: what went wrong, in words a user can act on.

use std::time::Duration;

use crate::scenario::{NotVirtual, ScenarioErrors};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Scenario(#[from] ScenarioErrors),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error(
        "cannot listen on {addr} ({flag}): {source}; {}",
        bind_hint(source, addr, flag)
    )]
    Bind {
        /// The command-line flag that names this listener: `--smtp` or `--smtps`.
        flag: &'static str,
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error(
        "cannot serve HTTP on {addr} (--http): {source}; {}, or --http off",
        bind_hint(source, addr, "--http")
    )]
    HttpBind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Clock(#[from] NotVirtual),
    #[error("{0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("--smtps needs a certificate: add --tls auto (or --tls CERT,KEY)")]
    SmtpsWithoutTls,
    #[error("cannot write the report {}: {source}", path.display())]
    Report {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("network error: {0}")]
    Io(#[from] std::io::Error),
    #[error("timed out after {timeout:?} waiting for {what} (got {got})")]
    Timeout {
        what: String,
        got: usize,
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
