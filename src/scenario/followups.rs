//! Compiles the effects that fail a message after its 250 (`bounce:` and
//! `complaint:`) and `server.reports`, naming line and column when a value
//! is wrong or does not fit the rule.

use std::sync::Arc;
use std::time::Duration;

use serde_saphyr::Spanned;

use super::ReportSettings;
use super::load::{Errors, loc};
use super::matcher::parse_duration;
use super::model::{self, BounceAction};
use crate::proto::policy::{Later, Stage};
use crate::proto::reply::{EnhancedCode, Reply};

fn after(value: Option<&Spanned<String>>, errors: &mut Errors<'_>) -> Duration {
    let Some(v) = value else {
        return Duration::ZERO;
    };
    parse_duration(&v.value).unwrap_or_else(|| {
        errors.at(
            loc(v),
            format!("`{}` is not a duration; write e.g. 0s, 2m or 4h", v.value),
        );
        Duration::ZERO
    })
}

/// The rule's `bounce:` or `complaint:`, checked against its stages and reply.
pub(super) fn followup(
    r: &model::Rule,
    stages: &[Stage],
    reply_code: Option<u16>,
    errors: &mut Errors<'_>,
) -> Option<(Duration, Later)> {
    let (at, what) = match (&r.bounce, &r.complaint) {
        (None, None) => return None,
        (Some(_), Some(c)) => {
            errors.at(
                loc(c),
                "a rule either bounces or complains; split it into two rules",
            );
            return None;
        }
        (Some(b), None) => (loc(b), "bounce"),
        (None, Some(c)) => (loc(c), "complaint"),
    };
    let before = errors.len();
    if let Some(bad) = stages
        .iter()
        .find(|s| !matches!(s, Stage::Rcpt | Stage::Data | Stage::Message))
    {
        errors.at(
            at,
            format!(
                "`{what}` follows an accepted message; use it at rcpt, data or message, not at `{}`",
                bad.name()
            ),
        );
    }
    if let Some(code) = reply_code.filter(|c| !matches!(c / 100, 2 | 3)) {
        errors.at(
            at,
            format!("`{what}` reports on a message that was accepted, but the rule replies {code}; a refused message gets no report"),
        );
    }
    let followup = match (&r.bounce, &r.complaint) {
        (Some(b), _) => bounce(b, errors),
        (_, Some(c)) => Some((
            after(c.value.after.as_ref(), errors),
            Later::Complaint {
                feedback_type: Arc::from(
                    c.value
                        .feedback_type
                        .as_ref()
                        .map_or("abuse", |f| f.value.name()),
                ),
            },
        )),
        (None, None) => None,
    };
    (errors.len() == before).then_some(followup).flatten()
}

fn bounce(b: &Spanned<model::Bounce>, errors: &mut Errors<'_>) -> Option<(Duration, Later)> {
    let v = &b.value;
    let after = after(v.after.as_ref(), errors);
    let delayed = v
        .action
        .as_ref()
        .is_some_and(|a| a.value == BounceAction::Delayed);
    let Some(status) = EnhancedCode::parse(&v.status.value) else {
        errors.at(
            loc(&v.status),
            format!(
                "`{}` is not an enhanced status code; write class.subject.detail, e.g. 5.1.1",
                v.status.value
            ),
        );
        return None;
    };
    let (want, action) = if delayed {
        (4, "delayed")
    } else {
        (5, "failed")
    };
    if status.class != want {
        errors.at(
            loc(&v.status),
            format!(
                "status {status} does not fit `action: {action}`: a {action} report has a {want}.x.x status{}",
                if delayed { "" } else { " (write `action: delayed` for a 4.x.x)" }
            ),
        );
    }
    let diagnostic = match &v.diagnostic {
        None => None,
        Some(d) => match Reply::parse_line(&d.value) {
            Err(e) => {
                errors.at(loc(d), e.to_string());
                None
            }
            Ok(reply) => {
                if u16::from(status.class) != reply.code / 100 {
                    errors.at(
                        loc(d),
                        format!(
                            "the diagnostic's reply {} does not agree with status {status}",
                            reply.code
                        ),
                    );
                }
                if let Some(e) = reply.enhanced
                    && e != status
                {
                    errors.at(
                        loc(d),
                        format!("the diagnostic's enhanced code {e} is not the status {status}"),
                    );
                }
                Some(reply)
            }
        },
    };
    Some((
        after,
        Later::Bounce {
            status,
            diagnostic,
            delayed,
        },
    ))
}

/// `server.reports` over the defaults or the extended profile's.
pub(super) fn settings(
    r: Option<&model::Reports>,
    base: ReportSettings,
    errors: &mut Errors<'_>,
) -> ReportSettings {
    let Some(r) = r else { return base };
    let deliver_to = match &r.deliver_to {
        None => base.deliver_to,
        Some(d) => {
            let parsed = parse_smtp_url(&d.value);
            if parsed.is_none() {
                errors.at(
                    loc(d),
                    format!(
                        "`{}` is not an SMTP address; write smtp://HOST:PORT, e.g. smtp://127.0.0.1:2526",
                        d.value
                    ),
                );
            }
            parsed
        }
    };
    ReportSettings {
        deliver_to,
        dsn_success: r.dsn_success.unwrap_or(base.dsn_success),
    }
}

/// Refuses a `deliver_to` beyond this machine in a scenario sent over the
/// API: whoever can reach the API must not be able to make the server
/// connect anywhere on its network. A scenario file may name any host;
/// inside the container image, where other services are reached by name
/// and the port mapping decides who reaches the API, so may the API.
pub(super) fn check_remote_delivery(r: Option<&model::Reports>, errors: &mut Errors<'_>) {
    let Some(d) = r.and_then(|r| r.deliver_to.as_ref()) else {
        return;
    };
    let Some((host, _)) = parse_smtp_url(&d.value) else {
        return;
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback && !crate::http::in_container() {
        errors.at(
            loc(d),
            format!(
                "`deliver_to` over the API may only name this machine (127.0.0.1, ::1, localhost), not `{host}`; put a remote endpoint in a scenario file given with --scenario"
            ),
        );
    }
}

/// `smtp://HOST:PORT` (an IPv6 host in brackets) to host and port.
fn parse_smtp_url(text: &str) -> Option<(String, u16)> {
    let rest = text.trim().strip_prefix("smtp://")?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port) = rest.rsplit_once(':')?;
    let port: u16 = port.parse().ok().filter(|p| *p > 0)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:".contains(&b));
    ok.then(|| (host.to_owned(), port))
}
