//! Mailpit's message endpoints: the list, one message (by id or `latest`),
//! its headers, raw source and parts, search, delete and read status.
//! Handlers only translate; the store holds the messages and read marks.

use std::collections::HashSet;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query as QueryString, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde::Deserialize;

use super::mailpit::{Message, Page, headers};
use super::parsed::Parsed;
use super::search::Query;
use crate::http::error::{ApiError, rejected};
use crate::store::StoredMessage;
use crate::transport::Control;

/// Page size when the client does not say (Mailpit's default).
const DEFAULT_LIMIT: usize = 50;

type QueryResult<T> = Result<QueryString<T>, axum::extract::rejection::QueryRejection>;

#[derive(Deserialize, Default)]
pub(super) struct Paging {
    start: Option<usize>,
    limit: Option<usize>,
    /// mailfault's earlier list filters: refused with the search that
    /// replaces them, rather than ignored into an unfiltered list.
    to: Option<String>,
    from: Option<String>,
    subject: Option<String>,
}

/// The message an `{ID}` path names: a number, or `latest`.
fn find(control: &Control, id: &str) -> Result<Arc<StoredMessage>, ApiError> {
    let store = control.store();
    if id == "latest" {
        return store
            .messages()
            .pop()
            .ok_or_else(|| ApiError::not_found("no messages yet, so no `latest`"));
    }
    let n: u64 = id.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "`{id}` is not a message id; use an ID from /api/v1/messages or `latest`"
        ))
    })?;
    store
        .message(n)
        .ok_or_else(|| ApiError::not_found(format!("no message with ID {id}")))
}

pub(super) async fn list(
    State(control): State<Control>,
    query: QueryResult<Paging>,
) -> Result<Json<Page>, ApiError> {
    let QueryString(p) = query.map_err(|e| rejected("use ?start=0&limit=50")(&e))?;
    let old = [("to", &p.to), ("from", &p.from), ("subject", &p.subject)];
    if let Some((name, Some(value))) = old.iter().find(|(_, v)| v.is_some()) {
        return Err(ApiError::bad_request(format!(
            "the list takes no `{name}` filter; search instead: /api/v1/search?query={name}:{value}"
        )));
    }
    let store = control.store();
    let all = store.messages();
    let start = p.start.unwrap_or(0);
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
    // Parsing costs: only the page shown is parsed.
    let page: Vec<(&StoredMessage, Parsed)> = all
        .iter()
        .rev()
        .skip(start)
        .take(limit)
        .map(|m| (m.as_ref(), Parsed::of(m)))
        .collect();
    let mut out = Page::of(store, &page, 0, limit);
    out.start = start;
    out.messages_count = all.len();
    out.messages_unread = out.unread;
    Ok(Json(out))
}

#[derive(Deserialize)]
pub(super) struct SearchParams {
    query: String,
    start: Option<usize>,
    limit: Option<usize>,
    tz: Option<String>,
}

/// Newest first, with the parse each match was judged on.
fn matching(
    control: &Control,
    params: &SearchParams,
) -> Result<Vec<(Arc<StoredMessage>, Parsed)>, ApiError> {
    if let Some(tz) = params.tz.as_deref()
        && !tz.is_empty()
        && !tz.eq_ignore_ascii_case("utc")
    {
        return Err(ApiError::bad_request(format!(
            "time zone `{tz}` is not supported; before: and after: read dates as UTC (omit tz)"
        )));
    }
    let query = Query::parse(&params.query).map_err(ApiError::bad_request)?;
    let store = control.store();
    Ok(store
        .messages()
        .into_iter()
        .rev()
        .filter_map(|m| {
            let p = Parsed::of(&m);
            query.matches(&m, &p, store.is_read(m.id)).then_some((m, p))
        })
        .collect())
}

pub(super) async fn search(
    State(control): State<Control>,
    query: QueryResult<SearchParams>,
) -> Result<Json<Page>, ApiError> {
    let QueryString(params) =
        query.map_err(|e| rejected("use ?query=from:ann@example.test&start=0&limit=50")(&e))?;
    let found = matching(&control, &params)?;
    let found: Vec<(&StoredMessage, Parsed)> =
        found.iter().map(|(m, p)| (m.as_ref(), p.clone())).collect();
    Ok(Json(Page::of(
        control.store(),
        &found,
        params.start.unwrap_or(0),
        params.limit.unwrap_or(DEFAULT_LIMIT),
    )))
}

fn ok() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "ok")
}

pub(super) async fn delete_search(
    State(control): State<Control>,
    query: QueryResult<SearchParams>,
) -> Result<impl IntoResponse, ApiError> {
    let QueryString(params) =
        query.map_err(|e| rejected("use ?query=from:ann@example.test")(&e))?;
    let ids: HashSet<u64> = matching(&control, &params)?
        .iter()
        .map(|(m, _)| m.id)
        .collect();
    control.store().delete_messages(&ids);
    Ok(ok())
}

pub(super) async fn one(
    State(control): State<Control>,
    Path(id): Path<String>,
) -> Result<Json<Message>, ApiError> {
    let m = find(&control, &id)?;
    // Opening a message marks it read, as in Mailpit.
    control.store().set_read([m.id], true);
    Ok(Json(Message::of(&m, true)))
}

pub(super) async fn message_headers(
    State(control): State<Control>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let m = find(&control, &id)?;
    Ok(Json(headers(&Parsed::of(&m))))
}

pub(super) async fn raw(
    State(control): State<Control>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let m = find(&control, &id)?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        m.raw(),
    ))
}

pub(super) async fn part(
    State(control): State<Control>,
    Path((id, part_id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let m = find(&control, &id)?;
    let (content_type, file_name, contents) = Parsed::part_contents(&m.raw(), &part_id)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "message {id} has no part `{part_id}`; PartIDs are listed under Attachments and Inline of /api/v1/message/{id}"
            ))
        })?;
    let name: String = file_name
        .chars()
        .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{name}\""),
            ),
        ],
        contents,
    ))
}

/// The ids a body names; an empty list (or no body) means every message.
#[derive(Deserialize, Default)]
pub(super) struct Selection {
    #[serde(rename = "IDs", default)]
    ids: Vec<serde_json::Value>,
    #[serde(rename = "Read", default)]
    read: bool,
    #[serde(rename = "Search", default)]
    search: Option<String>,
}

fn selection(body: &Bytes, usage: &str) -> Result<Selection, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Selection::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("{e}; send {usage}")))
}

/// IDs are strings in Mailpit; numbers are taken too.
fn ids(values: &[serde_json::Value]) -> Result<HashSet<u64>, ApiError> {
    values
        .iter()
        .map(|v| {
            let parsed = match v {
                serde_json::Value::String(s) => s.parse().ok(),
                serde_json::Value::Number(n) => n.as_u64(),
                _ => None,
            };
            parsed.ok_or_else(|| {
                ApiError::bad_request(format!(
                    "`{v}` is not a message ID; IDs come from /api/v1/messages"
                ))
            })
        })
        .collect()
}

/// Mailpit: `{"IDs": [...]}` deletes those; no body deletes everything
/// (which is also MailHog's `DELETE /api/v1/messages`).
pub(super) async fn delete(
    State(control): State<Control>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let sel = selection(&body, "{\"IDs\": [\"1\", \"2\"]} or no body to delete all")?;
    if sel.ids.is_empty() {
        control.store().clear_messages();
    } else {
        control.store().delete_messages(&ids(&sel.ids)?);
    }
    Ok(ok())
}

/// MailHog's `DELETE /api/v1/messages/{ID}`.
pub(super) async fn delete_one(
    State(control): State<Control>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let m = find(&control, &id)?;
    control.store().delete_messages(&HashSet::from([m.id]));
    Ok(ok())
}

/// `{"IDs": [...], "Read": true}`, or `{"Search": "...", "Read": true}`;
/// neither marks every message.
pub(super) async fn set_read(
    State(control): State<Control>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let sel = selection(&body, "{\"IDs\": [\"1\"], \"Read\": true}")?;
    let store = control.store();
    let targets: Vec<u64> = if !sel.ids.is_empty() {
        ids(&sel.ids)?.into_iter().collect()
    } else if let Some(search) = sel.search.filter(|s| !s.trim().is_empty()) {
        let params = SearchParams {
            query: search,
            start: None,
            limit: None,
            tz: None,
        };
        matching(&control, &params)?
            .iter()
            .map(|(m, _)| m.id)
            .collect()
    } else {
        store.messages().iter().map(|m| m.id).collect()
    };
    store.set_read(targets, sel.read);
    Ok(ok())
}
