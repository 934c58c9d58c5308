//! `/metrics` in the Prometheus text format (version 0.0.4).

use std::fmt::Write;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::transport::Control;

/// Label values are quoted; a rule name may hold anything.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub(super) fn text(control: &Control) -> String {
    let m = control.metrics();
    let store = control.store();
    let mut out = String::with_capacity(2048);
    let mut counter = |name: &str, help: &str, kind: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    counter(
        "mailfault_connections_total",
        "SMTP connections served.",
        "counter",
        m.connections,
    );
    counter(
        "mailfault_connections_refused_total",
        "Connections refused with 421 because max_connections was reached.",
        "counter",
        m.refused,
    );
    counter(
        "mailfault_connections_active",
        "SMTP connections open now.",
        "gauge",
        m.active,
    );
    counter(
        "mailfault_messages_total",
        "Messages captured (answered 2xx after DATA or BDAT).",
        "counter",
        m.messages,
    );
    counter(
        "mailfault_message_bytes_total",
        "Bytes of captured messages, Received header included.",
        "counter",
        m.bytes,
    );
    counter(
        "mailfault_messages_held",
        "Messages held in the store now.",
        "gauge",
        store.messages().len() as u64,
    );
    let _ = writeln!(
        out,
        "# HELP mailfault_replies_total SMTP replies sent, by code.\n# TYPE mailfault_replies_total counter"
    );
    for (code, n) in &m.replies {
        let _ = writeln!(out, "mailfault_replies_total{{code=\"{code}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "# HELP mailfault_reports Bounce and complaint reports in the outbox, by state.\n# TYPE mailfault_reports gauge"
    );
    for (state, n) in control.outbox().counts() {
        let _ = writeln!(out, "mailfault_reports{{state=\"{state}\"}} {n}");
    }
    let hooks = control.webhook_stats();
    let _ = writeln!(
        out,
        "# HELP mailfault_webhooks_total Webhook POSTs (--webhook), by outcome.\n# TYPE mailfault_webhooks_total counter"
    );
    for (outcome, n) in [
        ("sent", &hooks.sent),
        ("retried", &hooks.retried),
        ("failed", &hooks.failed),
        ("dropped", &hooks.dropped),
    ] {
        let n = n.load(std::sync::atomic::Ordering::Relaxed);
        let _ = writeln!(out, "mailfault_webhooks_total{{outcome=\"{outcome}\"}} {n}");
    }
    let engine = control.engine();
    let _ = writeln!(
        out,
        "# HELP mailfault_rule_hits_total Times each rule of the active scenario decided a reply.\n# TYPE mailfault_rule_hits_total counter"
    );
    let scenario = label(&engine.scenario().name);
    for (rule, n) in engine.rule_hits() {
        let _ = writeln!(
            out,
            "mailfault_rule_hits_total{{scenario=\"{scenario}\",rule=\"{}\"}} {n}",
            label(rule)
        );
    }
    out
}

pub(super) async fn render(axum::extract::State(control): State<Control>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text(&control),
    )
}
