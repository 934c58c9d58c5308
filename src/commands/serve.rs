//! `mailfault serve`: run the server until Ctrl-C or SIGTERM, then shut down
//! gracefully (idle sessions get 421, messages in flight finish).

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
use crate::scenario::Scenario;
use crate::store::{Store, StoreKind};
use crate::transport;

pub struct Options {
    pub smtp: SocketAddr,
    pub scenario: Option<PathBuf>,
    pub store: StoreKind,
    pub max_messages: usize,
}

pub async fn run(opts: Options) -> Result<(), Error> {
    let scenario = match &opts.scenario {
        Some(path) => Scenario::from_file(path)?,
        None => Scenario::accept_all(),
    };
    let store = Arc::new(Store::open(&opts.store, opts.max_messages)?);
    let handle = transport::start(opts.smtp, Arc::new(scenario), Arc::clone(&store)).await?;
    let scenario = handle.scenario();
    say!("mailfault listening on smtp://{}", handle.smtp_addr());
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
            "clock: virtual (time-based rules stand still; this version moves it only from the Rust fixture)"
        );
    }
    match store.maildir() {
        Some(dir) => say!("store: maildir {}", dir.display()),
        None => say!("store: memory (last {} messages)", opts.max_messages),
    }
    say!("press Ctrl-C to stop");
    let token = handle.shutdown_token();
    tokio::spawn(async move {
        wait_for_signal().await;
        token.cancel();
    });
    handle.wait().await;
    let evicted = store.evicted();
    say!(
        "stopped: {} message(s) held{}",
        store.messages().len(),
        if evicted > 0 {
            format!(", {evicted} older one(s) evicted by --max-messages")
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
