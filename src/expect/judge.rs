//! Evidence from a running server: the sessions the scenario in force has
//! seen, and the messages they delivered. Shared by `GET /api/v1/report`,
//! `mailfault run` and the Rust fixture, so all three say the same thing.

use super::{Evidence, Report, RunFacts, evaluate};
use crate::proto::extensions::Extension;
use crate::scenario::Expectations;
use crate::transport::Control;
use std::collections::HashSet;

/// Judges the active scenario's `expect:` block (nothing to judge without
/// one: an empty report that passes). Sessions still open are not judged
/// yet; they count once they end.
pub fn judge(control: &Control, run: Option<RunFacts>) -> Report {
    let scenario = control.scenario();
    let epoch = control.epoch();
    let sessions: Vec<_> = control
        .store()
        .sessions()
        .into_iter()
        .filter(|s| s.epoch == epoch)
        .collect();
    let ids: HashSet<u64> = sessions.iter().map(|s| s.id).collect();
    let messages: Vec<_> = control
        .store()
        .messages()
        .into_iter()
        .filter(|m| ids.contains(&m.session_id))
        .collect();
    let max_message_size = if scenario.server.extensions.contains(Extension::Size) {
        scenario.server.limits.max_message_size
    } else {
        0
    };
    let none = Expectations::default();
    let expect = scenario.expect.as_ref().unwrap_or(&none);
    evaluate(
        expect,
        &Evidence {
            sessions: &sessions,
            messages: &messages,
            max_message_size,
            run,
        },
    )
}

/// Whether the scenario in force has anything to judge.
pub fn has_expectations(control: &Control) -> bool {
    control.scenario().expect.is_some()
}
