//! The seam between the protocol core and whatever decides replies.
//!
//! The session asks a [`Policy`] at every stage with a [`Context`] that holds
//! everything a rule may look at; the policy answers with a [`Decision`] or
//! `None` for "send the normal protocol reply". The scenario engine is the real
//! policy; tests use small closures. Keeping this interface in `proto` lets the
//! session stay free of YAML, clocks and shared state.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::reply::{EnhancedCode, Reply};
pub(crate) use super::reply::{Malformed, Wire};
use super::transaction::Recipient;

/// Where in the SMTP dialogue a decision is being made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Stage {
    /// The greeting.
    Connect,
    /// EHLO or HELO.
    Helo,
    StartTls,
    Auth,
    Mail,
    Rcpt,
    /// The DATA command (normally answered 354) or the first BDAT chunk.
    Data,
    /// End of message content: the final reply for the message.
    Message,
    Rset,
    Noop,
    /// VRFY and EXPN.
    Vrfy,
    Quit,
}

impl Stage {
    pub(crate) const ALL: [Stage; 12] = [
        Stage::Connect,
        Stage::Helo,
        Stage::StartTls,
        Stage::Auth,
        Stage::Mail,
        Stage::Rcpt,
        Stage::Data,
        Stage::Message,
        Stage::Rset,
        Stage::Noop,
        Stage::Vrfy,
        Stage::Quit,
    ];

    /// The name used in scenario files (`on: rcpt`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Stage::Connect => "connect",
            Stage::Helo => "helo",
            Stage::StartTls => "starttls",
            Stage::Auth => "auth",
            Stage::Mail => "mail",
            Stage::Rcpt => "rcpt",
            Stage::Data => "data",
            Stage::Message => "message",
            Stage::Rset => "rset",
            Stage::Noop => "noop",
            Stage::Vrfy => "vrfy",
            Stage::Quit => "quit",
        }
    }
}

/// What a rule may look at. Borrowed from the session; nothing is copied to
/// ask the policy.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Context<'a> {
    pub stage: Stage,
    pub client_ip: IpAddr,
    /// The EHLO/HELO argument, once given (at the `helo` stage: the one being sent).
    pub helo: Option<&'a str>,
    /// The reverse-path of the open transaction (`""` for the null sender);
    /// at the `mail` stage, the one being offered.
    pub from: Option<&'a str>,
    /// At `rcpt`: the recipient being offered. Elsewhere `None`; rules on
    /// `to` then look at `recipients`.
    pub to: Option<&'a str>,
    /// Recipients accepted so far in the open transaction.
    pub recipients: &'a [Recipient],
    pub tls: bool,
    pub auth_user: Option<&'a str>,
    /// Global connection number of this session, 1-based.
    pub connection: u64,
    /// How many times this command has been seen in this session, 1-based
    /// (at `connect` and `message`: 1, or the message number in the session).
    pub command: u64,
    /// The message content as received (after dot-unstuffing, without our
    /// `Received:` header); only at the `message` stage.
    pub message: Option<&'a [u8]>,
}

/// Whether and when a rule closes the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Disconnect {
    BeforeReply,
    AfterReply,
}

/// What to send instead of the normal reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ReplyChoice {
    /// The reply the protocol would have sent anyway (a rule that only delays).
    Default,
    /// Send nothing at all.
    Silent,
    Custom(Reply),
}

impl ReplyChoice {
    /// The code of a custom reply, if this is one.
    #[cfg(test)]
    pub(crate) fn custom_code(&self) -> Option<u16> {
        match self {
            ReplyChoice::Custom(r) => Some(r.code),
            _ => None,
        }
    }
}

/// A broken TLS upgrade (`tls_fault:` at `starttls`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum TlsFault {
    /// `220`, then the connection closes before any handshake.
    AbortHandshake,
    /// A certificate past its validity.
    ExpiredCert,
    /// A certificate for another host name.
    WrongHostCert,
    /// A certificate no CA signed.
    SelfSigned,
    /// TLS 1.2 only, no 1.3.
    Tls12Only,
}

impl TlsFault {
    /// The name a scenario uses for it.
    pub fn name(self) -> &'static str {
        match self {
            TlsFault::AbortHandshake => "abort_handshake",
            TlsFault::ExpiredCert => "expired_cert",
            TlsFault::WrongHostCert => "wrong_host_cert",
            TlsFault::SelfSigned => "self_signed",
            TlsFault::Tls12Only => "tls12_only",
        }
    }
}

/// A policy's answer at one stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Decision {
    /// The rule's name, kept in the transcript beside the reply it produced.
    pub rule: Arc<str>,
    pub reply: ReplyChoice,
    /// Wait this long (real time) before replying.
    pub delay: Option<Duration>,
    pub disconnect: Option<Disconnect>,
    /// `false` at the `message` stage: reply as told but keep no copy.
    pub store: bool,
    pub wire: Wire,
    /// At `data`: accept, then cut the connection after this many bytes of
    /// message content.
    pub cut_after: Option<u64>,
    /// Why the rule applied, for the transcript (a greylist's wait, a rate
    /// limit's count).
    pub note: Option<String>,
    pub tls_fault: Option<TlsFault>,
    /// A failure after the 250 (`bounce:`, `complaint:`): a report the
    /// server sends later for the recipients it names.
    pub followup: Option<Followup>,
}

/// What a receiver reports after it accepted a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Later {
    /// A delivery status notification (RFC 3464): `failed` (5.x.x) or
    /// `delayed` (4.x.x), with the receiver's reply as its diagnostic.
    Bounce {
        status: EnhancedCode,
        diagnostic: Option<Reply>,
        delayed: bool,
    },
    /// An abuse report (RFC 5965) of this feedback type.
    Complaint { feedback_type: Arc<str> },
}

/// A report planned for some recipients of the open transaction, due
/// `after` the message is accepted (on the scenario's clock).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Followup {
    /// The rule that planned it.
    pub rule: Arc<str>,
    pub after: Duration,
    pub later: Later,
    /// The recipients it is about, as given in RCPT TO.
    pub recipients: Vec<String>,
}

impl Decision {
    #[cfg(test)]
    pub(crate) fn reply(rule: &str, reply: Reply) -> Self {
        Self {
            rule: Arc::from(rule),
            reply: ReplyChoice::Custom(reply),
            delay: None,
            disconnect: None,
            store: true,
            wire: Wire::Normal,
            cut_after: None,
            note: None,
            tls_fault: None,
            followup: None,
        }
    }
}

/// Decides replies. Called once per stage, after the session has found the
/// command well-formed and in sequence.
pub(crate) trait Policy: Send {
    fn decide(&mut self, ctx: &Context<'_>) -> Option<Decision>;

    /// A message got its 2xx and was stored; counters such as `message:` move on.
    fn message_accepted(&mut self) {}
}

/// Accepts everything: the session tests' policy.
#[cfg(test)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct AcceptAll;

#[cfg(test)]
impl Policy for AcceptAll {
    fn decide(&mut self, _ctx: &Context<'_>) -> Option<Decision> {
        None
    }
}
