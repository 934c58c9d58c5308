//! Scenarios: YAML files that decide how the server answers, and the engine
//! that applies them to every session.
//!
//! `model` is the file format, `load` validates and compiles it (every error
//! names file, line and column) with `faults` for the fault effects and
//! `extends` for profiles a scenario builds on; `matcher` holds the compiled
//! conditions, `mime` the message as `header:` and `body:` conditions read
//! it, and `engine` evaluates rules with the state shared across
//! connections: `greylist` tables and `rate` windows, keyed by `key` and
//! timed by the scenario's `clock` (real or virtual).

mod clock;
mod engine;
mod extends;
mod faults;
mod greylist;
mod key;
mod load;
mod matcher;
mod mime;
mod model;
mod rate;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use clock::{Clock, ClockMode, NotVirtual};
pub use engine::{Engine, ScenarioPolicy};
pub use key::{Key, KeyPart};
pub use model::{
    Auth as AuthSettings, Delivered, DeliveredBounds, Expect as Expectations, Tls as TlsSettings,
};

use crate::proto::extensions::Extensions;
use crate::proto::framer::BareLf;
use crate::proto::policy::{Disconnect, ReplyChoice, Stage, TlsFault, Wire};
use matcher::{Cidr, Counter, Glob, Range, SizeCmp, TextMatcher};

/// A validated scenario, ready to run.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    pub seed: u64,
    pub clock: ClockMode,
    pub server: ServerSettings,
    pub rules: Vec<Rule>,
    pub expect: Option<Expectations>,
    /// The file it came from, or `<string>`.
    pub source: String,
    /// The YAML it was loaded from, as written (`GET /api/v1/scenario`).
    pub yaml: Arc<str>,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub hostname: String,
    pub greeting: String,
    pub extensions: Extensions,
    pub limits: Limits,
    pub bare_lf: BareLf,
    pub tls: TlsSettings,
    pub auth: AuthSettings,
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_message_size: u64,
    pub max_recipients: usize,
    pub command_timeout: Duration,
    pub data_timeout: Duration,
    pub max_connections: usize,
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
        }
    }
}

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: Arc<str>,
    pub stages: Vec<Stage>,
    pub conditions: Conditions,
    pub times: Option<u32>,
    pub reply: ReplyChoice,
    pub delay: Option<Duration>,
    pub disconnect: Option<Disconnect>,
    pub store: bool,
    pub greylist: Option<GreylistSpec>,
    pub rate_limit: Option<RateSpec>,
    pub wire: Wire,
    /// `disconnect_after_bytes` at `data`.
    pub cut_after: Option<u64>,
    pub tls_fault: Option<TlsFault>,
}

/// `greylist:` of a rule: the rule applies while its key is not yet allowed.
#[derive(Debug, Clone)]
pub struct GreylistSpec {
    pub retry_after: Duration,
    pub expire: Duration,
    pub key: Key,
}

/// `rate_limit:` of a rule: the rule applies once its key is over the limit.
#[derive(Debug, Clone)]
pub struct RateSpec {
    pub key: Key,
    pub limit: RateLimit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimit {
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
pub enum Count {
    Messages,
    Recipients,
    Connections,
    Commands,
}

impl Count {
    pub fn name(self) -> &'static str {
        match self {
            Count::Messages => "messages",
            Count::Recipients => "recipients",
            Count::Connections => "connections",
            Count::Commands => "commands",
        }
    }

    /// What a stage counts when `count:` is left out.
    pub fn of_stage(stage: Stage) -> Count {
        match stage {
            Stage::Connect => Count::Connections,
            Stage::Mail | Stage::Data | Stage::Message => Count::Messages,
            Stage::Rcpt => Count::Recipients,
            _ => Count::Commands,
        }
    }

    /// Whether an event of this kind happens at `stage`.
    pub fn happens_at(self, stage: Stage) -> bool {
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
    pub from: Option<TextMatcher>,
    pub to: Option<TextMatcher>,
    pub helo: Option<TextMatcher>,
    pub auth_user: Option<TextMatcher>,
    pub client_ip: Vec<Cidr>,
    pub tls: Option<bool>,
    pub authenticated: Option<bool>,
    pub header: Vec<(String, Glob)>,
    pub body: Option<Glob>,
    pub size: Option<SizeCmp>,
    pub connection: Option<Counter>,
    pub message: Option<Counter>,
    pub command: Option<Counter>,
    pub attempt: Option<Counter>,
    pub elapsed: Option<Range<Duration>>,
    pub probability: Option<f64>,
}

/// One problem in a scenario file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    pub line: u64,
    pub column: u64,
    pub message: String,
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

/// What `accept_all` would be as a file: nothing but the defaults.
const ACCEPT_ALL_YAML: &str =
    "# The default: accept every message.\nversion: 1\nname: accept-all\n";

impl Scenario {
    pub fn accept_all() -> Self {
        Self {
            name: "accept-all".into(),
            description: None,
            seed: 0,
            clock: ClockMode::Real,
            server: ServerSettings::default(),
            rules: Vec::new(),
            expect: None,
            source: "<built-in>".into(),
            yaml: Arc::from(ACCEPT_ALL_YAML),
        }
    }

    pub fn from_file(path: &std::path::Path) -> Result<Self, ScenarioErrors> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
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
            },
            0,
        )
    }

    /// The names `extends:` accepts for the profiles built into mailfault.
    pub fn built_in_profiles() -> impl Iterator<Item = &'static str> {
        extends::BUILT_IN.iter().map(|(name, _)| *name)
    }

    /// Parses YAML held in memory; `origin` names it in errors, and
    /// `extends:` paths are relative to the current directory.
    pub fn from_str(yaml: &str, origin: &str) -> Result<Self, ScenarioErrors> {
        load::load(yaml, origin, None)
    }
}
