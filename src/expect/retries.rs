//! How the sender reacted to failures: never again after a 5xx, again after
//! a 4xx, and not too soon. A retry is a later RCPT TO for the same pair
//! (see `history`), in the same session or another one.

use std::time::Duration;

use super::exchanges::{Said, seconds};
use super::history::{Fate, Mark, Pair, history};
use super::{EvidenceLine, Seen, Verdict};

/// Each 4xx in a pair's timeline with the tries after it, up to the pair's
/// next failure.
fn after_each_deferral<'a>(marks: &[Mark<'a>]) -> Vec<(Said<'a>, Vec<Said<'a>>)> {
    let mut out: Vec<(Said<'a>, Vec<Said<'a>>)> = Vec::new();
    let mut current: Option<usize> = None;
    for mark in marks {
        match mark {
            Mark::Failed {
                fate: Fate::Deferred,
                reply,
                ..
            } => {
                out.push((*reply, Vec::new()));
                current = Some(out.len() - 1);
            }
            Mark::Failed { .. } => current = None,
            Mark::Tried(line) => {
                if let Some(entry) = current.and_then(|i| out.get_mut(i)) {
                    entry.1.push(*line);
                }
            }
        }
    }
    out
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

pub(super) fn no_retry_after_permanent(seen: &Seen<'_>) -> Verdict {
    let h = history(&seen.sessions);
    let mut evidence: Vec<EvidenceLine> = Vec::new();
    let mut refused = 0;
    let mut offending: Vec<String> = Vec::new();
    let mut retries = 0;
    for (pair, marks) in h.iter().filter(|(p, _)| p.to.is_some()) {
        // Once refused, every later try of the pair is a retry of it.
        let Some((at, reply)) = super::history::first_refusal(marks) else {
            continue;
        };
        refused += 1;
        let tries: Vec<&Said> = marks
            .iter()
            .skip(at + 1)
            .filter_map(|m| match m {
                Mark::Tried(line) => Some(line),
                Mark::Failed { .. } => None,
            })
            .collect();
        let Some(first) = tries.first() else { continue };
        retries += tries.len();
        offending.push(pair.describe());
        evidence.push(reply.evidence(format!("permanent failure for {}", pair.describe())));
        evidence.push(first.evidence(format!(
            "tried again {} later{}",
            seconds(first.at.saturating_sub(reply.at)),
            match tries.len() {
                1 => String::new(),
                n => format!(" ({n} tries in all after the 5xx)"),
            }
        )));
    }
    let expected = "no (sender, recipient) pair is tried again after a 5xx for it";
    if offending.is_empty() {
        let found = match refused {
            0 => "no pair got a 5xx, so there was nothing to avoid retrying".to_owned(),
            n => format!(
                "{} never tried again",
                plural(n, "5xx-refused pair was", "5xx-refused pairs were")
            ),
        };
        return Verdict::new("no_retry_after_permanent", true, expected, found, evidence);
    }
    let found = format!(
        "{} after a permanent failure ({}): {}",
        plural(retries, "retry", "retries"),
        plural(offending.len(), "pair", "pairs"),
        offending.join(", ")
    );
    Verdict::new("no_retry_after_permanent", false, expected, found, evidence)
}

pub(super) fn retried_after_temporary(seen: &Seen<'_>) -> Verdict {
    let h = history(&seen.sessions);
    let mut evidence = Vec::new();
    let mut deferred = 0;
    let mut never: Vec<String> = Vec::new();
    for (pair, marks) in &h {
        for (reply, tries) in after_each_deferral(marks) {
            deferred += 1;
            if tries.is_empty() {
                never.push(pair.describe());
                evidence.push(reply.evidence(format!(
                    "temporary failure for {}, never tried again",
                    pair.describe()
                )));
            }
        }
    }
    let expected = "every (sender, recipient) pair that got a 4xx is tried again later";
    if never.is_empty() {
        let found = match deferred {
            0 => "no pair got a 4xx, so there was nothing to retry".to_owned(),
            1 => "the one 4xx deferral was retried".to_owned(),
            n => format!("all {n} 4xx deferrals were retried"),
        };
        return Verdict::new("retried_after_temporary", true, expected, found, evidence);
    }
    never.dedup();
    let found = format!(
        "{} of {deferred} 4xx deferrals never retried: {}",
        never.len(),
        never.join(", ")
    );
    Verdict::new("retried_after_temporary", false, expected, found, evidence)
}

/// Each first try after a 4xx must come at least `interval` (scenario time)
/// after the deferral; later tries are judged against their own deferral.
pub(super) fn min_retry_interval(interval: Duration, seen: &Seen<'_>) -> Verdict {
    let h = history(&seen.sessions);
    let mut evidence = Vec::new();
    let mut measured = 0;
    let mut early: Vec<(Pair, Duration)> = Vec::new();
    for (pair, marks) in &h {
        for (reply, tries) in after_each_deferral(marks) {
            let Some(first) = tries.first() else { continue };
            measured += 1;
            let gap = first.at.saturating_sub(reply.at);
            if gap < interval {
                early.push((pair.clone(), gap));
                evidence.push(reply.evidence(format!("temporary failure for {}", pair.describe())));
                evidence.push(first.evidence(format!(
                    "retried after {}, sooner than {}",
                    seconds(gap),
                    seconds(interval)
                )));
            }
        }
    }
    let expected = format!(
        "every retry after a 4xx comes at least {} after it",
        humantime::format_duration(interval)
    );
    if early.is_empty() {
        let found = match measured {
            0 => "no retry after a 4xx to measure".to_owned(),
            n => format!("{} waited long enough", plural(n, "retry", "retries")),
        };
        return Verdict::new("min_retry_interval", true, expected, found, evidence);
    }
    let shortest = early.iter().map(|(_, g)| *g).min().unwrap_or_default();
    let mut pairs: Vec<String> = early.iter().map(|(p, _)| p.describe()).collect();
    pairs.dedup();
    let found = format!(
        "{} of {measured} came too soon (shortest wait {}): {}",
        plural(early.len(), "retry", "retries"),
        seconds(shortest),
        pairs.join(", ")
    );
    Verdict::new("min_retry_interval", false, expected, found, evidence)
}
