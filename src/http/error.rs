//! The one error shape of the API: a status and a JSON object whose `error`
//! says what went wrong and what to do, plus details where they help.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Debug)]
pub(super) struct ApiError {
    status: StatusCode,
    body: Value,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({ "error": message.into() }),
        }
    }

    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub(super) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// Adds a field beside `error` (e.g. the list of scenario problems).
    pub(super) fn with(mut self, key: &str, value: Value) -> Self {
        if let Some(map) = self.body.as_object_mut() {
            map.insert(key.to_owned(), value);
        }
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

pub(super) async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!(
        "no such endpoint: {}; the API lives under /api/v1 (messages, message/{{ID}}, search, info, chaos, sessions, scenario, reset, report, wait, clock/advance, events), /api/v2 (MailHog's messages and search), /metrics, /livez and /readyz",
        uri.path()
    ))
}

/// Path ids are numbers; anything else is the client's mistake, said plainly.
pub(super) fn parse_id(raw: &str, what: &str) -> Result<u64, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::bad_request(format!("`{raw}` is not a {what} id (ids are numbers)")))
}

/// A rejected query string or body, with the usage that would have worked.
pub(super) fn rejected(hint: &'static str) -> impl Fn(&dyn RejectionText) -> ApiError {
    move |e| ApiError::bad_request(format!("{}; {hint}", e.text()))
}

/// What axum's extractor rejections say about themselves.
pub(super) trait RejectionText {
    fn text(&self) -> String;
}

impl RejectionText for axum::extract::rejection::QueryRejection {
    fn text(&self) -> String {
        self.body_text()
    }
}

impl RejectionText for axum::extract::rejection::JsonRejection {
    fn text(&self) -> String {
        self.body_text()
    }
}
