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
    let state = control.engine().state_sizes();
    let _ = writeln!(
        out,
        "# HELP mailfault_state_entries Entries in the active scenario's tables that grow with client input.\n# TYPE mailfault_state_entries gauge"
    );
    for (table, n) in [
        ("attempts", state.attempts),
        ("greylist", state.greylist),
        ("rate_windows", state.rate_windows),
        ("concurrent", state.concurrent),
        ("clock_history", control.engine().clock_history()),
    ] {
        let _ = writeln!(out, "mailfault_state_entries{{table=\"{table}\"}} {n}");
    }
    let mut counter = |name: &str, help: &str, kind: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    counter(
        "mailfault_state_round_trips_total",
        "Requests sent to the shared state store (--state redis://); 0 in memory.",
        "counter",
        control.state_round_trips(),
    );
    counter(
        "mailfault_state_forgotten_total",
        "Times a table of the active scenario was over its cap and forgot its least recently seen half.",
        "counter",
        state.forgotten,
    );
    let usage = store.usage();
    counter(
        "mailfault_messages_held",
        "Messages held in the store now.",
        "gauge",
        usage.messages as u64,
    );
    counter(
        "mailfault_sessions_held",
        "Finished session records held in the store now.",
        "gauge",
        usage.sessions as u64,
    );
    counter(
        "mailfault_store_bytes",
        "Bytes of messages and session records held (counted against --max-memory).",
        "gauge",
        usage.bytes as u64,
    );
    counter(
        "mailfault_store_max_bytes",
        "The --max-memory budget.",
        "gauge",
        usage.max_bytes as u64,
    );
    counter(
        "mailfault_messages_evicted_total",
        "Messages evicted to stay within --max-messages and --max-memory.",
        "counter",
        usage.evicted.messages,
    );
    counter(
        "mailfault_sessions_evicted_total",
        "Session records evicted to stay within --max-messages and --max-memory.",
        "counter",
        usage.evicted.sessions,
    );
    counter(
        "mailfault_evicted_bytes_total",
        "Bytes of messages and session records evicted.",
        "counter",
        usage.evicted.bytes,
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
            label(&rule)
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
