//! `/api/v1/events`: server-sent events for the web page and scripts:
//! `message` (Mailpit's message summary), `session_started` and `session`
//! (summaries as in the lists),
//! `reset` and `scenario`. A reader that falls too far behind gets a `reset`, telling it
//! to reload the lists instead of showing a silent gap.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::compat::mailpit::Summary;
use super::views::SessionSummary;
use crate::store::Event as StoreEvent;
use crate::transport::Control;

fn render(event: &StoreEvent) -> Event {
    let (name, data) = match event {
        StoreEvent::Message(m) => (
            "message",
            serde_json::to_string(&Summary::of(m, false)).unwrap_or_default(),
        ),
        StoreEvent::SessionStarted(s) => (
            "session_started",
            serde_json::to_string(&SessionSummary::open(s)).unwrap_or_default(),
        ),
        StoreEvent::Session(s) => (
            "session",
            serde_json::to_string(&SessionSummary::of(s)).unwrap_or_default(),
        ),
        StoreEvent::Reset => ("reset", "{}".to_owned()),
        StoreEvent::Scenario { epoch } => ("scenario", json!({ "epoch": epoch }).to_string()),
    };
    Event::default().event(name).data(data)
}

pub async fn stream(
    State(control): State<Control>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = control.store().subscribe();
    let token = control.shutdown_token();
    let events = futures_util::stream::unfold((rx, token), |(mut rx, token)| async move {
        let event = tokio::select! {
            _ = token.cancelled() => return None,
            received = rx.recv() => match received {
                Ok(event) => render(&event),
                Err(RecvError::Lagged(_)) => render(&StoreEvent::Reset),
                Err(RecvError::Closed) => return None,
            },
        };
        Some((Ok(event), (rx, token)))
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
