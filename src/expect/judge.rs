//! Evidence from a running server: the sessions the scenario in force has
//! seen, and the messages they delivered. Shared by `GET /api/v1/report`,
//! `mailfault run` and the Rust fixture, so all three say the same thing.

use std::collections::HashSet;

use super::{Evidence, Report, ReportFact, RunFacts, evaluate};
use crate::scenario::{Expectations, Scenario};
use crate::store::Store;

/// Judges `scenario`'s `expect:` block (nothing to judge without one: an
/// empty report that passes) against the sessions of `epoch`, the scenario's
/// time in force. Sessions still open are not judged yet; they count once
/// they end.
pub fn judge(
    scenario: &Scenario,
    epoch: u64,
    store: &Store,
    reports: &[ReportFact],
    run: Option<RunFacts>,
) -> Report {
    let sessions: Vec<_> = store
        .sessions()
        .into_iter()
        .filter(|s| s.epoch == epoch)
        .collect();
    let ids: HashSet<u64> = sessions.iter().map(|s| s.id).collect();
    let messages: Vec<_> = store
        .messages()
        .into_iter()
        .filter(|m| ids.contains(&m.session_id))
        .collect();
    let max_message_size = scenario.max_message_size();
    let none = Expectations::default();
    let expect = scenario.expect.as_ref().unwrap_or(&none);
    evaluate(
        expect,
        &Evidence {
            sessions: &sessions,
            messages: &messages,
            max_message_size,
            run,
            reports,
        },
    )
}

/// The (sender, recipient) timelines of the sessions of `epoch`, with the
/// reports released about each pair.
pub fn timeline(epoch: u64, store: &Store, reports: &[ReportFact]) -> Vec<super::Track> {
    let sessions: Vec<_> = store
        .sessions()
        .into_iter()
        .filter(|s| s.epoch == epoch)
        .collect();
    let evidence = Evidence {
        sessions: &sessions,
        messages: &[],
        max_message_size: 0,
        run: None,
        reports,
    };
    let seen = super::Seen {
        evidence: &evidence,
        sessions: sessions
            .iter()
            .map(|s| super::exchanges::Session::of(s))
            .collect(),
    };
    super::timeline::tracks(&seen)
}
