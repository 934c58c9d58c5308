//! The YAML shape of a scenario file, exactly as users write it. Every struct
//! denies unknown fields so a typo is an error with a location, never a
//! silently ignored rule. Values are checked and compiled in `load.rs`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

pub(super) type S<T> = Spanned<T>;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct File {
    pub(crate) version: S<u32>,
    pub(crate) name: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) seed: Option<u64>,
    pub(crate) clock: Option<S<Clock>>,
    /// A built-in profile name (`gmail`) or a path relative to this file.
    pub(crate) extends: Option<S<String>>,
    #[serde(default)]
    pub(crate) server: Server,
    #[serde(default)]
    pub(crate) rules: Vec<S<Rule>>,
    pub(crate) expect: Option<Expect>,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(super) enum Clock {
    Real,
    Virtual,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct Server {
    pub(crate) hostname: Option<String>,
    pub(crate) greeting: Option<String>,
    pub(crate) extensions: Option<Vec<S<String>>>,
    #[serde(default)]
    pub(crate) limits: Limits,
    pub(crate) bare_lf: Option<BareLf>,
    pub(crate) tls: Option<Tls>,
    pub(crate) auth: Option<Auth>,
    /// `false` turns off the replies named by `...@fault.mailfault.test`.
    pub(crate) address_faults: Option<bool>,
    /// Where bounce and complaint reports go, and which are written.
    pub(crate) reports: Option<Reports>,
}

/// `reports: { deliver_to: smtp://127.0.0.1:2526, dsn_success: true }`.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct Reports {
    pub(crate) deliver_to: Option<S<String>>,
    /// `NOTIFY=SUCCESS` recipients get a `delivered` DSN.
    pub(crate) dsn_success: Option<bool>,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(super) enum BareLf {
    Reject,
    Accept,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct Limits {
    pub(crate) max_message_size: Option<S<Size>>,
    pub(crate) max_recipients: Option<usize>,
    pub(crate) command_timeout: Option<S<String>>,
    pub(crate) data_timeout: Option<S<String>>,
    pub(crate) max_connections: Option<usize>,
}

/// `25MiB` or a plain number of bytes.
#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
pub(super) enum Size {
    Bytes(u64),
    Text(String),
}

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct Tls {
    /// Offer STARTTLS when the server has a certificate (default: yes).
    pub(crate) starttls: Option<bool>,
    #[serde(default)]
    pub(crate) required: bool,
}

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct Auth {
    #[serde(default)]
    pub(crate) required: bool,
    /// Advertised in this order; empty: PLAIN LOGIN CRAM-MD5.
    #[serde(default)]
    pub(crate) mechanisms: Vec<S<String>>,
    #[serde(default)]
    pub(crate) users: Vec<User>,
    #[serde(default)]
    pub(crate) accept_any: bool,
    /// AUTH before TLS is answered 538 (RFC 4954 §6).
    #[serde(default)]
    pub(crate) require_tls: bool,
}

impl Auth {
    /// An `auth:` block that lets somebody in: only then is AUTH offered.
    pub(crate) fn configured(&self) -> bool {
        self.accept_any || !self.users.is_empty()
    }
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct User {
    pub(crate) username: String,
    pub(crate) password: String,
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
pub(super) enum StageName {
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
pub(super) enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T: Clone> OneOrMany<T> {
    pub(super) fn to_vec(&self) -> Vec<T> {
        match self {
            OneOrMany::One(x) => vec![x.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct Rule {
    pub(crate) name: Option<String>,
    /// Where the reply's text comes from (an RFC section, a provider's page,
    /// "observed in bounces"): documentation only, shown by `codes --json`.
    pub(crate) source: Option<String>,
    pub(crate) on: S<OneOrMany<StageName>>,
    #[serde(rename = "match", default)]
    pub(crate) conditions: Match,
    pub(crate) times: Option<S<u32>>,
    pub(crate) reply: Option<S<ReplyText>>,
    pub(crate) delay: Option<S<String>>,
    pub(crate) disconnect: Option<S<Disconnect>>,
    pub(crate) store: Option<S<bool>>,
    pub(crate) greylist: Option<S<Greylist>>,
    pub(crate) rate_limit: Option<S<RateLimit>>,
    pub(crate) bandwidth: Option<S<String>>,
    pub(crate) disconnect_after_bytes: Option<S<u64>>,
    pub(crate) malformed: Option<S<Malformed>>,
    pub(crate) tls_fault: Option<S<TlsFault>>,
    pub(crate) bounce: Option<S<Bounce>>,
    pub(crate) complaint: Option<S<Complaint>>,
}

/// `bounce: { after: 2m, status: 5.1.1, diagnostic: "550 5.1.1 ...", action: failed }`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct Bounce {
    pub(crate) after: Option<S<String>>,
    pub(crate) status: S<String>,
    pub(crate) diagnostic: Option<S<String>>,
    pub(crate) action: Option<S<BounceAction>>,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(super) enum BounceAction {
    Failed,
    Delayed,
}

/// `complaint: { after: 1h, feedback_type: abuse }`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct Complaint {
    pub(crate) after: Option<S<String>>,
    pub(crate) feedback_type: Option<S<FeedbackType>>,
}

/// RFC 5965 §7.3's feedback types (and RFC 6591's `auth-failure`).
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub(super) enum FeedbackType {
    Abuse,
    Fraud,
    Virus,
    Other,
    NotSpam,
    AuthFailure,
}

impl FeedbackType {
    pub(super) fn name(self) -> &'static str {
        match self {
            FeedbackType::Abuse => "abuse",
            FeedbackType::Fraud => "fraud",
            FeedbackType::Virus => "virus",
            FeedbackType::Other => "other",
            FeedbackType::NotSpam => "not-spam",
            FeedbackType::AuthFailure => "auth-failure",
        }
    }
}

/// `greylist: { retry_after: 30s, expire: 4h, key: [client_ip, from, to] }`.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct Greylist {
    pub(crate) retry_after: Option<S<String>>,
    pub(crate) expire: Option<S<String>>,
    pub(crate) key: Option<S<OneOrMany<String>>>,
}

/// `rate_limit: { max: 100, per: 1m, key: client_ip, count: messages }` or
/// `rate_limit: { max_concurrent: 2 }`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct RateLimit {
    pub(crate) max: Option<S<u64>>,
    pub(crate) per: Option<S<String>>,
    pub(crate) key: Option<S<OneOrMany<String>>>,
    pub(crate) count: Option<S<Count>>,
    pub(crate) max_concurrent: Option<S<u64>>,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(super) enum Count {
    Messages,
    Recipients,
    Connections,
    Commands,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(super) enum TlsFault {
    AbortHandshake,
    ExpiredCert,
    WrongHostCert,
    SelfSigned,
    #[serde(rename = "tls12_only")]
    Tls12Only,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(super) enum Malformed {
    BareLf,
    TruncatedMultiline,
    BadCode,
    Split,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(super) enum Disconnect {
    BeforeReply,
    AfterReply,
}

/// `550 5.1.1 text`, `none`, or the long form for multiline replies.
#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
pub(super) enum ReplyText {
    Line(String),
    Full(FullReply),
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct FullReply {
    pub(crate) code: u16,
    pub(crate) enhanced: Option<String>,
    #[serde(default = "empty_text")]
    pub(crate) text: OneOrMany<String>,
}

fn empty_text() -> OneOrMany<String> {
    OneOrMany::One(String::new())
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct Match {
    pub(crate) from: Option<S<Text>>,
    pub(crate) to: Option<S<Text>>,
    pub(crate) helo: Option<S<Text>>,
    pub(crate) auth_user: Option<S<Text>>,
    pub(crate) client_ip: Option<S<OneOrMany<String>>>,
    pub(crate) tls: Option<bool>,
    pub(crate) authenticated: Option<bool>,
    pub(crate) header: Option<S<BTreeMap<String, S<String>>>>,
    pub(crate) body: Option<S<String>>,
    pub(crate) size: Option<S<String>>,
    pub(crate) connection: Option<S<Counter>>,
    pub(crate) message: Option<S<Counter>>,
    pub(crate) command: Option<S<Counter>>,
    pub(crate) attempt: Option<S<Counter>>,
    pub(crate) elapsed: Option<S<String>>,
    pub(crate) probability: Option<S<f64>>,
}

/// A glob, a list of globs, or `{ regex: ... }`.
#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
pub(super) enum Text {
    Glob(String),
    Globs(Vec<String>),
    Regex(RegexText),
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RegexText {
    pub(crate) regex: String,
}

/// `1`, `[1, 2]`, `"3..5"` or `{ every: 3 }`.
#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
pub(super) enum Counter {
    One(u64),
    List(Vec<u64>),
    Range(String),
    Every(Every),
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct Every {
    pub(crate) every: u64,
}

/// The `expect:` block: how the sender must behave. `src/expect` judges it;
/// `false` for a flag means "not judged", the same as leaving it out.
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub(crate) delivered: Option<S<Delivered>>,
    pub(crate) recipients: Option<Vec<String>>,
    pub(crate) no_retry_after_permanent: Option<bool>,
    pub(crate) retried_after_temporary: Option<bool>,
    /// Checked as a duration at load time; read it with [`Expect::retry_interval`].
    pub(crate) min_retry_interval: Option<S<String>>,
    pub(crate) quit: Option<bool>,
    pub(crate) no_protocol_errors: Option<bool>,
    pub(crate) starttls: Option<bool>,
    pub(crate) ehlo_after_starttls: Option<bool>,
    pub(crate) honours_size: Option<bool>,
    pub(crate) closed_after_421: Option<bool>,
    /// Checked as a duration at load time; read it with [`Expect::time_limit`].
    pub(crate) within: Option<S<String>>,
    pub(crate) stops_after_hard_bounce: Option<bool>,
    pub(crate) stops_after_complaint: Option<bool>,
    pub(crate) keeps_trying_after_delay: Option<bool>,
    pub(crate) null_sender_for_reports: Option<bool>,
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
pub(crate) enum Delivered {
    Exactly(u64),
    Bounds(DeliveredBounds),
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeliveredBounds {
    pub(crate) min: Option<u64>,
    pub(crate) max: Option<u64>,
}
