//! What happened in a session, as typed facts.
//!
//! The session and the connection record [`Event`]s as they go; the store
//! keeps them (bounded, see `store::log`), and everything that reads a
//! session works from their fields: the grader, the JSON API, the page. The
//! text transcript (`C: ...`, `S: ...`, `-- ...`) is only a rendering of
//! them, made when someone asks, so no reader ever has to parse text back
//! into facts, and the hot path formats nothing nobody reads.

use std::net::SocketAddr;
use std::sync::Arc;

use super::command::Verb;
use super::policy::TlsFault;
use super::reply::{Reply, Wire};
use super::session::Mechanism;

/// What a reply answered. Replies are recorded right after what they
/// answer, so `Command` means the latest [`Event::Command`] before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Answer {
    /// The 220 (or a refusal) when the client connected.
    Greeting,
    /// The latest command line (for BDAT: once its chunk has arrived).
    Command,
    /// The end of DATA content: the reply that decides the message.
    Content,
    /// Sent on the server's own account: a time-out or a shutdown.
    Unsolicited,
}

/// A command line as received.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommandEvent {
    /// `None`: not a command the parser knows (its reply says why), an
    /// over-long line, or a line of an AUTH exchange.
    pub verb: Option<Verb>,
    /// The bytes without their line ending; AUTH secrets are masked.
    #[serde(with = "line_form")]
    pub line: Box<[u8]>,
    /// The path of MAIL FROM or RCPT TO as the parser read it: without
    /// brackets or source route, as the client spelled it (`""` for `<>`).
    pub address: Option<Box<str>>,
    /// `SIZE=` declared on MAIL FROM.
    pub size: Option<u64>,
    /// `BDAT n LAST`: the chunk that ends the message.
    pub last: bool,
    /// Read after a 421 while the connection closed, and never answered.
    pub late: bool,
}

/// A command line serializes as a string when it is UTF-8 (nearly every
/// line is ASCII) and as its bytes otherwise, never lossily; both forms
/// read back.
mod line_form {
    use serde::de::{Error, SeqAccess, Visitor};
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(line: &[u8], s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(line) {
            Ok(text) => s.serialize_str(text),
            Err(_) => s.serialize_bytes(line),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Box<[u8]>, D::Error> {
        d.deserialize_any(Line)
    }

    struct Line;

    impl<'de> Visitor<'de> for Line {
        type Value = Box<[u8]>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a command line as a string or as bytes")
        }

        fn visit_str<E: Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(v.as_bytes().into())
        }

        fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Self::Value, E> {
            Ok(v.into())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
            while let Some(b) = seq.next_element::<u8>()? {
                out.push(b);
            }
            Ok(out.into())
        }
    }
}

impl CommandEvent {
    /// A line read after a 421, never answered. Only the verb of an AUTH
    /// line, or of a line that is no command (an AUTH exchange's base64, a
    /// password), is kept: the rest may be a credential.
    pub fn late(line: &[u8]) -> Self {
        let verb = super::command::parse(line).ok().map(|p| p.command.verb());
        let secret = matches!(verb, None | Some(Verb::Auth));
        let shown: std::borrow::Cow<'_, [u8]> = if secret {
            let word = line
                .iter()
                .position(|b| b.is_ascii_whitespace())
                .map_or(line, |end| &line[..end]);
            let word = if verb.is_some() { word } else { &[][..] };
            let mut masked = word.to_vec();
            if !masked.is_empty() {
                masked.push(b' ');
            }
            masked.extend_from_slice(b"****");
            masked.into()
        } else {
            line.into()
        };
        Self {
            verb,
            late: true,
            ..Self::unparsed(&shown)
        }
    }

    /// A line whose parse the recorder does not know (over-long lines, AUTH
    /// exchange lines, lines read after a 421).
    pub fn unparsed(line: &[u8]) -> Self {
        Self {
            verb: None,
            line: line.into(),
            address: None,
            size: None,
            last: false,
            late: false,
        }
    }
}

/// A reply as the session decided it; its wire form is rendered on demand.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReplyEvent {
    /// What the reply answered.
    pub answers: Answer,
    /// Code, enhanced code and text.
    pub reply: Reply,
    /// Whether the enhanced status code went on the wire.
    pub enhanced: bool,
    /// The scenario rule that produced it; `None` for the protocol's own.
    pub rule: Option<Arc<str>>,
    /// Written broken or paced on purpose (`malformed`, `bandwidth`).
    pub wire: Wire,
}

/// Sloppy client input the server tolerated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Deviation {
    /// A syntax liberty the parser accepted (`space after colon`, ...).
    Syntax(#[serde(deserialize_with = "syntax_text")] SyntaxText),
    /// A command line ended by LF alone, accepted by `bare_lf: accept`.
    BareLfCommand,
    /// A CR inside a command line.
    BareCrInCommand,
}

/// `&'static str` under another name: serde reads a field spelled `&str`
/// as text borrowed from the input, which here would demand `'static`
/// input; [`syntax_text`] maps the text to the parser's copy instead.
type SyntaxText = &'static str;

/// What a decoded [`Deviation::Syntax`] holds when its text is none the
/// parser of this build uses (a record written by another version).
pub(crate) const UNKNOWN_SYNTAX: &str = "a syntax liberty this version does not know";

/// A stored record names a syntax liberty by its text, but the event holds a
/// `&'static str`: the text read back is mapped to the parser's own copy
/// (the one list of them is `Deviations::NAMES`), so the type stays as cheap
/// as before and a record written elsewhere still decodes.
fn syntax_text<'de, D>(deserializer: D) -> Result<&'static str, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
    Ok(super::command::Deviations::NAMES
        .into_iter()
        .map(|(_, known)| known)
        .find(|known| *known == text)
        .unwrap_or(UNKNOWN_SYNTAX))
}

/// Why a transaction's content was not kept although it arrived.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Discard {
    /// `store: false`: the client got its reply, the server kept nothing.
    StoreFalse,
    /// `reply: none` at the message stage.
    NoReply,
    /// `disconnect: before_reply` at the message stage.
    ClosedBeforeReply,
    /// `disconnect_after_bytes`: cut after this many content bytes.
    Cut {
        /// Content bytes read before the cut.
        bytes: u64,
    },
    /// The client went away in the middle of the content.
    ConnectionLost,
    /// The store could not write it; the client got a 451.
    StoreFailed {
        /// Why the write failed.
        error: Box<str>,
    },
}

/// How a transaction that reached its content ended.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Fate {
    /// Stored, and the client got its 2xx.
    Stored {
        /// The message's id in the store.
        id: u64,
    },
    /// The final reply refused it (4xx or 5xx); nothing was stored.
    Refused {
        /// The final reply's code.
        code: u16,
    },
    /// Content arrived but was not kept.
    Discarded(Discard),
}

/// Why the server ended a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client said QUIT.
    Quit,
    /// A 421 reply, from the protocol or a rule (RFC 5321 §3.8).
    Reply421,
    /// The client was silent past the time-out (421 sent).
    Timeout,
    /// Too many protocol errors (421 sent).
    TooManyErrors,
    /// The server is stopping (421 sent).
    Shutdown,
    /// A rule's `disconnect:`.
    RuleDisconnect,
    /// A rule's `disconnect_after_bytes:`.
    ContentCut,
    /// `tls_fault: abort_handshake`: closed after the 220.
    TlsAborted,
    /// The TLS handshake failed or timed out.
    TlsFailed,
    /// A reply could not be written: the client stopped reading or left.
    WriteFailed,
}

impl CloseReason {
    /// After a 421 the server half-closes and keeps reading for a moment,
    /// so a client that goes on talking is on record.
    pub fn lingers(self) -> bool {
        matches!(self, Self::Reply421 | Self::Timeout | Self::TooManyErrors)
    }

    /// A few words for people: `after QUIT`, `time-out`, ...
    pub fn describe(self) -> &'static str {
        match self {
            Self::Quit => "after QUIT",
            Self::Reply421 => "after a 421",
            Self::Timeout => "time-out",
            Self::TooManyErrors => "too many protocol errors",
            Self::Shutdown => "server shutting down",
            Self::RuleDisconnect => "a rule's disconnect",
            Self::ContentCut => "a rule's disconnect_after_bytes",
            Self::TlsAborted => "tls_fault: abort_handshake",
            Self::TlsFailed => "TLS handshake failed",
            Self::WriteFailed => "could not write a reply",
        }
    }
}

/// One fact of a session.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Event {
    /// The client connected.
    Connected {
        /// Its address and port.
        peer: SocketAddr,
        /// On the implicit-TLS port: the handshake comes first.
        implicit_tls: bool,
    },
    /// A command line.
    Command(CommandEvent),
    /// A reply as sent.
    Reply(ReplyEvent),
    /// Sloppy input the server let pass.
    Tolerated(Deviation),
    /// A TLS handshake is made broken on purpose (or, for
    /// `abort_handshake`, never made).
    TlsFault(TlsFault),
    /// TLS is up (after STARTTLS, or before the greeting on the implicit-TLS port).
    TlsEstablished {
        /// `TLSv1.3`, `TLSv1.2`.
        version: Box<str>,
        /// The negotiated cipher suite.
        cipher: Box<str>,
    },
    /// The TLS handshake did not complete.
    TlsFailed {
        /// `None`: it timed out.
        error: Option<Box<str>>,
    },
    /// Plaintext the client pipelined behind STARTTLS, thrown away before
    /// the handshake (RFC 3207 §4.2; the CVE-2011-0411 class).
    PlaintextDiscarded {
        /// How many bytes were thrown away.
        bytes: usize,
    },
    /// An AUTH attempt and its outcome.
    Auth {
        /// The SASL mechanism.
        mechanism: Mechanism,
        /// The user authenticated; `None` when it failed, since a name
        /// that did not log in may be a password typed in the wrong field.
        user: Option<Box<str>>,
        /// The reply was a 2xx.
        granted: bool,
    },
    /// Message content arrived (DATA or the last BDAT chunk).
    Content {
        /// Bytes of content after dot-unstuffing.
        bytes: u64,
        /// Lines ended in LF alone.
        bare_lf: bool,
        /// Dot lines next to a bare LF or CR inside the content.
        smuggling: u32,
    },
    /// Why a rule applied (a greylist's wait, a rate window).
    RuleNote(Box<str>),
    /// How a transaction that reached its content ended.
    TransactionEnded(Fate),
    /// The client closed its end.
    ClientClosed {
        /// In the middle of message content.
        in_content: bool,
    },
    /// Reading from the client failed.
    ReadFailed {
        /// The OS error.
        error: Box<str>,
    },
    /// The server closed the connection.
    ServerClosed(CloseReason),
    /// After a 421: bytes the client had pipelined before it, left unread,
    /// and bytes it sent after it (recorded as late commands before this).
    Lingered {
        /// Bytes pipelined before the 421, left unread.
        unread: usize,
        /// Bytes sent after it.
        late: usize,
    },
    /// Past the record's size cap: how many events were left out from
    /// here on (only what verdicts need was kept).
    Truncated {
        /// Events left out.
        dropped: u64,
    },
}

impl Event {
    /// Facts a verdict reads, kept even past the record's soft cap: the
    /// envelope and sequence commands, TLS, AUTH, content and every ending.
    /// NOOP floods, notes and their like are what goes. (A reply to a
    /// command shares its command's fate; the record decides that.)
    pub fn essential(&self) -> bool {
        match self {
            Event::Command(c) => {
                c.late
                    || !matches!(
                        c.verb,
                        Some(Verb::Noop | Verb::Vrfy | Verb::Expn | Verb::Help)
                    )
            }
            Event::Tolerated(_) | Event::RuleNote(_) => false,
            _ => true,
        }
    }

    /// Bytes held outside the event itself, for the record's byte cap.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Event::Command(c) => c.line.len() + c.address.as_ref().map_or(0, |a| a.len()),
            Event::Reply(r) => match &r.reply.text {
                std::borrow::Cow::Owned(t) => t.len(),
                std::borrow::Cow::Borrowed(_) => 0,
            },
            Event::TlsEstablished { version, cipher } => version.len() + cipher.len(),
            Event::TlsFailed { error } => error.as_ref().map_or(0, |e| e.len()),
            Event::Auth { user, .. } => user.as_ref().map_or(0, |u| u.len()),
            Event::RuleNote(t) | Event::ReadFailed { error: t } => t.len(),
            Event::TransactionEnded(Fate::Discarded(Discard::StoreFailed { error })) => error.len(),
            _ => 0,
        }
    }

    /// Facts recorded however full the record is: there is one of each per
    /// session at most, and without them no verdict can tell how it ended.
    pub fn ending(&self) -> bool {
        matches!(
            self,
            Event::ClientClosed { .. }
                | Event::ReadFailed { .. }
                | Event::ServerClosed(_)
                | Event::Lingered { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_lines_keep_no_credential() {
        let auth = CommandEvent::late(b"AUTH PLAIN AGFwcABzM2NyZXQ=");
        assert_eq!(&*auth.line, b"AUTH ****");
        assert_eq!(auth.verb, Some(Verb::Auth));
        assert!(auth.late);
        let secret = CommandEvent::late(b"czNjcmV0");
        assert_eq!(&*secret.line, b"****");
        assert_eq!(secret.verb, None);
        let mail = CommandEvent::late(b"MAIL FROM:<a@b.test>");
        assert_eq!(&*mail.line, b"MAIL FROM:<a@b.test>");
        assert_eq!(mail.verb, Some(Verb::Mail));
    }
}
