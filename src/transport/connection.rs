//! Drives one SMTP connection: moves bytes between the socket and the
//! session, applies the time-outs, executes the session's actions (send,
//! delay, deliver, close) and records the transcript.
//!
//! Replies are batched and flushed only when the input buffer is drained, so
//! a pipelining client gets all its replies in one write. Reading stops while
//! a write is pending: a client that never reads its replies gets TCP
//! back-pressure, not an ever-growing server buffer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracing::{Instrument, debug, info, info_span, warn};

use super::stream::Stream;
use super::{Active, Shared};
use crate::proto::policy::TlsFault;
use crate::proto::replies;
use crate::proto::reply::{EnhancedCode, Reply};
use crate::proto::reply::{Malformed, Wire};
use crate::proto::session::{Action, Inbound, Outgoing, Session};
use crate::proto::transaction::Incoming;
use crate::store::message::Timeline;
use crate::store::received::{self, Trace};
use crate::store::{OpenSession, SessionRecord, StoredMessage, Transcript};
use crate::tls;

/// Read size between commands; idle connections hold no more than this.
const COMMAND_READ: usize = 4 * 1024;
/// How long, and how much, the server still reads after a 421 to see
/// whether the client stops talking.
const LINGER: Duration = Duration::from_millis(500);
const LINGER_BYTES: usize = 4 * 1024;
/// Read size while message content streams in.
const CONTENT_READ: usize = 64 * 1024;

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

    fn describe(self, wire: Wire) -> String {
        match wire {
            Wire::Drip { bytes_per_sec } => format!("reply dripped at {bytes_per_sec} B/s"),
            _ => format!(
                "reply split into {}-byte fragments, {} ms apart",
                self.piece,
                self.pause.as_millis()
            ),
        }
    }
}

/// Serves one connection; `implicit_tls` for the SMTPS port, where the TLS
/// handshake comes before the greeting.
pub(crate) async fn run(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    implicit_tls: bool,
) {
    let id = shared.next_session();
    let span = info_span!("session", id, client = %peer, tls = implicit_tls);
    Connection::new(stream, peer, id, shared)
        .drive(implicit_tls)
        .instrument(span)
        .await;
}

struct Connection {
    stream: Stream,
    /// TLS version and cipher once TLS is up.
    tls: Option<String>,
    /// The session asked for STARTTLS; the upgrade runs once the reply is
    /// out, with a broken certificate or protocol when a fault says so.
    upgrade_pending: Option<Option<TlsFault>>,
    peer: SocketAddr,
    id: u64,
    shared: Arc<Shared>,
    /// The scenario in force when the client connected, kept to the end.
    active: Arc<Active>,
    wbuf: Vec<u8>,
    /// The code of the last reply sent: a 421 ends the session with a linger.
    last_code: u16,
    transcript: Transcript,
    started: Instant,
    started_at: SystemTime,
    delivered: Vec<u64>,
}

impl Connection {
    fn new(stream: TcpStream, peer: SocketAddr, id: u64, shared: Arc<Shared>) -> Self {
        Self {
            stream: Stream::Plain(stream),
            tls: None,
            upgrade_pending: None,
            peer,
            id,
            active: shared.active(),
            shared,
            wbuf: Vec::new(),
            last_code: 0,
            transcript: Transcript::default(),
            started: Instant::now(),
            started_at: SystemTime::now(),
            delivered: Vec::new(),
        }
    }

    fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Replaces the TCP stream with TLS; `false` (connection to be ended)
    /// when the handshake fails or takes longer than the command time-out.
    async fn upgrade(&mut self, fault: Option<TlsFault>) -> bool {
        let faulty = match (fault, self.shared.tls_faults.as_deref()) {
            (Some(TlsFault::ExpiredCert), Some(f)) => Some(f.expired.clone()),
            (Some(TlsFault::WrongHostCert), Some(f)) => Some(f.wrong_host.clone()),
            (Some(TlsFault::SelfSigned), Some(f)) => Some(f.self_signed.clone()),
            (Some(TlsFault::Tls12Only), Some(f)) => Some(f.tls12_only.clone()),
            _ => None,
        };
        if let (Some(fault), Some(_)) = (fault, &faulty) {
            let at = self.elapsed();
            self.transcript
                .note(at, &format!("TLS fault: handshake with {}", fault.name()));
        }
        let Some(acceptor) = faulty.or_else(|| self.shared.tls.clone()) else {
            return false;
        };
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Gone) else {
            return false;
        };
        let handshake = tokio::time::timeout(self.active.command_timeout, acceptor.accept(tcp));
        let at = self.elapsed();
        match handshake.await {
            Ok(Ok(stream)) => {
                let facts = tls::describe(&stream);
                self.transcript
                    .note(at, &format!("TLS established: {facts}"));
                debug!(tls = %facts, "TLS established");
                self.tls = Some(facts);
                self.stream = Stream::Tls(Box::new(stream));
                true
            }
            Ok(Err(e)) => {
                self.transcript
                    .note(at, &format!("TLS handshake failed: {e}"));
                false
            }
            Err(_) => {
                self.transcript.note(at, "TLS handshake timed out");
                false
            }
        }
    }

    async fn drive(mut self, implicit_tls: bool) {
        let engine = Arc::clone(&self.active.engine);
        let connection = engine.next_connection();
        let scenario_started = engine.clock().at(self.started);
        self.shared.metrics.connected();
        self.shared.store.session_started(OpenSession {
            id: self.id,
            client: self.peer,
            connection,
            started_at: self.started_at,
            epoch: self.active.epoch,
        });
        let mut session = Session::new(
            Arc::clone(&self.active.config),
            engine.session_policy(),
            self.peer.ip(),
            connection,
        );
        debug!(connection, "connected");
        let mut actions = Vec::new();
        let mut rbuf = BytesMut::with_capacity(COMMAND_READ);
        let mut open = true;
        let mut peer_closed = false;
        if implicit_tls {
            open = self.upgrade(None).await;
            session.tls_started();
        }
        if open {
            session.start(&mut actions);
            open = self.execute(&mut actions).await;
        }
        'session: while open {
            while let Some(step) = session.receive(&rbuf, &mut actions) {
                if step.inbound == Inbound::Command {
                    let at = self.elapsed();
                    if let Some(line) = rbuf.get(..step.consumed) {
                        let line = step.transcribable(line);
                        self.transcript.client(at, &line);
                        debug!(line = %String::from_utf8_lossy(&line).trim_end(), "C");
                    }
                }
                rbuf.advance(step.consumed);
                if !self.execute(&mut actions).await {
                    break 'session;
                }
                if let Some(fault) = self.upgrade_pending.take() {
                    if !rbuf.is_empty() {
                        let at = self.elapsed();
                        let note = format!(
                            "discarded {} byte(s) pipelined after STARTTLS before the TLS handshake (command injection attempt, CVE-2011-0411 class)",
                            rbuf.len()
                        );
                        self.transcript.note(at, &note);
                        warn!(
                            bytes = rbuf.len(),
                            "plaintext pipelined after STARTTLS discarded"
                        );
                        rbuf.clear();
                    }
                    if !self.upgrade(fault).await {
                        break 'session;
                    }
                    session.tls_started();
                }
            }
            if session.is_closed() || !self.flush().await {
                break;
            }
            let content = session.in_content();
            let (limit, chunk) = if content {
                (self.active.data_timeout, CONTENT_READ)
            } else {
                (self.active.command_timeout, COMMAND_READ)
            };
            if rbuf.capacity() - rbuf.len() < chunk / 4 {
                rbuf.reserve(chunk);
            }
            let shutdown = self.shared.shutdown.clone();
            let read = tokio::select! {
                biased;
                _ = shutdown.cancelled(), if !content => {
                    session.shutdown(&mut actions);
                    self.execute(&mut actions).await;
                    break;
                }
                r = tokio::time::timeout(limit, self.stream.read_buf(&mut rbuf)) => r,
            };
            match read {
                Err(_) => {
                    session.timeout(&mut actions);
                    self.execute(&mut actions).await;
                    break;
                }
                Ok(Ok(0)) => {
                    let at = self.elapsed();
                    if session.in_content() {
                        self.transcript.note(
                            at,
                            "connection lost during message content; partial message discarded",
                        );
                    } else {
                        self.transcript.note(at, "client closed the connection");
                    }
                    open = false;
                    peer_closed = true;
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    let at = self.elapsed();
                    self.transcript.note(at, &format!("read error: {e}"));
                    open = false;
                    peer_closed = true;
                }
            }
        }
        if self.last_code == 421 && !peer_closed && !self.shared.shutdown.is_cancelled() {
            self.linger(rbuf.len()).await;
        }
        let _ = self.stream.shutdown().await;
        debug!(messages = self.delivered.len(), "closed");
        self.shared.metrics.disconnected();
        self.shared.store.session_finished(SessionRecord {
            id: self.id,
            client: self.peer,
            connection,
            started_at: self.started_at,
            ended_at: SystemTime::now(),
            epoch: self.active.epoch,
            scenario_started,
            timeline: Some(Timeline {
                clock: Arc::clone(self.active.engine.clock()),
                started: self.started,
            }),
            messages: self.delivered,
            transcript: self.transcript,
        });
    }

    /// After a 421 the server closes (RFC 5321 §3.8), but first half-closes
    /// and reads for a moment, so the transcript shows a client that kept
    /// sending commands after being told to go away. What the client had
    /// already pipelined before the 421 went out is excused, not recorded.
    async fn linger(&mut self, pipelined: usize) {
        let _ = self.stream.shutdown().await;
        if pipelined > 0 {
            let at = self.elapsed();
            let note =
                format!("{pipelined} byte(s) pipelined before the 421 went out were not read");
            self.transcript.note(at, &note);
        }
        let mut late = BytesMut::with_capacity(LINGER_BYTES);
        let deadline = tokio::time::Instant::now() + LINGER;
        while late.len() < LINGER_BYTES {
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut late)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => break,
            }
        }
        if late.is_empty() {
            return;
        }
        let at = self.elapsed();
        for line in late.split_inclusive(|&b| b == b'\n') {
            self.transcript.client(at, line);
        }
        let note = format!(
            "client sent {} byte(s) after the 421 (read while closing, not answered)",
            late.len()
        );
        self.transcript.note(at, &note);
    }

    /// Writes what is buffered; a client that stops reading for longer than
    /// the command time-out loses its connection.
    async fn flush(&mut self) -> bool {
        if self.wbuf.is_empty() {
            return true;
        }
        let write = tokio::time::timeout(
            self.active.command_timeout,
            self.stream.write_all(&self.wbuf),
        );
        let ok = matches!(write.await, Ok(Ok(())));
        self.wbuf.clear();
        if !ok {
            let at = self.elapsed();
            self.transcript
                .note(at, "could not write reply (client gone or not reading)");
        }
        ok
    }

    /// Buffers a reply (sent on the next flush) and transcribes it. Wire
    /// faults that need pacing are written at once, after what is buffered.
    async fn send(&mut self, out: Outgoing) -> bool {
        let start = self.wbuf.len();
        match out.wire {
            Wire::Malformed(kind) => out
                .reply
                .write_malformed(&mut self.wbuf, out.enhanced, kind),
            Wire::Normal | Wire::Drip { .. } => out.reply.write_to(&mut self.wbuf, out.enhanced),
        }
        self.shared.metrics.reply(out.reply.code);
        self.last_code = out.reply.code;
        let at = self.elapsed();
        if let Some(wire) = self.wbuf.get(start..) {
            self.transcript.server(at, wire, out.rule.as_ref());
        }
        let pacing = match out.wire {
            Wire::Drip { bytes_per_sec } => Pacing::drip(bytes_per_sec),
            Wire::Malformed(Malformed::Split) => Pacing::SPLIT,
            Wire::Malformed(kind) => {
                let note = format!("reply malformed on purpose ({})", kind.name());
                self.transcript.note(at, &note);
                return true;
            }
            Wire::Normal => return true,
        };
        let reply = self.wbuf.split_off(start);
        self.transcript.note(at, &pacing.describe(out.wire));
        self.flush().await && self.write_paced(&reply, pacing).await
    }

    /// Writes `bytes` a piece at a time; the client's reading is bounded by
    /// the command time-out as for any write.
    async fn write_paced(&mut self, bytes: &[u8], pacing: Pacing) -> bool {
        for (i, piece) in bytes.chunks(pacing.piece).enumerate() {
            if i > 0 {
                tokio::time::sleep(pacing.pause).await;
            }
            let write = tokio::time::timeout(self.active.command_timeout, async {
                self.stream.write_all(piece).await?;
                self.stream.flush().await
            });
            if !matches!(write.await, Ok(Ok(()))) {
                let at = self.elapsed();
                self.transcript
                    .note(at, "could not write reply (client gone or not reading)");
                return false;
            }
        }
        true
    }

    /// Runs the actions in order; `false` once the connection is closed.
    async fn execute(&mut self, actions: &mut Vec<Action>) -> bool {
        for action in actions.drain(..) {
            match action {
                Action::Send(out) => {
                    if !self.send(out).await {
                        return false;
                    }
                }
                Action::Note(text) => {
                    let at = self.elapsed();
                    self.transcript.note(at, &text);
                    debug!(note = %text);
                }
                Action::Delay(d) => {
                    if !self.flush().await {
                        return false;
                    }
                    tokio::time::sleep(d).await;
                }
                Action::Deliver {
                    message,
                    reply,
                    enhanced,
                    rule,
                    wire,
                } => {
                    let reply = self.deliver(*message, reply).await;
                    let out = Outgoing {
                        reply,
                        enhanced,
                        rule,
                        wire,
                    };
                    if !self.send(out).await {
                        return false;
                    }
                }
                Action::StartTls(fault) => {
                    self.upgrade_pending = Some(fault);
                    if !self.flush().await {
                        return false;
                    }
                }
                Action::Close => {
                    self.flush().await;
                    return false;
                }
            }
        }
        true
    }

    /// Stores the message; only a stored message earns the 2xx.
    async fn deliver(&mut self, incoming: Incoming, reply: Option<Reply>) -> Reply {
        let store = &self.shared.store;
        let id = store.next_id();
        let now = SystemTime::now();
        let single = match incoming.recipients.as_slice() {
            [only] => Some(only.address.as_str()),
            _ => None,
        };
        let received_header = received::header(&Trace {
            helo: incoming.helo.as_deref(),
            client_ip: self.peer.ip(),
            hostname: &self.active.config.hostname,
            protocol: incoming.protocol,
            id,
            single_recipient: single,
            at: now,
        });
        let message = StoredMessage {
            id,
            session_id: self.id,
            client: self.peer,
            received_at: now,
            helo: incoming.helo,
            mail_from: incoming.mail_from,
            mail_params: incoming.mail_params,
            recipients: incoming.recipients,
            tls: self.tls.clone(),
            auth_user: incoming.auth_user,
            received_header,
            content: incoming.content,
            smuggling_attempts: incoming.smuggling_attempts,
            bare_lf: incoming.bare_lf,
        };
        match store.deliver(message).await {
            Ok(stored) => {
                self.delivered.push(id);
                self.shared.metrics.message(stored.size());
                info!(
                    id,
                    from = %stored.mail_from,
                    to = ?stored.recipients.iter().map(|r| r.address.as_str()).collect::<Vec<_>>(),
                    bytes = stored.size(),
                    "message captured"
                );
                reply.unwrap_or_else(|| Reply {
                    code: 250,
                    enhanced: Some(EnhancedCode::new(2, 0, 0)),
                    text: format!("Ok: queued as {id}").into(),
                })
            }
            Err(e) => {
                warn!(error = %e, "message could not be stored; answered 451");
                let at = self.elapsed();
                self.transcript.note(at, &format!("store failed: {e}"));
                replies::STORE_FAILED
            }
        }
    }
}
