//! `/livez` and `/readyz` for container orchestrators and `mailfault
//! healthcheck`.
//!
//! The HTTP listener is served only after the SMTP listeners are bound and
//! accepting (see `commands::serve` and the fixture), so an answer here
//! means both accept; `/readyz` turns 503 once shutdown has begun, so a
//! load balancer stops sending before the listeners close.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use crate::transport::Control;

pub(super) async fn live() -> impl IntoResponse {
    "ok\n"
}

pub(super) async fn ready(State(control): State<Control>) -> impl IntoResponse {
    if control.shutdown_token().is_cancelled() {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
    } else if !tokio::task::spawn_blocking({
        let control = control.clone();
        move || control.state_ready()
    })
    .await
    .unwrap_or(false)
    {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "shared state (Redis) unavailable\n",
        )
    } else if !control.store().caught_up() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "catching up on the shared store\n",
        )
    } else {
        (StatusCode::OK, "ready\n")
    }
}
