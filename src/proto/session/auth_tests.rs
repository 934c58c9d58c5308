//! Byte-exact AUTH dialogues: every mechanism right and wrong, cancels,
//! sequence errors, rules, and what of each line may be recorded.

use super::tests::{Outcome, Rules, config, run, run_split};
use super::*;
use crate::proto::policy::AcceptAll;
use crate::proto::policy::{Context, Decision};

const GREETING: &str = "220 mx.test ESMTP ready\r\n";
const EHLO: &str = "EHLO c\r\n";
const EHLO_REPLY: &str = "250-mx.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-SIZE 1000\r\n250-ENHANCEDSTATUSCODES\r\n250-CHUNKING\r\n250-DSN\r\n250 AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2\r\n";
const OK: &str = "235 2.7.0 Authentication successful\r\n";
const BAD: &str = "535 5.7.8 Authentication credentials invalid\r\n";

fn auth(mechanisms: Vec<Mechanism>) -> AuthConfig {
    AuthConfig {
        mechanisms,
        users: vec![Credential {
            username: "app".into(),
            password: "secret".into(),
        }],
        accept_any: false,
        required: false,
        require_tls: false,
    }
}

fn auth_config() -> Config {
    let mut cfg = config();
    cfg.extensions.insert(Extension::Auth);
    cfg.auth = Some(auth(vec![
        Mechanism::Plain,
        Mechanism::Login,
        Mechanism::CramMd5,
        Mechanism::XOAuth2,
    ]));
    cfg
}

fn with(change: impl FnOnce(&mut AuthConfig)) -> Config {
    let mut cfg = auth_config();
    if let Some(a) = cfg.auth.as_mut() {
        change(a);
    }
    cfg
}

/// The replies after the greeting and the EHLO reply.
fn after_ehlo(cfg: Config, input: &str) -> String {
    let out = run(cfg, AcceptAll, format!("{EHLO}{input}").as_bytes());
    let prefix = format!("{GREETING}{EHLO_REPLY}");
    match out.wire.strip_prefix(&prefix) {
        Some(rest) => rest.to_owned(),
        None => out.wire,
    }
}

#[test]
fn ehlo_advertises_auth_with_the_configured_mechanisms_in_order() {
    let out = run(auth_config(), AcceptAll, EHLO.as_bytes());
    assert_eq!(out.wire, format!("{GREETING}{EHLO_REPLY}"));
    let out = run(
        with(|a| a.mechanisms = vec![Mechanism::CramMd5, Mechanism::Plain]),
        AcceptAll,
        EHLO.as_bytes(),
    );
    assert!(
        out.wire.ends_with("250-DSN\r\n250 AUTH CRAM-MD5 PLAIN\r\n"),
        "{}",
        out.wire
    );
}

#[test]
fn auth_is_not_offered_without_the_extension_or_without_config() {
    let mut cfg = auth_config();
    cfg.extensions.remove(Extension::Auth);
    let out = run(cfg, AcceptAll, b"EHLO c\r\nAUTH PLAIN\r\n");
    assert!(!out.wire.contains("AUTH"), "{}", out.wire);
    assert!(
        out.wire
            .ends_with("250 DSN\r\n502 5.5.1 Command not implemented\r\n")
    );
    let mut cfg = config();
    cfg.extensions.insert(Extension::Auth);
    let out = run(cfg, AcceptAll, b"EHLO c\r\nAUTH PLAIN\r\n");
    assert!(
        out.wire
            .ends_with("250 DSN\r\n502 5.5.1 Command not implemented\r\n")
    );
}

#[test]
fn plain_with_and_without_initial_response() {
    let cases: &[(&str, &str)] = &[
        ("AUTH PLAIN AGFwcABzZWNyZXQ=\r\n", OK),
        ("AUTH PLAIN AGFwcAB3cm9uZw==\r\n", BAD),
        (
            "AUTH PLAIN\r\nAGFwcABzZWNyZXQ=\r\n",
            &format!("334 \r\n{OK}"),
        ),
        (
            "AUTH plain\r\nAGFwcAB3cm9uZw==\r\n",
            &format!("334 \r\n{BAD}"),
        ),
        ("AUTH PLAIN =\r\n", "501 5.5.2 Cannot decode response\r\n"),
    ];
    for (input, want) in cases {
        assert_eq!(&after_ehlo(auth_config(), input), want, "{input:?}");
    }
}

#[test]
fn login_right_wrong_and_with_the_user_name_up_front() {
    let right = after_ehlo(auth_config(), "AUTH LOGIN\r\nYXBw\r\nc2VjcmV0\r\n");
    assert_eq!(
        right,
        format!("334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n{OK}")
    );
    let wrong = after_ehlo(auth_config(), "AUTH LOGIN\r\nYXBw\r\nd3Jvbmc=\r\n");
    assert_eq!(
        wrong,
        format!("334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n{BAD}")
    );
    let initial = after_ehlo(auth_config(), "AUTH LOGIN YXBw\r\nc2VjcmV0\r\n");
    assert_eq!(initial, format!("334 UGFzc3dvcmQ6\r\n{OK}"));
}

#[test]
fn cram_md5_challenge_comes_from_connection_and_command_count() {
    let right = after_ehlo(
        auth_config(),
        "AUTH CRAM-MD5\r\nYXBwIDJkYzMyODUyNGYwNjMyZjBkMzQzY2VlYjczMGEyMWM5\r\n",
    );
    assert_eq!(right, format!("334 PDEuMUBteC50ZXN0Pg==\r\n{OK}"));
    let wrong = after_ehlo(
        auth_config(),
        "AUTH CRAM-MD5\r\nYXBwIDBhNDAxNjgwZTFlZDZlMDFjOWNhMGY5MDcyM2Y3ZDA4\r\nAUTH CRAM-MD5\r\n",
    );
    assert_eq!(
        wrong,
        format!("334 PDEuMUBteC50ZXN0Pg==\r\n{BAD}334 PDEuMkBteC50ZXN0Pg==\r\n")
    );
    assert_eq!(
        after_ehlo(auth_config(), "AUTH CRAM-MD5 YXBw\r\n"),
        "501 5.5.4 CRAM-MD5 does not take an initial response\r\n"
    );
}

#[test]
fn xoauth2_checks_the_token_against_the_password() {
    assert_eq!(
        after_ehlo(
            auth_config(),
            "AUTH XOAUTH2 dXNlcj1hcHABYXV0aD1CZWFyZXIgc2VjcmV0AQE=\r\n"
        ),
        OK
    );
    assert_eq!(
        after_ehlo(
            auth_config(),
            "AUTH XOAUTH2\r\ndXNlcj1hcHABYXV0aD1CZWFyZXIgbm9wZQEB\r\n"
        ),
        format!("334 \r\n{BAD}")
    );
}

#[test]
fn cancel_bad_base64_and_unknown_mechanisms() {
    let cases: &[(&str, &str)] = &[
        (
            "AUTH LOGIN\r\n*\r\n",
            "334 VXNlcm5hbWU6\r\n501 5.7.0 Authentication cancelled\r\n",
        ),
        (
            "AUTH PLAIN\r\n*\r\nNOOP\r\n",
            "334 \r\n501 5.7.0 Authentication cancelled\r\n250 2.0.0 Ok\r\n",
        ),
        (
            "AUTH PLAIN !!notbase64\r\n",
            "501 5.5.2 Cannot decode response\r\n",
        ),
        (
            "AUTH LOGIN\r\nYXBw\r\n%%%\r\nNOOP\r\n",
            "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n501 5.5.2 Cannot decode response\r\n250 2.0.0 Ok\r\n",
        ),
        (
            "AUTH PLAIN YXBw\r\n",
            "501 5.5.2 Cannot decode response\r\n",
        ),
        (
            "AUTH LOGIN\r\nYXBw\nNOOP\r\n",
            "334 VXNlcm5hbWU6\r\n500 5.5.2 Bare LF received; SMTP lines must end with CRLF\r\n250 2.0.0 Ok\r\n",
        ),
        (
            "AUTH GSSAPI\r\n",
            "504 5.5.4 Unrecognized authentication type\r\n",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(&after_ehlo(auth_config(), input), want, "{input:?}");
    }
    let unadvertised = with(|a| a.mechanisms = vec![Mechanism::Plain]);
    let out = run(unadvertised, AcceptAll, b"EHLO c\r\nAUTH LOGIN\r\n");
    assert!(
        out.wire
            .ends_with("250 AUTH PLAIN\r\n504 5.5.4 Unrecognized authentication type\r\n"),
        "{}",
        out.wire
    );
}

#[test]
fn sequence_errors() {
    let out = run(auth_config(), AcceptAll, b"AUTH PLAIN AGFwcABzZWNyZXQ=\r\n");
    assert_eq!(out.wire, format!("{GREETING}503 5.5.1 Send EHLO first\r\n"));
    let out = run(
        auth_config(),
        AcceptAll,
        b"HELO c\r\nAUTH PLAIN AGFwcABzZWNyZXQ=\r\n",
    );
    assert!(
        out.wire
            .ends_with("250 mx.test\r\n503 5.5.1 Send EHLO first\r\n")
    );
    assert_eq!(
        after_ehlo(
            auth_config(),
            "AUTH PLAIN AGFwcABzZWNyZXQ=\r\nAUTH PLAIN AGFwcABzZWNyZXQ=\r\n"
        ),
        format!("{OK}503 5.5.1 Already authenticated\r\n")
    );
    assert_eq!(
        after_ehlo(
            auth_config(),
            "MAIL FROM:<a@b>\r\nAUTH PLAIN AGFwcABzZWNyZXQ=\r\n"
        ),
        "250 2.1.0 Sender ok\r\n503 5.5.1 AUTH is not permitted during a mail transaction\r\n"
    );
}

#[test]
fn required_auth_refuses_mail_until_authenticated() {
    let cfg = || with(|a| a.required = true);
    assert_eq!(
        after_ehlo(
            cfg(),
            "MAIL FROM:<a@b>\r\nAUTH PLAIN AGFwcAB3cm9uZw==\r\nMAIL FROM:<a@b>\r\nAUTH PLAIN AGFwcABzZWNyZXQ=\r\nMAIL FROM:<a@b>\r\n"
        ),
        format!(
            "530 5.7.0 Authentication required\r\n{BAD}530 5.7.0 Authentication required\r\n{OK}250 2.1.0 Sender ok\r\n"
        )
    );
}

#[test]
fn require_tls_answers_538_until_tls_is_up() {
    let cfg = Arc::new(with(|a| a.require_tls = true));
    let mut s = Session::new(Arc::clone(&cfg), AcceptAll, "192.0.2.1".parse().unwrap(), 1);
    let mut out = Vec::new();
    s.start(&mut out);
    let mut wire = String::new();
    let feed = |s: &mut Session<AcceptAll>, line: &[u8], wire: &mut String| {
        let mut actions = Vec::new();
        s.receive(line, &mut actions).unwrap();
        for a in actions {
            if let Action::Send(o) = a {
                wire.push_str(&String::from_utf8_lossy(&o.reply.to_wire(o.enhanced)));
            }
        }
    };
    feed(&mut s, b"EHLO c\r\n", &mut wire);
    wire.clear();
    feed(&mut s, b"AUTH PLAIN AGFwcABzZWNyZXQ=\r\n", &mut wire);
    assert_eq!(
        wire,
        "538 5.7.11 Encryption required for requested authentication mechanism\r\n"
    );
    wire.clear();
    s.tls = true;
    feed(&mut s, b"AUTH PLAIN AGFwcABzZWNyZXQ=\r\n", &mut wire);
    assert_eq!(wire, OK);
}

#[test]
fn an_auth_rule_fails_the_first_attempt_and_sees_the_user_tried() {
    let mut seen = Vec::new();
    let mut fired = false;
    let policy = Rules(|ctx: &Context<'_>| {
        if ctx.stage != Stage::Auth {
            return None;
        }
        seen.push((ctx.auth_user.map(str::to_owned), ctx.command));
        if fired {
            return None;
        }
        fired = true;
        Some(Decision::reply(
            "flaky auth",
            Reply::new(
                454,
                Some(EnhancedCode::new(4, 7, 0)),
                "Temporary authentication failure",
            ),
        ))
    });
    let out = run(
        auth_config(),
        policy,
        b"EHLO c\r\nAUTH PLAIN AGFwcABzZWNyZXQ=\r\nMAIL FROM:<a@b>\r\nRSET\r\nAUTH PLAIN AGFwcABzZWNyZXQ=\r\nAUTH PLAIN AGFwcABzZWNyZXQ=\r\n",
    );
    assert_eq!(
        out.wire,
        format!(
            "{GREETING}{EHLO_REPLY}454 4.7.0 Temporary authentication failure\r\n250 2.1.0 Sender ok\r\n250 2.0.0 Ok\r\n{OK}503 5.5.1 Already authenticated\r\n"
        )
    );
    assert_eq!(
        seen,
        [(Some("app".to_owned()), 1), (Some("app".to_owned()), 2)]
    );
    assert!(
        out.events.contains(&Event::Auth {
            mechanism: Mechanism::Plain,
            user: None,
            granted: false
        }),
        "{:?}",
        out.events
    );
}

#[test]
fn accept_any_takes_any_user_and_the_message_records_it() {
    let cfg = with(|a| {
        a.accept_any = true;
        a.users.clear();
    });
    let out: Outcome = run_split(
        cfg,
        AcceptAll,
        b"EHLO c\r\nAUTH LOGIN\r\nd2hvZXZlcg==\r\nd3Jvbmc=\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\n",
        &[1, 3, 7],
    );
    assert!(out.wire.contains(OK), "{}", out.wire);
    let m = &out.delivered[0];
    assert_eq!(m.auth_user.as_deref(), Some("whoever"));
    assert_eq!(m.protocol, "ESMTPA");
}

/// What the connection may record for each line of `input`, in order.
fn recorded(input: &[u8]) -> Vec<String> {
    let mut s = Session::new(
        Arc::new(auth_config()),
        AcceptAll,
        "192.0.2.1".parse().unwrap(),
        1,
    );
    let mut actions = Vec::new();
    s.start(&mut actions);
    let mut buf = input;
    let mut lines = Vec::new();
    while let Some(step) = s.receive(buf, &mut actions) {
        let line = step.transcribable(&buf[..step.consumed]);
        lines.push(String::from_utf8_lossy(&line).into_owned());
        buf = &buf[step.consumed..];
    }
    lines
}

#[test]
fn secrets_are_masked_in_what_may_be_recorded() {
    let lines = recorded(
        b"EHLO c\r\nAUTH PLAIN AGFwcABzZWNyZXQ=\r\nAUTH LOGIN\r\nauth login YXBw extra\r\nNOOP\r\n",
    );
    assert_eq!(
        lines,
        [
            "EHLO c\r\n",
            "AUTH PLAIN ****\r\n",
            "AUTH LOGIN\r\n",
            "auth login ****\r\n",
            "NOOP\r\n"
        ]
    );
    let lines = recorded(b"EHLO c\r\nAUTH LOGIN\r\nYXBw\r\nc2VjcmV0\r\nNOOP\r\n");
    assert_eq!(
        lines,
        [
            "EHLO c\r\n",
            "AUTH LOGIN\r\n",
            "****\r\n",
            "****\r\n",
            "NOOP\r\n"
        ]
    );
}

#[test]
fn debug_output_shows_no_secret() {
    let credential = Credential {
        username: "app".into(),
        password: "s3cret-pass".into(),
    };
    let shown = format!("{credential:?}");
    assert!(
        shown.contains("app") && !shown.contains("s3cret"),
        "{shown}"
    );
}

/// RFC 4954 §4: AUTH lines up to 12,288 octets, so a long OAuth bearer token
/// authenticates; other commands keep the shorter command-line limit.
#[test]
fn long_oauth_tokens_fit_in_auth_lines_only() {
    use base64::Engine as _;
    let token = "t".repeat(8_000);
    let cfg = with(|a| a.users[0].password = token.clone());
    let encoded = base64::engine::general_purpose::STANDARD
        .encode(format!("user=app\x01auth=Bearer {token}\x01\x01"));
    assert!(encoded.len() > 10_000 && encoded.len() < AUTH_LINE_MAX - 20);
    assert_eq!(
        after_ehlo(cfg.clone(), &format!("AUTH XOAUTH2 {encoded}\r\n")),
        OK
    );
    assert_eq!(
        after_ehlo(cfg.clone(), &format!("AUTH XOAUTH2\r\n{encoded}\r\n")),
        format!("334 \r\n{OK}")
    );
    let noop = format!("NOOP {}\r\nNOOP\r\n", "x".repeat(3_000));
    assert_eq!(
        after_ehlo(cfg.clone(), &noop),
        "500 5.5.2 Line too long\r\n250 2.0.0 Ok\r\n"
    );
    let huge = format!("AUTH XOAUTH2 {}\r\nNOOP\r\n", "A".repeat(AUTH_LINE_MAX));
    assert_eq!(
        after_ehlo(cfg, &huge),
        "500 5.5.2 Line too long\r\n250 2.0.0 Ok\r\n"
    );
}
