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
        "cannot listen on {addr}: {source}; is another server using it? Choose another address with --smtp"
    )]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error(
        "cannot serve HTTP on {addr}: {source}; choose another address with --http, or --http off"
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
