//! `/api/v1/events`: server-sent events for the web page and scripts:
//! `message` (Mailpit's message summary), `session_started` and `session` (summaries as in the lists),
//! `reset`, `scenario` and `report` (an outbox entry that was released,
//! delivered or failed, as `/api/v1/outbox` lists it).
//!
//! A reader that falls too far behind gets a `reset` whose data says so,
//! `{"reason":"lagged","missed":N}`, telling it to reload the lists instead
//! of showing a silent gap (a real reset says `{"reason":"reset"}`). Every
//! frame carries data; an event that cannot be rendered is logged and left
//! out rather than sent empty. Keep-alives are SSE comments.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Serialize;
use serde_json::json;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

use super::compat::mailpit::Summary;
use super::views::SessionSummary;
use crate::store::Event as StoreEvent;
use crate::transport::Control;

/// The frame for one store event; `None` (logged) if its data cannot be
/// written as JSON, which would otherwise go out as an empty `data:` line.
fn render(event: &StoreEvent) -> Option<Event> {
    fn frame(name: &'static str, data: &impl Serialize) -> Option<Event> {
        match serde_json::to_string(data) {
            Ok(data) => Some(Event::default().event(name).data(data)),
            Err(e) => {
                tracing::warn!(event = name, error = %e, "event left out of the stream: its data cannot be written as JSON");
                None
            }
        }
    }
    match event {
        StoreEvent::Message(m) => frame("message", &Summary::of(m, false)),
        StoreEvent::SessionStarted(s) => frame("session_started", &SessionSummary::open(s)),
        StoreEvent::Session(s) => frame("session", &SessionSummary::of(s)),
        StoreEvent::Reset => frame("reset", &json!({ "reason": "reset" })),
        StoreEvent::Scenario { epoch } => frame("scenario", &json!({ "epoch": epoch })),
        StoreEvent::Report(r) => frame("report", &**r),
    }
}

/// What a reader that missed `missed` events gets instead of them.
fn lagged(missed: u64) -> Event {
    Event::default()
        .event("reset")
        .data(json!({ "reason": "lagged", "missed": missed }).to_string())
}

/// The frames for one reader, until shutdown or the store goes away.
fn frames(
    rx: broadcast::Receiver<StoreEvent>,
    token: CancellationToken,
) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold((rx, token), |(mut rx, token)| async move {
        loop {
            let event = tokio::select! {
                _ = token.cancelled() => return None,
                received = rx.recv() => match received {
                    Ok(event) => render(&event),
                    Err(RecvError::Lagged(missed)) => Some(lagged(missed)),
                    Err(RecvError::Closed) => return None,
                },
            };
            if let Some(event) = event {
                return Some((Ok(event), (rx, token)));
            }
        }
    })
}

pub(super) async fn stream(
    State(control): State<Control>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let events = frames(control.store().subscribe(), control.shutdown_token());
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;

    async fn body_of(rx: broadcast::Receiver<StoreEvent>) -> String {
        let response = Sse::new(frames(rx, CancellationToken::new())).into_response();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_lagging_reader_is_told_how_much_it_missed() {
        let (tx, rx) = broadcast::channel(2);
        for epoch in 1..=5 {
            tx.send(StoreEvent::Scenario { epoch }).unwrap();
        }
        drop(tx);
        let body = body_of(rx).await;
        assert_eq!(
            body,
            "event: reset\ndata: {\"missed\":3,\"reason\":\"lagged\"}\n\n\
             event: scenario\ndata: {\"epoch\":4}\n\n\
             event: scenario\ndata: {\"epoch\":5}\n\n"
        );
    }

    #[tokio::test]
    async fn every_frame_has_data() {
        let (tx, rx) = broadcast::channel(8);
        tx.send(StoreEvent::Reset).unwrap();
        tx.send(StoreEvent::Scenario { epoch: 2 }).unwrap();
        drop(tx);
        let body = body_of(rx).await;
        assert_eq!(
            body,
            "event: reset\ndata: {\"reason\":\"reset\"}\n\n\
             event: scenario\ndata: {\"epoch\":2}\n\n"
        );
    }
}
