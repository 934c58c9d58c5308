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
