//! `/api/v1/messages`: list with filters, one in full, raw, delete all.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::error::{ApiError, parse_id, rejected};
use super::views::{MessageDetail, MessageSummary};
use crate::transport::Control;

/// Page size when the client does not say.
const DEFAULT_LIMIT: usize = 50;

/// Filters: case-insensitive substrings of the envelope sender, any
/// recipient, and the decoded subject.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    to: Option<String>,
    from: Option<String>,
    subject: Option<String>,
    limit: Option<usize>,
}

#[derive(Serialize)]
pub struct List {
    /// How many messages match, before `limit`.
    total: usize,
    messages: Vec<MessageSummary>,
}

fn contains(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

pub async fn list(
    State(control): State<Control>,
    query: Result<Query<Filters>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<List>, ApiError> {
    let Query(f) = query.map_err(|e| rejected("filters are to, from, subject and limit")(&e))?;
    let limit = f.limit.unwrap_or(DEFAULT_LIMIT);
    let mut total = 0;
    let mut messages = Vec::new();
    for m in control.store().messages().iter().rev() {
        if f.from
            .as_deref()
            .is_some_and(|n| !contains(&m.mail_from, n))
            || f.to
                .as_deref()
                .is_some_and(|n| !m.recipients.iter().any(|r| contains(&r.address, n)))
        {
            continue;
        }
        // Decoding the subject costs a header parse: only when asked or shown.
        let summary = if f.subject.is_some() || messages.len() < limit {
            let s = MessageSummary::of(m);
            if let Some(n) = &f.subject
                && !s.subject.as_deref().is_some_and(|sub| contains(sub, n))
            {
                continue;
            }
            Some(s)
        } else {
            None
        };
        total += 1;
        if let Some(s) = summary
            && messages.len() < limit
        {
            messages.push(s);
        }
    }
    Ok(Json(List { total, messages }))
}

pub async fn one(
    State(control): State<Control>,
    Path(id): Path<String>,
) -> Result<Json<MessageDetail>, ApiError> {
    let id = parse_id(&id, "message")?;
    let m = control
        .store()
        .message(id)
        .ok_or_else(|| ApiError::not_found(format!("no message with id {id}")))?;
    Ok(Json(MessageDetail::of(&m)))
}

pub async fn raw(
    State(control): State<Control>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id, "message")?;
    let m = control
        .store()
        .message(id)
        .ok_or_else(|| ApiError::not_found(format!("no message with id {id}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "message/rfc822".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"message-{id}.eml\""),
            ),
        ],
        m.raw(),
    ))
}

pub async fn delete_all(State(control): State<Control>) -> Json<serde_json::Value> {
    let deleted = control.store().clear_messages();
    Json(serde_json::json!({ "deleted": deleted }))
}
