//! Steering endpoints: the scenario (read, hot swap), reset, the virtual
//! clock, waiting for mail, and the expectations report.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, rejected};
use super::views::seconds;
use crate::scenario::state::AdvanceError;
use crate::scenario::{ClockMode, MAX_VIRTUAL, Scenario};
use crate::transport::Control;

/// The longest a `wait` may hold a connection.
const MAX_WAIT: Duration = Duration::from_secs(600);

pub(super) async fn scenario(State(control): State<Control>) -> impl IntoResponse {
    let scenario = control.scenario();
    (
        [
            (header::CONTENT_TYPE, "application/yaml; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        scenario.redacted_yaml(),
    )
}

/// Validates the YAML first; a bad one changes nothing and comes back with
/// every problem at its line and column of the request body.
pub(super) async fn put_scenario(
    State(control): State<Control>,
    body: String,
) -> Result<Json<Value>, ApiError> {
    let scenario = Scenario::from_request(&body, "<request body>").map_err(|errors| {
        let problems: Vec<Value> = errors
            .0
            .iter()
            .map(|e| json!({ "line": e.line, "column": e.column, "message": e.message }))
            .collect();
        let first = errors.0.first().map_or_else(String::new, |e| {
            if e.line == 0 {
                format!(": {}", e.message)
            } else {
                format!(": line {}, column {}: {}", e.line, e.column, e.message)
            }
        });
        ApiError::bad_request(format!(
            "scenario rejected, the running one is unchanged{first}"
        ))
        .with("problems", Value::Array(problems))
    })?;
    let name = scenario.name.clone();
    let rules = scenario.rules.len();
    let epoch = control
        .set_scenario_everywhere(Arc::new(scenario))
        .await
        .map_err(|e| {
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                format!("scenario not changed: {e}; the instances share their scenario through it"),
            )
        })?;
    tracing::info!(scenario = %name, epoch, "scenario swapped over HTTP");
    Ok(Json(
        json!({ "name": name, "rules": rules, "epoch": epoch }),
    ))
}

pub(super) async fn reset(State(control): State<Control>) -> Result<Json<Value>, ApiError> {
    let epoch = control.reset_everywhere().await.map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("nothing was reset: {e}; the instances share their rule state through it, try again once it answers"),
        )
    })?;
    Ok(Json(json!({ "reset": true, "epoch": epoch })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Advance {
    by: String,
}

fn clock_json(mode: ClockMode, now: Duration) -> Value {
    json!({
        "clock": match mode { ClockMode::Real => "real", ClockMode::Virtual => "virtual" },
        "now": seconds(now),
        "now_ms": u64::try_from(now.as_millis()).unwrap_or(u64::MAX),
    })
}

/// What the store holds against its bounds and what it evicted since start.
pub(super) async fn store(State(control): State<Control>) -> Json<Value> {
    let usage = control.store().usage();
    Json(serde_json::json!({
        "messages": usage.messages,
        "sessions": usage.sessions,
        "bytes": usage.bytes,
        "max_bytes": usage.max_bytes,
        "evicted": {
            "messages": usage.evicted.messages,
            "sessions": usage.evicted.sessions,
            "bytes": usage.evicted.bytes,
        },
    }))
}

pub(super) async fn clock(State(control): State<Control>) -> Json<Value> {
    let engine = control.engine();
    Json(clock_json(engine.clock().mode(), engine.clock().now()))
}

pub(super) async fn advance_clock(
    State(control): State<Control>,
    body: Result<Json<Advance>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(advance) =
        body.map_err(|e| rejected("send a JSON object like {\"by\": \"5m\"}")(&e))?;
    let by = humantime::parse_duration(&advance.by).map_err(|e| {
        ApiError::bad_request(format!(
            "`{}` is not a duration ({e}); use e.g. 30s, 5m, 1h 30m",
            advance.by
        ))
    })?;
    let engine = control.engine();
    let room = engine.clock().room();
    if engine.clock().mode() == ClockMode::Virtual && by > room {
        return Err(ApiError::bad_request(format!(
            "advancing by {} would take the virtual clock past {}, the furthest it goes; advance by at most {} (or reset the server to start over)",
            advance.by,
            humantime::format_duration(MAX_VIRTUAL),
            humantime::format_duration(room)
        )));
    }
    let now = control
        .advance_clock_everywhere(by)
        .await
        .map_err(|e| match e {
            AdvanceError::NotVirtual(e) => ApiError::new(StatusCode::CONFLICT, e.to_string()),
            AdvanceError::Unavailable(e) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the clock was not advanced: {e}; the instances share their virtual clock through it, try again once it answers"),
            ),
        })?;
    Ok(Json(clock_json(ClockMode::Virtual, now)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WaitFor {
    messages: usize,
    timeout: Option<String>,
}

/// Long poll: answers once `messages` are held, 408 at the time-out, or 503
/// as soon as the server starts shutting down.
pub(super) async fn wait(
    State(control): State<Control>,
    query: Result<Query<WaitFor>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(w) = query.map_err(|e| rejected("use /api/v1/wait?messages=N&timeout=10s")(&e))?;
    let timeout = match &w.timeout {
        None => Duration::from_secs(10),
        Some(t) => humantime::parse_duration(t).map_err(|e| {
            ApiError::bad_request(format!(
                "timeout `{t}` is not a duration ({e}); use e.g. 10s"
            ))
        })?,
    };
    if timeout > MAX_WAIT {
        return Err(ApiError::bad_request(format!(
            "timeout {} is too long; at most {}",
            humantime::format_duration(timeout),
            humantime::format_duration(MAX_WAIT)
        )));
    }
    let store = control.store();
    let shutdown = control.shutdown_token();
    let held = tokio::select! {
        held = store.wait_for_messages(w.messages, timeout) => held,
        () = shutdown.cancelled() => {
            let held = store.messages().len();
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "server shutting down while waiting for {} message(s); {held} held",
                    w.messages
                ),
            )
            .with("messages", json!(held))
            .with("timed_out", json!(false)));
        }
    };
    if held {
        Ok(Json(
            json!({ "messages": store.messages().len(), "timed_out": false }),
        ))
    } else {
        let held = store.messages().len();
        Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "timed out after {} waiting for {} message(s); {held} held",
                humantime::format_duration(timeout),
                w.messages
            ),
        )
        .with("messages", json!(held))
        .with("timed_out", json!(true)))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReportFormat {
    format: Option<String>,
    /// How long to wait for sessions still in progress (default 500ms).
    settle: Option<String>,
}

/// Long enough for a client's hang-up to be seen, short enough not to
/// hold a report for a sender that keeps its connection open.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(500);

/// The scenario's `expect:` block judged against the sessions it has seen
/// so far: JSON by default, `?format=junit` or `?format=text` for CI logs.
/// Judging walks every session and message held, so it and the rendering
/// run on the blocking pool, off the threads that serve SMTP and HTTP.
pub(super) async fn report(
    State(control): State<Control>,
    query: Result<Query<ReportFormat>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::response::Response, ApiError> {
    let Query(q) = query.map_err(|e| rejected("use ?format=json|junit|text")(&e))?;
    let format = match q.format.as_deref().unwrap_or("json") {
        "json" => Format::Json,
        "junit" => Format::Junit,
        "text" => Format::Text,
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown report format `{other}`; use json, junit or text"
            )));
        }
    };
    let settle = match q.settle.as_deref() {
        None => SETTLE,
        Some(text) => humantime::parse_duration(text)
            .ok()
            .filter(|d| *d <= std::time::Duration::from_secs(60))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "settle `{text}` is not a duration up to 60s; use e.g. ?settle=2s (or 0s)"
                ))
            })?,
    };
    control.store().settle(settle).await;
    let (content_type, body) = tokio::task::spawn_blocking(move || {
        let (scenario, epoch) = control.scenario_and_epoch();
        let report = crate::expect::judge(
            &scenario,
            epoch,
            control.store(),
            &control.outbox().facts(epoch),
            None,
        );
        match format {
            Format::Json => ("application/json", report.to_json()),
            Format::Junit => (
                "application/xml; charset=utf-8",
                report.to_junit(&scenario.name),
            ),
            Format::Text => ("text/plain; charset=utf-8", report.to_text()),
        }
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "judging the report failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("judging the report failed ({e}); the server log has details, and GET /api/v1/report can be retried"),
        )
    })?;
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

#[derive(Clone, Copy)]
enum Format {
    Json,
    Junit,
    Text,
}
