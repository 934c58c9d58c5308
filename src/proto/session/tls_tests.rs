//! STARTTLS in the state machine: when it is offered, what it answers, and
//! that the session forgets everything once TLS is up (RFC 3207 §4.2).

use super::tests::{Rules, config, run};
use super::*;
use crate::proto::policy::AcceptAll;
use crate::proto::policy::{Context, Decision};

fn tls_config() -> Config {
    Config {
        starttls: true,
        ..config()
    }
}

#[test]
fn starttls_is_advertised_only_with_a_certificate() {
    let with = run(tls_config(), AcceptAll, b"EHLO c\r\n").wire;
    assert!(with.ends_with("250-DSN\r\n250 STARTTLS\r\n"), "{with}");
    let without = run(config(), AcceptAll, b"EHLO c\r\nSTARTTLS\r\n").wire;
    assert!(!without.contains("STARTTLS"), "{without}");
    assert!(without.ends_with("502 5.5.1 Command not implemented\r\n"));
}

#[test]
fn starttls_replies_and_asks_for_the_upgrade() {
    let out = run(tls_config(), AcceptAll, b"EHLO c\r\nSTARTTLS\r\n");
    assert!(
        out.wire.ends_with("220 2.0.0 Ready to start TLS\r\n"),
        "{}",
        out.wire
    );
    assert!(out.tls_started);
    let early = run(tls_config(), AcceptAll, b"STARTTLS\r\n");
    assert!(early.wire.ends_with("503 5.5.1 Send EHLO/HELO first\r\n"));
    assert!(!early.tls_started);
}

#[test]
fn a_rule_can_refuse_starttls_while_it_stays_advertised() {
    let refuse = Rules(|ctx: &Context<'_>| {
        (ctx.stage == Stage::StartTls).then(|| {
            Decision::reply(
                "broken",
                Reply::parse_line("454 4.7.0 TLS not available due to temporary reason").unwrap(),
            )
        })
    });
    let out = run(tls_config(), refuse, b"EHLO c\r\nSTARTTLS\r\nEHLO c\r\n");
    assert!(!out.tls_started, "no upgrade after a 454");
    assert!(out.wire.contains("454 4.7.0 TLS not available"));
    assert!(out.wire.ends_with("250 STARTTLS\r\n"));
}

#[test]
fn tls_up_resets_the_session_and_required_tls_gates_mail() {
    let cfg = Arc::new(Config {
        tls_required: true,
        ..tls_config()
    });
    let mut s = Session::new(cfg, AcceptAll, "192.0.2.1".parse().unwrap(), 1);
    let mut out = Vec::new();
    s.start(&mut out);
    let feed = |s: &mut Session<AcceptAll>, input: &[u8], out: &mut Vec<Action>| {
        let mut at = 0;
        while let Some(step) = s.receive(&input[at..], out) {
            at += step.consumed;
        }
    };
    feed(&mut s, b"EHLO c\r\nMAIL FROM:<a@b>\r\n", &mut out);
    out.clear();
    s.tls_started();
    assert!(s.is_tls());
    feed(
        &mut s,
        b"MAIL FROM:<a@b>\r\nEHLO c\r\nSTARTTLS\r\nMAIL FROM:<a@b>\r\n",
        &mut out,
    );
    let wire: String = out
        .iter()
        .filter_map(|a| match a {
            Action::Send(o) => Some(String::from_utf8_lossy(&o.reply.to_wire(true)).into_owned()),
            _ => None,
        })
        .collect();
    assert!(
        wire.starts_with("503 5.5.1 Send EHLO/HELO first\r\n"),
        "{wire}"
    );
    assert!(!wire.contains("STARTTLS\r\n"), "not offered again: {wire}");
    assert!(wire.contains("503 5.5.1 TLS already active\r\n"), "{wire}");
    assert!(wire.ends_with("250 2.1.0 Sender ok\r\n"), "{wire}");

    let before = run(
        Config {
            tls_required: true,
            ..tls_config()
        },
        AcceptAll,
        b"EHLO c\r\nMAIL FROM:<a@b>\r\n",
    );
    assert!(
        before
            .wire
            .ends_with("530 5.7.0 Must issue a STARTTLS command first\r\n")
    );
}
