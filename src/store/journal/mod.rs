//! Where the store's changes go before they count.
//!
//! Every change to what the store holds (a message captured, a session
//! started or finished, messages deleted or marked read, a reset) is a
//! [`Change`], handed to one [`Journal`]. In one process the journal says
//! "apply it now" ([`memory`]); with `--state redis://` it appends the change
//! to a Redis stream that every instance follows, and each instance applies
//! what it reads in stream order ([`redis`]). So every instance's store holds
//! the same messages and sessions in the same order, a 250 is sent only
//! after Redis acknowledged the message, and the live event stream of every
//! instance announces what any instance captured.

pub(crate) mod memory;
pub(crate) mod redis;

use std::sync::Arc;

use super::{OpenSession, SessionRecord, StoredMessage};

/// One change to what the store holds.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    Message(Arc<StoredMessage>),
    SessionStarted(OpenSession),
    SessionFinished(Arc<SessionRecord>),
    /// Every captured message deleted.
    ClearMessages,
    DeleteMessages(Vec<u64>),
    SetRead {
        ids: Vec<u64>,
        read: bool,
    },
    /// A bounce or complaint report filed or changed.
    Report(Arc<super::Filed>),
    /// Messages, sessions and reports forgotten.
    Reset,
}

/// A place in the shared log: a Redis stream id (milliseconds, sequence).
pub(crate) type Position = (u64, u64);

/// What the store must do once a change is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Committed {
    /// Apply it here and now: nobody else will.
    ApplyNow,
    /// The follower applies it when it reads this position of the log.
    At(Position),
}

/// Which sequence an id comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdKind {
    Message,
    Session,
    Report,
}

/// The shared log failed to take a change.
#[derive(Debug, Clone, thiserror::Error)]
#[error("shared store unavailable: {0}")]
pub(crate) struct JournalError(pub String);

/// A commit in progress.
pub(crate) type Commit<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Committed, JournalError>> + Send + 'a>,
>;

/// Where the shared log ends now, once asked.
pub(crate) type LogEnd<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Option<Position>, JournalError>> + Send + 'a>,
>;

/// Where changes go; see the module doc.
pub(crate) trait Journal: Send + Sync + std::fmt::Debug {
    /// A fresh id of `kind`, unique among every instance sharing the log.
    /// Blocking, but only now and then: ids are taken in blocks.
    fn next_id(&self, kind: IdKind) -> Result<u64, JournalError>;

    /// Makes `change` durable, bounded by a short time-out.
    fn commit<'a>(&'a self, change: &'a Change) -> Commit<'a>;

    /// Starts making `change` durable in the background, behind every
    /// change this instance committed before it and ahead of any it commits
    /// after: for a change nothing waits for (a session's start), so no
    /// task waits on its behalf. A failure is logged.
    fn commit_behind(&self, change: &Change);

    /// Starts applying other instances' changes to `store` (nothing to do
    /// in one process). Runs until `store` is dropped.
    fn follow(&self, _store: std::sync::Weak<super::Store>) {}

    /// The position of the newest change in the log, whoever wrote it
    /// (`None` in one process, where every change is applied at once).
    fn end(&self) -> LogEnd<'_> {
        Box::pin(std::future::ready(Ok(None)))
    }
}
