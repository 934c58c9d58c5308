//! Mailpit's `/api/v1/info`, `/api/v1/webui` and `/api/v1/tags`: what a
//! Mailpit client asks about the server before it asks about mail.

use std::time::SystemTime;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::transport::Control;

pub(super) async fn info(State(control): State<Control>) -> Json<Value> {
    let store = control.store();
    let messages = store.messages();
    let unread = messages.iter().filter(|m| !store.is_read(m.id)).count();
    let metrics = control.metrics();
    let rejected: u64 = metrics
        .replies
        .iter()
        .filter(|(code, _)| *code >= 400)
        .map(|(_, n)| n)
        .sum();
    let uptime = SystemTime::now()
        .duration_since(store.started_at())
        .unwrap_or_default()
        .as_secs();
    Json(json!({
        "Version": format!("mailfault {}", env!("CARGO_PKG_VERSION")),
        "LatestVersion": "",
        "Database": store.maildir().map(|d| d.display().to_string()).unwrap_or_default(),
        "DatabaseSize": 0,
        "Messages": messages.len(),
        "Unread": unread,
        "Tags": {},
        "RuntimeStats": {
            "Uptime": uptime,
            "Memory": 0,
            "MessagesDeleted": store.deleted(),
            "SMTPAccepted": metrics.messages,
            "SMTPAcceptedSize": metrics.bytes,
            "SMTPRejected": rejected,
            "SMTPIgnored": 0,
        },
        // mailfault's extra: the scenario in force.
        "Scenario": control.scenario().name,
    }))
}

pub(super) async fn webui(State(control): State<Control>) -> Json<Value> {
    Json(json!({
        "Label": format!("mailfault: {}", control.scenario().name),
        "MessageRelay": {
            "Enabled": false,
            "SMTPServer": "",
            "ReturnPath": "",
            "AllowedRecipients": "",
            "BlockedRecipients": "",
            "OverrideFrom": "",
            "PreserveMessageIDs": false,
        },
        "SpamAssassin": false,
        "ChaosEnabled": true,
        "DuplicatesIgnored": false,
        "HideDeleteAllButton": false,
    }))
}

/// mailfault keeps no tags: always an empty list.
pub(super) async fn tags() -> Json<Vec<String>> {
    Json(Vec::new())
}
