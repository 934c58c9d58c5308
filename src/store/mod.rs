//! Captured messages and session transcripts: the write side (a connection
//! delivers, and only then replies 250) and the read side (fixture, API).
//!
//! Delivery is a direct, awaited call, not a channel: a peer sink lost 5 % of
//! acknowledged messages through a lossy broadcast channel. When the disk is
//! slow, the client waits; nothing is dropped.

pub(crate) mod codec;
mod filed;
pub(crate) mod journal;
pub mod log;
mod maildir;
mod memory;
mod message;
pub(crate) mod received;
pub mod transcript;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tokio::sync::{broadcast, watch};

pub(crate) use filed::Filed;
pub use log::{EventLog, Stamped};
pub(crate) use message::{Arrival, OpenSession, Timeline};
pub use message::{SessionRecord, StoredMessage};
pub use transcript::Direction;

use journal::{Change, Committed, IdKind, Journal, Position};
use maildir::Maildir;
pub use memory::Evictions;
use memory::Holdings;

/// Where messages go, as given on the command line (`memory`, `maildir:DIR`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreKind {
    /// In memory only.
    Memory,
    /// In memory and as files in this Maildir.
    Maildir(PathBuf),
}

impl std::str::FromStr for StoreKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "memory" {
            return Ok(Self::Memory);
        }
        match s.strip_prefix("maildir:") {
            Some(dir) if !dir.is_empty() => Ok(Self::Maildir(PathBuf::from(dir))),
            _ => Err(format!(
                "unknown store `{s}`: use `memory` or `maildir:DIR` (e.g. maildir:./mail)"
            )),
        }
    }
}

#[derive(Debug, thiserror::Error)]
/// What can go wrong storing a message.
#[non_exhaustive]
pub enum StoreError {
    #[error("cannot open maildir {path}: {source}")]
    /// The Maildir could not be opened or created.
    Open {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    #[error("cannot store message {id}: shared store unavailable: {reason}")]
    /// The shared store (Redis) did not acknowledge the message (the client
    /// got a 451).
    Shared {
        /// The message's id.
        id: u64,
        /// What went wrong.
        reason: String,
    },
    #[error("cannot write message {id} to the maildir: {source}")]
    /// A message could not be written (the client got a 451).
    Write {
        /// The message's id.
        id: u64,
        /// The OS error.
        source: std::io::Error,
    },
}

/// What happened in the store, for live readers (the event stream).
///
/// Published on a broadcast channel that drops the oldest events for a
/// reader that lags: only observers can miss events, never the capture,
/// which is written before the event is sent.
#[derive(Clone, Debug)]
pub(crate) enum Event {
    Message(Arc<StoredMessage>),
    /// A client connected; its session follows as `Session` when it ends.
    SessionStarted(OpenSession),
    Session(Arc<SessionRecord>),
    /// Lists changed wholesale (a reset, or all messages deleted): reload.
    Reset,
    /// A new scenario is in force from this epoch on.
    Scenario {
        epoch: u64,
    },
    /// A bounce or complaint report was released, delivered or failed.
    Report(Arc<crate::reports::outbox::View>),
}

/// Events a slow reader may fall behind by before it misses some.
const EVENT_BACKLOG: usize = 1024;

/// A message ready to be stored: everything but its id.
pub type NewMessage = StoredMessage;

#[derive(Debug)]
/// Captured messages and finished sessions, bounded, with waiters and live events.
pub struct Store {
    /// Messages and finished sessions, under one byte budget.
    held: Mutex<Holdings<StoredMessage, SessionRecord>>,
    /// Sessions in progress, by id; bounded by the connection limit.
    open: Mutex<BTreeMap<u64, OpenSession>>,
    maildir: Option<Arc<Maildir>>,
    /// Where changes are committed before they count (see [`journal`]).
    journal: Arc<dyn Journal>,
    /// The last position of a shared log applied here, for a writer that
    /// waits to read its own change back.
    applied: watch::Sender<Position>,
    /// The last position this instance wrote to the shared log: a reader
    /// of this instance waits until it is applied, so it sees every write
    /// that was acknowledged here (a 250 included) without the SMTP
    /// session having waited for that itself.
    written: Mutex<Position>,
    /// `false` while a new instance replays the shared log: it is not
    /// ready for traffic until it holds what the others hold.
    caught_up: std::sync::atomic::AtomicBool,
    /// Ids of messages a reader marked read (Mailpit's read status): a
    /// reader's bookkeeping, kept apart from the immutable capture.
    read: Mutex<HashSet<u64>>,
    /// Messages deleted through the API since start.
    deleted: AtomicU64,
    started_at: SystemTime,
    /// Number of messages held, for waiters.
    count: watch::Sender<usize>,
    sessions_done: watch::Sender<u64>,
    /// Bounce and complaint reports of every instance.
    reports: Mutex<filed::Shelf>,
    /// Everything that happened, wherever it happened (the event stream).
    events: broadcast::Sender<Event>,
    /// What happened on this instance (webhooks: one POST per event, from
    /// the instance that saw it, not one from every instance).
    local_events: broadcast::Sender<Event>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `--max-memory`'s default: bytes of messages and session records held.
pub const DEFAULT_MAX_MEMORY: usize = 256 << 20;

/// How full the store is and what it evicted, for `/metrics` and the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Usage {
    /// Messages held.
    pub messages: usize,
    /// Finished sessions held.
    pub sessions: usize,
    /// Bytes both hold, as the budget counts them.
    pub bytes: usize,
    /// The budget (`--max-memory`).
    pub max_bytes: usize,
    /// What was evicted to stay within the bounds, since start.
    pub evicted: Evictions,
}

impl Store {
    /// `max_messages` bounds the memory capture (and the session list) by
    /// count, `max_bytes` both together by size.
    pub fn open(
        kind: &StoreKind,
        max_messages: usize,
        max_bytes: usize,
    ) -> Result<Self, StoreError> {
        let maildir = match kind {
            StoreKind::Memory => None,
            StoreKind::Maildir(dir) => Some(Arc::new(Maildir::open(dir).map_err(|source| {
                StoreError::Open {
                    path: dir.clone(),
                    source,
                }
            })?)),
        };
        Ok(Self::with(maildir, max_messages, max_bytes))
    }

    /// A store that keeps everything in memory, up to `max_messages` and
    /// [`DEFAULT_MAX_MEMORY`] bytes.
    pub fn memory(max_messages: usize) -> Self {
        Self::with(None, max_messages, DEFAULT_MAX_MEMORY)
    }

    fn with(maildir: Option<Arc<Maildir>>, max_messages: usize, max_bytes: usize) -> Self {
        Self {
            held: Mutex::new(Holdings::new(max_messages, max_bytes)),
            open: Mutex::new(BTreeMap::new()),
            maildir,
            journal: Arc::new(journal::memory::Local::new()),
            applied: watch::channel((0, 0)).0,
            written: Mutex::new((0, 0)),
            caught_up: std::sync::atomic::AtomicBool::new(true),
            read: Mutex::new(HashSet::new()),
            deleted: AtomicU64::new(0),
            started_at: SystemTime::now(),
            count: watch::channel(0).0,
            sessions_done: watch::channel(0).0,
            reports: Mutex::new(filed::Shelf::default()),
            events: broadcast::channel(EVENT_BACKLOG).0,
            local_events: broadcast::channel(EVENT_BACKLOG).0,
        }
    }

    /// This store, with its changes committed to `journal` first (and, for
    /// a shared journal, other instances' changes applied here as they
    /// come).
    pub(crate) fn through(mut self, journal: Arc<dyn Journal>) -> Arc<Self> {
        self.journal = journal;
        let store = Arc::new(self);
        store.journal.follow(Arc::downgrade(&store));
        store
    }

    /// An id for a message about to be stored; `None` when the shared
    /// store cannot give one (the message then gets a 451).
    pub(crate) fn next_id(&self) -> Result<u64, journal::JournalError> {
        self.journal.next_id(IdKind::Message)
    }

    /// An id for a new session. When the shared store cannot give one, a
    /// local one from the top of the range: that session is refused anyway
    /// (421 while the store is down), and its record stays here.
    pub(crate) fn next_session_id(&self) -> u64 {
        static FALLBACK: AtomicU64 = AtomicU64::new(1 << 62);
        self.journal
            .next_id(IdKind::Session)
            .unwrap_or_else(|_| FALLBACK.fetch_add(1, Ordering::Relaxed))
    }

    /// Commits `change` and applies it here: at once, or, through a shared
    /// log, once the follower has read it back (so a reader of this
    /// instance sees its own writes). A change the shared log refused is
    /// applied here only, so this instance still reflects it.
    async fn change(&self, change: Change) {
        match self.journal.commit(&change).await {
            Ok(Committed::ApplyNow) => self.apply(change, None, true),
            Ok(Committed::At(position)) => self.read_back(position).await,
            Err(e) => {
                tracing::warn!(error = %e, "change kept on this instance only");
                self.apply(change, None, true);
            }
        }
    }

    /// [`Store::change`] for callers that cannot wait asynchronously (the
    /// HTTP API's rare writes, the outbox): in one process it is done at
    /// once; with a shared log it blocks this worker (multi-thread runtime)
    /// or, where it cannot, keeps the change on this instance.
    fn change_now(&self, change: Change) {
        use futures_util::FutureExt;
        let fallback = change.clone();
        let mut done = std::pin::pin!(self.change(change));
        if done.as_mut().now_or_never().is_some() {
            return;
        }
        if crate::scenario::on_multi_thread_runtime() {
            let handle = tokio::runtime::Handle::current();
            tokio::task::block_in_place(|| handle.block_on(done));
        } else {
            tracing::warn!(
                "no runtime to reach the shared store on; change kept on this instance only"
            );
            self.apply(fallback, None, true);
        }
    }

    /// How long a writer waits to read its own change back from the
    /// shared log before it goes on (the change is durable either way).
    const READ_BACK: Duration = Duration::from_secs(2);

    async fn read_back(&self, position: Position) {
        self.wrote(position);
        self.applied_to(position).await;
    }

    /// Waits (at most [`Store::READ_BACK`]) until the log is applied here
    /// up to `position`.
    async fn applied_to(&self, position: Position) {
        if *self.applied.borrow() >= position {
            return;
        }
        let mut applied = self.applied.subscribe();
        let _ = tokio::time::timeout(
            Self::READ_BACK,
            applied.wait_for(|applied| *applied >= position),
        )
        .await;
    }

    /// This instance wrote `position` to the shared log.
    fn wrote(&self, position: Position) {
        let mut written = lock(&self.written);
        if position > *written {
            *written = position;
        }
    }

    /// Waits (at most [`Store::READ_BACK`]) until this instance has applied
    /// the shared log up to where it ends now, whoever wrote it: what an API
    /// request does first, so a message acknowledged by any instance is
    /// listed by every one, and a report counts the sessions that began
    /// elsewhere and waits for them to end. With the log out of reach, up
    /// to what this instance wrote. At once in one process.
    pub(crate) async fn read_log(&self) {
        let written = *lock(&self.written);
        let end = match self.journal.end().await {
            Ok(end) => end.unwrap_or_default(),
            Err(e) => {
                tracing::debug!(error = %e, "reading as far as this instance wrote");
                written
            }
        };
        self.applied_to(written.max(end)).await;
    }

    /// Applies one committed change: what every instance does, in log
    /// order. `here`: the change was made on this instance.
    pub(crate) fn apply(&self, change: Change, position: Option<Position>, here: bool) {
        let announce = |event: Event| {
            if here {
                let _ = self.local_events.send(event.clone());
            }
            let _ = self.events.send(event);
        };
        match change {
            Change::Message(message) => {
                let len = {
                    let mut held = lock(&self.held);
                    held.push_message(Arc::clone(&message));
                    held.messages.len()
                };
                self.count.send_replace(len);
                announce(Event::Message(message));
            }
            Change::SessionStarted(session) => {
                // This instance listed its own sessions when they began.
                if lock(&self.open)
                    .insert(session.id, session.clone())
                    .is_none()
                {
                    announce(Event::SessionStarted(session));
                }
            }
            Change::SessionFinished(record) => {
                lock(&self.open).remove(&record.id);
                lock(&self.held).push_session(Arc::clone(&record));
                self.sessions_done.send_modify(|n| *n += 1);
                announce(Event::Session(record));
            }
            Change::ClearMessages => {
                let n = {
                    let mut held = lock(&self.held);
                    let n = held.messages.len();
                    held.messages.clear();
                    n
                };
                lock(&self.read).clear();
                self.deleted.fetch_add(n as u64, Ordering::Relaxed);
                self.count.send_replace(0);
                announce(Event::Reset);
            }
            Change::DeleteMessages(ids) => {
                let ids: HashSet<u64> = ids.into_iter().collect();
                let (gone, len) = {
                    let mut held = lock(&self.held);
                    let gone = held.messages.retain(|m| !ids.contains(&m.id));
                    (gone, held.messages.len())
                };
                lock(&self.read).retain(|id| !ids.contains(id));
                if gone > 0 {
                    self.deleted.fetch_add(gone as u64, Ordering::Relaxed);
                    self.count.send_replace(len);
                    announce(Event::Reset);
                }
            }
            Change::SetRead { ids, read } => {
                let mut set = lock(&self.read);
                for id in ids {
                    if read {
                        set.insert(id);
                    } else {
                        set.remove(&id);
                    }
                }
            }
            Change::Report(filed) => {
                let filed = lock(&self.reports).file((*filed).clone());
                announce(Event::Report(Arc::new(filed.view.clone())));
            }
            Change::Reset => {
                {
                    let mut held = lock(&self.held);
                    held.messages.clear();
                    held.sessions.clear();
                }
                lock(&self.reports).clear();
                lock(&self.read).clear();
                self.count.send_replace(0);
                announce(Event::Reset);
            }
        }
        if let Some(position) = position {
            self.skip_to(position);
        }
    }

    /// Whether this store holds what the shared log held when it started
    /// (always, in one process): `/readyz` waits for it.
    pub(crate) fn caught_up(&self) -> bool {
        self.caught_up.load(Ordering::Acquire)
    }

    /// Replaying the shared log (`false`) or done with it (`true`).
    pub(crate) fn set_caught_up(&self, done: bool) {
        self.caught_up.store(done, Ordering::Release);
    }

    /// The shared log is applied up to `position` (a change applied, or
    /// one that could not be and is passed over).
    pub(crate) fn skip_to(&self, position: Position) {
        self.applied.send_if_modified(|applied| {
            let ahead = position > *applied;
            if ahead {
                *applied = position;
            }
            ahead
        });
    }

    /// Stores a message durably (maildir: fsynced; shared: acknowledged by
    /// Redis) and returns it shared. The message's `id` must come from
    /// [`Store::next_id`].
    pub(crate) async fn deliver(
        &self,
        message: NewMessage,
    ) -> Result<Arc<StoredMessage>, StoreError> {
        let message = Arc::new(message);
        let id = message.id;
        if let Some(md) = &self.maildir {
            let (md, msg) = (Arc::clone(md), Arc::clone(&message));
            let written = tokio::task::spawn_blocking(move || {
                md.deliver(msg.id, &[msg.received_header.as_bytes(), &msg.content])
            })
            .await
            .map_err(|e| StoreError::Write {
                id,
                source: std::io::Error::other(e),
            })?;
            written.map_err(|source| StoreError::Write { id, source })?;
        }
        let change = Change::Message(Arc::clone(&message));
        match self.journal.commit(&change).await {
            Ok(Committed::ApplyNow) => self.apply(change, None, true),
            // Acknowledged is enough for the 250; this instance's readers
            // wait for it to be applied (see `written`).
            Ok(Committed::At(position)) => self.wrote(position),
            Err(e) => return Err(StoreError::Shared { id, reason: e.0 }),
        }
        Ok(message)
    }

    /// Messages held, oldest first.
    pub fn messages(&self) -> Vec<Arc<StoredMessage>> {
        lock(&self.held).messages.snapshot()
    }

    /// One message by id.
    pub fn message(&self, id: u64) -> Option<Arc<StoredMessage>> {
        lock(&self.held).messages.find(|m| m.id == id)
    }

    /// Messages dropped from memory to respect `--max-messages` and
    /// `--max-memory` since the last clear.
    pub fn evicted(&self) -> u64 {
        lock(&self.held).messages.evicted()
    }

    /// How full the store is, and what it evicted since start.
    pub fn usage(&self) -> Usage {
        let held = lock(&self.held);
        Usage {
            messages: held.messages.len(),
            sessions: held.sessions.len(),
            bytes: held.bytes(),
            max_bytes: held.max_bytes(),
            evicted: held.evictions(),
        }
    }

    /// Forgets the captured messages; returns how many there were.
    pub fn clear_messages(&self) -> usize {
        let n = lock(&self.held).messages.len();
        self.change_now(Change::ClearMessages);
        n
    }

    /// Forgets the messages with these ids; returns how many were held.
    pub fn delete_messages(&self, ids: &HashSet<u64>) -> usize {
        let held = lock(&self.held).messages.count(|m| ids.contains(&m.id));
        if held > 0 {
            self.change_now(Change::DeleteMessages(ids.iter().copied().collect()));
        }
        held
    }

    /// Marks messages read or unread.
    pub fn set_read(&self, ids: impl IntoIterator<Item = u64>, read: bool) {
        let ids: Vec<u64> = ids.into_iter().collect();
        if !ids.is_empty() {
            self.change_now(Change::SetRead { ids, read });
        }
    }

    pub(crate) fn is_read(&self, id: u64) -> bool {
        lock(&self.read).contains(&id)
    }

    /// Messages deleted through the API since the server started.
    pub fn deleted(&self) -> u64 {
        self.deleted.load(Ordering::Relaxed)
    }

    /// When this store (and so the server) started.
    pub fn started_at(&self) -> SystemTime {
        self.started_at
    }

    /// A session began. This instance lists it at once; through a shared
    /// log the others hear of it in the background (nothing the client is
    /// told depends on that), so a report on any instance waits for it to
    /// end. The start goes to the log ahead of the session's end, which
    /// this instance commits later.
    pub(crate) fn session_started(&self, session: OpenSession) {
        let change = Change::SessionStarted(session);
        self.apply(change.clone(), None, true);
        self.journal.commit_behind(&change);
    }

    /// Forgets sessions in progress on an instance that is gone (killed
    /// before it could say they ended).
    pub(crate) fn abandon_open(&self, ids: &HashSet<u64>) {
        lock(&self.open).retain(|id, _| !ids.contains(id));
        // A waiter for sessions to settle looks again.
        self.sessions_done.send_modify(|_| {});
        let _ = self.events.send(Event::Reset);
    }

    /// Sessions in progress, oldest first.
    pub(crate) fn open_sessions(&self) -> Vec<OpenSession> {
        lock(&self.open).values().cloned().collect()
    }

    pub(crate) async fn session_finished(&self, record: SessionRecord) {
        let change = Change::SessionFinished(Arc::new(record));
        match self.journal.commit(&change).await {
            Ok(Committed::At(position)) => self.wrote(position),
            Ok(Committed::ApplyNow) => self.apply(change, None, true),
            Err(e) => {
                tracing::warn!(error = %e, "session record kept on this instance only");
                self.apply(change, None, true);
            }
        }
    }

    /// One finished session by id.
    pub fn session(&self, id: u64) -> Option<Arc<SessionRecord>> {
        lock(&self.held).sessions.find(|s| s.id == id)
    }

    /// Forgets messages and sessions (a maildir keeps its files).
    pub fn reset(&self) {
        self.change_now(Change::Reset);
    }

    /// Tells live readers a scenario swap happened.
    pub fn scenario_changed(&self, epoch: u64) {
        let _ = self.events.send(Event::Scenario { epoch });
    }

    /// Files a report or its new state (`raw`: once built) for every
    /// instance to read.
    pub(crate) fn file_report(&self, view: crate::reports::outbox::View, raw: Option<Arc<[u8]>>) {
        self.change_now(Change::Report(Arc::new(Filed { view, raw })));
    }

    /// Every report filed, oldest first.
    pub(crate) fn reports(&self) -> Vec<Arc<Filed>> {
        lock(&self.reports).all()
    }

    /// One report by id.
    pub(crate) fn report(&self, id: u64) -> Option<Arc<Filed>> {
        lock(&self.reports).get(id)
    }

    /// An id for a new report; a local one from the top of the range when
    /// the shared store cannot give one (the report is then filed here only).
    pub(crate) fn next_report_id(&self) -> u64 {
        static FALLBACK: AtomicU64 = AtomicU64::new(1 << 62);
        self.journal
            .next_id(IdKind::Report)
            .unwrap_or_else(|_| FALLBACK.fetch_add(1, Ordering::Relaxed))
    }

    /// Live events from now on, wherever they happened.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Live events from now on that happened on this instance.
    pub(crate) fn subscribe_local(&self) -> broadcast::Receiver<Event> {
        self.local_events.subscribe()
    }

    /// Finished sessions held, oldest first.
    pub fn sessions(&self) -> Vec<Arc<SessionRecord>> {
        lock(&self.held).sessions.snapshot()
    }

    /// Waits until at least `n` messages are held; `false` on time-out.
    pub async fn wait_for_messages(&self, n: usize, timeout: Duration) -> bool {
        let mut rx = self.count.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|&held| held >= n))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Waits until at least `n` sessions have ended since start.
    pub async fn wait_for_sessions(&self, n: u64, timeout: Duration) -> bool {
        let mut rx = self.sessions_done.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|&done| done >= n))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Waits, at most `timeout`, until no session is in progress: a client
    /// that just hung up may not have been seen to, and a report judged
    /// now would leave its session out. `false` if some are still open.
    pub async fn settle(&self, timeout: Duration) -> bool {
        let mut rx = self.sessions_done.subscribe();
        let idle = async {
            while !lock(&self.open).is_empty() {
                if rx.changed().await.is_err() {
                    return;
                }
            }
        };
        tokio::time::timeout(timeout, idle).await.is_ok()
    }

    /// Where the Maildir is, with `--store maildir:`.
    pub fn maildir(&self) -> Option<&std::path::Path> {
        self.maildir.as_deref().map(Maildir::root)
    }
}
