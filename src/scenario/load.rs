//! Validation and compilation of a scenario file. Collects every problem it
//! can find, each with the line and column of the offending value, so a user
//! fixes a file in one pass.

use std::path::Path;
use std::sync::Arc;

use serde_saphyr::{Location, Spanned};

use super::matcher::{
    Cidr, Counter, Glob, Range, SizeCmp, TextMatcher, parse_duration, parse_size,
};
use super::model::{self, StageName};
use super::{
    ClockMode, Conditions, Limits, Rule, Scenario, ScenarioError, ScenarioErrors, ServerSettings,
};
use super::{extends, faults, followups, matcher};
use crate::proto::extensions::Extension;
use crate::proto::framer::BareLf;
use crate::proto::policy::{Disconnect, ReplyChoice, Stage, TlsFault};
use crate::proto::reply::{EnhancedCode, Reply};
use crate::proto::session::Mechanism;

pub(super) struct Errors<'a> {
    file: &'a str,
    list: Vec<ScenarioError>,
}

impl Errors<'_> {
    pub(super) fn at(&mut self, loc: Location, message: impl Into<String>) {
        self.list.push(ScenarioError {
            file: self.file.to_owned(),
            line: loc.line(),
            column: loc.column(),
            message: message.into(),
        });
    }

    pub(super) fn extend(&mut self, more: Vec<ScenarioError>) {
        self.list.extend(more);
    }

    pub(super) fn len(&self) -> usize {
        self.list.len()
    }
}

pub(super) fn loc<T>(s: &Spanned<T>) -> Location {
    s.referenced
}

/// Where a scenario's text came from: its name in errors, its stem (the
/// default scenario name) and the folder `extends:` paths are relative to.
pub(super) struct Source<'a> {
    pub text: &'a str,
    pub file: &'a str,
    pub stem: Option<String>,
    pub dir: Option<&'a Path>,
    /// Whether `extends:` may read files: not for a scenario sent over the
    /// API, which may only build on the built-in profiles.
    pub files: bool,
}

pub(super) fn load(
    text: &str,
    file: &str,
    stem: Option<String>,
) -> Result<Scenario, ScenarioErrors> {
    load_source(
        Source {
            text,
            file,
            stem,
            dir: None,
            files: true,
        },
        0,
    )
}

pub(super) fn load_source(src: Source<'_>, depth: usize) -> Result<Scenario, ScenarioErrors> {
    let Source {
        text,
        file,
        stem,
        dir,
        files,
    } = src;
    let parsed: model::File = serde_saphyr::from_str(text).map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        let message = e.to_string();
        let message = message
            .lines()
            .next()
            .unwrap_or("invalid YAML")
            .trim()
            .to_owned();
        ScenarioErrors(vec![ScenarioError {
            file: file.to_owned(),
            line,
            column,
            message,
        }])
    })?;
    let mut errors = Errors {
        file,
        list: Vec::new(),
    };
    if parsed.version.value != 1 {
        errors.at(
            loc(&parsed.version),
            format!(
                "unsupported version {}; this mailfault reads `version: 1`",
                parsed.version.value
            ),
        );
    }
    let base = match &parsed.extends {
        None => None,
        Some(ext) => extends::parent(ext, dir.filter(|_| files), files, depth, &mut errors),
    };
    let base_server = base
        .as_ref()
        .map_or_else(ServerSettings::default, |b| b.server.clone());
    if !files {
        followups::check_remote_delivery(parsed.server.reports.as_ref(), &mut errors);
    }
    let server = server(parsed.server, base_server, &mut errors);
    let mut rules: Vec<Rule> = parsed
        .rules
        .iter()
        .enumerate()
        .filter_map(|(i, r)| rule(i, r, &mut errors))
        .collect();
    if let Some(e) = &parsed.expect {
        expect(e, &mut errors);
    }
    if !errors.list.is_empty() {
        return Err(ScenarioErrors(errors.list));
    }
    let clock = match parsed.clock.map(|c| c.value) {
        Some(model::Clock::Virtual) => ClockMode::Virtual,
        Some(model::Clock::Real) => ClockMode::Real,
        None => base.as_ref().map_or(ClockMode::Real, |b| b.clock),
    };
    // The user's rules go in front of the profile's: first match wins.
    let (seed, expect, description) = match base {
        Some(b) => {
            rules.extend(b.rules);
            (
                parsed.seed.unwrap_or(b.seed),
                parsed.expect.or(b.expect),
                parsed.description.or(b.description),
            )
        }
        None => (parsed.seed.unwrap_or(0), parsed.expect, parsed.description),
    };
    Ok(Scenario {
        name: parsed.name.or(stem).unwrap_or_else(|| "unnamed".into()),
        description,
        seed,
        clock,
        server,
        rules,
        expect,
        yaml: std::sync::Arc::from(text),
    })
}

fn duration_or(
    value: &Option<Spanned<String>>,
    default: std::time::Duration,
    errors: &mut Errors<'_>,
) -> std::time::Duration {
    match value {
        None => default,
        Some(s) => parse_duration(&s.value).unwrap_or_else(|| {
            errors.at(
                loc(s),
                format!("`{}` is not a duration; write e.g. 30s, 5m, 1h", s.value),
            );
            default
        }),
    }
}

/// The `expect:` block: durations that parse and delivered bounds that can
/// hold, so a typo fails `check` instead of a graded run.
fn expect(e: &model::Expect, errors: &mut Errors<'_>) {
    for d in [&e.min_retry_interval, &e.within].into_iter().flatten() {
        if parse_duration(&d.value).is_none() {
            errors.at(
                loc(d),
                format!("`{}` is not a duration; write e.g. 30s, 2m or 1h", d.value),
            );
        }
    }
    if let Some(d) = &e.delivered
        && let model::Delivered::Bounds(b) = d.value
    {
        match (b.min, b.max) {
            (None, None) => errors.at(loc(d), "`delivered` needs `min`, `max` or both"),
            (Some(min), Some(max)) if min > max => errors.at(
                loc(d),
                format!("`delivered` min {min} is above max {max}; no count satisfies both"),
            ),
            _ => {}
        }
    }
}

/// The `server:` block over `d`, the defaults or the extended profile's
/// settings: every field given replaces the one below it.
fn server(s: model::Server, d: ServerSettings, errors: &mut Errors<'_>) -> ServerSettings {
    let auth = s.auth.unwrap_or(d.auth);
    for name in &auth.mechanisms {
        if Mechanism::from_name(&name.value).is_none() {
            errors.at(
                loc(name),
                format!(
                    "unknown AUTH mechanism `{}`; known: PLAIN, LOGIN, CRAM-MD5, XOAUTH2",
                    name.value
                ),
            );
        }
    }
    let extensions = match &s.extensions {
        // AUTH is advertised by default once an `auth:` block configures it.
        None if auth.configured() => {
            let mut set = d.extensions;
            set.insert(Extension::Auth);
            set
        }
        None => d.extensions,
        Some(list) => list
            .iter()
            .filter_map(|name| {
                let e = Extension::from_keyword(&name.value);
                if e.is_none() {
                    errors.at(loc(name), format!("unknown extension `{}`; known: PIPELINING, 8BITMIME, SMTPUTF8, SIZE, ENHANCEDSTATUSCODES, CHUNKING, BINARYMIME, DSN, STARTTLS, AUTH", name.value));
                }
                e
            })
            .collect(),
    };
    if let Some(list) = &s.extensions
        && extensions.contains(Extension::BinaryMime)
        && !extensions.contains(Extension::Chunking)
        && let Some(name) = list
            .iter()
            .find(|n| n.value.eq_ignore_ascii_case("BINARYMIME"))
    {
        errors.at(
            loc(name),
            "BINARYMIME needs CHUNKING: binary content can only come by BDAT (RFC 3030 §3)"
                .to_owned(),
        );
    }
    let max_message_size = match &s.limits.max_message_size {
        None => d.limits.max_message_size,
        Some(sp) => match &sp.value {
            model::Size::Bytes(n) => *n,
            model::Size::Text(t) => parse_size(t).unwrap_or_else(|| {
                errors.at(
                    loc(sp),
                    format!("`{t}` is not a size; write e.g. 25MiB, 10KB or 1024"),
                );
                d.limits.max_message_size
            }),
        },
    };
    ServerSettings {
        hostname: s.hostname.unwrap_or(d.hostname),
        greeting: s.greeting.unwrap_or(d.greeting),
        extensions,
        limits: Limits {
            max_message_size,
            max_recipients: s.limits.max_recipients.unwrap_or(d.limits.max_recipients),
            command_timeout: duration_or(
                &s.limits.command_timeout,
                d.limits.command_timeout,
                errors,
            ),
            data_timeout: duration_or(&s.limits.data_timeout, d.limits.data_timeout, errors),
            max_connections: s.limits.max_connections.unwrap_or(d.limits.max_connections),
        },
        bare_lf: match s.bare_lf {
            Some(model::BareLf::Accept) => BareLf::Accept,
            Some(model::BareLf::Reject) => BareLf::Reject,
            None => d.bare_lf,
        },
        tls: s.tls.unwrap_or(d.tls),
        auth,
        address_faults: s.address_faults.unwrap_or(d.address_faults),
        reports: followups::settings(s.reports.as_ref(), d.reports, errors),
    }
}

fn stage(name: StageName) -> Vec<Stage> {
    match name {
        StageName::Connect => vec![Stage::Connect],
        StageName::Helo => vec![Stage::Helo],
        StageName::Starttls => vec![Stage::StartTls],
        StageName::Auth => vec![Stage::Auth],
        StageName::Mail => vec![Stage::Mail],
        StageName::Rcpt => vec![Stage::Rcpt],
        StageName::Data => vec![Stage::Data],
        StageName::Message => vec![Stage::Message],
        StageName::Rset => vec![Stage::Rset],
        StageName::Noop => vec![Stage::Noop],
        StageName::Vrfy => vec![Stage::Vrfy],
        StageName::Quit => vec![Stage::Quit],
        StageName::Any => Stage::ALL.to_vec(),
    }
}

fn reply(r: &Spanned<model::ReplyText>, errors: &mut Errors<'_>) -> Option<ReplyChoice> {
    let built = match &r.value {
        model::ReplyText::Line(l) if l.trim().eq_ignore_ascii_case("none") => {
            return Some(ReplyChoice::Silent);
        }
        model::ReplyText::Line(l) => Reply::parse_line(l),
        model::ReplyText::Full(full) => {
            let enhanced = match &full.enhanced {
                None => None,
                Some(e) => match EnhancedCode::parse(e) {
                    Some(e) => Some(e),
                    None => {
                        errors.at(loc(r), format!("`{e}` is not an enhanced status code; write class.subject.detail, e.g. 5.1.1"));
                        return None;
                    }
                },
            };
            Reply::checked(full.code, enhanced, &full.text.to_vec())
        }
    };
    match built {
        Ok(reply) => Some(ReplyChoice::Custom(reply)),
        Err(e) => {
            errors.at(loc(r), e.to_string());
            None
        }
    }
}

/// A glob compiled, or an error at `at` saying why it cannot be.
fn glob(pattern: &str, at: Location, errors: &mut Errors<'_>) -> Option<Glob> {
    Glob::new(pattern)
        .map_err(|e| errors.at(at, e.to_string()))
        .ok()
}

fn text(t: &Option<Spanned<model::Text>>, errors: &mut Errors<'_>) -> Option<TextMatcher> {
    let t = t.as_ref()?;
    match &t.value {
        model::Text::Glob(g) => glob(g, loc(t), errors).map(|g| TextMatcher::Globs(vec![g])),
        model::Text::Globs(gs) => {
            let globs: Vec<Option<Glob>> = gs.iter().map(|g| glob(g, loc(t), errors)).collect();
            globs
                .into_iter()
                .collect::<Option<_>>()
                .map(TextMatcher::Globs)
        }
        model::Text::Regex(r) => match matcher::check_length("regex", &r.regex) {
            Err(e) => {
                errors.at(loc(t), e.to_string());
                None
            }
            Ok(()) => regex_matcher(&r.regex, loc(t), errors),
        },
    }
}

fn regex_matcher(regex: &str, at: Location, errors: &mut Errors<'_>) -> Option<TextMatcher> {
    {
        match regex::RegexBuilder::new(regex)
            .case_insensitive(true)
            .size_limit(matcher::COMPILED_LIMIT)
            .build()
        {
            Ok(re) => Some(TextMatcher::Regex(re)),
            Err(e) => {
                let why = e.to_string();
                let why = why
                    .lines()
                    .last()
                    .unwrap_or("")
                    .trim_start_matches("error: ")
                    .to_owned();
                errors.at(at, format!("invalid regex: {why}"));
                None
            }
        }
    }
}

fn counter(c: &Option<Spanned<model::Counter>>, errors: &mut Errors<'_>) -> Option<Counter> {
    let c = c.as_ref()?;
    let compiled = match &c.value {
        model::Counter::One(n) => Some(Counter::Any(vec![*n])),
        model::Counter::List(l) => Some(Counter::Any(l.clone())),
        model::Counter::Range(r) => Range::parse(r, |s| s.parse().ok()).map(Counter::Range),
        model::Counter::Every(e) if e.every > 0 => Some(Counter::Every(e.every)),
        model::Counter::Every(_) => None,
    };
    if compiled.is_none() {
        errors.at(loc(c), "a counter is a number, a list, a range like \"3..5\" / \"3..\" / \"..5\", or { every: N } with N > 0");
    }
    compiled
}

fn conditions(m: &model::Match, errors: &mut Errors<'_>) -> Conditions {
    let mut client_ip = Vec::new();
    if let Some(ips) = &m.client_ip {
        for text in ips.value.to_vec() {
            match Cidr::parse(&text) {
                Some(c) => client_ip.push(c),
                None => errors.at(
                    loc(ips),
                    format!("`{text}` is not an IP address or CIDR such as 192.0.2.0/24"),
                ),
            }
        }
    }
    let size = m.size.as_ref().and_then(|s| {
        let c = SizeCmp::parse(&s.value);
        if c.is_none() {
            errors.at(loc(s), format!("`{}` is not a size condition; write e.g. \">1MiB\", \"<=10KB\" or \"1KiB..2KiB\"", s.value));
        }
        c
    });
    let elapsed = m.elapsed.as_ref().and_then(|e| {
        let r = Range::parse(&e.value, parse_duration);
        if r.is_none() {
            errors.at(
                loc(e),
                format!(
                    "`{}` is not a time window; write e.g. \"0s..30s\" or \"10m..\"",
                    e.value
                ),
            );
        }
        r
    });
    let probability = m.probability.as_ref().and_then(|p| {
        if (0.0..=1.0).contains(&p.value) {
            Some(p.value)
        } else {
            errors.at(
                loc(p),
                format!("probability {} is outside 0.0..1.0", p.value),
            );
            None
        }
    });
    Conditions {
        from: text(&m.from, errors),
        to: text(&m.to, errors),
        helo: text(&m.helo, errors),
        auth_user: text(&m.auth_user, errors),
        client_ip,
        tls: m.tls,
        authenticated: m.authenticated,
        header: m
            .header
            .as_ref()
            .map(|h| {
                h.value
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), glob(&v.value, loc(v), errors)?)))
                    .collect()
            })
            .unwrap_or_default(),
        body: m.body.as_ref().and_then(|b| glob(&b.value, loc(b), errors)),
        size,
        connection: counter(&m.connection, errors),
        message: counter(&m.message, errors),
        command: counter(&m.command, errors),
        attempt: counter(&m.attempt, errors),
        elapsed,
        probability,
    }
}

fn rule(index: usize, spanned: &Spanned<model::Rule>, errors: &mut Errors<'_>) -> Option<Rule> {
    let r = &spanned.value;
    let before = errors.list.len();
    let mut stages: Vec<Stage> = r.on.value.to_vec().into_iter().flat_map(stage).collect();
    stages.dedup();
    if stages.is_empty() {
        errors.at(loc(&r.on), "`on` needs at least one stage");
    }
    let tls_fault = r.tls_fault.as_ref().map(|t| {
        if stages.iter().any(|s| *s != Stage::StartTls) {
            errors.at(
                loc(t),
                "`tls_fault` breaks the TLS upgrade; use it with `on: starttls`",
            );
        }
        match t.value {
            model::TlsFault::AbortHandshake => TlsFault::AbortHandshake,
            model::TlsFault::ExpiredCert => TlsFault::ExpiredCert,
            model::TlsFault::WrongHostCert => TlsFault::WrongHostCert,
            model::TlsFault::SelfSigned => TlsFault::SelfSigned,
            model::TlsFault::Tls12Only => TlsFault::Tls12Only,
        }
    });
    let only_message = |errors: &mut Errors<'_>, what: &str, at: Location| {
        if stages.iter().any(|s| *s != Stage::Message) {
            errors.at(
                at,
                format!("`{what}` only applies at the `message` stage; use `on: message`"),
            );
        }
    };
    let m = &r.conditions;
    if let Some(h) = &m.header {
        only_message(errors, "header", loc(h));
    }
    if let Some(b) = &m.body {
        only_message(errors, "body", loc(b));
    }
    if let Some(s) = &m.size {
        only_message(errors, "size", loc(s));
    }
    let conditions = conditions(m, errors);
    let greylist = r
        .greylist
        .as_ref()
        .and_then(|g| faults::greylist(g, &stages, errors));
    let rate_limit = r
        .rate_limit
        .as_ref()
        .and_then(|g| faults::rate_limit(g, &stages, errors));
    if let (Some(_), Some(rl)) = (&r.greylist, &r.rate_limit) {
        errors.at(
            loc(rl),
            "a rule is either a greylist or a rate limit; split it into two rules",
        );
    }
    let wire = faults::wire(r.bandwidth.as_ref(), r.malformed.as_ref(), errors);
    if let Some(n) = &r.disconnect_after_bytes
        && stages.iter().any(|s| *s != Stage::Data)
    {
        errors.at(
            loc(n),
            "`disconnect_after_bytes` cuts the message content; use it with `on: data`",
        );
    }
    let reply_choice = match (&r.reply, &greylist, &rate_limit) {
        (Some(x), _, _) => reply(x, errors).unwrap_or(ReplyChoice::Default),
        (None, Some(_), _) => ReplyChoice::Custom(faults::GREYLISTED),
        (None, None, Some(rl)) => ReplyChoice::Custom(faults::rate_reply(rl.limit)),
        (None, None, None) => ReplyChoice::Default,
    };
    if let (Some(sp), ReplyChoice::Custom(rep)) = (&r.reply, &reply_choice) {
        if rep.code == 354 && stages.iter().any(|s| *s != Stage::Data) {
            errors.at(
                loc(sp),
                "354 is the reply to DATA; use it only with `on: data`",
            );
        }
        if rep.code / 100 == 2
            && r.disconnect
                .as_ref()
                .is_some_and(|d| d.value == model::Disconnect::BeforeReply)
            && stages
                .iter()
                .any(|s| matches!(s, Stage::Rcpt | Stage::Mail | Stage::Data))
        {
            errors.at(loc(sp), format!("a {} reply with `disconnect: before_reply` never reaches the client; drop one of them", rep.code));
        }
    }
    if let Some(t) = &r.times
        && t.value == 0
    {
        errors.at(loc(t), "`times` must be at least 1");
    }
    if let Some(s) = &r.store
        && !s.value
    {
        only_message(errors, "store: false", loc(s));
    }
    let reply_code = match &reply_choice {
        ReplyChoice::Custom(rep) => Some(rep.code),
        ReplyChoice::Silent => None,
        ReplyChoice::Default => None,
    };
    let followup = followups::followup(r, &stages, reply_code, errors);
    let delay = r.delay.as_ref().and_then(|d| {
        let v = parse_duration(&d.value);
        if v.is_none() {
            errors.at(
                loc(d),
                format!("`{}` is not a duration; write e.g. 20s or 500ms", d.value),
            );
        }
        v
    });
    if errors.list.len() > before {
        return None;
    }
    Some(Rule {
        name: Arc::from(
            r.name
                .clone()
                .unwrap_or_else(|| format!("rule {}", index + 1)),
        ),
        source: r.source.as_deref().map(Arc::from),
        stages,
        conditions,
        times: r.times.as_ref().map(|t| t.value),
        reply: reply_choice,
        delay,
        disconnect: r.disconnect.as_ref().map(|d| match d.value {
            model::Disconnect::BeforeReply => Disconnect::BeforeReply,
            model::Disconnect::AfterReply => Disconnect::AfterReply,
        }),
        store: r.store.as_ref().is_none_or(|s| s.value),
        greylist,
        rate_limit,
        wire,
        cut_after: r.disconnect_after_bytes.as_ref().map(|n| n.value),
        tls_fault,
        followup,
    })
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
