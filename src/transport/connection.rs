//! Drives one SMTP connection: a read loop that feeds the session, an
//! executor for the session's actions (send, delay, deliver, upgrade,
//! close) and the TLS upgrade. Every decision is the session's; this file
//! moves bytes, applies time-outs and records what the I/O saw.
//!
//! Replies are batched and flushed only when the input buffer is drained, so
//! a pipelining client gets all its replies in one write. Reading stops while
//! a write is pending: a client that never reads its replies gets TCP
//! back-pressure, not an ever-growing server buffer.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tracing::{Instrument, debug, info, info_span, warn};

use super::stream::Stream;
use super::{Active, IdleMark, Shared};
use crate::proto::event::{Answer, CloseReason, CommandEvent, Discard, Event, Fate, ReplyEvent};
use crate::proto::policy::TlsFault;
use crate::proto::replies;
use crate::proto::reply::{EnhancedCode, Malformed, Reply, Wire};
use crate::proto::session::{Action, Inbound, Outgoing, Session};
use crate::proto::transaction::Incoming;
use crate::scenario::ScenarioPolicy;
use crate::store::Timeline;
use crate::store::{Arrival, EventLog, OpenSession, SessionRecord, StoredMessage};
use crate::tls;

/// Read size between commands; idle connections hold no more than this.
const COMMAND_READ: usize = 4 * 1024;
/// How long, and how much, the server still reads after a 421 to see
/// whether the client stops talking.
const LINGER: Duration = Duration::from_millis(500);
const LINGER_BYTES: usize = 4 * 1024;
/// Read size while message content streams in.
const CONTENT_READ: usize = 64 * 1024;
/// The slowest message content the server waits for, once the data
/// time-out's grace is used up: the whole content must arrive within
/// `data_timeout` plus one second per KiB received, so a client dripping a
/// byte just inside every per-read time-out cannot hold a slot for ever.
const CONTENT_MIN_RATE: u64 = 1024;

/// Closes the session idle longest when a new client needs its slot.
const IDLE_UNDER_LOAD: Reply = Reply {
    code: 421,
    enhanced: Some(EnhancedCode::new(4, 4, 2)),
    text: std::borrow::Cow::Borrowed("Idle too long under load, closing connection"),
};

/// How a paced reply is cut up in time.
#[derive(Clone, Copy, Debug)]
struct Pacing {
    piece: usize,
    pause: Duration,
}

impl Pacing {
    /// `malformed: split`: a few bytes at a time, so a client that expects a
    /// whole line per read sees fragments.
    const SPLIT: Pacing = Pacing {
        piece: 3,
        pause: Duration::from_millis(5),
    };

    /// Ten pieces a second (one byte at a time below 10 B/s).
    fn drip(bytes_per_sec: u64) -> Pacing {
        let rate = bytes_per_sec.max(1);
        let piece = (rate / 10).max(1);
        Pacing {
            piece: usize::try_from(piece).unwrap_or(usize::MAX),
            pause: Duration::from_secs_f64(piece as f64 / rate as f64),
        }
    }

    fn of(wire: Wire) -> Option<Pacing> {
        match wire {
            Wire::Drip { bytes_per_sec } => Some(Pacing::drip(bytes_per_sec)),
            Wire::Malformed(Malformed::Split) => Some(Pacing::SPLIT),
            _ => None,
        }
    }
}

/// Why the conversation stopped, as the I/O saw it.
#[derive(Debug)]
enum Closed {
    /// The session decided to close (its reason says why).
    Server(CloseReason),
    /// The client closed its end.
    ClientLeft,
    ReadFailed(std::io::Error),
    /// A reply could not be written in time (or at all).
    WriteFailed,
    /// The TLS handshake failed; its event says how.
    TlsFailed,
}

type Policy = ScenarioPolicy;

/// Serves one connection; `implicit_tls` for the SMTPS port, where the TLS
/// handshake comes before the greeting.
///
/// `slot` is its place among the connection slots, held until the end (or
/// until the session is closed for a newcomer).
pub(crate) async fn run(
    mut stream: TcpStream,
    mut peer: SocketAddr,
    shared: Arc<Shared>,
    implicit_tls: bool,
    slot: OwnedSemaphorePermit,
) {
    if shared.proxy_protocol {
        match super::proxy::read_header(&mut stream).await {
            Ok(Some(client)) => peer = client,
            Ok(None) => {}
            Err(e) => {
                warn!(balancer = %peer, error = %e, "connection closed: --proxy-protocol expects the balancer's header first");
                return;
            }
        }
    }
    let id = shared.store.next_session_id();
    let span = info_span!("session", id, client = %peer, tls = implicit_tls);
    let abort = shared.abort.clone();
    let registry = Arc::clone(&shared);
    let mark = shared.register(id);
    shared.sync_clock();
    let serve = Connection::new(stream, peer, id, shared, slot, mark).serve(implicit_tls);
    tokio::select! {
        () = serve.instrument(span.clone()) => {}
        () = abort.cancelled() => {
            // The shutdown drain time is up: the socket closes with the
            // future; a message not yet answered is lost, not half-stored.
            span.in_scope(|| info!("connection dropped at the end of the shutdown timeout"));
        }
    }
    registry.unregister(id);
}

struct Connection {
    stream: Stream,
    /// TLS version and cipher once TLS is up.
    tls: Option<String>,
    /// The session asked for STARTTLS; the upgrade runs once the input it
    /// came with is dealt with, with a broken certificate or protocol when
    /// a fault says so.
    upgrade_pending: Option<Option<TlsFault>>,
    peer: SocketAddr,
    id: u64,
    shared: Arc<Shared>,
    /// The scenario in force when the client connected, kept to the end.
    active: Arc<Active>,
    rbuf: BytesMut,
    wbuf: Vec<u8>,
    actions: Vec<Action>,
    log: EventLog,
    started: Instant,
    started_at: SystemTime,
    /// The time events are stamped with: read once per input batch, after
    /// a delay and after a slow write, not once per event.
    now: Duration,
    delivered: Vec<u64>,
    /// When the command line being read must be complete: set when the
    /// server starts waiting after its reply, cleared when a line is taken.
    line_deadline: Option<tokio::time::Instant>,
    /// When message content started streaming in, and how much of it has.
    content_started: Option<tokio::time::Instant>,
    content_bytes: u64,
    /// This connection's place among the slots; given up early when the
    /// session is closed to admit a newcomer.
    slot: Option<OwnedSemaphorePermit>,
    /// Whether, since when, the session waits for a command; the accept
    /// loop closes the one idle longest through it when every slot is taken.
    idle: Arc<IdleMark>,
}

impl Connection {
    fn new(
        stream: TcpStream,
        peer: SocketAddr,
        id: u64,
        shared: Arc<Shared>,
        slot: OwnedSemaphorePermit,
        idle: Arc<IdleMark>,
    ) -> Self {
        Self {
            stream: Stream::Plain(stream),
            tls: None,
            upgrade_pending: None,
            peer,
            id,
            active: shared.active(),
            shared,
            rbuf: BytesMut::with_capacity(COMMAND_READ),
            wbuf: Vec::new(),
            actions: Vec::new(),
            log: EventLog::new(),
            started: Instant::now(),
            started_at: SystemTime::now(),
            now: Duration::ZERO,
            delivered: Vec::new(),
            line_deadline: None,
            content_started: None,
            content_bytes: 0,
            slot: Some(slot),
            idle,
        }
    }

    fn tick(&mut self) {
        self.now = self.started.elapsed();
    }

    fn record(&mut self, event: Event) {
        self.log.push(self.now, event);
    }

    async fn serve(mut self, implicit_tls: bool) {
        let engine = Arc::clone(&self.active.engine);
        let connection = engine.number_connection().await;
        let scenario_started = engine.clock().at(self.started);
        self.shared.metrics.connected();
        self.shared.store.session_started(OpenSession {
            id: self.id,
            client: self.peer,
            connection,
            started_at: self.started_at,
            epoch: self.active.epoch,
        });
        self.record(Event::Connected {
            peer: self.peer,
            implicit_tls,
        });
        let mut session = Session::new(
            Arc::clone(&self.active.config),
            engine.session_policy(),
            self.peer.ip(),
            connection,
        );
        debug!(connection, "connected");
        let Err(closed) = self.talk(&mut session, implicit_tls).await;
        self.end(closed, session.in_content()).await;
        // The connection no longer counts as concurrent from here, not from
        // when its record is written (which a shared store may delay).
        drop(session);
        let _ = self.stream.shutdown().await;
        if !self.delivered.is_empty() {
            info!(
                messages = self.delivered.len(),
                ids = ?self.delivered,
                "session ended"
            );
        }
        self.shared.metrics.disconnected();
        self.shared
            .store
            .session_finished(SessionRecord {
                id: self.id,
                client: self.peer,
                connection,
                started_at: self.started_at,
                ended_at: SystemTime::now(),
                epoch: self.active.epoch,
                scenario_started,
                timeline: Some(Timeline::Live {
                    clock: Arc::clone(self.active.engine.clock()),
                    started: self.started,
                }),
                messages: self.delivered,
                log: self.log,
            })
            .await;
    }

    /// The conversation, until something closes it.
    async fn talk(
        &mut self,
        session: &mut Session<Policy>,
        implicit_tls: bool,
    ) -> Result<Infallible, Closed> {
        if implicit_tls {
            self.upgrade(None).await?;
            session.tls_started();
        }
        if session.greeting_shows_date() {
            session.set_date(crate::store::received::rfc5322_date(
                std::time::SystemTime::now(),
            ));
        }
        rewinding(session, &self.rbuf, &mut self.actions, |s, _, out| {
            s.start(out)
        })
        .await;
        self.execute().await?;
        loop {
            self.process(session).await?;
            self.flush().await?;
            self.read(session).await?;
        }
    }

    /// Feeds every complete input in the buffer to the session and carries
    /// out what it says, upgrading to TLS where it asks to.
    async fn process(&mut self, session: &mut Session<Policy>) -> Result<(), Closed> {
        while let Some(step) =
            rewinding(session, &self.rbuf, &mut self.actions, Session::receive).await
        {
            if step.inbound == Inbound::Command
                && tracing::enabled!(tracing::Level::DEBUG)
                && let Some(line) = self.rbuf.get(..step.consumed)
            {
                let line = step.transcribable(line);
                debug!(line = %String::from_utf8_lossy(&line).trim_end(), "C");
            }
            self.rbuf.advance(step.consumed);
            // The next line's time starts when this one's reply is out.
            self.line_deadline = None;
            self.idle.busy();
            self.execute().await?;
            if let Some(fault) = self.upgrade_pending.take() {
                if !self.rbuf.is_empty() {
                    let bytes = self.rbuf.len();
                    warn!(bytes, "plaintext pipelined after STARTTLS discarded");
                    self.record(Event::PlaintextDiscarded { bytes });
                    self.rbuf.clear();
                }
                self.upgrade(fault).await?;
                session.tls_started();
            }
        }
        Ok(())
    }

    /// Waits for more input, within the time-out, or for a shutdown between
    /// commands; either of those closes through the session's own reply.
    ///
    /// Between commands the time-out is a deadline for the whole line,
    /// counted from the end of the previous reply (as Postfix does), not
    /// per read: bytes dripping in do not extend it. Message content keeps
    /// the per-read data time-out and must also average
    /// [`CONTENT_MIN_RATE`] after a grace of one data time-out.
    async fn read(&mut self, session: &mut Session<Policy>) -> Result<(), Closed> {
        let content = session.in_content();
        let now = tokio::time::Instant::now();
        let (deadline, chunk) = if content {
            let started = *self.content_started.get_or_insert(now);
            let earned = Duration::from_secs(self.content_bytes / CONTENT_MIN_RATE);
            let whole = started + self.active.data_timeout + earned;
            (whole.min(now + self.active.data_timeout), CONTENT_READ)
        } else {
            self.content_started = None;
            self.content_bytes = 0;
            if self.line_deadline.is_none() {
                self.line_deadline = Some(now + self.active.command_timeout);
                self.idle.waiting(self.shared.uptime());
            }
            let deadline = self.line_deadline.unwrap_or(now);
            (deadline, COMMAND_READ)
        };
        if self.rbuf.capacity() - self.rbuf.len() < chunk / 4 {
            self.rbuf.reserve(chunk);
        }
        let shutdown = self.shared.shutdown.clone();
        let evict = self.idle.evict.clone();
        let read = tokio::select! {
            biased;
            _ = shutdown.cancelled(), if !content => {
                self.tick();
                session.shutdown(&mut self.actions);
                self.execute().await?;
                return Err(Closed::Server(CloseReason::Shutdown));
            }
            _ = evict.cancelled(), if !content => return Err(self.evicted().await),
            r = tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.rbuf)) => r,
        };
        self.tick();
        match read {
            Err(_) => {
                session.timeout(&mut self.actions);
                self.execute().await?;
                Err(Closed::Server(CloseReason::Timeout))
            }
            Ok(Ok(0)) => Err(Closed::ClientLeft),
            Ok(Ok(n)) => {
                if content {
                    self.content_bytes = self
                        .content_bytes
                        .saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
                }
                Ok(())
            }
            Ok(Err(e)) => Err(Closed::ReadFailed(e)),
        }
    }

    /// Every slot is taken and this session has waited longest for a
    /// command: it gives its slot to the newcomer at once and says why.
    async fn evicted(&mut self) -> Closed {
        self.idle.busy();
        self.slot = None;
        self.tick();
        debug!("idle longest with every slot taken; closing for a new client");
        let out = Outgoing {
            reply: IDLE_UNDER_LOAD,
            enhanced: self.active.enhanced_codes(),
            rule: None,
            wire: Wire::Normal,
            answers: Answer::Unsolicited,
        };
        if self.send(out).await.is_err() || self.flush().await.is_err() {
            return Closed::WriteFailed;
        }
        Closed::Server(CloseReason::Timeout)
    }

    /// Records how the session ended; after a 421 the server first
    /// half-closes and listens for a moment (see [`CloseReason::lingers`]).
    async fn end(&mut self, closed: Closed, in_content: bool) {
        self.tick();
        let lost = || Event::TransactionEnded(Fate::Discarded(Discard::ConnectionLost));
        match closed {
            Closed::Server(reason) => {
                self.record(Event::ServerClosed(reason));
                if reason.lingers() && !self.shared.shutdown.is_cancelled() {
                    self.linger().await;
                }
            }
            Closed::ClientLeft => {
                if in_content {
                    self.record(lost());
                }
                self.record(Event::ClientClosed { in_content });
            }
            Closed::ReadFailed(e) => {
                if in_content {
                    self.record(lost());
                }
                self.record(Event::ReadFailed {
                    error: e.to_string().into(),
                });
            }
            Closed::WriteFailed => self.record(Event::ServerClosed(CloseReason::WriteFailed)),
            Closed::TlsFailed => self.record(Event::ServerClosed(CloseReason::TlsFailed)),
        }
    }

    /// Reads what the client still sends after a 421, without answering:
    /// what it had already pipelined before the 421 went out is excused
    /// (left unread), what comes after is recorded as late commands.
    async fn linger(&mut self) {
        let _ = self.stream.shutdown().await;
        let unread = self.rbuf.len();
        let mut late = BytesMut::with_capacity(LINGER_BYTES);
        let deadline = tokio::time::Instant::now() + LINGER;
        while late.len() < LINGER_BYTES {
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut late)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => break,
            }
        }
        self.tick();
        for line in late.split_inclusive(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\n").unwrap_or(line);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            self.record(Event::Command(CommandEvent::late(line)));
        }
        if unread > 0 || !late.is_empty() {
            self.record(Event::Lingered {
                unread,
                late: late.len(),
            });
        }
    }

    /// Replaces the TCP stream with TLS; fails when the handshake fails or
    /// takes longer than the command time-out.
    async fn upgrade(&mut self, fault: Option<TlsFault>) -> Result<(), Closed> {
        let faulty = match (fault, self.shared.tls_faults.as_deref()) {
            (Some(TlsFault::ExpiredCert), Some(f)) => Some(f.expired.clone()),
            (Some(TlsFault::WrongHostCert), Some(f)) => Some(f.wrong_host.clone()),
            (Some(TlsFault::SelfSigned), Some(f)) => Some(f.self_signed.clone()),
            (Some(TlsFault::Tls12Only), Some(f)) => Some(f.tls12_only.clone()),
            _ => None,
        };
        if let (Some(fault), Some(_)) = (fault, &faulty) {
            self.record(Event::TlsFault(fault));
        }
        let Some(acceptor) = faulty.or_else(|| self.shared.tls.clone()) else {
            return Err(Closed::TlsFailed);
        };
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Gone) else {
            return Err(Closed::TlsFailed);
        };
        let handshake = tokio::time::timeout(self.active.command_timeout, acceptor.accept(tcp));
        let result = handshake.await;
        self.tick();
        match result {
            Ok(Ok(stream)) => {
                let (version, cipher) = tls::describe(&stream);
                debug!(%version, %cipher, "TLS established");
                self.tls = Some(format!("{version} {cipher}"));
                self.record(Event::TlsEstablished {
                    version: version.into(),
                    cipher: cipher.into(),
                });
                self.stream = Stream::Tls(Box::new(stream));
                Ok(())
            }
            Ok(Err(e)) => {
                self.record(Event::TlsFailed {
                    error: Some(e.to_string().into()),
                });
                Err(Closed::TlsFailed)
            }
            Err(_) => {
                self.record(Event::TlsFailed { error: None });
                Err(Closed::TlsFailed)
            }
        }
    }

    /// Writes what is buffered; a client that stops reading for longer than
    /// the command time-out loses its connection.
    async fn flush(&mut self) -> Result<(), Closed> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let write = tokio::time::timeout(
            self.active.command_timeout,
            self.stream.write_all(&self.wbuf),
        );
        let ok = matches!(write.await, Ok(Ok(())));
        self.wbuf.clear();
        if ok { Ok(()) } else { Err(Closed::WriteFailed) }
    }

    /// Buffers a reply (sent on the next flush) and records it. Wire faults
    /// that need pacing are written at once, after what is buffered.
    async fn send(&mut self, out: Outgoing) -> Result<(), Closed> {
        let start = self.wbuf.len();
        match out.wire {
            Wire::Malformed(kind) => out
                .reply
                .write_malformed(&mut self.wbuf, out.enhanced, kind),
            Wire::Normal | Wire::Drip { .. } => out.reply.write_to(&mut self.wbuf, out.enhanced),
        }
        self.shared.metrics.reply(out.reply.code);
        let pacing = Pacing::of(out.wire);
        self.record(Event::Reply(ReplyEvent {
            answers: out.answers,
            reply: out.reply,
            enhanced: out.enhanced,
            rule: out.rule,
            wire: out.wire,
        }));
        let Some(pacing) = pacing else {
            return Ok(());
        };
        let reply = self.wbuf.split_off(start);
        self.flush().await?;
        self.write_paced(&reply, pacing).await?;
        self.tick();
        Ok(())
    }

    /// Writes `bytes` a piece at a time; the client's reading is bounded by
    /// the command time-out as for any write.
    async fn write_paced(&mut self, bytes: &[u8], pacing: Pacing) -> Result<(), Closed> {
        for (i, piece) in bytes.chunks(pacing.piece).enumerate() {
            if i > 0 {
                tokio::time::sleep(pacing.pause).await;
            }
            let write = tokio::time::timeout(self.active.command_timeout, async {
                self.stream.write_all(piece).await?;
                self.stream.flush().await
            });
            if !matches!(write.await, Ok(Ok(()))) {
                return Err(Closed::WriteFailed);
            }
        }
        Ok(())
    }

    /// Runs the session's pending actions in order.
    async fn execute(&mut self) -> Result<(), Closed> {
        let mut actions = std::mem::take(&mut self.actions);
        let result = self.execute_all(&mut actions).await;
        actions.clear();
        self.actions = actions;
        result
    }

    async fn execute_all(&mut self, actions: &mut Vec<Action>) -> Result<(), Closed> {
        for action in actions.drain(..) {
            match action {
                Action::Send(out) => self.send(out).await?,
                Action::Record(event) => self.record(event),
                Action::Delay(d) => {
                    self.flush().await?;
                    tokio::time::sleep(d).await;
                    self.tick();
                }
                Action::Deliver {
                    message,
                    reply,
                    enhanced,
                    rule,
                    wire,
                    answers,
                } => {
                    let reply = self.deliver(*message, reply).await;
                    let out = Outgoing {
                        reply,
                        enhanced,
                        rule,
                        wire,
                        answers,
                    };
                    self.send(out).await?;
                }
                Action::StartTls(fault) => {
                    self.upgrade_pending = Some(fault);
                    self.flush().await?;
                }
                Action::Close(reason) => {
                    let _ = self.flush().await;
                    return Err(Closed::Server(reason));
                }
            }
        }
        Ok(())
    }

    /// Stores the message; only a stored message earns the 2xx.
    async fn deliver(&mut self, mut incoming: Incoming, reply: Option<Reply>) -> Reply {
        let followups = std::mem::take(&mut incoming.followups);
        let store = &self.shared.store;
        let id = match store.next_id() {
            Ok(id) => id,
            Err(e) => {
                warn!(error = %e, "no message id from the shared store; answered 451");
                self.record(Event::TransactionEnded(Fate::Discarded(
                    Discard::StoreFailed {
                        error: e.to_string().into(),
                    },
                )));
                return replies::STORE_FAILED;
            }
        };
        let arrival = Arrival {
            session_id: self.id,
            client: self.peer,
            tls: self.tls.as_deref(),
            hostname: &self.active.config.hostname,
            at: SystemTime::now(),
        };
        let message = StoredMessage::capture(id, incoming, arrival);
        match store.deliver(message).await {
            Ok(stored) => {
                self.delivered.push(id);
                self.shared.metrics.message(stored.size());
                debug!(
                    id,
                    from = %stored.mail_from,
                    to = ?stored.recipients.iter().map(|r| r.address.as_str()).collect::<Vec<_>>(),
                    bytes = stored.size(),
                    "message captured"
                );
                self.record(Event::TransactionEnded(Fate::Stored { id }));
                let reports = &self.active.engine.scenario().server.reports;
                self.shared.outbox.plan(
                    &stored,
                    &followups,
                    &crate::reports::outbox::Plan {
                        clock: self.active.engine.clock(),
                        hostname: &self.active.config.hostname,
                        epoch: self.active.epoch,
                        deliver_to: reports.deliver_to.as_ref(),
                        dsn_success: reports.dsn_success,
                    },
                );
                reply.unwrap_or_else(|| Reply {
                    code: 250,
                    enhanced: Some(EnhancedCode::new(2, 0, 0)),
                    text: format!("Ok: queued as {id}").into(),
                })
            }
            Err(e) => {
                warn!(error = %e, "message could not be stored; answered 451");
                self.record(Event::TransactionEnded(Fate::Discarded(
                    Discard::StoreFailed {
                        error: e.to_string().into(),
                    },
                )));
                replies::STORE_FAILED
            }
        }
    }
}

/// Feeds one input to the session (`feed`); where the scenario's decisions
/// may wait for the shared state, a decision that must wait rewinds the
/// session to before the input, the answer is fetched without blocking the
/// runtime, and the input is fed again (see `proto::session::rewind`).
async fn rewinding<T>(
    session: &mut Session<Policy>,
    input: &[u8],
    out: &mut Vec<Action>,
    feed: impl Fn(&mut Session<Policy>, &[u8], &mut Vec<Action>) -> T,
) -> T {
    if !session.policy_mut().can_wait() {
        return feed(session, input, out);
    }
    loop {
        let checkpoint = session.checkpoint();
        session.policy_mut().begin_pass(checkpoint.is_some());
        let mark = out.len();
        let done = feed(session, input, out);
        match checkpoint {
            Some(checkpoint) if session.policy_mut().waiting() => {
                out.truncate(mark);
                session.restore(checkpoint);
                session.policy_mut().answer().await;
            }
            _ => {
                session.policy_mut().settled();
                return done;
            }
        }
    }
}
