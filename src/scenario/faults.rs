//! Compiles the fault effects of a rule (`greylist`, `rate_limit`,
//! `bandwidth`, `malformed`) and checks they fit the rule's stages, naming
//! line and column when they do not.

use std::borrow::Cow;
use std::time::Duration;

use serde_saphyr::Spanned;

use super::key::{Key, KeyPart};
use super::load::{Errors, loc};
use super::matcher::{parse_duration, parse_size};
use super::model::{self, OneOrMany};
use super::{Count, GreylistSpec, RateLimit, RateSpec};
use crate::proto::policy::{Malformed, Stage, Wire};
use crate::proto::reply::{EnhancedCode, Reply};

/// RFC 6647 greylisters answer 450 with a "try again later" text.
pub(super) const GREYLISTED: Reply = reply(450, (4, 2, 0), "Greylisted, please try again later");

const fn reply(code: u16, (c, s, d): (u8, u16, u16), text: &'static str) -> Reply {
    Reply {
        code,
        enhanced: Some(EnhancedCode::new(c, s, d)),
        text: Cow::Borrowed(text),
    }
}

/// The reply of a rate limit without `reply:`, by what it counts: the codes
/// real receivers use for each kind of limit (listed in the README).
pub(super) fn rate_reply(limit: RateLimit) -> Reply {
    match limit {
        RateLimit::Concurrent { .. } => reply(
            421,
            (4, 7, 0),
            "Too many concurrent connections from your address, try again later",
        ),
        RateLimit::Window { count, .. } => match count {
            Count::Connections => reply(
                421,
                (4, 7, 0),
                "Too many connections, slow down and try again later",
            ),
            Count::Messages => reply(
                451,
                (4, 7, 1),
                "Message rate limit exceeded, try again later",
            ),
            Count::Recipients => reply(452, (4, 5, 3), "Too many recipients, try again later"),
            Count::Commands => reply(421, (4, 7, 0), "Too many commands, closing connection"),
        },
    }
}

fn duration(
    value: Option<&Spanned<String>>,
    default: Duration,
    errors: &mut Errors<'_>,
) -> Duration {
    let Some(v) = value else {
        return default;
    };
    match parse_duration(&v.value) {
        Some(d) if !d.is_zero() => d,
        _ => {
            errors.at(
                loc(v),
                format!(
                    "`{}` is not a duration above zero; write e.g. 30s, 5m, 4h",
                    v.value
                ),
            );
            default
        }
    }
}

/// Compiles `key:` and checks every part is known at every stage.
fn key(
    value: Option<&Spanned<OneOrMany<String>>>,
    default: Key,
    stages: &[Stage],
    errors: &mut Errors<'_>,
) -> Key {
    let Some(v) = value else {
        return check_key(default, None, stages, errors);
    };
    let names = v.value.to_vec();
    if names.len() == 1 && names[0].trim().eq_ignore_ascii_case("global") {
        return Key::default();
    }
    let mut parts = Vec::new();
    for name in &names {
        match KeyPart::parse(name) {
            Some(p) => parts.push(p),
            None => errors.at(
                loc(v),
                format!(
                    "unknown key `{name}`; use client_ip, client_ip/24, from, to, or global alone"
                ),
            ),
        }
    }
    check_key(Key(parts), Some(loc(v)), stages, errors)
}

fn check_key(
    key: Key,
    at: Option<serde_saphyr::Location>,
    stages: &[Stage],
    errors: &mut Errors<'_>,
) -> Key {
    let Some(at) = at else {
        return key;
    };
    let from_known = |s: &Stage| !matches!(s, Stage::Connect | Stage::Helo);
    let to_known = |s: &Stage| matches!(s, Stage::Rcpt | Stage::Data | Stage::Message);
    for stage in stages {
        if key.uses(|p| *p == KeyPart::From) && !from_known(stage) {
            errors.at(
                at,
                format!(
                    "key `from` is not known yet at the `{}` stage",
                    stage.name()
                ),
            );
        }
        if key.uses(|p| *p == KeyPart::To) && !to_known(stage) {
            errors.at(
                at,
                format!(
                    "key `to` is not known at the `{}` stage; use it with rcpt, data or message",
                    stage.name()
                ),
            );
        }
    }
    key
}

pub(super) fn greylist(
    g: &Spanned<model::Greylist>,
    stages: &[Stage],
    errors: &mut Errors<'_>,
) -> Option<GreylistSpec> {
    let before = errors.len();
    if let Some(bad) = stages
        .iter()
        .find(|s| !matches!(s, Stage::Mail | Stage::Rcpt | Stage::Data | Stage::Message))
    {
        errors.at(
            loc(g),
            format!(
                "greylisting works at mail, rcpt, data or message, not at `{}`",
                bad.name()
            ),
        );
    }
    let v = &g.value;
    let mut default_key = Key::triplet();
    if stages.contains(&Stage::Mail) {
        default_key.0.retain(|p| *p != KeyPart::To);
    }
    let spec = GreylistSpec {
        // Postgrey's defaults: 5 minutes' wait, 35 days' memory.
        retry_after: duration(v.retry_after.as_ref(), Duration::from_secs(300), errors),
        expire: duration(v.expire.as_ref(), Duration::from_secs(35 * 86_400), errors),
        key: key(v.key.as_ref(), default_key, stages, errors),
    };
    (errors.len() == before).then_some(spec)
}

pub(super) fn rate_limit(
    r: &Spanned<model::RateLimit>,
    stages: &[Stage],
    errors: &mut Errors<'_>,
) -> Option<RateSpec> {
    let before = errors.len();
    let v = &r.value;
    let key = key(
        v.key.as_ref(),
        Key(vec![KeyPart::ClientIp { v4: 32, v6: 128 }]),
        stages,
        errors,
    );
    let limit = match (&v.max_concurrent, &v.max, &v.per) {
        (Some(c), None, None) => {
            if stages.iter().any(|s| *s != Stage::Connect) {
                errors.at(
                    loc(c),
                    "`max_concurrent` is checked when a client connects; use it with `on: connect`",
                );
            }
            if v.count.is_some() {
                errors.at(
                    loc(c),
                    "`max_concurrent` counts connections; leave `count` out",
                );
            }
            RateLimit::Concurrent { max: c.value }
        }
        (Some(c), _, _) => {
            errors.at(
                loc(c),
                "use either `max_concurrent` or `max` with `per`, not both",
            );
            return None;
        }
        (None, Some(max), Some(per)) => {
            let per = duration(Some(per), Duration::from_secs(60), errors);
            let count = count(v.count.as_ref(), stages, r, errors)?;
            RateLimit::Window {
                max: max.value,
                per,
                count,
            }
        }
        (None, _, _) => {
            errors.at(
                loc(r),
                "a rate limit needs `max` and `per` (e.g. { max: 100, per: 1m }) or `max_concurrent`",
            );
            return None;
        }
    };
    (errors.len() == before).then_some(RateSpec { key, limit })
}

fn count(
    given: Option<&Spanned<model::Count>>,
    stages: &[Stage],
    r: &Spanned<model::RateLimit>,
    errors: &mut Errors<'_>,
) -> Option<Count> {
    let Some(given) = given else {
        let first = Count::of_stage(*stages.first()?);
        if stages.iter().any(|s| Count::of_stage(*s) != first) {
            errors.at(
                loc(r),
                "these stages count different things; say which with `count:`",
            );
            return None;
        }
        return Some(first);
    };
    let count = match given.value {
        model::Count::Messages => Count::Messages,
        model::Count::Recipients => Count::Recipients,
        model::Count::Connections => Count::Connections,
        model::Count::Commands => Count::Commands,
    };
    if let Some(bad) = stages.iter().find(|s| !count.happens_at(**s)) {
        errors.at(
            loc(given),
            format!(
                "`count: {}` cannot be counted at the `{}` stage",
                count.name(),
                bad.name()
            ),
        );
        return None;
    }
    Some(count)
}

/// `bandwidth: 50B/s` or `malformed: kind`, at most one of them.
pub(super) fn wire(
    bandwidth: Option<&Spanned<String>>,
    malformed: Option<&Spanned<model::Malformed>>,
    errors: &mut Errors<'_>,
) -> Wire {
    if let (Some(_), Some(m)) = (bandwidth, malformed) {
        errors.at(
            loc(m),
            "a reply is either dripped (`bandwidth`) or `malformed`; choose one",
        );
        return Wire::Normal;
    }
    if let Some(m) = malformed {
        return Wire::Malformed(match m.value {
            model::Malformed::BareLf => Malformed::BareLf,
            model::Malformed::TruncatedMultiline => Malformed::TruncatedMultiline,
            model::Malformed::BadCode => Malformed::BadCode,
            model::Malformed::Split => Malformed::Split,
        });
    }
    let Some(b) = bandwidth else {
        return Wire::Normal;
    };
    let text = b.value.trim();
    let rate = text
        .strip_suffix("/s")
        .or_else(|| text.strip_suffix("/S"))
        .and_then(parse_size);
    match rate {
        Some(n) if n > 0 => Wire::Drip { bytes_per_sec: n },
        _ => {
            errors.at(
                loc(b),
                format!("`{text}` is not a rate; write e.g. 50B/s or 2KiB/s"),
            );
            Wire::Normal
        }
    }
}
