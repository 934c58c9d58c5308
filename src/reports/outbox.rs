//! Reports waiting for their time, then kept or delivered.
//!
//! The connection plans reports when it stores a message whose rules said
//! `bounce:` or `complaint:`; each is due `after` on the scenario's clock
//! (so advancing a virtual clock releases it at once). Without
//! `server.reports.deliver_to` a released report stays here for the API to
//! read; with it, a task hands it to the SMTP client with bounded retries.
//! Nothing here runs on an SMTP session's task: delivery never blocks one.
//! The outbox holds at most [`MAX_REPORTS`] and [`MAX_REPORT_BYTES`]; the
//! oldest finished ones go first.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::dsn::{self, Action};
use super::{Original, arf, client};
use crate::proto::policy::{Followup, Later};
use crate::scenario::Clock;
use crate::store::{Store, StoredMessage};

/// Reports kept at most.
pub(crate) const MAX_REPORTS: usize = 1000;
/// Delivery attempts per report before it is marked failed.
pub(crate) const MAX_ATTEMPTS: u32 = 5;
/// The first retry's wait; each later one doubles it.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// How often due times are checked on a real clock.
const TICK: Duration = Duration::from_millis(200);

/// What a report is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub(crate) enum Kind {
    /// A DSN with this action.
    Dsn { action: String, status: String },
    /// An ARF report of this feedback type.
    Complaint { feedback_type: String },
}

/// Where a report stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum State {
    /// Waiting for its time on the scenario clock.
    Pending,
    /// Due and kept here (no `deliver_to`).
    Released,
    /// Being handed to `deliver_to`.
    Sending,
    Delivered,
    Failed,
}

/// One report, as the API lists it and the verdicts read it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct View {
    pub id: u64,
    #[serde(flatten)]
    pub kind: Kind,
    pub state: State,
    /// Why delivery failed, or the last temporary failure.
    pub reason: Option<String>,
    /// The rule that planned it (none for a `dsn_success` report).
    pub rule: Option<String>,
    /// The captured message it reports on, and its session.
    pub message_id: u64,
    pub session_id: u64,
    /// The scenario epoch the message arrived in.
    pub epoch: u64,
    /// The report's own envelope: always the null sender `<>`...
    pub from: String,
    /// ... to the original envelope sender, exactly as given.
    pub to: String,
    /// The recipient it is about.
    pub recipient: String,
    /// Scenario time it is due, in seconds.
    pub due_secs: f64,
    /// Scenario time it was released, in seconds.
    pub released_secs: Option<f64>,
    pub created_at: String,
    pub released_at: Option<String>,
    pub delivered_at: Option<String>,
    pub attempts: u32,
    /// `smtp://host:port` it goes to, when configured.
    pub deliver_to: Option<String>,
    pub size: usize,
}

struct Entry {
    view: View,
    due: Duration,
    /// Scenario time it was released.
    released: Option<Duration>,
    clock: Arc<Clock>,
    later: Later,
    hostname: String,
    /// What the report needs of the message, until it is built.
    source: Option<Source>,
    raw: Option<Arc<[u8]>>,
    target: Option<(String, u16)>,
}

/// What a report needs of the message it reports on: the envelope, and
/// the message itself (an ARF report or a DSN with `RET=FULL` returns it
/// whole) or only a copy of its header section, so a pending bounce does
/// not keep a large message alive.
struct Source {
    message_id: u64,
    mail_from: String,
    mail_params: String,
    rcpt_params: String,
    client_ip: std::net::IpAddr,
    arrival: SystemTime,
    body: Body,
}

enum Body {
    Whole(Arc<StoredMessage>),
    Headers(Vec<u8>),
}

impl Source {
    fn of(stored: &Arc<StoredMessage>, recipient: &str, later: &Later) -> Self {
        let full = matches!(later, Later::Complaint { .. })
            || crate::proto::command::sender_dsn(&stored.mail_params)
                .is_some_and(|(ret, _)| ret == Some(crate::proto::command::Ret::Full));
        let body = if full {
            Body::Whole(Arc::clone(stored))
        } else {
            let mut head = stored.received_header.as_bytes().to_vec();
            head.extend_from_slice(super::header_section(&stored.content));
            Body::Headers(head)
        };
        Source {
            message_id: stored.id,
            mail_from: stored.mail_from.clone(),
            mail_params: stored.mail_params.clone(),
            rcpt_params: stored
                .recipients
                .iter()
                .find(|r| r.address == recipient)
                .map(|r| r.params.clone())
                .unwrap_or_default(),
            client_ip: stored.client.ip(),
            arrival: stored.received_at,
            body,
        }
    }
}

/// A released report on its way to `deliver_to`.
struct Sending {
    id: u64,
    raw: Arc<[u8]>,
    target: (String, u16),
    to: String,
}

/// Everything planned and released, bounded.
pub(crate) struct Outbox {
    entries: Mutex<VecDeque<Entry>>,
    wake: Notify,
    store: Arc<Store>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").finish_non_exhaustive()
    }
}

/// How a message was planned: its scenario's clock, name and settings.
pub(crate) struct Plan<'a> {
    pub clock: &'a Arc<Clock>,
    pub hostname: &'a str,
    pub epoch: u64,
    pub deliver_to: Option<&'a (String, u16)>,
    pub dsn_success: bool,
}

fn iso(at: SystemTime) -> String {
    crate::store::received::rfc5322_date(at)
}

impl Outbox {
    pub(crate) fn new(store: Arc<Store>) -> Self {
        Self {
            entries: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
            store,
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every report, oldest first.
    pub(crate) fn list(&self) -> Vec<View> {
        self.store
            .reports()
            .iter()
            .map(|r| r.view.clone())
            .collect()
    }

    /// How many reports are in each state, for `/metrics`.
    pub(crate) fn counts(&self) -> [(&'static str, u64); 5] {
        let mut counts = [
            ("pending", 0),
            ("released", 0),
            ("sending", 0),
            ("delivered", 0),
            ("failed", 0),
        ];
        for r in self.store.reports() {
            let i = match r.view.state {
                State::Pending => 0,
                State::Released => 1,
                State::Sending => 2,
                State::Delivered => 3,
                State::Failed => 4,
            };
            if let Some(c) = counts.get_mut(i) {
                c.1 += 1;
            }
        }
        counts
    }

    /// One report and its bytes (`None` while pending).
    pub(crate) fn get(&self, id: u64) -> Option<(View, Option<Arc<[u8]>>)> {
        self.store
            .report(id)
            .map(|r| (r.view.clone(), r.raw.clone()))
    }

    /// What the verdicts read of the reports about messages of `epoch`.
    pub(crate) fn facts(&self, epoch: u64) -> Vec<crate::expect::ReportFact> {
        use crate::expect::{ReportFact, ReportKind};
        self.store
            .reports()
            .iter()
            .map(|r| &r.view)
            .filter(|v| v.epoch == epoch)
            .map(|v| ReportFact {
                id: v.id,
                kind: match &v.kind {
                    Kind::Dsn { action, status } => match action.as_str() {
                        "delayed" => ReportKind::Delay {
                            status: status.clone(),
                        },
                        "delivered" => ReportKind::Delivered,
                        _ => ReportKind::Bounce {
                            status: status.clone(),
                        },
                    },
                    Kind::Complaint { feedback_type } => ReportKind::Complaint {
                        feedback_type: feedback_type.clone(),
                    },
                },
                session_id: v.session_id,
                sender: v.to.clone(),
                recipient: v.recipient.clone(),
                released: v.released_secs.map(Duration::from_secs_f64),
                delivered: v.state == State::Delivered,
                failed: v.state == State::Failed,
            })
            .collect()
    }

    /// Reports this instance still has to release or deliver.
    #[cfg(test)]
    pub(crate) fn in_hand(&self) -> usize {
        self.lock().len()
    }

    /// Forgets every report (a reset).
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    /// Checks due times now (the virtual clock moved).
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Plans the reports a stored message earned. None for a message from
    /// the null sender (RFC 5321 §4.5.5), none against a recipient's NOTIFY.
    pub(crate) fn plan(&self, stored: &Arc<StoredMessage>, followups: &[Followup], p: &Plan<'_>) {
        if followups.is_empty() && !p.dsn_success {
            return;
        }
        if stored.mail_from.is_empty() {
            if !followups.is_empty() {
                info!(
                    message = stored.id,
                    "no report for a message from the null sender <> (RFC 5321 §4.5.5)"
                );
            }
            return;
        }
        let mut planned: Vec<(Option<Arc<str>>, Duration, Later, String)> = Vec::new();
        for f in followups {
            for to in &f.recipients {
                let Some(rcpt) = stored.recipients.iter().find(|r| &r.address == to) else {
                    continue;
                };
                if let Later::Bounce { delayed, .. } = &f.later {
                    let action = if *delayed {
                        Action::Delayed
                    } else {
                        Action::Failed
                    };
                    if !dsn::wanted(&rcpt.params, action) {
                        info!(message = stored.id, recipient = %to, action = action.name(), "no DSN: the recipient's NOTIFY does not ask for one");
                        continue;
                    }
                }
                planned.push((
                    Some(Arc::clone(&f.rule)),
                    f.after,
                    f.later.clone(),
                    to.clone(),
                ));
            }
        }
        if p.dsn_success {
            for r in &stored.recipients {
                let fails = planned.iter().any(|(_, _, l, to)| {
                    to == &r.address && matches!(l, Later::Bounce { delayed: false, .. })
                });
                if !fails && dsn::wanted(&r.params, Action::Delivered) {
                    let status = crate::proto::reply::EnhancedCode::new(2, 0, 0);
                    planned.push((
                        None,
                        Duration::ZERO,
                        Later::Bounce {
                            status,
                            diagnostic: None,
                            delayed: false,
                        },
                        r.address.clone(),
                    ));
                }
            }
        }
        if planned.is_empty() {
            return;
        }
        let now = p.clock.now();
        let planned_count = planned.len();
        let mut entries = self.lock();
        for (rule, after, later, recipient) in planned {
            let id = self.store.next_report_id();
            let kind = match &later {
                Later::Bounce {
                    status, delayed, ..
                } => Kind::Dsn {
                    action: if *delayed {
                        "delayed"
                    } else if status.class == 2 {
                        "delivered"
                    } else {
                        "failed"
                    }
                    .to_owned(),
                    status: status.to_string(),
                },
                Later::Complaint { feedback_type } => Kind::Complaint {
                    feedback_type: feedback_type.to_string(),
                },
            };
            let due = now.saturating_add(after);
            let source = Source::of(stored, &recipient, &later);
            debug!(report = id, message = stored.id, %recipient, due = ?due, "report planned");
            entries.push_back(Entry {
                view: View {
                    id,
                    kind,
                    state: State::Pending,
                    reason: None,
                    rule: rule.map(|r| r.to_string()),
                    message_id: stored.id,
                    session_id: stored.session_id,
                    epoch: p.epoch,
                    from: String::new(),
                    to: stored.mail_from.clone(),
                    recipient,
                    due_secs: due.as_secs_f64(),
                    released_secs: None,
                    created_at: iso(SystemTime::now()),
                    released_at: None,
                    delivered_at: None,
                    attempts: 0,
                    deliver_to: p.deliver_to.map(|(h, port)| format!("smtp://{h}:{port}")),
                    size: 0,
                },
                due,
                released: None,
                clock: Arc::clone(p.clock),
                later,
                hostname: p.hostname.to_owned(),
                source: Some(source),
                raw: None,
                target: p.deliver_to.cloned(),
            });
        }
        let filed: Vec<View> = entries
            .iter()
            .rev()
            .take(planned_count)
            .map(|e| e.view.clone())
            .collect();
        let dropped = trim(&mut entries);
        drop(entries);
        for view in filed.into_iter().rev().chain(dropped) {
            self.store.file_report(view, None);
        }
        self.wake();
    }

    /// Releases every report whose time has come; returns those to deliver.
    fn release_due(&self) -> Vec<Sending> {
        let mut sends = Vec::new();
        let mut announce = Vec::new();
        {
            let mut entries = self.lock();
            for e in entries.iter_mut() {
                if e.view.state != State::Pending {
                    continue;
                }
                let now = e.clock.now();
                if now < e.due {
                    continue;
                }
                let Some(source) = e.source.take() else {
                    continue;
                };
                let raw: Arc<[u8]> = Arc::from(build(e, &source));
                e.view.size = raw.len();
                e.raw = Some(Arc::clone(&raw));
                e.view.released_secs = Some(now.as_secs_f64());
                e.released = Some(now);
                e.view.released_at = Some(iso(SystemTime::now()));
                match &e.target {
                    Some(target) => {
                        e.view.state = State::Sending;
                        sends.push(Sending {
                            id: e.view.id,
                            raw: Arc::clone(&raw),
                            target: target.clone(),
                            to: e.view.to.clone(),
                        });
                    }
                    None => e.view.state = State::Released,
                }
                info!(report = e.view.id, to = %e.view.to, recipient = %e.view.recipient, "report released");
                announce.push((e.view.clone(), raw));
            }
        }
        for (view, raw) in announce {
            self.store.file_report(view, Some(raw));
        }
        sends
    }

    fn update(&self, id: u64, f: impl FnOnce(&mut View)) {
        let view = {
            let mut entries = self.lock();
            let Some(e) = entries.iter_mut().find(|e| e.view.id == id) else {
                return;
            };
            f(&mut e.view);
            e.view.clone()
        };
        self.store.file_report(view, None);
    }

    /// Delivers one report with bounded retries on 4xx and connection failures.
    async fn deliver(self: Arc<Self>, sending: Sending) {
        let Sending {
            id,
            raw,
            target: (host, port),
            to,
        } = sending;
        let mut wait = FIRST_BACKOFF;
        for attempt in 1..=MAX_ATTEMPTS {
            let result = client::send(&host, port, &to, &raw).await;
            match result {
                Ok(()) => {
                    info!(report = id, %host, port, attempt, "report delivered");
                    self.update(id, |v| {
                        v.attempts = attempt;
                        v.state = State::Delivered;
                        v.reason = None;
                        v.delivered_at = Some(iso(SystemTime::now()));
                    });
                    return;
                }
                Err(e) if e.temporary && attempt < MAX_ATTEMPTS => {
                    warn!(report = id, %host, port, attempt, reason = %e.reason, retry_in = ?wait, "report delivery failed; will retry");
                    let reason = e.reason;
                    self.update(id, |v| {
                        v.attempts = attempt;
                        v.reason = Some(reason);
                    });
                    tokio::time::sleep(wait).await;
                    wait = wait.saturating_mul(2);
                }
                Err(e) => {
                    warn!(report = id, %host, port, attempt, reason = %e.reason, "report delivery failed for good");
                    let reason = e.reason;
                    self.update(id, |v| {
                        v.attempts = attempt;
                        v.state = State::Failed;
                        v.reason = Some(reason);
                    });
                    return;
                }
            }
        }
    }

    /// Releases reports as they fall due until `stop` fires.
    pub(crate) async fn run(self: Arc<Self>, stop: CancellationToken) {
        loop {
            for sending in self.release_due() {
                tokio::spawn(Arc::clone(&self).deliver(sending));
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(TICK) => {}
            }
        }
    }
}

/// Bytes the outbox may hold in built reports and the messages pending
/// ones return whole (a complaint or a `RET=FULL` bounce keeps its message
/// alive until built, past the store's own eviction).
pub(crate) const MAX_REPORT_BYTES: usize = 64 << 20;

impl Entry {
    /// Bytes this entry keeps alive.
    fn weight(&self) -> usize {
        let source = match self.source.as_ref().map(|s| &s.body) {
            Some(Body::Whole(m)) => m.size(),
            Some(Body::Headers(h)) => h.len(),
            None => 0,
        };
        source + self.raw.as_ref().map_or(0, |r| r.len())
    }
}

/// Over a bound: drop the oldest finished reports, then the oldest.
/// Returns the unfinished ones dropped, marked failed, to file.
fn trim(entries: &mut VecDeque<Entry>) -> Vec<View> {
    let mut dropped = Vec::new();
    let mut bytes: usize = entries.iter().map(Entry::weight).sum();
    while entries.len() > MAX_REPORTS || (bytes > MAX_REPORT_BYTES && entries.len() > 1) {
        if let Some(gone) = entries
            .iter()
            .position(|e| {
                matches!(
                    e.view.state,
                    State::Released | State::Delivered | State::Failed
                )
            })
            .or(Some(0))
            .and_then(|i| entries.remove(i))
        {
            bytes -= gone.weight();
            if matches!(gone.view.state, State::Pending | State::Sending) {
                let mut view = gone.view;
                view.state = State::Failed;
                view.reason = Some("dropped unsent: the outbox was full".into());
                dropped.push(view);
            }
        }
    }
    dropped
}

fn build(e: &Entry, source: &Source) -> Vec<u8> {
    let whole;
    let raw: &[u8] = match &source.body {
        Body::Whole(m) => {
            whole = m.raw();
            &whole
        }
        Body::Headers(h) => h,
    };
    let original = Original {
        hostname: &e.hostname,
        mail_from: &source.mail_from,
        mail_params: &source.mail_params,
        client_ip: source.client_ip,
        arrival: source.arrival,
        raw,
    };
    let now = SystemTime::now();
    let message_id = format!("report-{}.{}@{}", e.view.id, source.message_id, e.hostname);
    let seed = e.view.id ^ (source.message_id << 20);
    match &e.later {
        Later::Complaint { feedback_type } => arf::build(
            &original,
            &e.view.recipient,
            feedback_type,
            now,
            &message_id,
            seed,
        ),
        Later::Bounce {
            status,
            diagnostic,
            delayed,
        } => {
            let action = if *delayed {
                Action::Delayed
            } else if status.class == 2 {
                Action::Delivered
            } else {
                Action::Failed
            };
            let rcpt = dsn::Recipient {
                address: &e.view.recipient,
                params: &source.rcpt_params,
                action,
                status: *status,
                diagnostic: diagnostic.as_ref().map(|d| d.to_string()),
            };
            dsn::build(&original, &[rcpt], now, &message_id, seed)
        }
    }
}
