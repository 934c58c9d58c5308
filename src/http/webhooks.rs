//! `--webhook URL`: POSTs JSON to each URL on every captured message (the
//! body Mailpit's webhook sends, its message summary, so a receiver written
//! for Mailpit works), every finished session, every report released,
//! delivered or failed, and every change of the active scenario's verdicts.
//! The kind of event is in the `X-Mailfault-Event` header (`message`,
//! `session`, `report`, `verdict`).
//!
//! Nothing here runs on an SMTP session's task: events come from the
//! store's broadcast channel (which never waits for readers), each URL has
//! a bounded queue (full: the event is dropped and counted) and a worker
//! that POSTs with a time-out and bounded retries with doubling waits. The
//! counters show in `/metrics`. Plain `http://` only: receivers are local.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use super::compat::mailpit::Summary;
use super::views::SessionSummary;
use crate::store::Event as StoreEvent;
use crate::transport::Control;
use crate::transport::metrics::Outbound;

/// Events waiting per URL before new ones are dropped.
const QUEUE: usize = 1024;
/// POSTs per event at most.
const ATTEMPTS: u32 = 4;
/// The wait before the first retry; doubled for each later one.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// The longest a receiver may take to answer one POST.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Where a webhook goes: `http://HOST:PORT/PATH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    host: String,
    port: u16,
    path: String,
    /// The URL as logs show it: scheme, host and port only, since webhook
    /// paths often carry a secret token.
    shown: String,
}

impl std::str::FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a webhook URL; write http://HOST:PORT/PATH");
        let rest = s.trim().strip_prefix("http://").ok_or_else(bad)?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                (h, p.parse::<u16>().map_err(|_| bad())?)
            }
            _ => (authority, 80),
        };
        if authority.contains('@') {
            return Err(
                "credentials in a webhook URL are not supported (they would travel in plain HTTP); put a token in the path"
                    .to_owned(),
            );
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let clean = |t: &str| t.bytes().all(|b| b.is_ascii_graphic());
        if host.is_empty() || port == 0 || !clean(host) || !clean(path) {
            return Err(bad());
        }
        Ok(Target {
            host: host.to_owned(),
            port,
            path: path.to_owned(),
            shown: format!("http://{authority}/…"),
        })
    }
}

/// One event, rendered once for every URL.
#[derive(Clone, Debug)]
struct Post {
    kind: &'static str,
    body: Arc<Vec<u8>>,
}

/// POSTs once; `Ok` on a 2xx.
async fn post(target: &Target, post: &Post) -> Result<(), String> {
    let attempt = async {
        let mut stream = TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(|e| format!("connection failed: {e}"))?;
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nUser-Agent: mailfault/{}\r\nX-Mailfault-Event: {}\r\nConnection: close\r\n\r\n",
            target.path,
            target.host,
            target.port,
            post.body.len(),
            env!("CARGO_PKG_VERSION"),
            post.kind
        );
        stream
            .write_all(head.as_bytes())
            .await
            .map_err(|e| format!("write failed: {e}"))?;
        stream
            .write_all(&post.body)
            .await
            .map_err(|e| format!("write failed: {e}"))?;
        let mut status = [0u8; 12];
        stream
            .read_exact(&mut status)
            .await
            .map_err(|e| format!("no answer: {e}"))?;
        let code = std::str::from_utf8(status.get(9..12).unwrap_or_default())
            .ok()
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or("not an HTTP answer")?;
        if (200..300).contains(&code) {
            Ok(())
        } else {
            Err(format!("answered {code}"))
        }
    };
    tokio::time::timeout(TIMEOUT, attempt)
        .await
        .map_err(|_| "timed out".to_owned())?
}

/// Delivers one URL's queue in order.
async fn worker(target: Target, mut rx: mpsc::Receiver<Post>, stats: Arc<Outbound>) {
    while let Some(p) = rx.recv().await {
        let mut wait = FIRST_BACKOFF;
        for attempt in 1..=ATTEMPTS {
            match post(&target, &p).await {
                Ok(()) => {
                    stats.sent.fetch_add(1, Ordering::Relaxed);
                    debug!(url = %target.shown, event = p.kind, attempt, "webhook delivered");
                    break;
                }
                Err(why) if attempt < ATTEMPTS => {
                    stats.retried.fetch_add(1, Ordering::Relaxed);
                    warn!(url = %target.shown, event = p.kind, attempt, reason = %why, "webhook failed; will retry");
                    tokio::time::sleep(wait).await;
                    wait = wait.saturating_mul(2);
                }
                Err(why) => {
                    stats.failed.fetch_add(1, Ordering::Relaxed);
                    warn!(url = %target.shown, event = p.kind, attempt, reason = %why, "webhook given up");
                }
            }
        }
    }
}

fn body(value: &impl serde::Serialize) -> Option<Arc<Vec<u8>>> {
    serde_json::to_vec(value).ok().map(Arc::new)
}

/// The active scenario's verdicts as (name, passed), and the report as JSON.
fn verdicts(control: &Control) -> Option<(BTreeMap<&'static str, bool>, Value)> {
    let (scenario, epoch) = control.scenario_and_epoch();
    scenario.expect.as_ref()?;
    let report = crate::expect::judge(
        &scenario,
        epoch,
        control.store(),
        &control.outbox().facts(epoch),
        None,
    );
    let map = report.verdicts.iter().map(|v| (v.name, v.passed)).collect();
    Some((map, serde_json::to_value(&report).ok()?))
}

/// Starts forwarding events to `targets`; the task ends at shutdown.
pub(crate) fn start(targets: Vec<Target>, control: Control) -> JoinHandle<()> {
    let stats = control.webhook_stats();
    let queues: Vec<mpsc::Sender<Post>> = targets
        .into_iter()
        .map(|t| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(worker(t, rx, Arc::clone(&stats)));
            tx
        })
        .collect();
    let mut rx = control.store().subscribe_local();
    let token = control.shutdown_token();
    tokio::spawn(async move {
        let mut last: Option<BTreeMap<&'static str, bool>> = None;
        loop {
            let event = tokio::select! {
                () = token.cancelled() => return,
                e = rx.recv() => e,
            };
            let mut posts: Vec<Post> = Vec::new();
            let mut judge = false;
            match event {
                Ok(StoreEvent::Message(m)) => {
                    if let Some(b) = body(&Summary::of(&m, false)) {
                        posts.push(Post {
                            kind: "message",
                            body: b,
                        });
                    }
                }
                Ok(StoreEvent::Session(s)) => {
                    if let Some(b) = body(&SessionSummary::of(&s)) {
                        posts.push(Post {
                            kind: "session",
                            body: b,
                        });
                    }
                    judge = true;
                }
                Ok(StoreEvent::Report(r)) => {
                    if let Some(b) = body(&*r) {
                        posts.push(Post {
                            kind: "report",
                            body: b,
                        });
                    }
                    judge = true;
                }
                Ok(StoreEvent::Reset | StoreEvent::Scenario { .. }) => {
                    last = None;
                    judge = true;
                }
                Ok(StoreEvent::SessionStarted(_)) => {}
                Err(RecvError::Lagged(n)) => {
                    stats.dropped.fetch_add(n, Ordering::Relaxed);
                    warn!(missed = n, "webhooks fell behind; events dropped");
                }
                Err(RecvError::Closed) => return,
            }
            if judge
                && let Some((now, report)) = verdicts(&control)
                && !now.is_empty()
                && last.as_ref() != Some(&now)
            {
                last = Some(now);
                if let Some(b) = body(&json!({ "event": "verdict", "report": report })) {
                    posts.push(Post {
                        kind: "verdict",
                        body: b,
                    });
                }
            }
            for p in posts {
                for q in &queues {
                    if q.try_send(p.clone()).is_err() {
                        stats.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t: Target = "http://127.0.0.1:9000/hook".parse().unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("127.0.0.1", 9000, "/hook")
        );
        assert_eq!(
            t.shown, "http://127.0.0.1:9000/…",
            "logs never show the path"
        );
        let t: Target = "http://localhost".parse().unwrap();
        assert_eq!((t.port, t.path.as_str()), (80, "/"));
        let t: Target = "http://[::1]:81/x?y=1".parse().unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("::1", 81, "/x?y=1")
        );
        for bad in [
            "https://x/",
            "http://:80/",
            "ftp://x",
            "http://x:0/",
            "http://x:y/",
            "http://user:secret@x:80/",
        ] {
            assert!(bad.parse::<Target>().is_err(), "{bad}");
        }
    }
}
