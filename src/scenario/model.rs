//! The YAML shape of a scenario file, exactly as users write it. Every struct
//! denies unknown fields so a typo is an error with a location, never a
//! silently ignored rule. Values are checked and compiled in `load.rs`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

pub type S<T> = Spanned<T>;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub version: S<u32>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub seed: Option<u64>,
    pub clock: Option<S<Clock>>,
    /// A built-in profile name (`gmail`) or a path relative to this file.
    pub extends: Option<S<String>>,
    #[serde(default)]
    pub server: Server,
    #[serde(default)]
    pub rules: Vec<S<Rule>>,
    pub expect: Option<Expect>,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Clock {
    Real,
    Virtual,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct Server {
    pub hostname: Option<String>,
    pub greeting: Option<String>,
    pub extensions: Option<Vec<S<String>>>,
    #[serde(default)]
    pub limits: Limits,
    pub bare_lf: Option<BareLf>,
    pub tls: Option<Tls>,
    pub auth: Option<Auth>,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BareLf {
    Reject,
    Accept,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub max_message_size: Option<S<Size>>,
    pub max_recipients: Option<usize>,
    pub command_timeout: Option<S<String>>,
    pub data_timeout: Option<S<String>>,
    pub max_connections: Option<usize>,
}

/// `25MiB` or a plain number of bytes.
#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
pub enum Size {
    Bytes(u64),
    Text(String),
}

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// Offer STARTTLS when the server has a certificate (default: yes).
    pub starttls: Option<bool>,
    #[serde(default)]
    pub required: bool,
}

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    #[serde(default)]
    pub required: bool,
    /// Advertised in this order; empty: PLAIN LOGIN CRAM-MD5.
    #[serde(default)]
    pub mechanisms: Vec<S<String>>,
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub accept_any: bool,
    /// AUTH before TLS is answered 538 (RFC 4954 §6).
    #[serde(default)]
    pub require_tls: bool,
}

impl Auth {
    /// An `auth:` block that lets somebody in: only then is AUTH offered.
    pub fn configured(&self) -> bool {
        self.accept_any || !self.users.is_empty()
    }
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub username: String,
    pub password: String,
}

/// Debug output ends up in logs and error messages: never the password.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("username", &self.username)
            .field("password", &"****")
            .finish()
    }
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StageName {
    Connect,
    Helo,
    Starttls,
    Auth,
    Mail,
    Rcpt,
    Data,
    Message,
    Rset,
    Noop,
    Vrfy,
    Quit,
    Any,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T: Clone> OneOrMany<T> {
    pub fn to_vec(&self) -> Vec<T> {
        match self {
            OneOrMany::One(x) => vec![x.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: Option<String>,
    pub on: S<OneOrMany<StageName>>,
    #[serde(rename = "match", default)]
    pub conditions: Match,
    pub times: Option<S<u32>>,
    pub reply: Option<S<ReplyText>>,
    pub delay: Option<S<String>>,
    pub disconnect: Option<S<Disconnect>>,
    pub store: Option<S<bool>>,
    pub greylist: Option<S<Greylist>>,
    pub rate_limit: Option<S<RateLimit>>,
    pub bandwidth: Option<S<String>>,
    pub disconnect_after_bytes: Option<S<u64>>,
    pub malformed: Option<S<Malformed>>,
    pub tls_fault: Option<S<TlsFault>>,
}

/// `greylist: { retry_after: 30s, expire: 4h, key: [client_ip, from, to] }`.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct Greylist {
    pub retry_after: Option<S<String>>,
    pub expire: Option<S<String>>,
    pub key: Option<S<OneOrMany<String>>>,
}

/// `rate_limit: { max: 100, per: 1m, key: client_ip, count: messages }` or
/// `rate_limit: { max_concurrent: 2 }`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub max: Option<S<u64>>,
    pub per: Option<S<String>>,
    pub key: Option<S<OneOrMany<String>>>,
    pub count: Option<S<Count>>,
    pub max_concurrent: Option<S<u64>>,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Count {
    Messages,
    Recipients,
    Connections,
    Commands,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TlsFault {
    AbortHandshake,
    ExpiredCert,
    WrongHostCert,
    SelfSigned,
    #[serde(rename = "tls12_only")]
    Tls12Only,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Malformed {
    BareLf,
    TruncatedMultiline,
    BadCode,
    Split,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Disconnect {
    BeforeReply,
    AfterReply,
}

/// `550 5.1.1 text`, `none`, or the long form for multiline replies.
#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
pub enum ReplyText {
    Line(String),
    Full(FullReply),
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct FullReply {
    pub code: u16,
    pub enhanced: Option<String>,
    #[serde(default = "empty_text")]
    pub text: OneOrMany<String>,
}

fn empty_text() -> OneOrMany<String> {
    OneOrMany::One(String::new())
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct Match {
    pub from: Option<S<Text>>,
    pub to: Option<S<Text>>,
    pub helo: Option<S<Text>>,
    pub auth_user: Option<S<Text>>,
    pub client_ip: Option<S<OneOrMany<String>>>,
    pub tls: Option<bool>,
    pub authenticated: Option<bool>,
    pub header: Option<S<BTreeMap<String, S<String>>>>,
    pub body: Option<S<String>>,
    pub size: Option<S<String>>,
    pub connection: Option<S<Counter>>,
    pub message: Option<S<Counter>>,
    pub command: Option<S<Counter>>,
    pub attempt: Option<S<Counter>>,
    pub elapsed: Option<S<String>>,
    pub probability: Option<S<f64>>,
}

/// A glob, a list of globs, or `{ regex: ... }`.
#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
pub enum Text {
    Glob(String),
    Globs(Vec<String>),
    Regex(RegexText),
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RegexText {
    pub regex: String,
}

/// `1`, `[1, 2]`, `"3..5"` or `{ every: 3 }`.
#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
pub enum Counter {
    One(u64),
    List(Vec<u64>),
    Range(String),
    Every(Every),
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct Every {
    pub every: u64,
}

/// The `expect:` block: how the sender must behave. `src/expect` judges it;
/// `false` for a flag means "not judged", the same as leaving it out.
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub delivered: Option<S<Delivered>>,
    pub recipients: Option<Vec<String>>,
    pub no_retry_after_permanent: Option<bool>,
    pub retried_after_temporary: Option<bool>,
    /// Checked as a duration at load time; read it with [`Expect::retry_interval`].
    pub min_retry_interval: Option<S<String>>,
    pub quit: Option<bool>,
    pub no_protocol_errors: Option<bool>,
    pub starttls: Option<bool>,
    pub ehlo_after_starttls: Option<bool>,
    pub honours_size: Option<bool>,
    pub closed_after_421: Option<bool>,
    /// Checked as a duration at load time; read it with [`Expect::time_limit`].
    pub within: Option<S<String>>,
}

impl Expect {
    /// `min_retry_interval` as a duration. A loaded scenario has a valid one,
    /// so `None` means it was not set.
    pub fn retry_interval(&self) -> Option<std::time::Duration> {
        self.min_retry_interval
            .as_ref()
            .and_then(|s| super::matcher::parse_duration(&s.value))
    }

    /// `within` as a duration; `None` when not set (valid once loaded).
    pub fn time_limit(&self) -> Option<std::time::Duration> {
        self.within
            .as_ref()
            .and_then(|s| super::matcher::parse_duration(&s.value))
    }
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(untagged)]
pub enum Delivered {
    Exactly(u64),
    Bounds(DeliveredBounds),
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DeliveredBounds {
    pub min: Option<u64>,
    pub max: Option<u64>,
}
