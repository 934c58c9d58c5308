//! Each expectation judged on a sender that meets it and on one that does
//! not, from synthetic transcripts.

use std::sync::Arc;
use std::time::Duration;

use super::testkit::{Script, judge, message};
use super::{Evidence, Report, RunFacts, Verdict, evaluate};
use crate::store::SessionRecord;

fn only(r: &Report) -> &Verdict {
    assert_eq!(r.verdicts.len(), 1, "{}", r.to_text());
    &r.verdicts[0]
}

fn lines(v: &Verdict) -> Vec<String> {
    v.evidence
        .iter()
        .map(|e| format!("#{} {} {}", e.session, e.at, e.line))
        .collect()
}

/// First attempt: one recipient greylisted, one unknown.
fn first_attempt() -> Script {
    Script::greeted(1, 0.0)
        .c("MAIL FROM:<app@example.test>")
        .s("250 2.1.0 Sender ok")
        .c("RCPT TO:<user@example.test>")
        .rule("450 4.2.0 Greylisted, please try again later", "greylist")
        .c("RCPT TO:<unknown@example.test>")
        .rule("550 5.1.1 No such user", "unknown user")
        .c("RSET")
        .s("250 2.0.0 Ok")
}

fn good() -> Vec<Arc<SessionRecord>> {
    vec![
        first_attempt().quit().done(),
        Script::greeted(2, 3.0)
            .send("app@example.test", "User@Example.test", 1)
            .quit()
            .done(),
    ]
}

/// Retries the unknown user, retries the greylist at once, drops the line.
fn bad() -> Vec<Arc<SessionRecord>> {
    vec![
        first_attempt().dropped().done(),
        Script::greeted(2, 0.2)
            .c("MAIL FROM:<app@example.test>")
            .s("250 2.1.0 Sender ok")
            .c("RCPT TO:<unknown@example.test>")
            .rule("550 5.1.1 No such user", "unknown user")
            .dropped()
            .done(),
    ]
}

#[test]
fn delivered_counts_captured_messages() {
    let m = [message(
        1,
        2,
        "app@example.test",
        &["user@example.test"],
        10,
    )];
    assert!(only(&judge("  delivered: 1\n", &good(), &m)).passed);
    assert!(only(&judge("  delivered: { min: 1, max: 2 }\n", &good(), &m)).passed);
    let v = judge("  delivered: { min: 2 }\n", &good(), &m);
    let v = only(&v);
    assert!(!v.passed);
    assert_eq!(v.found, "1 message(s) captured");
    assert_eq!(
        lines(v),
        ["#2 3.010s message 1: <app@example.test> -> <user@example.test> (10 bytes)"]
    );
}

#[test]
fn recipients_compares_sets_case_insensitively() {
    let m = [message(
        1,
        2,
        "app@example.test",
        &["User@Example.test"],
        10,
    )];
    let ok = judge("  recipients: [\"<user@example.test>\"]\n", &good(), &m);
    assert!(only(&ok).passed, "{}", ok.to_text());
    let r = judge(
        "  recipients: [user@example.test, unknown@example.test, other@example.test]\n",
        &good(),
        &[message(
            1,
            2,
            "app@example.test",
            &["user@example.test", "extra@example.test"],
            10,
        )],
    );
    let v = only(&r);
    assert!(!v.passed);
    assert_eq!(
        v.found,
        "missing <other@example.test>, <unknown@example.test>; unexpected <extra@example.test>"
    );
    let shown = lines(v);
    assert!(
        shown.contains(&"#1 0.008s S: 550 5.1.1 No such user  [rule: unknown user]".to_owned()),
        "{shown:?}"
    );
    assert!(
        v.evidence
            .iter()
            .any(|e| e.why == "expected, but no RCPT TO named it")
    );
}

#[test]
fn no_retry_after_permanent() {
    let ok = judge("  no_retry_after_permanent: true\n", &good(), &[]);
    assert!(only(&ok).passed, "{}", ok.to_text());
    assert_eq!(only(&ok).found, "1 5xx-refused pair was never tried again");
    let r = judge("  no_retry_after_permanent: true\n", &bad(), &[]);
    let v = only(&r);
    assert!(!v.passed);
    assert_eq!(
        lines(v),
        [
            "#1 0.008s S: 550 5.1.1 No such user  [rule: unknown user]",
            "#2 0.205s C: RCPT TO:<unknown@example.test>",
        ]
    );
    assert!(
        v.found
            .contains("<app@example.test> -> <unknown@example.test>"),
        "{}",
        v.found
    );
}

#[test]
fn retried_after_temporary() {
    let ok = judge("  retried_after_temporary: true\n", &good(), &[]);
    assert!(only(&ok).passed, "{}", ok.to_text());
    let r = judge("  retried_after_temporary: true\n", &bad(), &[]);
    let v = only(&r);
    assert!(!v.passed);
    assert_eq!(
        lines(v),
        ["#1 0.006s S: 450 4.2.0 Greylisted, please try again later  [rule: greylist]"]
    );
}

#[test]
fn a_4xx_at_mail_without_recipients_is_held_against_the_sender() {
    let deferred = Script::greeted(1, 0.0)
        .c("MAIL FROM:<app@example.test>")
        .rule("451 4.7.1 Slow down", "rate")
        .quit()
        .done();
    let later = Script::greeted(2, 60.0)
        .send("app@example.test", "x@example.test", 1)
        .quit()
        .done();
    let r = judge(
        "  retried_after_temporary: true\n",
        std::slice::from_ref(&deferred),
        &[],
    );
    assert!(!only(&r).passed);
    assert!(
        only(&r)
            .found
            .contains("<app@example.test> (before any RCPT)")
    );
    let r = judge("  retried_after_temporary: true\n", &[deferred, later], &[]);
    assert!(only(&r).passed, "{}", r.to_text());
}

#[test]
fn min_retry_interval_measures_from_the_deferral() {
    let ok = judge("  min_retry_interval: 2s\n", &good(), &[]);
    assert!(only(&ok).passed, "{}", ok.to_text());
    let early = vec![
        first_attempt().quit().done(),
        Script::greeted(2, 0.5)
            .send("app@example.test", "user@example.test", 1)
            .quit()
            .done(),
    ];
    let r = judge("  min_retry_interval: 2s\n", &early, &[]);
    let v = only(&r);
    assert!(!v.passed);
    assert_eq!(
        lines(v),
        [
            "#1 0.006s S: 450 4.2.0 Greylisted, please try again later  [rule: greylist]",
            "#2 0.505s C: RCPT TO:<user@example.test>",
        ]
    );
    assert_eq!(
        v.evidence[1].why,
        "retried after 0.499s, sooner than 2.000s"
    );
}

#[test]
fn quit_excuses_sessions_the_server_ended() {
    let server_421 = Script::greeted(3, 0.0)
        .c("MAIL FROM:<a@b>")
        .rule("421 4.7.0 Try again later, closing connection", "throttle")
        .done();
    let mut sessions = good();
    sessions.push(server_421);
    let ok = judge("  quit: true\n", &sessions, &[]);
    assert!(only(&ok).passed, "{}", ok.to_text());
    assert_eq!(
        only(&ok).found,
        "2 sessions ended with QUIT; 1 session ended by the server (421 or a fault), excused"
    );
    let r = judge("  quit: true\n", &bad(), &[]);
    let v = only(&r);
    assert!(!v.passed);
    assert_eq!(
        v.found,
        "2 sessions of 2 closed the connection without QUIT"
    );
    assert_eq!(
        lines(v)[..2],
        [
            "#1 0.009s C: RSET",
            "#1 0.011s -- client closed the connection"
        ]
    );
}

#[test]
fn no_protocol_errors_ignores_faults_and_pipelining_behind_a_refused_mail() {
    let excused = Script::greeted(1, 0.0)
        .c("MAIL FROM:<a@b>")
        .c("RCPT TO:<c@d>")
        .c("DATA")
        .rule("451 4.7.1 Later", "rate")
        .s("503 5.5.1 Need MAIL command first")
        .s("503 5.5.1 Need RCPT command first")
        .c("NOOP")
        .rule("500 5.5.2 fault on purpose", "fault")
        .quit()
        .done();
    let ok = judge("  no_protocol_errors: true\n", &[excused], &[]);
    assert!(only(&ok).passed, "{}", ok.to_text());
    let wrong = Script::greeted(1, 0.0)
        .c("RCPT TO:<c@d>")
        .s("503 5.5.1 Need MAIL command first")
        .c("MAIL FROM:a@b BOGUS=1")
        .s("504 5.5.4 Parameter not supported")
        .c("RSET")
        .s("250 ok")
        .c("DATA")
        .s("503 5.5.1 Need MAIL command first")
        .quit()
        .done();
    let r = judge("  no_protocol_errors: true\n", &[wrong], &[]);
    let v = only(&r);
    assert!(!v.passed);
    assert_eq!(v.found, "3 commands caused a protocol error");
    assert_eq!(
        lines(v),
        [
            "#1 0.003s C: RCPT TO:<c@d>",
            "#1 0.004s S: 503 5.5.1 Need MAIL command first",
            "#1 0.005s C: MAIL FROM:a@b BOGUS=1",
            "#1 0.006s S: 504 5.5.4 Parameter not supported",
            "#1 0.009s C: DATA",
            "#1 0.010s S: 503 5.5.1 Need MAIL command first",
        ]
    );
}

fn tls_session(id: u64, ehlo_again: bool) -> Arc<SessionRecord> {
    let s = Script::greeted(id, 0.0)
        .c("STARTTLS")
        .s("220 2.0.0 Ready to start TLS")
        .tls();
    let s = if ehlo_again {
        s.c("EHLO client.test").s("250 mx.test")
    } else {
        s
    };
    s.send("a@b", "c@d", 1).quit().done()
}

#[test]
fn starttls_before_mail() {
    let implicit = Script::new(2, 0.0)
        .tls()
        .s("220 mx.test ESMTP")
        .c("EHLO c")
        .s("250 ok")
        .send("a@b", "c@d", 2)
        .quit()
        .done();
    let ok = judge("  starttls: true\n", &[tls_session(1, true), implicit], &[]);
    assert!(only(&ok).passed, "{}", ok.to_text());
    let refused = Script::greeted(3, 0.0)
        .c("STARTTLS")
        .rule("454 4.7.0 TLS not available", "no tls")
        .send("a@b", "c@d", 3)
        .quit()
        .done();
    let r = judge("  starttls: true\n", &[tls_session(1, true), refused], &[]);
    let v = only(&r);
    assert!(!v.passed);
    assert_eq!(v.found, "1 of 2 session(s) sent MAIL or AUTH in plaintext");
    assert_eq!(
        lines(v),
        [
            "#3 0.003s C: STARTTLS",
            "#3 0.004s S: 454 4.7.0 TLS not available  [rule: no tls]",
            "#3 0.005s C: MAIL FROM:<a@b>",
        ]
    );
}

#[test]
fn ehlo_after_starttls() {
    let ok = judge(
        "  ehlo_after_starttls: true\n",
        &[tls_session(1, true)],
        &[],
    );
    assert!(only(&ok).passed, "{}", ok.to_text());
    let r = judge(
        "  ehlo_after_starttls: true\n",
        &[tls_session(1, false)],
        &[],
    );
    let v = only(&r);
    assert!(!v.passed);
    assert_eq!(
        lines(v),
        [
            "#1 0.005s -- TLS established: TLSv1.3 TLS13_AES_256_GCM_SHA384",
            "#1 0.006s C: MAIL FROM:<a@b>",
        ]
    );
}

#[test]
fn honours_size() {
    let fine = Script::greeted(1, 0.0)
        .c("MAIL FROM:<a@b> SIZE=900")
        .s("250 ok")
        .quit()
        .done();
    let small = [message(1, 1, "a@b", &["c@d"], 900)];
    let ok = judge("  honours_size: true\n", &[fine], &small);
    assert!(only(&ok).passed, "{}", ok.to_text());
    let big = Script::greeted(1, 0.0)
        .c("MAIL FROM:<a@b> SIZE=5000")
        .s("552 5.3.4 Message size exceeds fixed maximum message size")
        .c("MAIL FROM:<a@b>")
        .s("250 ok")
        .c("RCPT TO:<c@d>")
        .s("250 ok")
        .c("DATA")
        .s("354 go")
        .content(5000)
        .s("552 5.3.4 Message size exceeds fixed maximum message size")
        .quit()
        .done();
    let r = judge("  honours_size: true\n", &[big], &[]);
    let v = only(&r);
    assert!(!v.passed);
    assert_eq!(
        lines(v),
        [
            "#1 0.003s C: MAIL FROM:<a@b> SIZE=5000",
            "#1 0.011s -- message content: 5000 bytes",
        ]
    );
    let evidence = Evidence {
        sessions: &[],
        messages: &[],
        max_message_size: 0,
        run: None,
        reports: &[],
    };
    let no_size = evaluate(
        &super::testkit::expectations("  honours_size: true\n"),
        &evidence,
    );
    assert!(only(&no_size).passed);
}

#[test]
fn closed_after_421() {
    let closed = Script::greeted(1, 0.0)
        .c("MAIL FROM:<a@b>")
        .rule("421 4.7.0 Try again later, closing connection", "throttle")
        .done();
    let ok = judge("  closed_after_421: true\n", &[closed], &[]);
    assert!(only(&ok).passed, "{}", ok.to_text());
    let chatty = Script::greeted(1, 0.0)
        .s("421 4.4.2 Timeout exceeded, closing connection")
        .late("MAIL FROM:<a@b>")
        .late("QUIT")
        .done();
    let r = judge("  closed_after_421: true\n", &[chatty], &[]);
    let v = only(&r);
    assert!(!v.passed);
    assert_eq!(
        lines(v),
        [
            "#1 0.003s S: 421 4.4.2 Timeout exceeded, closing connection",
            "#1 0.004s C: MAIL FROM:<a@b>",
        ]
    );
    assert_eq!(v.evidence[1].why, "sent after the 421 (1 command in all)");
}

#[test]
fn within_uses_the_run_or_the_span_of_sessions() {
    let ok = judge("  within: 10s\n", &good(), &[]);
    assert!(only(&ok).passed, "{}", ok.to_text());
    let r = judge("  within: 1s\n", &good(), &[]);
    assert!(!only(&r).passed);
    assert!(
        only(&r).found.starts_with("2 session(s) spanned 3.0"),
        "{}",
        only(&r).found
    );
    let expect = super::testkit::expectations("  within: 2m\n");
    let run = |elapsed: u64, timed_out: bool| {
        let evidence = Evidence {
            sessions: &[],
            messages: &[],
            max_message_size: 1000,
            run: Some(RunFacts {
                elapsed: Duration::from_secs(elapsed),
                exit: (!timed_out).then_some(0),
                timed_out,
            }),
            reports: &[],
        };
        evaluate(&expect, &evidence)
    };
    assert!(run(100, false).passed);
    assert!(!run(130, false).passed);
    assert!(!run(100, true).passed);
}

#[test]
fn false_means_not_judged() {
    let r = judge("  quit: false\n  starttls: false\n", &bad(), &[]);
    assert!(r.passed);
    assert!(r.verdicts.is_empty());
    assert_eq!(r.summary.not_judged, ["quit", "starttls"]);
}

#[test]
fn evidence_is_capped() {
    let mut s = Script::greeted(1, 0.0).c("MAIL FROM:<a@b>").s("250 ok");
    for _ in 0..30 {
        s = s.c("RCPT TO:<c@d>").rule("550 5.1.1 no", "unknown");
    }
    let r = judge("  no_retry_after_permanent: true\n", &[s.done()], &[]);
    assert_eq!(only(&r).evidence.len(), 2);
    let mut s = Script::greeted(1, 0.0);
    for _ in 0..30 {
        s = s.c("FOO").s("500 5.5.2 Command unrecognized");
    }
    let r = judge("  no_protocol_errors: true\n", &[s.done()], &[]);
    assert_eq!(only(&r).evidence.len(), super::MAX_EVIDENCE);
    assert_eq!(only(&r).found, "30 commands caused a protocol error");
}

/// The case a text transcript got wrong: a client that floods NOOPs past
/// the record's cap and hangs up without QUIT. The flood is left out, the
/// hang-up is not, so `quit` fails and quotes the last command.
#[test]
fn a_flood_past_the_cap_is_still_judged_on_how_it_ended() {
    let mut s = Script::greeted(1, 0.0);
    for _ in 0..100_000 {
        s = s.c("NOOP").s("250 2.0.0 Ok");
    }
    let record = s.c("NOOP the last").wait(1.0).dropped().done();
    assert!(record.log.dropped() > 190_000, "{}", record.log.dropped());
    let r = judge("  quit: true\n", &[record], &[]);
    let v = only(&r);
    assert!(!v.passed, "{}", r.to_text());
    assert_eq!(v.found, "1 session of 1 closed the connection without QUIT");
    assert!(
        v.evidence[0].line.ends_with("C: NOOP the last"),
        "{:?}",
        v.evidence
    );
    assert_eq!(v.evidence[1].line, "-- client closed the connection");
}

/// `RCPT TO:<@relay:user@example.test>` names user@example.test (RFC 5321
/// §4.1.1.3: the source route is ignored), so a later plain RCPT for it
/// after a 5xx is a retry.
#[test]
fn a_source_routed_recipient_is_the_same_pair() {
    let first = Script::greeted(1, 0.0)
        .c("MAIL FROM:<app@example.test>")
        .s("250 2.1.0 Sender ok")
        .c("RCPT TO:<@relay.example.test:user@example.test>")
        .rule("550 5.1.1 No such user", "unknown user")
        .quit()
        .done();
    let again = Script::greeted(2, 60.0)
        .c("MAIL FROM:<app@example.test>")
        .s("250 2.1.0 Sender ok")
        .c("RCPT TO:<user@example.test>")
        .rule("550 5.1.1 No such user", "unknown user")
        .quit()
        .done();
    let r = judge("  no_retry_after_permanent: true\n", &[first, again], &[]);
    let v = only(&r);
    assert!(!v.passed, "{}", r.to_text());
    assert!(
        v.found
            .contains("<app@example.test> -> <user@example.test>"),
        "{}",
        v.found
    );
}

/// 555 (RFC 5321 §4.1.1.11: a MAIL/RCPT parameter the server does not
/// know or did not advertise) is the client's error like 501.
#[test]
fn an_unsupported_parameter_is_a_protocol_error() {
    let s = Script::greeted(1, 0.0)
        .c("MAIL FROM:<a@b> FOO=bar")
        .s("555 5.5.4 Unsupported option: FOO")
        .quit()
        .done();
    let r = judge("  no_protocol_errors: true\n", &[s], &[]);
    assert!(!only(&r).passed, "{}", r.to_text());
}
