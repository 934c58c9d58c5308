//! `within`: the sender finished in time. With `mailfault run` that is the
//! process's own run time (and a sender killed at the time-out fails);
//! otherwise the span from the first session's start to the last one's end,
//! in scenario time, stands for it.

use std::time::Duration;

use super::exchanges::seconds;
use super::{Seen, Verdict};

pub(super) fn within(limit: Duration, seen: &Seen<'_>) -> Verdict {
    let expected = format!(
        "the sender finishes within {}",
        humantime::format_duration(limit)
    );
    if let Some(run) = seen.evidence.run {
        let ok = !run.timed_out && run.elapsed <= limit;
        let found = if run.timed_out {
            format!(
                "the sender was stopped at the time-out after {}",
                seconds(run.elapsed)
            )
        } else {
            format!("the sender ran for {}", seconds(run.elapsed))
        };
        return Verdict::new("within", ok, expected, found, Vec::new());
    }
    let spans = seen.evidence.sessions.iter().map(|s| {
        let length = s
            .ended_at
            .duration_since(s.started_at)
            .ok()
            .or_else(|| s.log.last_at())
            .unwrap_or_default();
        (s.scenario_time(Duration::ZERO), s.scenario_time(length))
    });
    let (first, last) = spans.fold((None::<Duration>, None::<Duration>), |(lo, hi), (a, b)| {
        (
            Some(lo.map_or(a, |x| x.min(a))),
            Some(hi.map_or(b, |x| x.max(b))),
        )
    });
    let (Some(first), Some(last)) = (first, last) else {
        return Verdict::new(
            "within",
            true,
            expected,
            "no session took place, so no time was spent",
            Vec::new(),
        );
    };
    let span = last.saturating_sub(first);
    let found = format!(
        "{} session(s) spanned {} (from {} to {}, scenario time)",
        seen.evidence.sessions.len(),
        seconds(span),
        seconds(first),
        seconds(last)
    );
    Verdict::new("within", span <= limit, expected, found, Vec::new())
}
