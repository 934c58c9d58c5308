//! Reports judged from live sessions: through the fixture's `report()` and
//! `GET /api/v1/report`, for the expectations whose evidence comes from the
//! connection itself (a client talking after a 421, STARTTLS and the EHLO
//! that must follow it).

use crate::common;

use std::time::Duration;

use common::Raw;
use common::http::get;
use mailfault::expect::{Report, Verdict};
use mailfault::{Scenario, TestServer};

const THROTTLE: &str = "version: 1
name: throttle
rules:
  - name: throttle
    on: mail
    reply: 421 4.7.0 Try again later, closing connection
expect:
  closed_after_421: true
  no_protocol_errors: true
";

fn verdict<'r>(report: &'r Report, name: &str) -> &'r Verdict {
    report
        .verdicts
        .iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("no verdict {name} in {}", report.to_text()))
}

#[tokio::test]
async fn a_client_that_goes_quiet_after_421_passes() {
    let server = TestServer::with_scenario_str(THROTTLE).await.unwrap();
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    c.cmd("EHLO client.test").await;
    assert!(c.cmd("MAIL FROM:<a@x.test>").await.starts_with("421"));
    // A goodbye QUIT is polite, not a violation.
    c.send(b"QUIT\r\n").await;
    drop(c);
    server
        .wait_for_sessions(1, Duration::from_secs(5))
        .await
        .unwrap();
    let report = server.report();
    assert!(
        verdict(&report, "closed_after_421").passed,
        "{}",
        report.to_text()
    );
    assert!(report.passed, "{}", report.to_text());
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_keeps_talking_after_421_fails_with_the_lines() {
    let server = TestServer::with_scenario_str(THROTTLE).await.unwrap();
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    c.cmd("EHLO client.test").await;
    assert!(c.cmd("MAIL FROM:<a@x.test>").await.starts_with("421"));
    c.send(b"RSET\r\nMAIL FROM:<a@x.test>\r\n").await;
    c.until_closed().await;
    server
        .wait_for_sessions(1, Duration::from_secs(5))
        .await
        .unwrap();
    let report = server.report();
    let v = verdict(&report, "closed_after_421");
    assert!(!v.passed, "{}", report.to_text());
    assert!(
        v.evidence[0].line.starts_with("S: 421 4.7.0"),
        "{:?}",
        v.evidence
    );
    assert_eq!(v.evidence[1].line, "C: RSET");
    let transcript = server.sessions()[0].transcript();
    assert!(
        transcript.contains("client sent 28 byte(s) after the 421"),
        "{transcript}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_report_endpoint_speaks_json_junit_and_text() {
    let server = TestServer::with_scenario_str(THROTTLE).await.unwrap();
    let http = server.http_addr();
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    c.cmd("EHLO client.test").await;
    c.cmd("MAIL FROM:<a@x.test>").await;
    c.send(b"NOOP\r\n").await;
    c.until_closed().await;
    server
        .wait_for_sessions(1, Duration::from_secs(5))
        .await
        .unwrap();

    let json = get(http, "/api/v1/report").await;
    assert_eq!(json.status, 200);
    let body = json.json();
    assert_eq!(body["passed"], false);
    assert_eq!(body["summary"]["sessions"], 1);
    let junit = get(http, "/api/v1/report?format=junit").await;
    assert!(
        junit
            .header("content-type")
            .unwrap()
            .starts_with("application/xml")
    );
    assert!(
        junit.text().contains("<testsuite name=\"throttle\""),
        "{}",
        junit.text()
    );
    assert!(junit.text().contains("<failure"));
    let text = get(http, "/api/v1/report?format=text").await.text();
    assert!(text.contains("FAIL  closed_after_421"), "{text}");
    let bad = get(http, "/api/v1/report?format=pdf").await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.json()["error"]
            .as_str()
            .unwrap()
            .contains("json, junit or text")
    );

    // A swapped-in scenario is judged on its own sessions only.
    server.set_scenario(Scenario::from_str(THROTTLE, "again").unwrap());
    let fresh = get(http, "/api/v1/report").await.json();
    assert_eq!(fresh["summary"]["sessions"], 0);
    assert_eq!(fresh["passed"], true);
    server.shutdown().await;
}

const TLS_EXPECT: &str = "version: 1
name: tls-graded
expect:
  starttls: true
  ehlo_after_starttls: true
";

/// Sends one message with smtplib over STARTTLS; `ehlo_again` false skips
/// the EHLO RFC 3207 requires after the upgrade (the server answers the
/// MAIL with 503 and the client gives up).
async fn send_over_starttls(server: &TestServer, ehlo_again: bool) {
    let script = format!(
        "import smtplib, ssl\n\
         ctx = ssl.create_default_context(cafile={ca:?})\n\
         s = smtplib.SMTP('127.0.0.1', {port})\n\
         s.ehlo()\n\
         s.starttls(context=ctx)\n\
         if {ehlo}:\n    s.ehlo()\n    s.sendmail('a@x.test', ['b@y.test'], 'Subject: tls\\r\\n\\r\\nx\\r\\n')\n\
         else:\n    assert s.docmd('MAIL FROM:<a@x.test>')[0] == 503\n\
         s.quit()\n",
        ca = server.ca_path().unwrap().display().to_string(),
        port = server.smtp_addr().port(),
        ehlo = if ehlo_again { "True" } else { "False" },
    );
    common::python_args(&script, &[]).await;
}

#[tokio::test]
async fn starttls_and_the_ehlo_after_it_are_judged_from_real_tls_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = Scenario::from_str(TLS_EXPECT, "tls").unwrap();
    let server = TestServer::with_tls(scenario, dir.path()).await.unwrap();
    send_over_starttls(&server, true).await;
    server
        .wait_for_sessions(1, Duration::from_secs(5))
        .await
        .unwrap();
    let good = server.report();
    assert!(good.passed, "{}", good.to_text());

    send_over_starttls(&server, false).await;
    server
        .wait_for_sessions(2, Duration::from_secs(5))
        .await
        .unwrap();
    let report = server.report();
    assert!(verdict(&report, "starttls").passed, "{}", report.to_text());
    let ehlo = verdict(&report, "ehlo_after_starttls");
    assert!(!ehlo.passed, "{}", report.to_text());
    assert!(
        ehlo.evidence
            .iter()
            .any(|e| e.line.starts_with("C: MAIL FROM")),
        "{:?}",
        ehlo.evidence
    );

    // Plain SMTP, no upgrade at all.
    common::send_message(
        server.smtp_addr(),
        "a@x.test",
        &["b@y.test"],
        "Subject: x\r\n\r\nx\r\n",
    )
    .await;
    server
        .wait_for_sessions(3, Duration::from_secs(5))
        .await
        .unwrap();
    let plain = server.report();
    let starttls = verdict(&plain, "starttls");
    assert!(!starttls.passed, "{}", plain.to_text());
    server.shutdown().await;
}

const GRADE_QUIT: &str = "version: 1
name: grade-quit
rules:
  - name: unknown user
    on: rcpt
    match: { to: \"user@example.test\" }
    reply: 550 5.1.1 No such user
expect:
  quit: true
  no_retry_after_permanent: true
";

/// 100,000 pipelined NOOPs overflow the session's record; the client then
/// hangs up without QUIT. The flood is left out of the record, the hang-up
/// is not, so `quit` fails (a record cut by size once excused it).
#[tokio::test]
async fn a_noop_flood_then_a_hang_up_fails_quit() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const NOOPS: usize = 100_000;
    let server = TestServer::with_scenario_str(GRADE_QUIT).await.unwrap();
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    c.cmd("EHLO flood.test").await;
    let (mut rx, mut tx) = c.stream.into_split();
    let writer = tokio::spawn(async move {
        let batch = b"NOOP\r\n".repeat(1000);
        for _ in 0..NOOPS / 1000 {
            tx.write_all(&batch).await.unwrap();
        }
        tx
    });
    // Every NOOP's reply is one line: count them all before hanging up.
    let reader = async {
        let mut lines = 0usize;
        let mut buf = vec![0u8; 64 * 1024];
        while lines < NOOPS {
            let n = rx.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed after {lines} replies");
            lines += buf[..n].iter().filter(|&&b| b == b'\n').count();
        }
    };
    tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("the NOOP replies did not all arrive");
    let tx = writer.await.unwrap();
    drop((tx, rx));
    let sessions = server
        .wait_for_sessions(1, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(sessions[0].log.dropped() > 0, "the record was not capped");
    assert!(
        sessions[0]
            .transcript()
            .ends_with("-- client closed the connection\n"),
        "the ending survives the cap"
    );
    let report = server.report();
    let v = verdict(&report, "quit");
    assert!(!v.passed, "{}", report.to_text());
    assert_eq!(v.evidence[0].line, "C: NOOP");
    server.shutdown().await;
}

/// A source route is not part of the address: a RCPT refused as
/// `<@relay:user@example.test>` and tried again as `<user@example.test>`
/// is a retry after a permanent failure.
#[tokio::test]
async fn a_source_routed_rcpt_counts_as_the_same_recipient() {
    let server = TestServer::with_scenario_str(GRADE_QUIT).await.unwrap();
    for rcpt in [
        "<@relay.example.test:user@example.test>",
        "<user@example.test>",
    ] {
        let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
        c.cmd("EHLO client.test").await;
        assert!(
            c.cmd("MAIL FROM:<app@example.test>")
                .await
                .starts_with("250")
        );
        let reply = c.cmd(&format!("RCPT TO:{rcpt}")).await;
        assert!(reply.starts_with("550 5.1.1"), "{rcpt}: {reply}");
        assert!(c.cmd("QUIT").await.starts_with("221"));
    }
    server
        .wait_for_sessions(2, Duration::from_secs(5))
        .await
        .unwrap();
    let report = server.report();
    let v = verdict(&report, "no_retry_after_permanent");
    assert!(!v.passed, "{}", report.to_text());
    assert!(
        v.found
            .contains("<app@example.test> -> <user@example.test>"),
        "{}",
        v.found
    );
    assert!(verdict(&report, "quit").passed, "{}", report.to_text());
    server.shutdown().await;
}

const GREYLIST_RETRY: &str = "version: 1
name: greylist-now
rules:
  - name: greylist
    on: rcpt
    greylist: { retry_after: 30s }
expect:
  retried_after_temporary: true
";

/// A report asked for the moment a client hangs up still judges that
/// client's session: the endpoint waits for sessions in progress to end.
#[tokio::test]
async fn a_report_right_after_a_hang_up_judges_that_session() {
    let server = TestServer::with_scenario_str(GREYLIST_RETRY).await.unwrap();
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    c.cmd("EHLO client.test").await;
    c.cmd("MAIL FROM:<a@x.test>").await;
    assert!(c.cmd("RCPT TO:<b@y.test>").await.starts_with("450"));
    c.cmd("QUIT").await;
    drop(c);
    let report = get(server.http_addr(), "/api/v1/report").await.json();
    assert_eq!(report["summary"]["sessions"], 1, "{report}");
    assert_eq!(
        report["passed"], false,
        "the deferral was never retried: {report}"
    );
    let bad = get(server.http_addr(), "/api/v1/report?settle=forever").await;
    assert_eq!(bad.status, 400);
    server.shutdown().await;
}
