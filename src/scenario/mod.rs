//! Scenarios: YAML files that decide how the server answers, and the engine
//! that applies them to every session.
//!
//! `model` is the file format, `load` validates and compiles it (every error
//! names file, line and column) with `faults` for the fault effects,
//! `followups` for the reports after the 250 (`bounce:`, `complaint:`) and
//! `extends` for profiles a scenario builds on; `matcher` holds the compiled
//! conditions, `mime` the message as `header:` and `body:` conditions read
//! it, and `engine` evaluates rules with the state shared across
//! connections: `greylist` tables and `rate` windows, keyed by `key` and
//! timed by the scenario's `clock` (real or virtual), kept in `state` (in
//! memory or in Redis); `tape` records what a decision asked of that state
//! so one that waited for Redis can be made again without asking twice.

mod address_faults;
mod clock;
mod engine;
mod extends;
mod faults;
mod followups;
mod greylist;
mod key;
mod load;
mod matcher;
mod mime;
mod model;
mod rate;
mod redact;
pub(crate) mod state;
mod tape;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub(crate) use clock::Clock;
pub(crate) use clock::MAX_VIRTUAL;
pub use clock::{ClockMode, NotVirtual};
pub(crate) use engine::{Engine, ScenarioPolicy, on_multi_thread_runtime};
pub(crate) use key::Key;
pub(crate) use matcher::parse_size;
pub use model::Expect as Expectations;
pub(crate) use model::{Auth as AuthSettings, Delivered, Tls as TlsSettings};

use crate::proto::extensions::Extensions;
use crate::proto::framer::BareLf;
use crate::proto::policy::{Disconnect, ReplyChoice, Stage, TlsFault, Wire};
use matcher::{Cidr, Counter, Glob, Range, SizeCmp, TextMatcher};

/// A validated scenario, ready to run.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) seed: u64,
    pub(crate) clock: ClockMode,
    pub(crate) server: ServerSettings,
    pub(crate) rules: Vec<Rule>,
    pub(crate) expect: Option<Expectations>,
    /// The YAML it was loaded from, as written (`GET /api/v1/scenario`).
    pub(crate) yaml: Arc<str>,
}

#[derive(Debug, Clone)]
pub(crate) struct ServerSettings {
    pub(crate) hostname: String,
    pub(crate) greeting: String,
    pub(crate) extensions: Extensions,
    pub(crate) limits: Limits,
    pub(crate) bare_lf: BareLf,
    pub(crate) tls: TlsSettings,
    pub(crate) auth: AuthSettings,
    /// Recipients at `fault.mailfault.test` get the reply they name.
    pub(crate) address_faults: bool,
    pub(crate) reports: ReportSettings,
}

/// `server.reports`: where bounce and complaint reports go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ReportSettings {
    /// `smtp://HOST:PORT`: deliver reports there; `None` keeps them in the outbox.
    pub(crate) deliver_to: Option<(String, u16)>,
    /// `NOTIFY=SUCCESS` recipients get a `delivered` DSN.
    pub(crate) dsn_success: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) max_message_size: u64,
    pub(crate) max_recipients: usize,
    pub(crate) command_timeout: Duration,
    pub(crate) data_timeout: Duration,
    pub(crate) max_connections: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            hostname: "mailfault.test".into(),
            greeting: "ESMTP mailfault".into(),
            extensions: Extensions::default_set(),
            limits: Limits {
                max_message_size: 25 << 20,
                max_recipients: 100,
                command_timeout: Duration::from_secs(300),
                data_timeout: Duration::from_secs(600),
                max_connections: 1000,
            },
            bare_lf: BareLf::Reject,
            tls: TlsSettings::default(),
            auth: AuthSettings::default(),
            address_faults: true,
            reports: ReportSettings::default(),
        }
    }
}

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub(crate) name: Arc<str>,
    /// Where the reply's text comes from, as the file says (`source:`).
    pub(crate) source: Option<Arc<str>>,
    pub(crate) stages: Vec<Stage>,
    pub(crate) conditions: Conditions,
    pub(crate) times: Option<u32>,
    pub(crate) reply: ReplyChoice,
    pub(crate) delay: Option<Duration>,
    pub(crate) disconnect: Option<Disconnect>,
    pub(crate) store: bool,
    pub(crate) greylist: Option<GreylistSpec>,
    pub(crate) rate_limit: Option<RateSpec>,
    pub(crate) wire: Wire,
    /// `disconnect_after_bytes` at `data`.
    pub(crate) cut_after: Option<u64>,
    pub(crate) tls_fault: Option<TlsFault>,
    /// `bounce:` or `complaint:`: a report due this long after acceptance.
    pub(crate) followup: Option<(Duration, crate::proto::policy::Later)>,
}

/// `greylist:` of a rule: the rule applies while its key is not yet allowed.
#[derive(Debug, Clone)]
pub struct GreylistSpec {
    pub(crate) retry_after: Duration,
    pub(crate) expire: Duration,
    pub(crate) key: Key,
}

/// `rate_limit:` of a rule: the rule applies once its key is over the limit.
#[derive(Debug, Clone)]
pub struct RateSpec {
    pub(crate) key: Key,
    pub(crate) limit: RateLimit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RateLimit {
    /// More than `max` events in any window of `per`.
    Window {
        max: u64,
        per: Duration,
        count: Count,
    },
    /// More than `max` connections open at once.
    Concurrent { max: u64 },
}

/// What a rate window counts; each kind is counted at its own stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Count {
    Messages,
    Recipients,
    Connections,
    Commands,
}

impl Count {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Count::Messages => "messages",
            Count::Recipients => "recipients",
            Count::Connections => "connections",
            Count::Commands => "commands",
        }
    }

    /// What a stage counts when `count:` is left out.
    pub(crate) fn of_stage(stage: Stage) -> Count {
        match stage {
            Stage::Connect => Count::Connections,
            Stage::Mail | Stage::Data | Stage::Message => Count::Messages,
            Stage::Rcpt => Count::Recipients,
            _ => Count::Commands,
        }
    }

    /// Whether an event of this kind happens at `stage`.
    pub(crate) fn happens_at(self, stage: Stage) -> bool {
        match self {
            Count::Connections => stage == Stage::Connect,
            Count::Messages => matches!(stage, Stage::Mail | Stage::Data | Stage::Message),
            Count::Recipients => stage == Stage::Rcpt,
            Count::Commands => !matches!(stage, Stage::Connect | Stage::Message),
        }
    }
}

/// Everything in a rule's `match:`; all present conditions must hold.
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    pub(crate) from: Option<TextMatcher>,
    pub(crate) to: Option<TextMatcher>,
    pub(crate) helo: Option<TextMatcher>,
    pub(crate) auth_user: Option<TextMatcher>,
    pub(crate) client_ip: Vec<Cidr>,
    pub(crate) tls: Option<bool>,
    pub(crate) authenticated: Option<bool>,
    pub(crate) header: Vec<(String, Glob)>,
    pub(crate) body: Option<Glob>,
    pub(crate) size: Option<SizeCmp>,
    pub(crate) connection: Option<Counter>,
    pub(crate) message: Option<Counter>,
    pub(crate) command: Option<Counter>,
    pub(crate) attempt: Option<Counter>,
    pub(crate) elapsed: Option<Range<Duration>>,
    pub(crate) probability: Option<f64>,
}

/// One problem in a scenario file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub(crate) file: String,
    pub(crate) line: u64,
    pub(crate) column: u64,
    pub(crate) message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return write!(f, "{}: {}", self.file, self.message);
        }
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// All problems found in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioErrors(pub Vec<ScenarioError>);

impl fmt::Display for ScenarioErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioErrors {}

/// For the MIME fuzz target (`crate::fuzzing`): whether header `name` is
/// present, and the body text, as rules see them.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_mime_view(raw: &[u8], name: &str, with_body: bool) -> (bool, String) {
    let parser = mime::parser();
    mime::MessageView::with(raw, &parser, with_body, |view| {
        (view.any_header(name, |_| true), view.body().to_owned())
    })
}

/// What `accept_all` would be as a file: nothing but the defaults.
const ACCEPT_ALL_YAML: &str =
    "# The default: accept every message.\nversion: 1\nname: accept-all\n";

impl Scenario {
    /// The scenario of a plain `mailfault serve`: every message accepted.
    pub fn accept_all() -> Self {
        Self {
            name: "accept-all".into(),
            description: None,
            seed: 0,
            clock: ClockMode::Real,
            server: ServerSettings::default(),
            rules: Vec::new(),
            expect: None,
            yaml: Arc::from(ACCEPT_ALL_YAML),
        }
    }

    /// The scenario's `name:`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its `expect:` block, if it has one.
    pub fn expectations(&self) -> Option<&Expectations> {
        self.expect.as_ref()
    }

    /// The SIZE the server advertises (0: none).
    pub fn max_message_size(&self) -> u64 {
        if self
            .server
            .extensions
            .contains(crate::proto::extensions::Extension::Size)
        {
            self.server.limits.max_message_size
        } else {
            0
        }
    }

    /// The greeting's host name.
    pub fn hostname(&self) -> &str {
        &self.server.hostname
    }

    /// How many rules it has, after `extends:`.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Its seed for `probability:`.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Runs the scenario on a real or a virtual clock, whatever its file says.
    pub fn set_clock(&mut self, mode: ClockMode) {
        self.clock = mode;
    }

    /// Loads and validates a scenario file; every problem comes with its line and column.
    pub fn from_file(path: &std::path::Path) -> Result<Self, ScenarioErrors> {
        let origin = path.display().to_string();
        let text = extends::read_file(path).map_err(|e| {
            ScenarioErrors(vec![ScenarioError {
                file: origin.clone(),
                line: 0,
                column: 0,
                message: format!("cannot read scenario: {e}"),
            }])
        })?;
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        load::load_source(
            load::Source {
                text: &text,
                file: &origin,
                stem,
                dir: path.parent(),
                files: true,
            },
            0,
        )
    }

    /// The names `extends:` accepts for the profiles built into mailfault.
    pub fn built_in_profiles() -> impl Iterator<Item = &'static str> {
        extends::BUILT_IN.iter().map(|(name, _)| *name)
    }

    /// A built-in profile, loaded (`None` for an unknown name).
    pub(crate) fn built_in(name: &str) -> Option<Self> {
        let (_, text) = extends::BUILT_IN.iter().find(|(n, _)| *n == name)?;
        load::load_source(
            load::Source {
                text,
                file: &format!("<built-in {name}>"),
                stem: Some(name.to_owned()),
                dir: None,
                files: false,
            },
            0,
        )
        .ok()
    }

    /// Parses YAML held in memory; `origin` names it in errors, and
    /// `extends:` paths are relative to the current directory.
    pub fn from_str(yaml: &str, origin: &str) -> Result<Self, ScenarioErrors> {
        load::load(yaml, origin, None)
    }

    /// The YAML it was loaded from, with the passwords of `auth: users:`
    /// masked: what `GET /api/v1/scenario` and the page show.
    pub(crate) fn redacted_yaml(&self) -> String {
        redact::redacted(&self.yaml)
    }

    /// Parses YAML from an untrusted source (the HTTP API): `extends:` may
    /// name only a built-in profile, never a file.
    pub(crate) fn from_request(yaml: &str, origin: &str) -> Result<Self, ScenarioErrors> {
        load::load_source(
            load::Source {
                text: yaml,
                file: origin,
                stem: None,
                dir: None,
                files: false,
            },
            0,
        )
    }
}
