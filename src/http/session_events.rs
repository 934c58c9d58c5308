//! A session's typed events as JSON, for clients that want facts rather
//! than transcript text: `{"type": "reply", "code": 450, "rule": ...}`.
//! Each event carries its offset in the session and its scenario time.

use serde_json::{Value, json};

use super::views::seconds;
use crate::proto::event::{Answer, CloseReason, Deviation, Discard, Event, Fate};
use crate::proto::reply::Wire;
use crate::store::transcript::printable;
use crate::store::{SessionRecord, Stamped};

pub(super) fn events(s: &SessionRecord) -> Vec<Value> {
    s.log.events().iter().map(|e| event(s, e)).collect()
}

fn event(s: &SessionRecord, stamped: &Stamped) -> Value {
    let mut v = fields(&stamped.event);
    if let Value::Object(map) = &mut v {
        map.insert("at".into(), seconds(stamped.at).into());
        map.insert(
            "scenario_at".into(),
            seconds(s.scenario_time(stamped.at)).into(),
        );
    }
    v
}

fn answer(a: Answer) -> &'static str {
    match a {
        Answer::Greeting => "greeting",
        Answer::Command => "command",
        Answer::Content => "content",
        Answer::Unsolicited => "unsolicited",
    }
}

fn close_reason(r: CloseReason) -> &'static str {
    match r {
        CloseReason::Quit => "quit",
        CloseReason::Reply421 => "reply_421",
        CloseReason::Timeout => "timeout",
        CloseReason::TooManyErrors => "too_many_errors",
        CloseReason::Shutdown => "shutdown",
        CloseReason::RuleDisconnect => "rule_disconnect",
        CloseReason::ContentCut => "content_cut",
        CloseReason::TlsAborted => "tls_aborted",
        CloseReason::TlsFailed => "tls_failed",
        CloseReason::WriteFailed => "write_failed",
    }
}

fn fate(f: &Fate) -> Value {
    match f {
        Fate::Stored { id } => json!({ "fate": "stored", "message": id.to_string() }),
        Fate::Refused { code } => json!({ "fate": "refused", "code": code }),
        Fate::Discarded(why) => {
            let (reason, detail) = match why {
                Discard::StoreFalse => ("store_false", Value::Null),
                Discard::NoReply => ("no_reply", Value::Null),
                Discard::ClosedBeforeReply => ("closed_before_reply", Value::Null),
                Discard::Cut { bytes } => ("cut", json!(bytes)),
                Discard::ConnectionLost => ("connection_lost", Value::Null),
                Discard::StoreFailed { error } => ("store_failed", json!(error)),
            };
            json!({ "fate": "discarded", "reason": reason, "detail": detail })
        }
    }
}

fn fields(e: &Event) -> Value {
    match e {
        Event::Connected { peer, implicit_tls } => {
            json!({ "type": "connected", "peer": peer.to_string(), "implicit_tls": implicit_tls })
        }
        Event::Command(c) => json!({
            "type": "command",
            "verb": c.verb.map(|v| v.name()),
            "line": printable(&c.line),
            "address": c.address.as_deref(),
            "size": c.size,
            "last": c.last,
            "late": c.late,
        }),
        Event::Reply(r) => json!({
            "type": "reply",
            "answers": answer(r.answers),
            "code": r.reply.code,
            "enhanced": r.reply.enhanced.filter(|_| r.enhanced).map(|e| e.to_string()),
            "text": r.reply.text,
            "rule": r.rule.as_deref(),
            "wire": match r.wire {
                Wire::Normal => "normal".to_owned(),
                Wire::Drip { bytes_per_sec } => format!("drip {bytes_per_sec} B/s"),
                Wire::Malformed(kind) => kind.name().to_owned(),
            },
        }),
        Event::Tolerated(d) => json!({
            "type": "tolerated",
            "what": match d {
                Deviation::Syntax(what) => *what,
                Deviation::BareLfCommand => "bare LF ending a command",
                Deviation::BareCrInCommand => "bare CR inside a command",
            },
        }),
        Event::TlsFault(f) => json!({ "type": "tls_fault", "fault": f.name() }),
        Event::TlsEstablished { version, cipher } => {
            json!({ "type": "tls_established", "version": version, "cipher": cipher })
        }
        Event::TlsFailed { error } => json!({ "type": "tls_failed", "error": error }),
        Event::PlaintextDiscarded { bytes } => {
            json!({ "type": "plaintext_discarded", "bytes": bytes })
        }
        Event::Auth {
            mechanism,
            user,
            granted,
        } => json!({
            "type": "auth",
            "mechanism": mechanism.name(),
            "user": user,
            "granted": granted,
        }),
        Event::Content {
            bytes,
            bare_lf,
            smuggling,
        } => json!({
            "type": "content",
            "bytes": bytes,
            "bare_lf": bare_lf,
            "smuggling": smuggling,
        }),
        Event::RuleNote(text) => json!({ "type": "rule_note", "text": text }),
        Event::TransactionEnded(f) => {
            let mut v = fate(f);
            if let Value::Object(map) = &mut v {
                map.insert("type".into(), "transaction_ended".into());
            }
            v
        }
        Event::ClientClosed { in_content } => {
            json!({ "type": "client_closed", "in_content": in_content })
        }
        Event::ReadFailed { error } => json!({ "type": "read_failed", "error": error }),
        Event::ServerClosed(reason) => {
            json!({ "type": "server_closed", "reason": close_reason(*reason) })
        }
        Event::Lingered { unread, late } => {
            json!({ "type": "lingered", "unread": unread, "late": late })
        }
        Event::Truncated { dropped } => json!({ "type": "truncated", "dropped": dropped }),
    }
}
