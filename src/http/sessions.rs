//! `/api/v1/sessions`: finished SMTP sessions, each with its transcript and
//! the rule behind every reply a scenario decided.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;

use super::error::{ApiError, parse_id};
use super::views::{SessionDetail, SessionSummary};
use crate::transport::Control;

#[derive(Serialize)]
pub struct List {
    sessions: Vec<SessionSummary>,
}

pub async fn list(State(control): State<Control>) -> Json<List> {
    let sessions = control
        .store()
        .sessions()
        .iter()
        .rev()
        .map(|s| SessionSummary::of(s))
        .collect();
    Json(List { sessions })
}

pub async fn one(
    State(control): State<Control>,
    Path(id): Path<String>,
) -> Result<Json<SessionDetail>, ApiError> {
    let id = parse_id(&id, "session")?;
    let s = control.store().session(id).ok_or_else(|| {
        ApiError::not_found(format!(
            "no finished session with id {id} (sessions appear when they end)"
        ))
    })?;
    Ok(Json(SessionDetail::of(&s)))
}
