//! mailfault: an SMTP server for testing software that sends email.
//!
//! It captures mail like a local sink and, driven by a YAML scenario, answers
//! with the failures real receivers produce. Data flows one way:
//!
//! ```text
//! TCP bytes -> transport  (tokio I/O, time-outs, limits, shutdown)
//!           -> proto      (sans-IO SMTP: framer, parser, session state machine)
//!           -> scenario   (the policy: rules + shared state decide each reply)
//!           -> store      (captured messages + session records)
//!           -> http, expect (read side: JSON API, web page, verdicts)
//! ```
//!
//! Layout:
//!
//! - [`proto`]: `command` (parser), `framer` (lines, DATA, BDAT), `reply` and
//!   `replies` (the wire form and the protocol's own replies), `session` (the
//!   state machine, with `auth`, `starttls`, `content`, `decisions` and
//!   `rewind` (a checkpoint to feed a command again) beside it), `policy` (the interface the scenario engine implements),
//!   `event` (the typed facts a session records: commands with the
//!   parser's verb and path, replies with what they answer, content, TLS,
//!   AUTH, transaction fates, how the session ended), `transaction` and
//!   `extensions`. Wire faults (`malformed`, `bandwidth`) are decided here
//!   and only paced by the transport.
//! - [`scenario`]: YAML model, validation with file/line/column, `extends`
//!   of provider profiles, matchers, the rule engine and its shared state
//!   (greylist tables, rate windows, counters: `state`, one trait with an
//!   in-memory and a Redis implementation; `tape`, the answers a decision
//!   that waited for Redis replays) and the real or virtual clock.
//! - [`store`]: memory and maildir capture, the Received header, each
//!   session's `log` of events (bounded by count and bytes, never cut in a
//!   way that changes a verdict) and the `transcript` text rendered from it
//!   on demand. Every change to what the store holds goes through its
//!   `journal` (one trait: applied at once in memory, or appended to a
//!   Redis stream that every instance applies in order), encoded by
//!   `codec`; the reports of every instance are `filed` there.
//! - `transport`: listeners (plain with STARTTLS, implicit TLS), the
//!   connection driver (a read loop, an executor of the session's actions
//!   and the TLS upgrade, and the rewind of a command whose decision waits
//!   for shared state; it records what only the I/O sees) and its byte
//!   stream, the scenario in force (swapped
//!   atomically; a connection keeps the one it started with), `metrics`
//!   counters, and the `Control` handle the read side steers it by.
//! - `http`: the JSON API (axum), the server-sent event stream,
//!   `/metrics`, `/livez`/`/readyz` and the embedded web page (`page/`);
//!   messages have Mailpit's and MailHog's paths and shapes (`compat/`),
//!   sessions mailfault's own (`views`); `outbox` serves the reports and
//!   the per-pair timeline, `webhooks` POSTs events to `--webhook` URLs;
//!   it only reads the store and steers through `Control`.
//! - `tls`: development CA and certificates (rcgen), the rustls acceptor;
//!   the only module touching rustls.
//! - `codes`: the reply-code and enhanced-status-code catalog, provider
//!   texts and `explain`, shared by the `explain`, `codes` and `check`
//!   subcommands.
//! - [`expect`]: judging a sender against a scenario's `expect:` block from
//!   the sessions' typed events (`exchanges` pairs each prompt with its
//!   reply as the session recorded it, `history` follows each
//!   sender/recipient pair, one module per group of judgements), `judge`
//!   (evidence from a store) and the report as text, JSON or JUnit XML
//!   (`render`). It reads no text and imports nothing from the transport.
//! - `reports`: what a receiver sends after the 250: RFC 3464 DSNs
//!   (`dsn`) and RFC 5965 ARF complaints (`arf`) built as pure functions,
//!   the `outbox` that releases them on the scenario clock, and the small
//!   SMTP `client` that delivers them to `server.reports.deliver_to`.
//! - `fixture`: [`TestServer`], the in-process server for Rust tests.
//! - `commands`: what the `mailfault` binary's subcommands do (`run`
//!   starts a server, runs the sender and grades it).
//! - `fuzzing` (feature `fuzzing`, off by default): thin entry points for
//!   the fuzz targets in `fuzz/`; not API.

pub(crate) mod codes;
#[doc(hidden)]
pub mod commands;
mod error;
pub mod expect;
mod fixture;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod http;
pub mod proto;
pub(crate) mod reports;
pub mod scenario;
pub mod store;
pub(crate) mod tls;
pub(crate) mod transport;

pub use error::Error;
pub use fixture::TestServer;
pub use scenario::Scenario;
pub use scenario::state::StateConfig;
pub use store::{SessionRecord, Store, StoredMessage};
pub use transport::{ServerHandle, start};

/// The README's Rust examples, compiled (and the fixture example run) by
/// `cargo test`, so the README cannot drift from the library.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
