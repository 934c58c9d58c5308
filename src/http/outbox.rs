//! `/api/v1/timeline`: every (sender, recipient) pair's attempts with
//! the reply each got, and the reports about it, on the scenario clock.
//!
//! `/api/v1/outbox`: the bounce and complaint reports the scenario made,
//! each with its state (pending, released, sending, delivered, failed and
//! why), its times and its bytes; `/api/v1/outbox/{id}/raw` is one
//! report exactly as sent.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;

use super::error::{ApiError, parse_id};
use crate::reports::outbox::View;
use crate::transport::Control;

#[derive(Serialize)]
pub(super) struct Item {
    #[serde(flatten)]
    view: View,
    /// The report as sent (lossless for ASCII; the raw endpoint has the bytes).
    raw: Option<String>,
}

#[derive(Serialize)]
pub(super) struct List {
    total: usize,
    reports: Vec<Item>,
}

/// Every report, oldest first.
pub(super) async fn list(State(control): State<Control>) -> Json<List> {
    let outbox = control.outbox();
    let reports: Vec<Item> = outbox
        .list()
        .into_iter()
        .map(|view| {
            let raw = outbox
                .get(view.id)
                .and_then(|(_, raw)| raw)
                .map(|r| String::from_utf8_lossy(&r).into_owned());
            Item { view, raw }
        })
        .collect();
    Json(List {
        total: reports.len(),
        reports,
    })
}

/// One report's bytes; 404 while it is still pending.
pub(super) async fn raw(
    State(control): State<Control>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id, "report")?;
    let (_, raw) = control
        .outbox()
        .get(id)
        .ok_or_else(|| ApiError::not_found(format!("no report {id} in the outbox")))?;
    let raw = raw.ok_or_else(|| {
        ApiError::not_found(format!("report {id} is not due yet; it has no bytes"))
    })?;
    Ok(([(header::CONTENT_TYPE, "message/rfc822")], raw.to_vec()))
}

#[derive(Serialize)]
pub(super) struct Timeline {
    tracks: Vec<crate::expect::Track>,
}

/// The pairs of the scenario in force.
/// Read on a blocking thread, as the report is: many sessions take a while.
pub(super) async fn timeline(State(control): State<Control>) -> Result<Json<Timeline>, ApiError> {
    let tracks = tokio::task::spawn_blocking(move || {
        let epoch = control.epoch();
        crate::expect::timeline(epoch, control.store(), &control.outbox().facts(epoch))
    })
    .await
    .map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("building the timeline failed ({e})"),
        )
    })?;
    Ok(Json(Timeline { tracks }))
}
