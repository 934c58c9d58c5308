//! The journal of one process: ids from counters, every change applied at once.

use std::sync::atomic::{AtomicU64, Ordering};

use super::{Change, Commit, Committed, IdKind, Journal, JournalError};

#[derive(Debug)]
pub(crate) struct Local {
    messages: AtomicU64,
    sessions: AtomicU64,
    reports: AtomicU64,
}

impl Local {
    pub(crate) fn new() -> Self {
        Self {
            messages: AtomicU64::new(1),
            sessions: AtomicU64::new(1),
            reports: AtomicU64::new(1),
        }
    }
}

impl Journal for Local {
    fn next_id(&self, kind: IdKind) -> Result<u64, JournalError> {
        let counter = match kind {
            IdKind::Message => &self.messages,
            IdKind::Session => &self.sessions,
            IdKind::Report => &self.reports,
        };
        Ok(counter.fetch_add(1, Ordering::Relaxed))
    }

    /// Nothing to share: the store applied the change already.
    fn commit_behind(&self, _change: &Change) {}

    fn commit<'a>(&'a self, _change: &'a Change) -> Commit<'a> {
        Box::pin(std::future::ready(Ok(Committed::ApplyNow)))
    }
}
