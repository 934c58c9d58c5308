//! How the sender handled failures that came after the 250: bounce reports
//! (DSNs), delay notices and complaints (ARF), read from the outbox's
//! facts, and whether its own notifications use the null sender.
//!
//! A recipient is "dead" from the first 5xx it got at RCPT, DATA or end of
//! data (any sender), or from when a `failed` DSN about it was released;
//! every RCPT TO it after that is an offending transaction. Complaints work
//! the same way. A `delayed` DSN is not final: the recipient must be tried
//! again after it.

use std::collections::BTreeMap;
use std::time::Duration;

use super::exchanges::{Said, seconds};
use super::history::{Mark, history};
use super::{EvidenceLine, ReportFact, ReportKind, Seen, Verdict};

/// Every RCPT TO a recipient got, and every 5xx, by recipient (lower case),
/// in time order.
fn by_recipient<'a>(seen: &Seen<'a>) -> BTreeMap<String, Vec<Mark<'a>>> {
    let mut out: BTreeMap<String, Vec<Mark<'a>>> = BTreeMap::new();
    for (pair, marks) in history(&seen.sessions) {
        if let Some(to) = pair.to {
            out.entry(to).or_default().extend(marks);
        }
    }
    for marks in out.values_mut() {
        marks.sort_by_key(Mark::order);
    }
    out
}

/// A report as an evidence line, at the scenario time it was released.
fn report_line(r: &ReportFact, why: impl Into<String>) -> EvidenceLine {
    let what = match &r.kind {
        ReportKind::Bounce { status } => format!("bounce (DSN failed {status})"),
        ReportKind::Delay { status } => format!("delay notice (DSN delayed {status})"),
        ReportKind::Delivered => "delivery report (DSN delivered)".to_owned(),
        ReportKind::Complaint { feedback_type } => format!("complaint (ARF {feedback_type})"),
    };
    EvidenceLine {
        session: r.session_id,
        at: r.released.map_or_else(|| "-".to_owned(), seconds),
        line: format!(
            "report {}: {what} about <{}> sent to <{}>{}",
            r.id,
            r.recipient,
            r.sender,
            if r.delivered { ", delivered" } else { "" }
        ),
        why: why.into(),
    }
}

/// A try that comes after a report released at `at` about a message of
/// session `session`: later on the scenario clock, or at the same moment in
/// a later session (a virtual clock stands still between them).
fn after_report(said: &Said<'_>, at: Duration, session: u64) -> bool {
    said.at > at || (said.at == at && said.record.id > session)
}

fn tries<'a, 'm>(marks: &'m [Mark<'a>]) -> impl Iterator<Item = Said<'a>> + 'm {
    marks.iter().filter_map(|m| match m {
        Mark::Tried(s) => Some(*s),
        Mark::Failed { .. } => None,
    })
}

/// A recipient the sender must stop mailing: why, and the first offending try.
struct Stop<'a> {
    recipient: String,
    cause: EvidenceLine,
    offending: Vec<Said<'a>>,
}

fn stops<'a>(seen: &Seen<'a>, complaint: bool) -> (usize, Vec<Stop<'a>>) {
    let marks = by_recipient(seen);
    let mut dead = 0;
    let mut out = Vec::new();
    let mut causes: BTreeMap<String, Vec<(EvidenceLine, Vec<Said<'a>>)>> = BTreeMap::new();
    if !complaint {
        for (to, m) in &marks {
            let Some((i, reply)) = super::history::first_refusal(m) else {
                continue;
            };
            let later: Vec<Said<'a>> = tries(m.get(i + 1..).unwrap_or(&[])).collect();
            causes.entry(to.clone()).or_default().push((
                reply.evidence(format!("permanent failure for <{to}>")),
                later,
            ));
        }
    }
    for r in seen.evidence.reports {
        let wanted = match r.kind {
            ReportKind::Bounce { .. } => !complaint,
            ReportKind::Complaint { .. } => complaint,
            _ => false,
        };
        let Some(at) = r.released.filter(|_| wanted && !r.failed) else {
            continue;
        };
        let to = r.recipient.to_lowercase();
        let later: Vec<Said<'a>> = marks
            .get(&to)
            .map(|m| {
                tries(m)
                    .filter(|s| after_report(s, at, r.session_id))
                    .collect()
            })
            .unwrap_or_default();
        let why = if complaint {
            format!("<{to}> complained")
        } else {
            format!("<{to}> bounced")
        };
        causes
            .entry(to)
            .or_default()
            .push((report_line(r, why), later));
    }
    for (recipient, list) in causes {
        dead += 1;
        // The earliest cause that was ignored, else the first one.
        if let Some((cause, offending)) = list.into_iter().find(|(_, l)| !l.is_empty()) {
            out.push(Stop {
                recipient,
                cause,
                offending,
            });
        }
    }
    (dead, out)
}

fn stop_verdict(
    name: &'static str,
    seen: &Seen<'_>,
    complaint: bool,
    expected: &str,
    what: &str,
) -> Verdict {
    let (dead, ignored) = stops(seen, complaint);
    let mut evidence = Vec::new();
    for s in &ignored {
        evidence.push(s.cause.clone());
        if let Some(first) = s.offending.first() {
            evidence.push(first.evidence(format!(
                "mailed <{}> again{}",
                s.recipient,
                match s.offending.len() {
                    1 => String::new(),
                    n => format!(" ({n} times in all)"),
                }
            )));
        }
    }
    let found = if ignored.is_empty() {
        format!("{dead} {what} recipient(s); none was mailed again")
    } else {
        let names: Vec<String> = ignored
            .iter()
            .map(|s| format!("<{}>", s.recipient))
            .collect();
        format!(
            "{} of {dead} {what} recipient(s) mailed again: {}",
            ignored.len(),
            names.join(", ")
        )
    };
    Verdict::new(name, ignored.is_empty(), expected, found, evidence)
}

pub(super) fn stops_after_hard_bounce(seen: &Seen<'_>) -> Verdict {
    stop_verdict(
        "stops_after_hard_bounce",
        seen,
        false,
        "no transaction to a recipient after a 5xx for it or after its bounce report",
        "bounced",
    )
}

pub(super) fn stops_after_complaint(seen: &Seen<'_>) -> Verdict {
    stop_verdict(
        "stops_after_complaint",
        seen,
        true,
        "no transaction to a recipient after it complained",
        "complaining",
    )
}

pub(super) fn keeps_trying_after_delay(seen: &Seen<'_>) -> Verdict {
    let marks = by_recipient(seen);
    let mut kept: Vec<EvidenceLine> = Vec::new();
    let mut final_: Vec<EvidenceLine> = Vec::new();
    let mut delays = 0;
    let mut dropped: Vec<String> = Vec::new();
    for r in seen.evidence.reports {
        let (ReportKind::Delay { .. }, Some(at)) = (&r.kind, r.released) else {
            continue;
        };
        delays += 1;
        let to = r.recipient.to_lowercase();
        let next = marks
            .get(&to)
            .and_then(|m| tries(m).find(|s| after_report(s, at, r.session_id)));
        match next {
            Some(s) => {
                if kept.len() < 2 {
                    kept.push(report_line(r, "only a warning: delivery goes on"));
                    kept.push(s.evidence(format!("<{to}> still mailed after the delay notice")));
                }
            }
            None => {
                final_.push(report_line(
                    r,
                    format!("no transaction to <{to}> after this delay notice: treated as final"),
                ));
                dropped.push(format!("<{to}>"));
            }
        }
    }
    let found = if delays == 0 {
        "no delay notice was sent".to_owned()
    } else if dropped.is_empty() {
        format!("{delays} delay notice(s); every recipient was mailed again")
    } else {
        format!(
            "{} of {delays} delay notice(s) treated as final: {}",
            dropped.len(),
            dropped.join(", ")
        )
    };
    let passed = dropped.is_empty();
    Verdict::new(
        "keeps_trying_after_delay",
        passed,
        "a recipient with a delay notice (DSN delayed) is mailed again: the notice is not final",
        found,
        if passed { kept } else { final_ },
    )
}

pub(super) fn null_sender_for_reports(seen: &Seen<'_>) -> Verdict {
    let mut notifications = 0;
    let mut evidence = Vec::new();
    for m in seen.evidence.messages {
        if !crate::reports::is_notification(m) {
            continue;
        }
        notifications += 1;
        if !m.mail_from.is_empty() {
            evidence.push(super::delivery::message_line(
                seen,
                m,
                "an automatic notification sent from a non-null sender (RFC 3834 §3, RFC 5321 §4.5.5: use MAIL FROM:<>)",
            ));
        }
    }
    let bad = evidence.len();
    let found = if notifications == 0 {
        "the sender sent no notifications".to_owned()
    } else if bad == 0 {
        format!("{notifications} notification(s), all from <>")
    } else {
        format!("{bad} of {notifications} notification(s) not from <>")
    };
    Verdict::new(
        "null_sender_for_reports",
        bad == 0,
        "notifications (multipart/report, Auto-Submitted) are sent with MAIL FROM:<>",
        found,
        evidence,
    )
}
