//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`, off by
//! default). Thin wrappers over crate-private code: they own their inputs
//! and outputs so the targets can check invariants without seeing the
//! internal types. Not part of the supported API.

use std::sync::{Arc, OnceLock};

use crate::proto::command::{self, Command, ParseError};
use crate::proto::framer::{Frame, Framer, Mode};
use crate::proto::reply::{EnhancedCode, Reply, Wire};
use crate::proto::session::{Action, Session};
use crate::scenario::{ClockMode, Engine, Scenario};

/// What the command parser made of a line.
#[derive(Debug, PartialEq, Eq)]
pub struct ParsedCommand {
    /// The verb's name.
    pub verb: &'static str,
    /// Every text field the parse borrowed from the line (paths, domains,
    /// parameter values).
    pub fields: Vec<String>,
}

/// Parses one command line; `Err` holds the reply code the session sends.
pub fn parse_command(line: &[u8]) -> Result<ParsedCommand, u16> {
    let parsed = command::parse(line).map_err(|e| match e {
        ParseError::UnknownCommand => 500_u16,
        _ => 501,
    })?;
    let mut fields = Vec::new();
    let mut add = |s: Option<&str>| fields.extend(s.map(str::to_owned));
    match parsed.command {
        Command::Ehlo(s) | Command::Helo(s) | Command::Vrfy(s) | Command::Expn(s) => add(Some(s)),
        Command::Help(s) => add(s),
        Command::Mail { from, params } => {
            add(Some(from));
            add(Some(params.raw));
            add(params.envid);
            add(params.auth);
            add(params.unknown);
        }
        Command::Rcpt { to, params } => {
            add(Some(to));
            add(Some(params.raw));
            add(params.orcpt);
            add(params.unknown);
        }
        Command::Auth { mechanism, initial } => {
            add(Some(mechanism));
            add(initial);
        }
        Command::Data
        | Command::Bdat { .. }
        | Command::Rset
        | Command::Noop
        | Command::Quit
        | Command::StartTls => {}
    }
    Ok(ParsedCommand {
        verb: parsed.command.verb().name(),
        fields,
    })
}

/// A frame, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameOut {
    /// A command line without its ending.
    Line {
        /// The line.
        line: Vec<u8>,
        /// Ended by CRLF (not a bare LF).
        crlf: bool,
    },
    /// An over-long command line.
    TooLong,
    /// Skipped bytes of an over-long line.
    Discard,
    /// Unstuffed DATA content, with its bare LF, bare CR, smuggling flags.
    Data(Vec<u8>, [bool; 3]),
    /// The end of DATA.
    DataEnd,
    /// BDAT chunk bytes.
    Chunk(Vec<u8>),
    /// The end of a BDAT chunk.
    ChunkEnd,
}

/// The framer's output for `input` delivered in pieces cut at `cuts`
/// (offsets, any order), the way the connection feeds it: a buffer that
/// grows by a read and shrinks by what each frame consumed. A line `DATA`
/// switches to DATA mode and `BDAT n` to a chunk of `n` octets, as the
/// session would. `Err` says how the framer broke its contract.
pub fn frame(input: &[u8], cuts: &[usize], max_line: usize) -> Result<Vec<FrameOut>, String> {
    let mut framer = Framer::new(max_line);
    let limit = max_line.max(16);
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    cuts.push(input.len());
    cuts.sort_unstable();
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut fed = 0;
    for cut in cuts {
        buf.extend_from_slice(&input[fed..cut.max(fed)]);
        fed = cut.max(fed);
        let mut idle = 0;
        while let Some((frame, consumed)) = framer.next(&buf) {
            if consumed > buf.len() {
                return Err(format!("consumed {consumed} of {}", buf.len()));
            }
            idle = if consumed == 0 { idle + 1 } else { 0 };
            if idle > 1 {
                return Err("no progress".into());
            }
            let owned = match frame {
                Frame::Line {
                    line,
                    ending,
                    bare_cr,
                } => {
                    if line.len() > limit {
                        return Err(format!("line of {} > {limit}", line.len()));
                    }
                    if bare_cr != line.contains(&b'\r') || line.contains(&b'\n') {
                        return Err("line ending flags wrong".into());
                    }
                    let upper = line.to_ascii_uppercase();
                    if upper == b"DATA" {
                        framer.set_mode(Mode::Data);
                    } else if let Some(n) = upper.strip_prefix(b"BDAT ") {
                        let n = std::str::from_utf8(n).ok().and_then(|n| n.parse().ok());
                        framer.set_mode(Mode::Chunk {
                            remaining: n.unwrap_or(0),
                        });
                    }
                    FrameOut::Line {
                        line: line.to_vec(),
                        crlf: matches!(ending, crate::proto::framer::Ending::CrLf),
                    }
                }
                Frame::TooLong => FrameOut::TooLong,
                Frame::Discard => FrameOut::Discard,
                Frame::Data { bytes, flags } => FrameOut::Data(
                    bytes.to_vec(),
                    [flags.bare_lf, flags.bare_cr, flags.smuggling],
                ),
                Frame::DataEnd => FrameOut::DataEnd,
                Frame::Chunk(bytes) => FrameOut::Chunk(bytes.to_vec()),
                Frame::ChunkEnd => FrameOut::ChunkEnd,
            };
            out.push(owned);
            buf.drain(..consumed);
        }
    }
    Ok(out)
}

/// The scenarios a fuzzed session runs under, by profile number.
const SCENARIOS: [&str; 8] = [
    include_str!("../scenarios/accept-all.yaml"),
    include_str!("../scenarios/auth-required.yaml"),
    include_str!("../scenarios/chaos.yaml"),
    include_str!("../scenarios/greylist.yaml"),
    include_str!("../scenarios/bad-sequence.yaml"),
    include_str!("../scenarios/malformed-replies.yaml"),
    include_str!("../scenarios/spam-reject.yaml"),
    include_str!("../scenarios/tls-required.yaml"),
];

fn scenario(profile: usize) -> Option<Arc<Scenario>> {
    static LOADED: OnceLock<Vec<Option<Arc<Scenario>>>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            SCENARIOS
                .iter()
                .map(|yaml| {
                    let mut s = Scenario::from_request(yaml, "fuzz.yaml").ok()?;
                    s.set_clock(ClockMode::Virtual);
                    Some(Arc::new(s))
                })
                .collect()
        })
        .get(profile % SCENARIOS.len())
        .cloned()
        .flatten()
}

/// One thing a fuzzed session did, as the connection would see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionOut {
    /// Reply bytes written; `checked` when they are meant to be well-formed
    /// (no `malformed:` fault asked otherwise).
    Reply {
        /// The wire bytes.
        wire: Vec<u8>,
        /// Whether they must be well-formed SMTP.
        checked: bool,
    },
    /// A pause.
    Delay,
    /// A message handed to the store.
    Deliver,
    /// A fact recorded.
    Record,
    /// The TLS upgrade (the harness pretends it succeeded).
    StartTls,
    /// The session ended.
    Close,
}

/// Runs a session under scenario `profile` (a few of the shipped ones, with
/// STARTTLS offered on odd profiles): the greeting, then `input` in pieces
/// cut at `cuts`, then a time-out when `end` is odd, a shutdown otherwise.
/// After a close the remaining input and the end are still fed, so the
/// caller can check nothing more comes out. `Err` when the session stalls.
pub fn session(
    profile: u8,
    input: &[u8],
    cuts: &[usize],
    end: u8,
) -> Result<Vec<SessionOut>, String> {
    let Some(scenario) = scenario(usize::from(profile >> 1)) else {
        return Err("a shipped scenario failed to load".into());
    };
    let mut config = crate::transport::session_config(&scenario);
    config.starttls = profile & 1 == 1;
    config.max_line = 512;
    config.max_message_size = config.max_message_size.min(64 * 1024);
    let engine = Arc::new(Engine::new(scenario));
    let policy = engine.session_policy();
    let ip = std::net::IpAddr::from([192, 0, 2, 1]);
    let mut session = Session::new(Arc::new(config), policy, ip, 1);
    let mut actions = Vec::new();
    let mut out = Vec::new();
    session.start(&mut actions);
    collect(&mut actions, &mut out);
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    cuts.push(input.len());
    cuts.sort_unstable();
    let mut buf = Vec::new();
    let mut fed = 0;
    for cut in cuts {
        buf.extend_from_slice(&input[fed..cut.max(fed)]);
        fed = cut.max(fed);
        let mut idle = 0;
        while let Some(step) = session.receive(&buf, &mut actions) {
            if step.consumed > buf.len() {
                return Err(format!("consumed {} of {}", step.consumed, buf.len()));
            }
            idle = if step.consumed == 0 { idle + 1 } else { 0 };
            if idle > 2 {
                return Err("no progress".into());
            }
            buf.drain(..step.consumed);
            if collect(&mut actions, &mut out) {
                // STARTTLS: pipelined plaintext is dropped (RFC 3207 §4.2).
                buf.clear();
                session.tls_started();
            }
        }
    }
    if end & 1 == 1 {
        session.timeout(&mut actions);
    } else {
        session.shutdown(&mut actions);
    }
    collect(&mut actions, &mut out);
    Ok(out)
}

/// Moves `actions` into `out`; true when one was a STARTTLS upgrade.
fn collect(actions: &mut Vec<Action>, out: &mut Vec<SessionOut>) -> bool {
    let mut tls = false;
    for action in actions.drain(..) {
        let next = match action {
            Action::Send(o) => wire(&o.reply, o.enhanced, o.wire),
            Action::Deliver {
                reply,
                enhanced,
                wire: how,
                ..
            } => {
                let queued = Reply::new(250, Some(EnhancedCode::new(2, 0, 0)), "Ok: queued");
                out.push(SessionOut::Deliver);
                wire(&reply.unwrap_or(queued), enhanced, how)
            }
            Action::Delay(_) => SessionOut::Delay,
            Action::Record(_) => SessionOut::Record,
            Action::StartTls(_) => {
                tls = true;
                SessionOut::StartTls
            }
            Action::Close(_) => SessionOut::Close,
        };
        out.push(next);
    }
    tls
}

fn wire(reply: &Reply, enhanced: bool, how: Wire) -> SessionOut {
    let mut bytes = Vec::new();
    match how {
        Wire::Malformed(kind) => reply.write_malformed(&mut bytes, enhanced, kind),
        Wire::Normal | Wire::Drip { .. } => reply.write_to(&mut bytes, enhanced),
    }
    SessionOut::Reply {
        wire: bytes,
        checked: !matches!(how, Wire::Malformed(_)),
    }
}

/// Loads `yaml` as the HTTP API would (`extends:` names built-in profiles
/// only, never a file); on success also builds the session settings and
/// the redacted copy. `Err` holds the error messages.
pub fn load_scenario(yaml: &str) -> Result<String, Vec<String>> {
    match Scenario::from_request(yaml, "fuzz.yaml") {
        Ok(scenario) => {
            let _ = crate::transport::session_config(&scenario);
            let _ = Engine::new(Arc::new(scenario.clone()));
            Ok(scenario.redacted_yaml())
        }
        Err(errors) => Err(errors.0.iter().map(|e| e.message.clone()).collect()),
    }
}

/// The MIME view `header:`/`body:` rules see: whether header `name` is
/// present, and the body text, computed after parsing the whole message
/// (`.0`, `.1`) and after parsing the headers only (`.2`, `.3`).
pub fn mime_view(raw: &[u8], name: &str) -> (bool, String, bool, String) {
    let (a, b) = crate::scenario::fuzz_mime_view(raw, name, true);
    let (c, d) = crate::scenario::fuzz_mime_view(raw, name, false);
    (a, b, c, d)
}
