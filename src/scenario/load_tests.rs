//! Validation: each invalid input names the right line and column.

use super::*;

fn err(yaml: &str) -> Vec<String> {
    match load(yaml, "t.yaml", None) {
        Ok(_) => panic!("accepted: {yaml}"),
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn invalid_scenarios_table() {
    let cases: &[(&str, &str)] = &[
        ("version: 2\n", "t.yaml:1:10: unsupported version 2"),
        (
            "version: 1\nrules:\n  - on: rcpt\n    reply: 550 4.1.1 x\n",
            "t.yaml:4:12: enhanced code 4.1.1 has class 4",
        ),
        (
            "version: 1\nrules:\n  - on: rcpt\n    reply: 650 x\n",
            "t.yaml:4:12: reply code 650 is outside 200-599",
        ),
        (
            "version: 1\nrules:\n  - on: mail\n    reply: 354 go\n",
            "t.yaml:4:12: 354 is the reply to DATA",
        ),
        (
            "version: 1\nrules:\n  - on: rcpt\n    reply: 250 ok\n    disconnect: before_reply\n",
            "t.yaml:4:12: a 250 reply with `disconnect: before_reply`",
        ),
        (
            "version: 1\nrules:\n  - on: rcpt\n    store: false\n",
            "t.yaml:4:12: `store: false` only applies",
        ),
        (
            "version: 1\nrules:\n  - on: rcpt\n    times: 0\n",
            "t.yaml:4:12: `times` must be at least 1",
        ),
        (
            "version: 1\nrules:\n  - on: rcpt\n    match: { probability: 1.5 }\n",
            "t.yaml:4:27: probability 1.5 is outside",
        ),
        (
            "version: 1\nrules:\n  - on: rcpt\n    match: { client_ip: 10.0.0.0/40 }\n",
            "t.yaml:4:25: `10.0.0.0/40` is not an IP",
        ),
        (
            "version: 1\nrules:\n  - on: rcpt\n    match: { to: { regex: \"(\" } }\n",
            "t.yaml:4:18: invalid regex",
        ),
        (
            "version: 1\nrules:\n  - on: rcpt\n    match: { body: \"*x*\" }\n",
            "t.yaml:4:20: `body` only applies",
        ),
        (
            "version: 1\nrules:\n  - on: rcpt\n    match: { connection: \"5..3\" }\n",
            "t.yaml:4:26: a counter is",
        ),
        (
            "version: 1\nexpect:\n  min_retry_interval: soon\n",
            "t.yaml:3:23: `soon` is not a duration",
        ),
        (
            "version: 1\nexpect:\n  quit: true\n  within: 2 fortnights\n",
            "t.yaml:4:11: `2 fortnights` is not a duration",
        ),
        (
            "version: 1\nexpect:\n  delivered: { min: 3, max: 1 }\n",
            "t.yaml:3:14: `delivered` min 3 is above max 1",
        ),
        (
            "version: 1\nexpect:\n  delivered: {}\n",
            "t.yaml:3:14: `delivered` needs `min`, `max` or both",
        ),
        (
            "version: 1\nrules:\n  - on: rcpt\n    delay: soon\n",
            "t.yaml:4:12: `soon` is not a duration",
        ),
        (
            "version: 1\nrules:\n  - on: helo\n    greylist: { retry_after: 30s }\n",
            "t.yaml:4:15: greylisting works at mail, rcpt, data or message",
        ),
        (
            "version: 1\nrules:\n  - on: rcpt\n    greylist: { retry_after: soon }\n",
            "t.yaml:4:30: `soon` is not a duration",
        ),
        (
            "version: 1\nrules:\n  - on: rcpt\n    greylist: { key: [client_ip, helo] }\n",
            "t.yaml:4:22: unknown key `helo`",
        ),
        (
            "version: 1\nrules:\n  - on: mail\n    greylist: { key: [from, to] }\n",
            "t.yaml:4:22: key `to` is not known at the `mail` stage",
        ),
        (
            "version: 1\nrules:\n  - on: rcpt\n    greylist: {}\n    rate_limit: { max: 1, per: 1m }\n",
            "t.yaml:5:17: a rule is either a greylist or a rate limit",
        ),
        (
            "version: 1\nrules:\n  - on: mail\n    rate_limit: { max: 3 }\n",
            "t.yaml:4:17: a rate limit needs `max` and `per`",
        ),
        (
            "version: 1\nrules:\n  - on: mail\n    rate_limit: { max_concurrent: 3 }\n",
            "t.yaml:4:35: `max_concurrent` is checked when a client connects",
        ),
        (
            "version: 1\nrules:\n  - on: mail\n    rate_limit: { max: 3, per: 1m, count: recipients }\n",
            "t.yaml:4:43: `count: recipients` cannot be counted at the `mail` stage",
        ),
        (
            "version: 1\nrules:\n  - on: [connect, rcpt]\n    rate_limit: { max: 3, per: 1m }\n",
            "t.yaml:4:17: these stages count different things",
        ),
        (
            "version: 1\nrules:\n  - on: connect\n    rate_limit: { max: 3, per: 1m, key: from }\n",
            "t.yaml:4:41: key `from` is not known yet at the `connect` stage",
        ),
        (
            "version: 1\nrules:\n  - on: rcpt\n    bandwidth: fast\n",
            "t.yaml:4:16: `fast` is not a rate",
        ),
        (
            "version: 1\nrules:\n  - on: rcpt\n    bandwidth: 10B/s\n    malformed: split\n",
            "t.yaml:5:16: a reply is either dripped",
        ),
        (
            "version: 1\nrules:\n  - on: rcpt\n    malformed: mangled\n",
            "t.yaml:4:",
        ),
        (
            "version: 1\nrules:\n  - on: message\n    disconnect_after_bytes: 10\n",
            "t.yaml:4:29: `disconnect_after_bytes` cuts the message content",
        ),
        (
            "version: 1\nrules:\n  - on: rcpt\n    tls_fault: abort_handshake\n",
            "t.yaml:4:16: `tls_fault` breaks the TLS upgrade",
        ),
        (
            "version: 1\nserver:\n  extensions: [PIPELINING, XFOO]\n",
            "t.yaml:3:28: unknown extension `XFOO`",
        ),
        (
            "version: 1\nserver:\n  auth:\n    mechanisms: [PLAIN, NTLM]\n",
            "t.yaml:4:25: unknown AUTH mechanism `NTLM`",
        ),
        (
            "version: 1\nserver:\n  limits: { max_message_size: lots }\n",
            "t.yaml:3:31: `lots` is not a size",
        ),
    ];
    let mut wrong = Vec::new();
    for (yaml, want) in cases {
        let got = err(yaml);
        if !got.iter().any(|e| e.starts_with(want)) {
            wrong.push(format!("wanted {want}\n   got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn yaml_errors_have_locations() {
    let got = err("version: 1\nrules:\n  - on: rcpt\n    replly: 550 5.1.1 x\n");
    assert!(got[0].starts_with("t.yaml:4:5: "), "{got:?}");
    assert!(got[0].contains("replly"), "{got:?}");
    let got = err("version: 1\nrules:\n  - on: rcpt\n    disconnect: sometimes\n");
    assert!(got[0].starts_with("t.yaml:4:"), "{got:?}");
    let got = err("version: 1\nrules: [\n");
    assert!(got[0].starts_with("t.yaml:"), "{got:?}");
    let got = err("version: 1\nversion: 1\n");
    assert!(
        got[0].starts_with("t.yaml:2:"),
        "duplicate keys are errors: {got:?}"
    );
}

#[test]
fn all_errors_of_a_file_are_reported() {
    let got = err(
        "version: 1\nrules:\n  - on: rcpt\n    reply: 550 4.1.1 x\n  - on: mail\n    times: 0\n",
    );
    assert_eq!(got.len(), 2, "{got:?}");
}

#[test]
fn full_forms_compile() {
    let yaml = r#"
version: 1
name: full
seed: 9
server:
  hostname: mx.example.test
  greeting: ESMTP ready
  extensions: [pipelining, SIZE]
  limits: { max_message_size: 1MiB, max_recipients: 5, command_timeout: 1m, data_timeout: 2m, max_connections: 10 }
  bare_lf: accept
  tls: { starttls: true, required: false }
  auth: { required: false, mechanisms: [PLAIN], users: [{ username: app, password: secret }] }
rules:
  - name: multi
    on: [helo, mail]
    match:
      from: ["*@a.test", "*@b.test"]
      helo: { regex: "^client" }
      client_ip: [127.0.0.0/8, "::1"]
      tls: false
      authenticated: false
      connection: { every: 2 }
      command: [1, 2]
      elapsed: "0s..1h"
    reply: { code: 250, enhanced: 2.0.0, text: [one, two] }
  - on: any
    match: { probability: 0.5, attempt: "2.." }
    times: 3
    reply: none
  - on: message
    match: { header: { Subject: "*x*" }, body: "*y*", size: ">1KB" }
    store: false
    delay: 10ms
    disconnect: after_reply
expect:
  delivered: { min: 1 }
  no_retry_after_permanent: true
  within: 2m
"#;
    let s = load(yaml, "t.yaml", None).unwrap();
    assert_eq!(s.name, "full");
    assert_eq!(s.server.limits.max_message_size, 1 << 20);
    assert_eq!(s.server.extensions.iter().count(), 2);
    assert_eq!(s.server.bare_lf, BareLf::Accept);
    assert_eq!(s.rules.len(), 3);
    assert_eq!(&*s.rules[1].name, "rule 2");
    assert_eq!(s.rules[1].stages.len(), Stage::ALL.len());
    assert_eq!(s.rules[1].reply, ReplyChoice::Silent);
    let ReplyChoice::Custom(r) = &s.rules[0].reply else {
        panic!()
    };
    assert_eq!(r.to_wire(true), b"250-2.0.0 one\r\n250 2.0.0 two\r\n");
    assert!(!s.rules[2].store);
    let expect = s.expect.expect("expect block kept");
    assert_eq!(
        expect.time_limit(),
        Some(std::time::Duration::from_secs(120))
    );
    assert_eq!(expect.retry_interval(), None);
}

#[test]
fn an_auth_block_with_users_turns_the_auth_extension_on() {
    let with_users = load(
        "version: 1\nserver:\n  auth: { users: [{ username: a, password: b }], require_tls: true }\n",
        "t.yaml",
        None,
    )
    .unwrap();
    assert!(with_users.server.extensions.contains(Extension::Auth));
    assert!(with_users.server.auth.require_tls);
    let without = load(
        "version: 1\nserver:\n  auth: { required: true }\n",
        "t.yaml",
        None,
    )
    .unwrap();
    assert!(!without.server.extensions.contains(Extension::Auth));
}

/// A glob past the regex size limit is a load error at its own line and
/// column, like any other mistake in the file, wherever the glob sits.
#[test]
fn oversized_globs_are_load_errors_with_their_place() {
    let huge = "?".repeat(20_000);
    let cases = [
        (
            format!(
                "version: 1\nrules:\n  - on: message\n    match:\n      header: {{ Subject: \"*x*\", X-Big: \"{huge}\" }}\n"
            ),
            "t.yaml:5:40: the glob `????",
        ),
        (
            format!("version: 1\nrules:\n  - on: message\n    match: {{ body: \"{huge}\" }}\n"),
            "t.yaml:4:20: the glob `????",
        ),
        (
            format!(
                "version: 1\nrules:\n  - on: rcpt\n    match: {{ to: [\"*@a.test\", \"{huge}\"] }}\n"
            ),
            "t.yaml:4:18: the glob `????",
        ),
    ];
    for (yaml, want) in cases {
        let errors = err(&yaml);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with(want), "{}", errors[0]);
        assert!(errors[0].contains("characters long"), "{}", errors[0]);
        assert!(errors[0].len() < 300, "{}", errors[0]);
    }
}

#[test]
fn patterns_longer_than_the_limit_are_refused_at_their_place() {
    let long = "a".repeat(super::matcher::MAX_PATTERN + 1);
    for (field, want) in [
        (format!("{{ to: \"*{long}\" }}"), "t:4:18: the glob"),
        (format!("{{ helo: {{ regex: \"{long}\" }} }}"), "t:4:"),
    ] {
        let yaml = format!("version: 1\nrules:\n  - on: data\n    match: {field}\n");
        let err = Scenario::from_str(&yaml, "t").unwrap_err().to_string();
        assert!(err.contains(want), "{err}");
        assert!(err.contains("characters long"), "{err}");
        assert!(err.len() < 400, "the error quotes a preview: {err}");
    }
}
