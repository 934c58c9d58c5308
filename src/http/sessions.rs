//! `/api/v1/sessions`: finished SMTP sessions, each with its transcript and
//! the rule behind every reply a scenario decided.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;

use super::error::{ApiError, parse_id};
use super::views::{SessionDetail, SessionSummary};
use crate::transport::Control;

#[derive(Serialize)]
pub(super) struct List {
    sessions: Vec<SessionSummary>,
}

/// Sessions in progress first (newest first), then finished ones.
pub(super) async fn list(State(control): State<Control>) -> Json<List> {
    let store = control.store();
    let mut sessions: Vec<SessionSummary> = store
        .open_sessions()
        .iter()
        .rev()
        .map(SessionSummary::open)
        .collect();
    sessions.extend(store.sessions().iter().rev().map(|s| SessionSummary::of(s)));
    Json(List { sessions })
}

pub(super) async fn one(
    State(control): State<Control>,
    Path(id): Path<String>,
) -> Result<Json<SessionDetail>, ApiError> {
    let id = parse_id(&id, "session")?;
    let store = control.store();
    if let Some(s) = store.session(id) {
        return Ok(Json(SessionDetail::of(&s)));
    }
    match store.open_sessions().iter().find(|s| s.id == id) {
        Some(open) => Ok(Json(SessionDetail {
            summary: SessionSummary::open(open),
            transcript: Vec::new(),
            events: Vec::new(),
        })),
        None => Err(ApiError::not_found(format!("no session with id {id}"))),
    }
}
