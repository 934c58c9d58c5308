//! The SMTP session state machine: bytes in, [`Action`]s out.
//!
//! It owns the framer (which must switch between command lines, dot-stuffed
//! DATA and byte-counted BDAT at exactly the right byte) and the open
//! [`Transaction`], checks syntax and sequence itself, and asks its
//! [`Policy`] for every reply the protocol allows. It never touches a socket
//! or a clock: time-outs and shutdown arrive as calls, delays and deliveries
//! leave as actions, so every exchange is testable byte for byte.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::command::{self, Body as BodyParam, Command, ParseError, Verb};
use super::event::{Answer, CloseReason, CommandEvent, Deviation, Event};
use super::extensions::{Extension, Extensions};
use super::framer::{BareLf, Ending, Frame, Framer, Mode};
use super::policy::{Policy, Stage, TlsFault, Wire};
use super::replies as R;
use super::reply::{EnhancedCode, Reply};
use super::transaction::{Body, Incoming, Recipient, Transaction};

/// Fixed settings of a session, shared by every connection of a server.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub hostname: String,
    /// Text after the hostname in the 220 greeting.
    pub greeting: String,
    pub extensions: Extensions,
    pub max_message_size: u64,
    pub max_recipients: usize,
    pub bare_lf: BareLf,
    /// Longest accepted command line, without CRLF.
    pub max_line: usize,
    /// Protocol errors tolerated before `421` and close (Postfix: 20).
    pub max_errors: u32,
    /// STARTTLS is offered (the server has a certificate).
    pub starttls: bool,
    /// MAIL is refused with 530 until TLS is up.
    pub tls_required: bool,
    /// `None`: AUTH is neither advertised nor accepted.
    pub auth: Option<AuthConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            hostname: "mailfault.test".into(),
            greeting: "ESMTP mailfault".into(),
            extensions: Extensions::default_set(),
            max_message_size: 25 * 1024 * 1024,
            max_recipients: 100,
            bare_lf: BareLf::Reject,
            max_line: 2048,
            max_errors: 20,
            starttls: false,
            tls_required: false,
            auth: None,
        }
    }
}

/// A reply on its way out, with everything the connection needs to write and
/// transcribe it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Outgoing {
    pub reply: Reply,
    /// Whether to write the enhanced status code.
    pub enhanced: bool,
    /// The rule that produced this reply, for the record.
    pub rule: Option<Arc<str>>,
    pub wire: Wire,
    pub answers: Answer,
}

/// What the connection must do, in order.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Send(Outgoing),
    Delay(Duration),
    /// Store the message, then send `reply` (or, when `None`, the standard
    /// `queued as <id>` reply); a failed store answers 451 instead.
    Deliver {
        message: Box<Incoming>,
        reply: Option<Reply>,
        enhanced: bool,
        rule: Option<Arc<str>>,
        wire: Wire,
        answers: Answer,
    },
    /// A fact for the session's record (replies are recorded as they are
    /// sent, by whoever sends them).
    Record(Event),
    /// Flush, drop any input the client pipelined behind STARTTLS (RFC 3207
    /// §4.2: it could be injected plaintext), do the TLS handshake, then
    /// call [`Session::tls_started`]. A fault asks for a broken certificate
    /// or protocol on purpose.
    StartTls(Option<TlsFault>),
    /// Flush and close. After a 421 ([`CloseReason::lingers`]) the
    /// connection first reads for a moment, to record a client that goes on
    /// talking.
    Close(CloseReason),
}

/// What kind of input one [`Session::receive`] call consumed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Inbound {
    /// A command line: the consumed bytes are worth a transcript line.
    Command,
    /// Message content: counted, not transcribed line by line.
    Content,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Step {
    pub consumed: usize,
    pub inbound: Inbound,
    /// Set when the line carries AUTH secrets: only this many leading bytes
    /// may be recorded.
    pub shown: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Fresh,
    Open,
    /// Refused with 554 at connect: only QUIT is served (RFC 5321 §3.1).
    Rejected,
    Closed,
}

/// A BDAT chunk being read, and the reply owed when it ends.
#[derive(Debug)]
struct Chunk {
    last: bool,
    refusal: Option<Outgoing>,
}

/// The reply a stage ends with, after the policy had its say.
struct Resolved {
    reply: Option<Outgoing>,
    /// The reply came from the rule, not from the protocol's defaults.
    custom: bool,
    delay: Option<Duration>,
    close_before: bool,
    close_after: bool,
    store: bool,
    cut_after: Option<u64>,
    note: Option<String>,
    tls_fault: Option<TlsFault>,
    /// A report to plan if the stage ends positive.
    followup: Option<super::policy::Followup>,
}

pub(crate) struct Session<P> {
    config: Arc<Config>,
    policy: P,
    client_ip: IpAddr,
    connection: u64,
    framer: Framer,
    state: State,
    helo: Option<String>,
    esmtp: bool,
    tx: Option<Transaction>,
    chunk: Option<Chunk>,
    counts: [u64; Verb::COUNT],
    messages: u64,
    errors: u32,
    /// TLS is up on this connection (after STARTTLS, or implicit TLS).
    tls: bool,
    /// The user AUTH succeeded for, if any.
    auth_user: Option<String>,
    /// An AUTH exchange waiting for the client's next line.
    exchange: Option<auth::Exchange>,
    /// What the replies being produced answer: set where input enters.
    answering: Answer,
    /// The current date for a greeting that shows one (`{date}`), given by
    /// the connection: the session itself reads no clock.
    date: Option<String>,
}

/// Where a greeting shows the current date (Microsoft's does).
pub(crate) const DATE: &str = "{date}";

/// Longest AUTH command or AUTH continuation line (RFC 4954 §4), CRLF excluded.
pub(crate) const AUTH_LINE_MAX: usize = 12_288;

/// How much of a line over `max_line` may be shown, when it is one of the
/// AUTH lines allowed to be that long; `None` for any other line.
fn shown_auth<P: Policy>(session: &Session<P>, line: &[u8]) -> Option<usize> {
    session.config.auth.as_ref()?;
    if line.len() > AUTH_LINE_MAX {
        return None;
    }
    session.shown(line)
}

impl<P: Policy> Session<P> {
    pub(crate) fn new(config: Arc<Config>, policy: P, client_ip: IpAddr, connection: u64) -> Self {
        // AUTH lines may be longer than commands: RFC 4954 §4 allows 12,288
        // octets, which long OAuth bearer tokens need. The framer takes
        // lines that long; `receive` holds other commands to `max_line`.
        let framer = Framer::new(match config.auth {
            Some(_) => config.max_line.max(AUTH_LINE_MAX),
            None => config.max_line,
        });
        Self {
            config,
            policy,
            client_ip,
            connection,
            framer,
            state: State::Fresh,
            helo: None,
            esmtp: false,
            tx: None,
            chunk: None,
            counts: [0; Verb::COUNT],
            messages: 0,
            errors: 0,
            tls: false,
            auth_user: None,
            exchange: None,
            answering: Answer::Greeting,
            date: None,
        }
    }

    #[cfg(test)]
    pub(crate) fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// True while message content is arriving (the data time-out applies and
    /// a shutdown lets it finish).
    pub(crate) fn in_content(&self) -> bool {
        !matches!(self.framer.mode(), Mode::Command)
    }

    /// Whether the greeting shows the date, which the connection then gives
    /// with [`Session::set_date`] before [`Session::start`].
    pub(crate) fn greeting_shows_date(&self) -> bool {
        self.config.greeting.contains(DATE)
    }

    /// The date (RFC 5322 form) a `{date}` in the greeting stands for.
    pub(crate) fn set_date(&mut self, date: String) {
        self.date = Some(date);
    }

    /// The greeting.
    pub(crate) fn start(&mut self, out: &mut Vec<Action>) {
        if self.state != State::Fresh {
            return;
        }
        self.state = State::Open;
        self.answering = Answer::Greeting;
        let greeting = match &self.date {
            Some(date) => Cow::Owned(self.config.greeting.replace(DATE, date)),
            None => Cow::Borrowed(self.config.greeting.as_str()),
        };
        let default = Reply {
            code: 220,
            enhanced: None,
            text: Cow::Owned(format!("{} {greeting}", self.config.hostname)),
        };
        let decision = self.decide(Stage::Connect, None, 1);
        let resolved = self.resolve(decision, default);
        let refused = matches!(&resolved.reply, Some(o) if o.reply.class() == 5);
        self.emit(resolved, out);
        if refused && self.state != State::Closed {
            self.state = State::Rejected;
        }
    }

    /// Frames and handles the next input in `buf`; `None` when `buf` holds
    /// no complete input yet (or the session is closed).
    pub(crate) fn receive(&mut self, buf: &[u8], out: &mut Vec<Action>) -> Option<Step> {
        if self.state == State::Closed {
            return None;
        }
        let (frame, consumed) = self.framer.next(buf)?;
        let mut shown = None;
        let inbound = match frame {
            Frame::Line { line, .. }
                if line.len() > self.config.max_line && shown_auth(self, line).is_none() =>
            {
                self.answering = Answer::Command;
                let head = line.get(..self.config.max_line).unwrap_or(line);
                out.push(Action::Record(Event::Command(CommandEvent::unparsed(head))));
                self.error(R::LINE_TOO_LONG, out);
                Inbound::Command
            }
            Frame::Line {
                line,
                ending,
                bare_cr,
            } => {
                self.answering = Answer::Command;
                shown = self.shown(line);
                let recorded = out.len();
                let as_shown = shown.map_or(Cow::Borrowed(line), |n| auth::masked(line, n));
                out.push(Action::Record(Event::Command(CommandEvent::unparsed(
                    &as_shown,
                ))));
                self.line(line, ending, bare_cr, recorded, out);
                Inbound::Command
            }
            Frame::Discard => Inbound::Content,
            Frame::TooLong => {
                self.answering = Answer::Command;
                shown = self.exchange.take().map(|_| 0);
                let head = buf.get(..consumed.min(self.config.max_line)).unwrap_or(buf);
                let as_shown = shown.map_or(Cow::Borrowed(head), |n| auth::masked(head, n));
                out.push(Action::Record(Event::Command(CommandEvent::unparsed(
                    &as_shown,
                ))));
                self.error(R::LINE_TOO_LONG, out);
                Inbound::Command
            }
            Frame::Data { bytes, flags } => {
                if let Some(tx) = self.tx.as_mut() {
                    tx.append(bytes, self.config.max_message_size);
                    tx.bare_lf |= flags.bare_lf;
                    tx.smuggling += u32::from(flags.smuggling);
                }
                self.cut_if_due(out);
                Inbound::Content
            }
            Frame::DataEnd => {
                self.answering = Answer::Content;
                self.finish_message(out);
                Inbound::Content
            }
            Frame::Chunk(bytes) => {
                if let (Some(tx), Some(Chunk { refusal: None, .. })) =
                    (self.tx.as_mut(), self.chunk.as_ref())
                {
                    tx.append(bytes, self.config.max_message_size);
                }
                self.cut_if_due(out);
                Inbound::Content
            }
            Frame::ChunkEnd => {
                self.answering = Answer::Command;
                self.chunk_end(out);
                Inbound::Content
            }
        };
        Some(Step {
            consumed,
            inbound,
            shown,
        })
    }

    /// The client was silent for too long.
    pub(crate) fn timeout(&mut self, out: &mut Vec<Action>) {
        self.answering = Answer::Unsolicited;
        self.close_with(R::TIMEOUT, CloseReason::Timeout, out);
    }

    /// The server is stopping; called only between commands.
    pub(crate) fn shutdown(&mut self, out: &mut Vec<Action>) {
        self.answering = Answer::Unsolicited;
        self.close_with(R::SHUTTING_DOWN, CloseReason::Shutdown, out);
    }

    fn close_with(&mut self, reply: Reply, reason: CloseReason, out: &mut Vec<Action>) {
        if self.state == State::Closed {
            return;
        }
        self.send(reply, out);
        self.close(reason, out);
    }

    fn close(&mut self, reason: CloseReason, out: &mut Vec<Action>) {
        out.push(Action::Close(reason));
        self.state = State::Closed;
    }

    fn enhanced(&self) -> bool {
        self.config
            .extensions
            .contains(Extension::EnhancedStatusCodes)
    }

    /// The protocol's own reply (no rule behind it) to what is being answered.
    fn protocol(&self, reply: Reply) -> Outgoing {
        Outgoing {
            reply,
            enhanced: self.enhanced(),
            rule: None,
            wire: Wire::Normal,
            answers: self.answering,
        }
    }

    fn send(&self, reply: Reply, out: &mut Vec<Action>) {
        out.push(Action::Send(self.protocol(reply)));
    }

    /// A reply the client caused by getting the protocol wrong; enough of
    /// them and the server hangs up, as real servers do.
    fn error(&mut self, reply: Reply, out: &mut Vec<Action>) {
        self.send(reply, out);
        self.errors += 1;
        if self.errors >= self.config.max_errors {
            self.close_with(R::TOO_MANY_ERRORS, CloseReason::TooManyErrors, out);
        }
    }

    /// `recorded` is where the line's [`Event::Command`] sits in `out`: the
    /// parse fills in its facts there.
    fn line(
        &mut self,
        line: &[u8],
        ending: Ending,
        bare_cr: bool,
        recorded: usize,
        out: &mut Vec<Action>,
    ) {
        if ending == Ending::BareLf {
            if self.config.bare_lf == BareLf::Reject {
                self.exchange = None;
                self.error(R::BARE_LF_COMMAND, out);
                return;
            }
            out.push(Action::Record(Event::Tolerated(Deviation::BareLfCommand)));
        }
        if bare_cr {
            out.push(Action::Record(Event::Tolerated(Deviation::BareCrInCommand)));
        }
        if self.exchange.is_some() {
            return self.auth_continue(line, out);
        }
        let parsed = match command::parse(line) {
            Ok(p) => p,
            Err(ParseError::UnknownCommand) => return self.error(R::UNKNOWN_COMMAND, out),
            Err(ParseError::Syntax(why) | ParseError::BadParameter(why)) => {
                return self.error(Reply::new(501, Some(EnhancedCode::new(5, 5, 4)), why), out);
            }
            Err(ParseError::Unsupported(name)) => {
                return self.error(R::param_not_supported(name), out);
            }
            Err(ParseError::BadSender(why)) => {
                return self.error(Reply::new(501, Some(EnhancedCode::new(5, 1, 7)), why), out);
            }
            Err(ParseError::BadRecipient(why)) => {
                return self.error(Reply::new(501, Some(EnhancedCode::new(5, 1, 3)), why), out);
            }
            Err(ParseError::BadBdat { size, why }) => {
                return self.bad_bdat(size, why);
            }
        };
        if let Some(Action::Record(Event::Command(event))) = out.get_mut(recorded) {
            describe(&parsed.command, event);
        }
        for deviation in parsed.deviations.iter() {
            out.push(Action::Record(Event::Tolerated(Deviation::Syntax(
                deviation,
            ))));
        }
        let verb = parsed.command.verb();
        let count = {
            let c = &mut self.counts[verb as usize];
            *c += 1;
            *c
        };
        if self.state == State::Rejected && verb != Verb::Quit {
            return self.error(R::SEQ_REJECTED_AT_CONNECT, out);
        }
        match parsed.command {
            Command::Ehlo(host) => self.helo(host, true, count, out),
            Command::Helo(host) => self.helo(host, false, count, out),
            Command::Mail { from, params } => self.mail(from, &params, count, out),
            Command::Rcpt { to, params } => self.rcpt(to, &params, count, out),
            Command::Data => self.data(count, out),
            Command::Bdat { size, last } => self.bdat(size, last, count, out),
            Command::Rset => {
                self.tx = None;
                self.stage(Stage::Rset, R::OK, None, count, out);
            }
            Command::Noop => {
                self.stage(Stage::Noop, R::OK, None, count, out);
            }
            Command::Quit => {
                self.stage(Stage::Quit, R::BYE, None, count, out);
                if self.state != State::Closed {
                    self.close(CloseReason::Quit, out);
                }
            }
            Command::Vrfy(_) => {
                self.stage(Stage::Vrfy, R::VRFY, None, count, out);
            }
            Command::Expn(_) => {
                self.stage(Stage::Vrfy, R::EXPN, None, count, out);
            }
            Command::Help(_) => self.send(R::HELP, out),
            Command::StartTls => self.starttls(count, out),
            Command::Auth { mechanism, initial } => self.auth(mechanism, initial, count, out),
        }
    }

    fn ehlo_reply(&self, esmtp: bool) -> Reply {
        let mut text = self.config.hostname.clone();
        if esmtp {
            for ext in self.config.extensions.iter() {
                text.push('\n');
                match ext {
                    Extension::Size => {
                        text.push_str("SIZE ");
                        text.push_str(&self.config.max_message_size.to_string());
                    }
                    Extension::Auth => self.advertise_auth(&mut text),
                    // STARTTLS is advertised, where the list puts it, while
                    // the server has a certificate and TLS is not yet up.
                    Extension::StartTls if self.config.starttls && !self.tls => {
                        text.push_str("STARTTLS");
                    }
                    Extension::StartTls => {
                        text.pop();
                    }
                    other => text.push_str(other.keyword()),
                }
            }
        }
        let listed = self.config.extensions.contains(Extension::StartTls);
        if esmtp && !listed && self.config.starttls && !self.tls {
            text.push_str("\nSTARTTLS");
        }
        Reply {
            code: 250,
            enhanced: None,
            text: Cow::Owned(text),
        }
    }

    fn helo(&mut self, host: &str, esmtp: bool, count: u64, out: &mut Vec<Action>) {
        self.tx = None;
        let previous = self.helo.replace(host.to_owned());
        let default = self.ehlo_reply(esmtp);
        if self.stage(Stage::Helo, default, None, count, out) {
            self.esmtp = esmtp;
        } else {
            self.helo = previous;
        }
    }

    fn mail(
        &mut self,
        from: &str,
        params: &command::MailParams<'_>,
        count: u64,
        out: &mut Vec<Action>,
    ) {
        if self.helo.is_none() {
            return self.error(R::SEQ_NEED_HELO, out);
        }
        if self.tx.is_some() {
            return self.error(R::SEQ_NESTED_MAIL, out);
        }
        if self.config.tls_required && !self.tls {
            return self.send(R::TLS_REQUIRED, out);
        }
        if self.auth_missing() {
            return self.send(R::AUTH_REQUIRED, out);
        }
        let ext = self.config.extensions;
        let unsupported = params.unknown.or_else(|| {
            let off = |e| !ext.contains(e);
            [
                (params.size.is_some() && off(Extension::Size), "SIZE"),
                (params.smtputf8 && off(Extension::SmtpUtf8), "SMTPUTF8"),
                (
                    matches!(params.body, Some(BodyParam::EightBitMime))
                        && off(Extension::EightBitMime),
                    "BODY=8BITMIME",
                ),
                // Binary content travels by BDAT only (RFC 3030 §3).
                (
                    matches!(params.body, Some(BodyParam::BinaryMime))
                        && (off(Extension::BinaryMime) || off(Extension::Chunking)),
                    "BODY=BINARYMIME",
                ),
                (params.ret.is_some() && off(Extension::Dsn), "RET"),
                (params.envid.is_some() && off(Extension::Dsn), "ENVID"),
                (params.auth.is_some() && off(Extension::Auth), "AUTH"),
            ]
            .into_iter()
            .find_map(|(refused, name)| refused.then_some(name))
        });
        if let Some(name) = unsupported {
            return self.error(R::param_not_supported(name), out);
        }
        if params
            .size
            .is_some_and(|s| s > self.config.max_message_size)
        {
            return self.send(R::MESSAGE_TOO_BIG, out);
        }
        if !from.is_ascii() && !params.smtputf8 {
            return self.send(R::UTF8_NEEDS_SMTPUTF8, out);
        }
        let mut tx = Transaction::new(from.to_owned(), params.raw.to_owned(), params.smtputf8);
        tx.binary = matches!(params.body, Some(BodyParam::BinaryMime));
        self.tx = Some(tx);
        if !self.stage(Stage::Mail, R::SENDER_OK, None, count, out) {
            self.tx = None;
        }
    }

    fn rcpt(
        &mut self,
        to: &str,
        params: &command::RcptParams<'_>,
        count: u64,
        out: &mut Vec<Action>,
    ) {
        let Some(tx) = self.tx.as_mut() else {
            return self.error(R::SEQ_NEED_MAIL, out);
        };
        if tx.body != Body::None {
            return self.error(R::SEQ_RCPT_AFTER_BDAT, out);
        }
        let dsn = self.config.extensions.contains(Extension::Dsn);
        let unsupported = params.unknown.or(if dsn {
            None
        } else if params.notify.is_some() {
            Some("NOTIFY")
        } else if params.orcpt.is_some() {
            Some("ORCPT")
        } else {
            None
        });
        if let Some(name) = unsupported {
            return self.error(R::param_not_supported(name), out);
        }
        if !to.is_ascii() && !tx.utf8 {
            return self.send(R::UTF8_NEEDS_SMTPUTF8, out);
        }
        tx.rcpt_attempts += 1;
        if tx.recipients.len() >= self.config.max_recipients {
            return self.send(R::TOO_MANY_RECIPIENTS, out);
        }
        if self.stage(Stage::Rcpt, R::RECIPIENT_OK, Some(to), count, out)
            && let Some(tx) = self.tx.as_mut()
        {
            tx.recipients.push(Recipient {
                address: to.to_owned(),
                params: params.raw.to_owned(),
            });
        }
    }
}

/// The facts of a parsed command, for its record.
fn describe(command: &Command<'_>, event: &mut CommandEvent) {
    event.verb = Some(command.verb());
    match command {
        Command::Mail { from, params } => {
            event.address = Some((*from).into());
            event.size = params.size;
        }
        Command::Rcpt { to, .. } => event.address = Some((*to).into()),
        Command::Bdat { last, .. } => event.last = *last,
        _ => {}
    }
}

mod auth;
mod content;
mod decisions;
mod rewind;
mod starttls;

pub use auth::Mechanism;
pub(crate) use auth::{AuthConfig, Credential};

#[cfg(test)]
mod tests;

#[cfg(test)]
mod fault_tests;

#[cfg(test)]
mod tls_tests;

#[cfg(test)]
mod auth_tests;
