//! The read side over HTTP: a JSON API, the server-sent event stream,
//! Prometheus metrics and the embedded web page.
//!
//! Everything here reads the store and steers the server through a
//! [`Control`]; no SMTP decision is made in this module. The router is split
//! by resource: `compat` (messages in Mailpit's and MailHog's shapes, search,
//! chaos), `sessions`, `control` (scenario, reset, clock, wait, report),
//! `events`, `metrics`, `health` and `page`; `views` holds the session
//! shapes and `error` the error body every endpoint shares. In front of
//! them all, `guard` refuses foreign Host names and cross-origin changes,
//! and `auth` asks for `--http-auth` credentials. Under everything,
//! `limits` caps open connections and the time a request head may take.

mod auth;
pub(crate) mod compat;
mod control;
mod error;
mod events;
mod guard;
mod health;
mod limits;
mod metrics;
mod outbox;
mod page;
mod session_events;
mod sessions;
mod views;
pub(crate) mod webhooks;

use std::net::SocketAddr;

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::transport::Control;

pub use auth::BasicAuth;
pub(crate) use guard::{Guard, parse_host, parse_origin};

/// Builds the router over a running server. The guard is the outer layer,
/// so a refused Host or Origin touches nothing, and a CORS preflight (which
/// carries no credentials) is answered before basic auth asks for them.
pub(crate) fn router(control: Control, auth: Option<BasicAuth>, guard: Guard) -> Router {
    let api = compat::routes()
        .route("/api/v1/sessions", get(sessions::list))
        .route("/api/v1/sessions/{id}", get(sessions::one))
        .route(
            "/api/v1/scenario",
            get(control::scenario).put(control::put_scenario),
        )
        .route("/api/v1/reset", post(control::reset))
        .route("/api/v1/report", get(control::report))
        .route("/api/v1/wait", get(control::wait))
        .route("/api/v1/clock/advance", post(control::advance_clock))
        .route("/api/v1/clock", get(control::clock))
        .route("/api/v1/store", get(control::store))
        .route("/api/v1/events", get(events::stream))
        .route("/api/v1/outbox", get(outbox::list))
        .route("/api/v1/outbox/{id}/raw", get(outbox::raw))
        .route("/api/v1/timeline", get(outbox::timeline))
        .route("/metrics", get(metrics::render))
        .route("/livez", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/", get(page::index))
        .route("/app.js", get(page::script))
        .route("/style.css", get(page::style))
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(
            control.clone(),
            read_log,
        ))
        .with_state(control);
    let api = match auth {
        Some(auth) => api.layer(axum::middleware::from_fn_with_state(auth, auth::require)),
        None => api,
    };
    api.layer(axum::middleware::from_fn_with_state(guard, guard::check))
}

/// Lets every request see what any instance acknowledged before it came:
/// with a shared store an SMTP session does not wait for its message to
/// come back from the log before its 250, and other instances' changes
/// reach this one a moment later, so a request waits for them here. The
/// health probes answer at once: they must not hang on the log.
async fn read_log(
    axum::extract::State(control): axum::extract::State<Control>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if !matches!(request.uri().path(), "/livez" | "/readyz") {
        control.store().read_log().await;
    }
    next.run(request).await
}

/// Binds the HTTP listener; a non-loopback address gets a warning, since
/// the API can swap scenarios and delete mail.
pub(crate) async fn bind(addr: SocketAddr, auth: bool) -> Result<TcpListener, crate::Error> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| crate::Error::HttpBind { addr, source })?;
    if !addr.ip().is_loopback() && !in_container() {
        warn!(
            %addr,
            basic_auth = auth,
            "the HTTP API is reachable from other machines: anyone who can connect can read captured mail and change the scenario{}",
            if auth { "" } else { "; add --http-auth user:password" }
        );
    }
    Ok(listener)
}

/// Inside a container (the image sets `MAILFAULT_IN_CONTAINER=1`) the
/// listener must bind every interface to be reachable at all, and the
/// container's port mapping decides who can connect: no warning there.
pub(crate) fn in_container() -> bool {
    std::env::var_os("MAILFAULT_IN_CONTAINER").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Serves the API until the server's shutdown token fires.
pub(crate) fn serve(
    listener: TcpListener,
    control: Control,
    auth: Option<BasicAuth>,
    guard: Guard,
) -> JoinHandle<()> {
    let token = control.shutdown_token();
    let app = router(control, auth, guard);
    tokio::spawn(async move {
        if let Ok(addr) = TcpListener::local_addr(&listener) {
            info!(%addr, "serving the HTTP API and web page");
        }
        let listener =
            limits::Bounded::new(listener, limits::MAX_CONNECTIONS, limits::HEADER_TIMEOUT);
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { token.cancelled().await })
            .await;
        if let Err(e) = served {
            warn!(error = %e, "HTTP server stopped");
        }
    })
}
