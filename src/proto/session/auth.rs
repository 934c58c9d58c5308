//! SMTP AUTH (RFC 4954), kept apart from the command state machine because
//! it is a dialogue of its own: once an exchange is open, the client's next
//! lines are base64 responses, not commands, and must never reach the
//! command parser, the transcript or the logs in clear.
//!
//! Credentials are checked here against the scenario's users; the policy is
//! asked only at the final step, so an `on: auth` rule sees the user being
//! tried and can fail any attempt, however good the password.
//!
//! CRAM-MD5 needs a challenge that differs per exchange. The session reads no
//! clock and no RNG, so the challenge is built from the global connection
//! number and the nth AUTH of the session: `<connection.count@hostname>`.
//! That is unique per exchange, which is all a test server's challenge needs
//! (replay protection against a real attacker is out of scope).

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use md5::Md5;

use super::{Action, Session, State};
use crate::proto::event::Event;
use crate::proto::extensions::Extension;
use crate::proto::policy::{Policy, Stage};
use crate::proto::replies as R;
use crate::proto::reply::Reply;

/// The SASL mechanisms we speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Mechanism {
    /// `PLAIN` (RFC 4616)
    Plain,
    /// `LOGIN`
    Login,
    /// `CRAM-MD5` (RFC 2195)
    CramMd5,
    /// `XOAUTH2`, as Google and Microsoft document it
    XOAuth2,
}

impl Mechanism {
    /// Advertised when a scenario configures AUTH but names no mechanisms:
    /// what mainstream submission servers offer (XOAUTH2 only on request).
    pub const DEFAULT: [Mechanism; 3] = [Mechanism::Plain, Mechanism::Login, Mechanism::CramMd5];

    /// The name as advertised in EHLO.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::CramMd5 => "CRAM-MD5",
            Mechanism::XOAuth2 => "XOAUTH2",
        }
    }

    /// Case-insensitive, as SASL mechanism names are (RFC 4422 §3.1).
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Mechanism::Plain,
            Mechanism::Login,
            Mechanism::CramMd5,
            Mechanism::XOAuth2,
        ]
        .into_iter()
        .find(|m| m.name().eq_ignore_ascii_case(name))
    }
}

#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Credential {
    pub username: String,
    pub password: String,
}

/// Debug output ends up in logs and panic messages: never the password.
impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("username", &self.username)
            .field("password", &"****")
            .finish()
    }
}

/// AUTH settings; a session with none does not offer AUTH at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AuthConfig {
    /// In the order advertised.
    pub mechanisms: Vec<Mechanism>,
    pub users: Vec<Credential>,
    /// Any user name and password succeed (rules still apply).
    pub accept_any: bool,
    /// MAIL is refused with 530 until AUTH succeeded.
    pub required: bool,
    /// AUTH is refused with 538 until TLS is up.
    pub require_tls: bool,
}

/// What the client's next line answers.
#[derive(Debug)]
enum Expect {
    Plain,
    LoginUser,
    /// The user name may be a password typed into the wrong field: it is
    /// not printed either.
    LoginPassword {
        user: Masked,
    },
    CramMd5 {
        challenge: String,
    },
    XOAuth2,
}

/// A string that `Debug` does not show.
struct Masked(String);

impl std::fmt::Debug for Masked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"****\"")
    }
}

/// An AUTH exchange waiting for the client's next line.
#[derive(Debug)]
pub(super) struct Exchange {
    mechanism: Mechanism,
    /// The nth AUTH of the session, for `command:` conditions.
    count: u64,
    expect: Expect,
}

/// How the secret the client proved is checked against a stored password.
enum Proof {
    Password(Vec<u8>),
    CramMd5 { challenge: String, digest: String },
}

impl Proof {
    fn holds_for(&self, password: &str) -> bool {
        match self {
            Proof::Password(given) => given.as_slice() == password.as_bytes(),
            Proof::CramMd5 { challenge, digest } => {
                let Ok(mut mac) = Hmac::<Md5>::new_from_slice(password.as_bytes()) else {
                    return false;
                };
                mac.update(challenge.as_bytes());
                let expected: String = mac
                    .finalize()
                    .into_bytes()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                expected.eq_ignore_ascii_case(digest)
            }
        }
    }
}

/// How many leading bytes of an AUTH command line may be recorded: the verb
/// and the mechanism; everything after is a secret.
pub(super) fn auth_line_shown(line: &[u8]) -> Option<usize> {
    let ws = |b: &u8| b.is_ascii_whitespace();
    let verb_end = line.iter().position(ws).unwrap_or(line.len());
    if !line[..verb_end].eq_ignore_ascii_case(b"AUTH") {
        return None;
    }
    let mech_start = line[verb_end..]
        .iter()
        .position(|b| !ws(b))
        .map_or(line.len(), |p| verb_end + p);
    let mech_end = line[mech_start..]
        .iter()
        .position(ws)
        .map_or(line.len(), |p| mech_start + p);
    Some(mech_end)
}

/// The line as it may be recorded: the first `shown` bytes, then `****` in
/// place of whatever else the line held.
pub(super) fn masked(line: &[u8], shown: usize) -> Cow<'_, [u8]> {
    let ending = if line.ends_with(b"\r\n") {
        2
    } else {
        usize::from(line.ends_with(b"\n"))
    };
    let body = line.len() - ending;
    if shown >= body {
        return Cow::Borrowed(line);
    }
    let mut out = line[..shown].to_vec();
    if shown > 0 {
        out.push(b' ');
    }
    out.extend_from_slice(b"****");
    out.extend_from_slice(&line[body..]);
    Cow::Owned(out)
}

impl super::Step {
    /// The consumed bytes as they may go into a transcript or log: AUTH
    /// secrets replaced by `****`.
    pub(crate) fn transcribable<'a>(&self, consumed: &'a [u8]) -> Cow<'a, [u8]> {
        match self.shown {
            Some(n) => masked(consumed, n),
            None => Cow::Borrowed(consumed),
        }
    }
}

fn challenge(text: &str) -> Reply {
    Reply {
        code: 334,
        enhanced: None,
        text: Cow::Owned(STANDARD.encode(text)),
    }
}

/// `=` is an empty initial response (RFC 4954 §4).
fn decode(response: &[u8]) -> Option<Vec<u8>> {
    let response = response.trim_ascii();
    if response == b"=" {
        return Some(Vec::new());
    }
    STANDARD.decode(response).ok()
}

/// `user=NAME\x01auth=Bearer TOKEN\x01\x01`, as Google documents XOAUTH2.
fn xoauth2(decoded: &[u8]) -> Option<(String, Vec<u8>)> {
    let text = std::str::from_utf8(decoded).ok()?;
    let mut user = None;
    let mut token = None;
    for field in text.split('\x01') {
        if let Some(u) = field.strip_prefix("user=") {
            user = Some(u.to_owned());
        } else if let Some(a) = field.strip_prefix("auth=") {
            let t = a
                .strip_prefix("Bearer ")
                .or_else(|| a.strip_prefix("bearer "))?;
            token = Some(t.as_bytes().to_vec());
        }
    }
    Some((user?, token?))
}

impl<P: Policy> Session<P> {
    /// AUTH settings, when AUTH is configured and advertised.
    fn auth_config(&self) -> Option<&super::AuthConfig> {
        self.config
            .auth
            .as_ref()
            .filter(|_| self.config.extensions.contains(Extension::Auth))
    }

    /// Writes the `AUTH ...` line of the EHLO reply into `text`, which ends
    /// in the newline before it; when AUTH is not offered, takes that back.
    pub(super) fn advertise_auth(&self, text: &mut String) {
        let Some(cfg) = self.auth_config() else {
            text.pop();
            return;
        };
        text.push_str("AUTH");
        for m in &cfg.mechanisms {
            text.push(' ');
            text.push_str(m.name());
        }
    }

    /// MAIL must wait for AUTH (`auth.required`).
    pub(super) fn auth_missing(&self) -> bool {
        self.auth_user.is_none() && self.auth_config().is_some_and(|c| c.required)
    }

    /// How much of the next line may be recorded (`None`: all of it).
    pub(super) fn shown(&self, line: &[u8]) -> Option<usize> {
        if self.exchange.is_some() {
            Some(0)
        } else {
            auth_line_shown(line)
        }
    }

    pub(super) fn auth(
        &mut self,
        mechanism: &str,
        initial: Option<&str>,
        count: u64,
        out: &mut Vec<Action>,
    ) {
        let Some(cfg) = self.auth_config() else {
            return self.error(R::NOT_IMPLEMENTED, out);
        };
        let require_tls = cfg.require_tls;
        let offered = Mechanism::from_name(mechanism).filter(|m| cfg.mechanisms.contains(m));
        if !self.esmtp {
            return self.error(R::SEQ_AUTH_NEED_EHLO, out);
        }
        if self.auth_user.is_some() {
            return self.error(R::SEQ_AUTH_TWICE, out);
        }
        if self.tx.is_some() {
            return self.error(R::SEQ_AUTH_IN_TRANSACTION, out);
        }
        if require_tls && !self.tls {
            return self.send(R::AUTH_NEEDS_TLS, out);
        }
        let Some(mechanism) = offered else {
            return self.error(R::AUTH_UNKNOWN_MECHANISM, out);
        };
        let (expect, prompt) = match mechanism {
            Mechanism::Plain => (Expect::Plain, Reply::new(334, None, "")),
            Mechanism::Login => (Expect::LoginUser, challenge("Username:")),
            Mechanism::XOAuth2 => (Expect::XOAuth2, Reply::new(334, None, "")),
            Mechanism::CramMd5 => {
                if initial.is_some() {
                    return self.error(R::AUTH_NO_INITIAL_RESPONSE, out);
                }
                let text = format!("<{}.{}@{}>", self.connection, count, self.config.hostname);
                let prompt = challenge(&text);
                (Expect::CramMd5 { challenge: text }, prompt)
            }
        };
        let exchange = Exchange {
            mechanism,
            count,
            expect,
        };
        match initial {
            Some(response) => self.respond(exchange, response.as_bytes(), out),
            None => {
                self.exchange = Some(exchange);
                self.send(prompt, out);
            }
        }
    }

    /// A line the client sent while an exchange was open.
    pub(super) fn auth_continue(&mut self, line: &[u8], out: &mut Vec<Action>) {
        if let Some(exchange) = self.exchange.take() {
            self.respond(exchange, line, out);
        }
    }

    fn respond(&mut self, exchange: Exchange, response: &[u8], out: &mut Vec<Action>) {
        if response.trim_ascii() == b"*" {
            return self.send(R::AUTH_CANCELLED, out);
        }
        let Some(decoded) = decode(response) else {
            return self.error(R::AUTH_CANNOT_DECODE, out);
        };
        let Exchange {
            mechanism,
            count,
            expect,
        } = exchange;
        let attempt = match expect {
            Expect::Plain => {
                let mut parts = decoded.split(|&b| b == 0);
                match (parts.next(), parts.next(), parts.next(), parts.next()) {
                    (Some(_authzid), Some(user), Some(password), None) => {
                        String::from_utf8(user.to_vec())
                            .ok()
                            .map(|u| (u, Proof::Password(password.to_vec())))
                    }
                    _ => None,
                }
            }
            Expect::LoginUser => {
                let Ok(user) = String::from_utf8(decoded) else {
                    return self.error(R::AUTH_CANNOT_DECODE, out);
                };
                self.exchange = Some(Exchange {
                    mechanism,
                    count,
                    expect: Expect::LoginPassword { user: Masked(user) },
                });
                return self.send(challenge("Password:"), out);
            }
            Expect::LoginPassword { user: Masked(user) } => Some((user, Proof::Password(decoded))),
            Expect::CramMd5 { challenge } => std::str::from_utf8(&decoded)
                .ok()
                .and_then(|t| t.rsplit_once(' '))
                .map(|(user, digest)| {
                    let digest = digest.to_owned();
                    (user.to_owned(), Proof::CramMd5 { challenge, digest })
                }),
            Expect::XOAuth2 => {
                xoauth2(&decoded).map(|(user, token)| (user, Proof::Password(token)))
            }
        };
        let Some((user, proof)) = attempt else {
            return self.error(R::AUTH_CANNOT_DECODE, out);
        };
        self.finish(mechanism, count, user, &proof, out);
    }

    /// Checks the credentials, lets the policy have the last word, and
    /// answers 235 or the failure.
    fn finish(
        &mut self,
        mechanism: Mechanism,
        count: u64,
        user: String,
        proof: &Proof,
        out: &mut Vec<Action>,
    ) {
        let valid = self.auth_config().is_some_and(|cfg| {
            cfg.accept_any
                || cfg
                    .users
                    .iter()
                    .any(|u| u.username == user && proof.holds_for(&u.password))
        });
        let default = if valid { R::AUTH_OK } else { R::AUTH_FAILED };
        // Rules see the user being tried; it stays only if the reply is 2xx.
        self.auth_user = Some(user);
        let decision = self.decide(Stage::Auth, None, count);
        let resolved = self.resolve(decision, default);
        let granted = matches!(&resolved.reply, Some(o) if o.reply.class() == 2);
        let Some(name) = self.auth_user.take() else {
            return;
        };
        out.push(Action::Record(Event::Auth {
            mechanism,
            user: granted.then(|| name.as_str().into()),
            granted,
        }));
        self.emit(resolved, out);
        if granted && self.state != State::Closed {
            self.auth_user = Some(name);
        }
    }
}
