//! TLS manners: upgrading before anything private is sent, and greeting
//! again on the new channel as RFC 3207 §4.2 requires (the server's
//! capabilities may differ once encrypted, and what was learnt in
//! plaintext must be forgotten).
//!
//! "TLS is up" is the connection's `TLS established` note, written after a
//! successful STARTTLS handshake and before the greeting on an
//! implicit-TLS port, so both count.

use super::exchanges::{Command, Session};
use super::{Seen, Verdict};
use crate::proto::command::Verb;

/// The first command that must not go out in plaintext: MAIL (the
/// envelope) or AUTH (credentials, a worse leak than the envelope).
fn first_private<'a>(s: &Session<'a>) -> Option<Command<'a>> {
    s.commands()
        .find(|c| matches!(c.verb(), Some(Verb::Mail | Verb::Auth)))
}

pub(super) fn starttls(seen: &Seen<'_>) -> Verdict {
    let mut evidence = Vec::new();
    let (mut judged, mut plaintext) = (0, 0);
    for d in &seen.sessions {
        let Some(private) = first_private(d) else {
            continue;
        };
        judged += 1;
        let tls_before = d
            .tls_established()
            .is_some_and(|n| n.index < private.said.index);
        if tls_before {
            continue;
        }
        plaintext += 1;
        let tried = d
            .exchanges
            .iter()
            .find(|e| e.command().is_some_and(|c| c.is(Verb::StartTls)));
        if let Some(e) = tried {
            if let Some(c) = e.command() {
                evidence.push(c.said.evidence("STARTTLS was tried"));
            }
            if let Some(r) = e.reply {
                evidence.push(r.said.evidence("but TLS was not established"));
            }
        }
        evidence.push(private.said.evidence("sent in plaintext"));
    }
    let expected = "every session upgrades to TLS before MAIL or AUTH";
    if plaintext == 0 {
        let found = match judged {
            0 => "no session sent MAIL or AUTH".to_owned(),
            n => format!("all {n} session(s) that sent MAIL or AUTH did so over TLS"),
        };
        return Verdict::new("starttls", true, expected, found, evidence);
    }
    let found = format!("{plaintext} of {judged} session(s) sent MAIL or AUTH in plaintext");
    Verdict::new("starttls", false, expected, found, evidence)
}

/// Commands that may come between the TLS handshake and the new greeting
/// without relying on what the plaintext greeting said.
fn harmless(verb: Option<Verb>) -> bool {
    matches!(
        verb,
        Some(Verb::Noop | Verb::Rset | Verb::Help | Verb::Quit)
    )
}

pub(super) fn ehlo_after_starttls(seen: &Seen<'_>) -> Verdict {
    let mut evidence = Vec::new();
    let (mut upgraded, mut skipped) = (0, 0);
    for d in &seen.sessions {
        let Some(tls) = d.tls_established() else {
            continue;
        };
        upgraded += 1;
        let next = d
            .commands()
            .find(|c| c.said.index > tls.index && !harmless(c.verb()));
        let Some(next) = next else { continue };
        if matches!(next.verb(), Some(Verb::Ehlo | Verb::Helo)) {
            continue;
        }
        skipped += 1;
        evidence.push(tls.evidence("TLS is up"));
        evidence.push(
            next.said
                .evidence("first command on TLS, without EHLO/HELO before it"),
        );
    }
    let expected =
        "after the TLS upgrade the client sends EHLO (or HELO) again before anything else";
    if skipped == 0 {
        let found = match upgraded {
            0 => "no session upgraded to TLS".to_owned(),
            n => format!("all {n} TLS session(s) greeted again after the upgrade"),
        };
        return Verdict::new("ehlo_after_starttls", true, expected, found, evidence);
    }
    let found = format!(
        "{skipped} of {upgraded} TLS session(s) went on without a new EHLO/HELO (RFC 3207 §4.2)"
    );
    Verdict::new("ehlo_after_starttls", false, expected, found, evidence)
}
