//! Drop-in compatibility with Mailpit and MailHog clients: their paths and
//! JSON shapes over mailfault's store and scenario, in one place.
//!
//! `mailpit` holds Mailpit's shapes, `parsed` the MIME facts they are made
//! of, `messages` the message endpoints (also MailHog's deletes), `search`
//! Mailpit's query syntax, `chaos` its chaos triggers as scenario rules,
//! `info` the server description, `mailhog` MailHog's `/api/v2`. These
//! shapes are mailfault's own message API too: one shape per resource.

mod chaos;
mod info;
mod mailhog;
pub(crate) mod mailpit;
mod messages;
pub(crate) mod parsed;
mod search;

use axum::Router;
use axum::routing::get;

use crate::transport::Control;

/// The Mailpit (`/api/v1`) and MailHog (`/api/v2`, deletes under `/api/v1`)
/// routes.
pub(crate) fn routes() -> Router<Control> {
    Router::new()
        .route(
            "/api/v1/messages",
            get(messages::list)
                .put(messages::set_read)
                .delete(messages::delete),
        )
        .route("/api/v1/message/{id}", get(messages::one))
        .route(
            "/api/v1/message/{id}/headers",
            get(messages::message_headers),
        )
        .route("/api/v1/message/{id}/raw", get(messages::raw))
        .route("/api/v1/message/{id}/part/{part}", get(messages::part))
        // mailfault's earlier paths: the same message, the same raw source.
        .route(
            "/api/v1/messages/{id}",
            get(messages::one).delete(messages::delete_one),
        )
        .route("/api/v1/messages/{id}/raw", get(messages::raw))
        .route(
            "/api/v1/search",
            get(messages::search).delete(messages::delete_search),
        )
        .route("/api/v1/info", get(info::info))
        .route("/api/v1/webui", get(info::webui))
        .route("/api/v1/tags", get(info::tags))
        .route("/api/v1/chaos", get(chaos::get).put(chaos::put))
        .route("/api/v2/messages", get(mailhog::messages))
        .route("/api/v2/search", get(mailhog::search))
}
