//! Rule evaluation: ordering, counters, retirement and seeded randomness.

use super::*;
use crate::proto::policy::ReplyChoice;

fn engine(yaml: &str) -> Arc<Engine> {
    Arc::new(Engine::new(Arc::new(
        Scenario::from_str(yaml, "t").unwrap(),
    )))
}

fn ctx(stage: Stage) -> Context<'static> {
    Context {
        stage,
        client_ip: "192.0.2.7".parse().unwrap(),
        helo: Some("client.test"),
        from: Some("a@b.test"),
        to: Some("x@y.test"),
        recipients: &[],
        tls: false,
        auth_user: None,
        connection: 1,
        command: 1,
        message: None,
    }
}

fn fired(p: &mut ScenarioPolicy, c: &Context<'_>) -> Option<String> {
    p.decide(c).map(|d| d.rule.to_string())
}

#[test]
fn first_applying_rule_wins_and_stage_filters() {
    let e = engine(
        "version: 1\nrules:\n  - {name: a, on: rcpt, match: {to: \"*@z.test\"}}\n  - {name: b, on: rcpt}\n  - {name: c, on: rcpt}\n",
    );
    let mut p = e.session_policy();
    assert_eq!(fired(&mut p, &ctx(Stage::Rcpt)).as_deref(), Some("b"));
    assert_eq!(fired(&mut p, &ctx(Stage::Mail)), None);
}

#[test]
fn conditions_table() {
    let cases: &[(&str, bool)] = &[
        ("{from: \"*@b.test\"}", true),
        ("{from: \"*@c.test\"}", false),
        ("{helo: [\"x\", \"client.*\"]}", true),
        ("{helo: {regex: \"^CLIENT\\\\.\"}}", true),
        ("{client_ip: 192.0.2.0/24}", true),
        ("{client_ip: [10.0.0.0/8]}", false),
        ("{tls: false, authenticated: false}", true),
        ("{tls: true}", false),
        ("{auth_user: \"*\"}", false),
        ("{connection: 1}", true),
        ("{connection: [2, 3]}", false),
        ("{command: \"1..\"}", true),
        ("{message: 1}", true),
        ("{elapsed: \"0s..1h\"}", true),
        ("{elapsed: \"1h..\"}", false),
        ("{probability: 1.0}", true),
        ("{probability: 0.0}", false),
    ];
    for (m, want) in cases {
        let e = engine(&format!(
            "version: 1\nrules:\n  - on: rcpt\n    match: {m}\n"
        ));
        let got = e.session_policy().decide(&ctx(Stage::Rcpt)).is_some();
        assert_eq!(got, *want, "{m}");
    }
}

#[test]
fn message_stage_conditions() {
    let e = engine(
        "version: 1\nrules:\n  - on: message\n    match: { header: { subject: \"*invoice*\" }, body: \"*pay*\", size: \">10\" }\n",
    );
    let mut p = e.session_policy();
    let mut c = ctx(Stage::Message);
    c.to = None;
    c.message = Some(b"Subject: Your\r\n Invoice\r\n\r\nplease pay\r\n");
    assert!(p.decide(&c).is_some());
    c.message = Some(b"Subject: hello\r\n\r\nplease pay\r\n");
    assert!(p.decide(&c).is_none());
}

#[test]
fn to_at_later_stages_looks_at_recipients() {
    let e = engine("version: 1\nrules:\n  - on: data\n    match: { to: \"x@*\" }\n");
    let mut p = e.session_policy();
    let rcpt = |a: &str| crate::proto::transaction::Recipient {
        address: a.into(),
        params: String::new(),
    };
    let rcpts = vec![rcpt("y@a"), rcpt("x@b")];
    let mut c = ctx(Stage::Data);
    c.to = None;
    c.recipients = &rcpts;
    assert!(p.decide(&c).is_some());
    c.recipients = &[];
    assert!(p.decide(&c).is_none());
}

#[test]
fn times_retires_a_rule_across_sessions() {
    let e = engine("version: 1\nrules:\n  - {name: once, on: mail, times: 2}\n");
    assert!(e.session_policy().decide(&ctx(Stage::Mail)).is_some());
    assert!(e.session_policy().decide(&ctx(Stage::Mail)).is_some());
    assert!(e.session_policy().decide(&ctx(Stage::Mail)).is_none());
}

#[test]
fn attempts_count_per_ip_from_to() {
    let e = engine(
        "version: 1\nrules:\n  - on: [rcpt, message]\n    match: { attempt: \"1..2\" }\n    reply: 451 4.3.0 later\n",
    );
    let mut decisions = Vec::new();
    for _ in 0..3 {
        let mut p = e.session_policy();
        p.decide(&ctx(Stage::Mail));
        decisions.push(p.decide(&ctx(Stage::Rcpt)).is_some());
    }
    assert_eq!(decisions, [true, true, false]);
    let mut other = ctx(Stage::Rcpt);
    other.to = Some("new@y.test");
    let mut p = e.session_policy();
    assert!(p.decide(&other).is_some(), "a new triple starts at 1");
    let mut msg = ctx(Stage::Message);
    msg.to = None;
    assert!(
        p.decide(&msg).is_some(),
        "message stage uses the first recipient's attempt"
    );
}

#[test]
fn attempt_counters_are_capped_keeping_the_recent_half() {
    let e = engine(
        "version: 1\nrules:\n  - on: rcpt\n    match: { attempt: 1 }\n    reply: 451 4.3.0 later\n",
    );
    let mut p = e.session_policy();
    let rcpt = |p: &mut ScenarioPolicy, to: &str| {
        let mut c = ctx(Stage::Rcpt);
        c.to = Some(to);
        p.decide(&c).is_some()
    };
    for i in 0..crate::scenario::state::memory::MAX_ATTEMPT_KEYS {
        assert!(rcpt(&mut p, &format!("u{i}@y.test")));
    }
    assert_eq!(
        e.state_sizes().attempts,
        crate::scenario::state::memory::MAX_ATTEMPT_KEYS
    );
    // The next sighting finds the table full and forgets the older half.
    let newest = format!(
        "u{}@y.test",
        crate::scenario::state::memory::MAX_ATTEMPT_KEYS - 1
    );
    assert!(!rcpt(&mut p, &newest), "the newest triplet kept its count");
    let sizes = e.state_sizes();
    assert!(
        sizes.attempts <= crate::scenario::state::memory::MAX_ATTEMPT_KEYS / 2 + 1,
        "{sizes:?}"
    );
    assert_eq!(sizes.forgotten, 1);
    assert!(
        rcpt(&mut p, "u0@y.test"),
        "the oldest triplet starts again at 1"
    );
}

#[test]
fn probability_is_reproducible_by_seed() {
    let run = |seed: u64| -> Vec<bool> {
        let e = engine(&format!(
            "version: 1\nseed: {seed}\nrules:\n  - on: rcpt\n    match: {{ probability: 0.3 }}\n"
        ));
        let mut p = e.session_policy();
        (0..1000)
            .map(|_| p.decide(&ctx(Stage::Rcpt)).is_some())
            .collect()
    };
    let a = run(7);
    assert_eq!(a, run(7));
    assert_ne!(a, run(8));
    let hits = a.iter().filter(|h| **h).count();
    assert!((200..400).contains(&hits), "{hits}");
}

#[test]
fn decision_carries_effects() {
    let e = engine(
        "version: 1\nrules:\n  - on: message\n    reply: none\n    delay: 5ms\n    store: false\n    disconnect: after_reply\n",
    );
    let d = e.session_policy().decide(&ctx(Stage::Message)).unwrap();
    assert_eq!(d.reply, ReplyChoice::Silent);
    assert_eq!(d.delay, Some(std::time::Duration::from_millis(5)));
    assert!(!d.store);
    assert_eq!(
        d.disconnect,
        Some(crate::proto::policy::Disconnect::AfterReply)
    );
}

fn secs(n: u64) -> std::time::Duration {
    std::time::Duration::from_secs(n)
}

#[test]
fn greylist_follows_the_virtual_clock() {
    let e = engine(
        "version: 1\nclock: virtual\nrules:\n  - name: grey\n    on: rcpt\n    greylist: { retry_after: 30s, expire: 1h }\n",
    );
    let first = e.session_policy().decide(&ctx(Stage::Rcpt)).unwrap();
    assert_eq!(first.reply.custom_code(), Some(450), "default reply");
    e.clock().advance(secs(29)).unwrap();
    assert!(
        e.session_policy().decide(&ctx(Stage::Rcpt)).is_some(),
        "too early: still deferred"
    );
    e.clock().advance(secs(1)).unwrap();
    assert!(e.session_policy().decide(&ctx(Stage::Rcpt)).is_none());
    let mut other_ip = ctx(Stage::Rcpt);
    other_ip.client_ip = "192.0.2.200".parse().unwrap();
    assert!(
        e.session_policy().decide(&other_ip).is_some(),
        "the default key includes the client IP"
    );
    e.clock().advance(secs(3601)).unwrap();
    assert!(
        e.session_policy().decide(&ctx(Stage::Rcpt)).is_some(),
        "expired after an hour of silence"
    );
}

#[test]
fn greylist_by_network_groups_neighbours() {
    let e = engine(
        "version: 1\nclock: virtual\nrules:\n  - on: rcpt\n    greylist: { retry_after: 1m, key: [client_ip/24, from] }\n",
    );
    assert!(e.session_policy().decide(&ctx(Stage::Rcpt)).is_some());
    e.clock().advance(secs(60)).unwrap();
    let mut neighbour = ctx(Stage::Rcpt);
    neighbour.client_ip = "192.0.2.99".parse().unwrap();
    neighbour.to = Some("someone-else@y.test");
    assert!(e.session_policy().decide(&neighbour).is_none());
}

#[test]
fn rate_limit_trips_past_max_and_resets_with_the_window() {
    let e = engine(
        "version: 1\nclock: virtual\nrules:\n  - on: mail\n    rate_limit: { max: 3, per: 1m }\n",
    );
    let fired: Vec<bool> = (0..5)
        .map(|_| e.session_policy().decide(&ctx(Stage::Mail)).is_some())
        .collect();
    assert_eq!(fired, [false, false, false, true, true]);
    let d = e.session_policy().decide(&ctx(Stage::Mail)).unwrap();
    assert_eq!(d.reply.custom_code(), Some(451), "messages: 451 4.7.1");
    e.clock().advance(secs(60)).unwrap();
    assert!(e.session_policy().decide(&ctx(Stage::Mail)).is_none());
}

#[test]
fn rate_limit_keys_and_kinds() {
    let e = engine(
        "version: 1\nrules:\n  - on: rcpt\n    rate_limit: { max: 1, per: 1h, key: to }\n  - on: helo\n    rate_limit: { max: 0, per: 1h, key: global }\n",
    );
    let mut p = e.session_policy();
    assert!(p.decide(&ctx(Stage::Rcpt)).is_none());
    let d = p.decide(&ctx(Stage::Rcpt)).unwrap();
    assert_eq!(d.reply.custom_code(), Some(452), "recipients: 452 4.5.3");
    let mut other = ctx(Stage::Rcpt);
    other.to = Some("other@y.test");
    assert!(p.decide(&other).is_none(), "counted per recipient");
    let d = p.decide(&ctx(Stage::Helo)).unwrap();
    assert_eq!(d.reply.custom_code(), Some(421), "commands: 421 4.7.0");
}

#[test]
fn max_concurrent_is_released_when_sessions_end() {
    let e = engine("version: 1\nrules:\n  - on: connect\n    rate_limit: { max_concurrent: 2 }\n");
    let mut a = e.session_policy();
    let mut b = e.session_policy();
    let mut c = e.session_policy();
    assert!(a.decide(&ctx(Stage::Connect)).is_none());
    assert!(b.decide(&ctx(Stage::Connect)).is_none());
    let d = c.decide(&ctx(Stage::Connect)).unwrap();
    assert_eq!(d.reply.custom_code(), Some(421));
    drop(c);
    drop(a);
    let mut d2 = e.session_policy();
    assert!(d2.decide(&ctx(Stage::Connect)).is_none());
    let mut elsewhere = ctx(Stage::Connect);
    elsewhere.client_ip = "198.51.100.1".parse().unwrap();
    assert!(e.session_policy().decide(&elsewhere).is_none());
    drop(b);
}

#[test]
fn wire_effects_reach_the_decision() {
    let e = engine(
        "version: 1\nrules:\n  - on: rcpt\n    bandwidth: 2KiB/s\n  - on: data\n    disconnect_after_bytes: 100\n  - on: mail\n    malformed: bad_code\n",
    );
    let mut p = e.session_policy();
    let d = p.decide(&ctx(Stage::Rcpt)).unwrap();
    assert_eq!(
        d.wire,
        crate::proto::policy::Wire::Drip {
            bytes_per_sec: 2048
        }
    );
    assert_eq!(p.decide(&ctx(Stage::Data)).unwrap().cut_after, Some(100));
    assert_eq!(
        p.decide(&ctx(Stage::Mail)).unwrap().wire,
        crate::proto::policy::Wire::Malformed(crate::proto::policy::Malformed::BadCode)
    );
}

#[test]
fn at_the_auth_stage_the_user_tried_is_not_yet_authenticated() {
    let e = engine(
        "version: 1\nrules:\n  - {name: unauth, on: [auth, mail], match: {authenticated: false, auth_user: app}}\n",
    );
    let mut p = e.session_policy();
    let trying = Context {
        auth_user: Some("app"),
        ..ctx(Stage::Auth)
    };
    assert_eq!(fired(&mut p, &trying).as_deref(), Some("unauth"));
    let mailing = Context {
        auth_user: Some("app"),
        ..ctx(Stage::Mail)
    };
    assert_eq!(fired(&mut p, &mailing), None);
}

/// Rules read the message as the API shows it: an RFC 2047 Subject, a
/// quoted-printable body.
#[test]
fn message_conditions_read_decoded_mime() {
    let e = engine(
        "version: 1\nrules:\n  - {name: invoice, on: message, match: { header: { Subject: \"*invoice*\" } }}\n  - {name: unsub, on: message, match: { body: \"*unsubscribe*\" }}\n",
    );
    let mut p = e.session_policy();
    let mut c = ctx(Stage::Message);
    c.to = None;
    c.message = Some(b"Subject: =?UTF-8?B?WW91ciBpbnZvaWNlIDQy?=\r\n\r\nhello\r\n");
    assert_eq!(fired(&mut p, &c).as_deref(), Some("invoice"));
    c.message = Some(
        b"Subject: news\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nTo unsub=\r\nscribe, reply\r\n",
    );
    assert_eq!(fired(&mut p, &c).as_deref(), Some("unsub"));
    c.message = Some(b"Subject: news\r\n\r\nnothing to see\r\n");
    assert_eq!(fired(&mut p, &c), None);
}

/// However many rules read headers and body, one decision parses the
/// message once; stages before `message` never parse it.
#[test]
fn one_decision_parses_the_message_once() {
    let e = engine(
        "version: 1\nrules:\n  - {on: message, match: { header: { Subject: \"*a*\" } }}\n  - {on: message, match: { header: { X-B: \"*b*\" } }}\n  - {on: message, match: { body: \"*c*\" }}\n  - {on: message, match: { header: { Subject: \"*d*\" }, body: \"*d*\" }}\n  - {on: rcpt, match: { from: \"*@nowhere.test\" }}\n",
    );
    let mut p = e.session_policy();
    let mut c = ctx(Stage::Message);
    c.to = None;
    c.message = Some(b"Subject: zzz\r\nX-B: zzz\r\n\r\nzzz\r\n");
    let before = super::mime::parses();
    assert_eq!(fired(&mut p, &c), None);
    assert_eq!(super::mime::parses() - before, 1);
    assert_eq!(fired(&mut p, &c), None);
    assert_eq!(super::mime::parses() - before, 2, "once per decision");
    let before = super::mime::parses();
    assert_eq!(fired(&mut p, &ctx(Stage::Rcpt)), None);
    assert_eq!(super::mime::parses(), before);
}
