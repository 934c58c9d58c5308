//! Failures after the 250: `bounce:` and `complaint:` rules accept the
//! message, then a DSN (RFC 3464) or an ARF report (RFC 5965) is released
//! on the scenario clock into the outbox or delivered to another SMTP
//! server. Reports are parsed back with Python's `email` package and with
//! mail-parser, field by field.

use crate::common;

use std::time::Duration;

use common::Raw;
use common::http::get;
use mail_parser::MimeHeaders;
use mailfault::TestServer;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(10);

async fn start(name: &str) -> TestServer {
    TestServer::with_scenario_file(common::scenario_file(name))
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// One message with the given MAIL and RCPT parameters; returns the final reply.
async fn send_with(
    server: &TestServer,
    from: &str,
    mail_params: &str,
    rcpts: &[(&str, &str)],
) -> String {
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    c.cmd("EHLO app.example.test").await;
    let mail = c.cmd(&format!("MAIL FROM:<{from}>{mail_params}")).await;
    assert!(mail.starts_with("250"), "{mail}");
    for (to, params) in rcpts {
        let r = c.cmd(&format!("RCPT TO:<{to}>{params}")).await;
        assert!(r.starts_with("250"), "{r}");
    }
    assert!(c.cmd("DATA").await.starts_with("354"));
    c.send(b"From: App <app@example.test>\r\nTo: someone\r\nSubject: Your invoice\r\nMessage-ID: <m1@example.test>\r\n\r\nHello.\r\n.. a dotted line\r\n").await;
    let reply = c.cmd(".").await;
    c.cmd("QUIT").await;
    reply
}

async fn outbox(server: &TestServer) -> Vec<Value> {
    let body = get(server.http_addr(), "/api/v1/outbox").await.json();
    body["reports"].as_array().cloned().unwrap_or_default()
}

/// Polls the outbox until `done` holds (bounded).
async fn outbox_until(server: &TestServer, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let list = outbox(server).await;
        if done(&list) {
            return list;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "outbox never got there: {list:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn parse_with_python(raw: &[u8]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.eml");
    std::fs::write(&file, raw).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/it/reports/check_report.py"
    );
    let out = common::python_args(
        &format!("import runpy, sys; sys.argv = ['check', sys.argv[1]]; runpy.run_path({script:?}, run_name='__main__')"),
        &[file.display().to_string()],
    )
    .await;
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

async fn raw_of(server: &TestServer, id: u64) -> Vec<u8> {
    let r = get(server.http_addr(), &format!("/api/v1/outbox/{id}/raw")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("message/rfc822"));
    r.body
}

#[tokio::test]
async fn a_hard_bounce_is_a_standard_dsn_released_on_the_virtual_clock() {
    let server = start("bounce-after-accept").await;
    let reply = send_with(
        &server,
        "bounces+u42=app.example.test@app.example.test",
        " RET=FULL ENVID=env+2D42",
        &[
            (
                "gone@example.test",
                " NOTIFY=FAILURE ORCPT=rfc822;Gone+2Bx@example.test",
            ),
            ("fine@example.test", ""),
        ],
    )
    .await;
    assert!(reply.starts_with("250"), "accepted as usual: {reply}");
    server.wait_for_messages(1, WAIT).await.expect("messages");
    let list = outbox_until(&server, |l| l.len() == 1).await;
    assert_eq!(list[0]["state"], "pending");
    assert_eq!(list[0]["recipient"], "gone@example.test");
    // Not yet: two minutes have not passed on the virtual clock.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(outbox(&server).await[0]["state"], "pending");
    server.advance_clock(Duration::from_secs(120)).unwrap();
    let list = outbox_until(&server, |l| {
        l.first().is_some_and(|r| r["state"] == "released")
    })
    .await;
    let r = &list[0];
    assert_eq!(r["type"], "dsn");
    assert_eq!(r["action"], "failed");
    assert_eq!(r["status"], "5.1.1");
    assert_eq!(r["from"], "");
    assert_eq!(
        r["to"], "bounces+u42=app.example.test@app.example.test",
        "VERP intact"
    );
    assert_eq!(r["rule"], "mailbox gone");
    let raw = raw_of(&server, r["id"].as_u64().unwrap()).await;
    assert!(
        raw.windows(2).all(|w| w[1] != b'\n' || w[0] == b'\r'),
        "CRLF only"
    );

    let p = parse_with_python(&raw).await;
    assert_eq!(p["defects"], Value::Array(vec![]), "{p:#}");
    assert_eq!(p["content_type"], "multipart/report");
    assert_eq!(p["report_type"], "delivery-status");
    assert_eq!(
        p["from"],
        "Mail Delivery System <MAILER-DAEMON@mailfault.test>"
    );
    assert_eq!(p["to"], "bounces+u42=app.example.test@app.example.test");
    assert!(p["date"].as_str().unwrap().ends_with("+0000"));
    assert!(
        p["message_id"]
            .as_str()
            .unwrap()
            .ends_with("@mailfault.test>")
    );
    let parts = p["parts"].as_array().unwrap();
    let types: Vec<&str> = parts.iter().map(|x| x["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["text/plain", "message/delivery-status", "message/rfc822"]
    );
    assert!(
        parts[0]["text"]
            .as_str()
            .unwrap()
            .contains("<gone@example.test>")
    );
    let blocks = parts[1]["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 2, "{blocks:#?}");
    assert_eq!(blocks[0]["Reporting-MTA"], "dns; mailfault.test");
    assert_eq!(blocks[0]["Original-Envelope-Id"], "env-42");
    assert!(
        blocks[0]["Arrival-Date"]
            .as_str()
            .unwrap()
            .ends_with("+0000")
    );
    assert_eq!(blocks[1]["Final-Recipient"], "rfc822; gone@example.test");
    assert_eq!(
        blocks[1]["Original-Recipient"],
        "rfc822; Gone+x@example.test"
    );
    assert_eq!(blocks[1]["Action"], "failed");
    assert_eq!(blocks[1]["Status"], "5.1.1");
    assert_eq!(
        blocks[1]["Diagnostic-Code"],
        "smtp; 550 5.1.1 The email account that you tried to reach does not exist"
    );
    assert!(
        blocks[1]["Last-Attempt-Date"]
            .as_str()
            .unwrap()
            .ends_with("+0000")
    );
    // RET=FULL: the whole message comes back, dot line and all.
    assert_eq!(parts[2]["inner_subject"], "Your invoice");
    assert!(
        parts[2]["inner_body"]
            .as_str()
            .unwrap()
            .contains(". a dotted line")
    );

    // mail-parser reads the same structure.
    let m = mail_parser::MessageParser::default().parse(&raw).unwrap();
    assert_eq!(m.subject(), Some("Undelivered Mail Returned to Sender"));
    let ct = m.content_type().unwrap();
    assert_eq!(ct.ctype(), "multipart");
    assert_eq!(ct.subtype(), Some("report"));
    assert_eq!(ct.attribute("report-type"), Some("delivery-status"));
    assert_eq!(m.parts.len(), 4, "the root and its three parts");
    let inner = m
        .attachments()
        .find_map(|a| a.message())
        .expect("the returned message");
    assert_eq!(inner.subject(), Some("Your invoice"));
    assert_eq!(inner.message_id(), Some("m1@example.test"));
    let status = m.parts.iter().find(|p| {
        p.content_type()
            .is_some_and(|c| c.subtype() == Some("delivery-status"))
    });
    let status = String::from_utf8_lossy(status.unwrap().contents()).into_owned();
    assert!(status.contains("Status: 5.1.1\r\n"), "{status}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_delay_notice_honours_notify_and_headers_only_by_default() {
    let server = start("bounce-after-accept").await;
    // NOTIFY=DELAY: wanted. NOTIFY=NEVER: no report at all.
    send_with(
        &server,
        "app@example.test",
        "",
        &[("slow@example.test", " NOTIFY=DELAY")],
    )
    .await;
    send_with(
        &server,
        "app@example.test",
        "",
        &[("slow@example.test", " NOTIFY=NEVER")],
    )
    .await;
    send_with(
        &server,
        "app@example.test",
        "",
        &[("gone@example.test", " NOTIFY=SUCCESS")],
    )
    .await;
    server.wait_for_messages(3, WAIT).await.expect("messages");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let list = outbox(&server).await;
    assert_eq!(
        list.len(),
        1,
        "NEVER and SUCCESS-only get no DSN: {list:#?}"
    );
    server.advance_clock(Duration::from_secs(4 * 3600)).unwrap();
    let list = outbox_until(&server, |l| l[0]["state"] == "released").await;
    assert_eq!(list[0]["action"], "delayed");
    assert_eq!(list[0]["status"], "4.4.7");
    let raw = raw_of(&server, list[0]["id"].as_u64().unwrap()).await;
    let p = parse_with_python(&raw).await;
    let parts = p["parts"].as_array().unwrap();
    assert_eq!(parts[2]["type"], "text/rfc822-headers");
    assert_eq!(parts[2]["inner_subject"], "Your invoice");
    let blocks = parts[1]["blocks"].as_array().unwrap();
    assert_eq!(blocks[1]["Action"], "delayed");
    assert_eq!(blocks[1]["Status"], "4.4.7");
    assert!(blocks[0].get("Original-Envelope-Id").is_none());
    assert!(blocks[1].get("Original-Recipient").is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn no_report_for_a_message_from_the_null_sender() {
    let server = start("bounce-after-accept").await;
    let reply = send_with(&server, "", "", &[("gone@example.test", "")]).await;
    assert!(reply.starts_with("250"), "{reply}");
    server.wait_for_messages(1, WAIT).await.expect("messages");
    server.advance_clock(Duration::from_secs(3600)).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        outbox(&server).await.is_empty(),
        "RFC 5321 §4.5.5: never bounce a bounce"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_complaint_is_an_arf_report() {
    let server = start("complaint").await;
    send_with(
        &server,
        "news@app.example.test",
        "",
        &[("angry@example.test", ""), ("happy@example.test", "")],
    )
    .await;
    server.wait_for_messages(1, WAIT).await.expect("messages");
    server.advance_clock(Duration::from_secs(3600)).unwrap();
    let list = outbox_until(&server, |l| l.len() == 1 && l[0]["state"] == "released").await;
    assert_eq!(list[0]["type"], "complaint");
    assert_eq!(list[0]["feedback_type"], "abuse");
    assert_eq!(list[0]["recipient"], "angry@example.test");
    let raw = raw_of(&server, list[0]["id"].as_u64().unwrap()).await;
    let p = parse_with_python(&raw).await;
    assert_eq!(p["defects"], Value::Array(vec![]), "{p:#}");
    assert_eq!(p["content_type"], "multipart/report");
    assert_eq!(p["report_type"], "feedback-report");
    assert_eq!(p["to"], "news@app.example.test");
    let parts = p["parts"].as_array().unwrap();
    let types: Vec<&str> = parts.iter().map(|x| x["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["text/plain", "message/feedback-report", "message/rfc822"]
    );
    let f = &parts[1]["fields"];
    assert_eq!(f["Feedback-Type"], "abuse");
    assert!(f["User-Agent"].as_str().unwrap().starts_with("mailfault/"));
    assert_eq!(f["Version"], "1");
    assert_eq!(f["Original-Mail-From"], "<news@app.example.test>");
    assert_eq!(f["Original-Rcpt-To"], "<angry@example.test>");
    assert!(f["Arrival-Date"].as_str().unwrap().ends_with("+0000"));
    assert_eq!(f["Source-IP"], "127.0.0.1");
    assert_eq!(parts[2]["inner_subject"], "Your invoice");

    let m = mail_parser::MessageParser::default().parse(&raw).unwrap();
    let ct = m.content_type().unwrap();
    assert_eq!(ct.attribute("report-type"), Some("feedback-report"));
    let inner = m
        .attachments()
        .find_map(|a| a.message())
        .expect("the original message");
    assert_eq!(inner.subject(), Some("Your invoice"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_dsn_is_delivered_to_a_second_mailfault() {
    // The app's bounce endpoint: another mailfault whose first RCPT gets a
    // 451, so the report is retried once.
    let endpoint = TestServer::with_scenario_str(
        "version: 1\nrules:\n  - on: rcpt\n    match: { attempt: 1 }\n    reply: 451 4.3.0 try again\n",
    )
    .await
    .unwrap();
    let yaml = format!(
        "version: 1\nclock: virtual\nserver:\n  reports: {{ deliver_to: \"smtp://{}\" }}\nrules:\n  - on: rcpt\n    match: {{ to: \"gone@*\" }}\n    bounce: {{ after: 1m, status: 5.1.1 }}\n",
        endpoint.smtp_addr()
    );
    let server = TestServer::with_scenario_str(&yaml).await.unwrap();
    send_with(
        &server,
        "bounces+7@app.example.test",
        "",
        &[("gone@example.test", "")],
    )
    .await;
    server.wait_for_messages(1, WAIT).await.expect("messages");
    server.advance_clock(Duration::from_secs(60)).unwrap();
    endpoint.wait_for_messages(1, WAIT).await.expect("messages");
    let got = &endpoint.messages()[0];
    assert_eq!(got.mail_from, "", "from the null reverse-path");
    assert_eq!(got.recipients[0].address, "bounces+7@app.example.test");
    assert!(
        got.header("Content-Type")
            .unwrap()
            .contains("report-type=delivery-status")
    );
    let list = outbox_until(&server, |l| l[0]["state"] == "delivered").await;
    assert_eq!(list[0]["attempts"], 2, "one 451, then delivered: {list:#?}");
    let metrics = get(server.http_addr(), "/metrics").await.text();
    assert!(
        metrics.contains("mailfault_reports{state=\"delivered\"} 1"),
        "{metrics}"
    );
    server.shutdown().await;
    endpoint.shutdown().await;
}

#[tokio::test]
async fn a_report_to_an_endpoint_that_is_down_fails_after_bounded_retries() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let yaml = format!(
        "version: 1\nclock: virtual\nserver:\n  reports: {{ deliver_to: \"smtp://{addr}\" }}\nrules:\n  - on: message\n    complaint: {{ after: 0s }}\n",
    );
    let server = TestServer::with_scenario_str(&yaml).await.unwrap();
    send_with(&server, "app@example.test", "", &[("x@example.test", "")]).await;
    let list = outbox_until(&server, |l| {
        l.first().is_some_and(|r| r["state"] == "failed")
    })
    .await;
    assert_eq!(list[0]["attempts"], 5);
    assert!(
        list[0]["reason"]
            .as_str()
            .unwrap()
            .contains("connection failed"),
        "{list:#?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn dsn_success_reports_delivery_to_notify_success_recipients() {
    let server =
        TestServer::with_scenario_str("version: 1\nserver:\n  reports: { dsn_success: true }\n")
            .await
            .unwrap();
    send_with(
        &server,
        "app@example.test",
        "",
        &[
            ("a@example.test", " NOTIFY=SUCCESS,FAILURE"),
            ("b@example.test", ""),
        ],
    )
    .await;
    let list = outbox_until(&server, |l| {
        l.first().is_some_and(|r| r["state"] == "released")
    })
    .await;
    assert_eq!(list.len(), 1, "{list:#?}");
    assert_eq!(list[0]["action"], "delivered");
    assert_eq!(list[0]["recipient"], "a@example.test");
    let raw = raw_of(&server, list[0]["id"].as_u64().unwrap()).await;
    let p = parse_with_python(&raw).await;
    let blocks = p["parts"][1]["blocks"].as_array().unwrap().clone();
    assert_eq!(blocks[1]["Action"], "delivered");
    assert_eq!(blocks[1]["Status"], "2.0.0");
    server.shutdown().await;
}

/// Each named verdict passed.
fn passes(report: &mailfault::expect::Report, names: &[&str]) {
    for name in names {
        assert!(verdict(report, name).passed, "{name}: {report:#?}");
    }
}

fn verdict<'a>(
    report: &'a mailfault::expect::Report,
    name: &str,
) -> &'a mailfault::expect::Verdict {
    report
        .verdicts
        .iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("no {name} verdict: {report:#?}"))
}

#[tokio::test]
async fn stops_after_hard_bounce_names_the_bounce_and_the_offending_transaction() {
    let server = start("bounce-after-accept").await;
    send_with(
        &server,
        "app@example.test",
        "",
        &[("gone@example.test", ""), ("slow@example.test", "")],
    )
    .await;
    server.wait_for_sessions(1, WAIT).await.expect("session");
    server.advance_clock(Duration::from_secs(4 * 3600)).unwrap();
    outbox_until(&server, |l| {
        l.len() == 2 && l.iter().all(|r| r["state"] == "released")
    })
    .await;
    // A sender with a suppression list: slow@ again, gone@ never.
    send_with(
        &server,
        "app@example.test",
        "",
        &[("slow@example.test", "")],
    )
    .await;
    server.wait_for_sessions(2, WAIT).await.expect("sessions");
    let report = server.report();
    passes(
        &report,
        &["stops_after_hard_bounce", "keeps_trying_after_delay"],
    );

    // A naive sender mails the bounced address again.
    send_with(
        &server,
        "app@example.test",
        "",
        &[("gone@example.test", "")],
    )
    .await;
    server.wait_for_sessions(3, WAIT).await.expect("sessions");
    let report = server.report();
    let v = verdict(&report, "stops_after_hard_bounce");
    assert!(!v.passed, "{v:#?}");
    assert!(v.found.contains("<gone@example.test>"), "{v:#?}");
    assert!(
        v.evidence[0]
            .line
            .contains("bounce (DSN failed 5.1.1) about <gone@example.test>"),
        "{v:#?}"
    );
    assert_eq!(v.evidence[1].line, "C: RCPT TO:<gone@example.test>");
    assert_eq!(v.evidence[1].session, 3);
    server.shutdown().await;
}

#[tokio::test]
async fn a_delay_notice_treated_as_final_fails_keeps_trying() {
    let server = start("bounce-after-accept").await;
    send_with(
        &server,
        "app@example.test",
        "",
        &[("slow@example.test", "")],
    )
    .await;
    server.wait_for_sessions(1, WAIT).await.expect("session");
    server.advance_clock(Duration::from_secs(4 * 3600)).unwrap();
    outbox_until(&server, |l| l.len() == 1 && l[0]["state"] == "released").await;
    let report = server.report();
    let v = verdict(&report, "keeps_trying_after_delay");
    assert!(!v.passed, "{v:#?}");
    assert!(v.evidence[0].why.contains("treated as final"), "{v:#?}");
    server.shutdown().await;
}

#[tokio::test]
async fn stops_after_complaint_and_null_sender_for_reports() {
    let server = TestServer::with_scenario_str(
        "version: 1\nclock: virtual\nrules:\n  - on: data\n    match: { to: \"angry@*\" }\n    complaint: { after: 1h }\nexpect:\n  stops_after_complaint: true\n  null_sender_for_reports: true\n",
    )
    .await
    .unwrap();
    send_with(
        &server,
        "news@example.test",
        "",
        &[("angry@example.test", "")],
    )
    .await;
    server.wait_for_sessions(1, WAIT).await.expect("session");
    let report = server.report();
    assert!(
        verdict(&report, "stops_after_complaint").passed,
        "not released yet: {report:#?}"
    );
    server.advance_clock(Duration::from_secs(3600)).unwrap();
    outbox_until(&server, |l| l.len() == 1 && l[0]["state"] == "released").await;
    // The app's own notification, correctly from <>.
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    c.cmd("EHLO app.example.test").await;
    c.cmd("MAIL FROM:<>").await;
    c.cmd("RCPT TO:<user@example.test>").await;
    c.cmd("DATA").await;
    c.send(b"Auto-Submitted: auto-replied\r\nSubject: out of office\r\n\r\naway\r\n")
        .await;
    c.cmd(".").await;
    c.cmd("QUIT").await;
    server.wait_for_sessions(2, WAIT).await.expect("sessions");
    let report = server.report();
    passes(
        &report,
        &["stops_after_complaint", "null_sender_for_reports"],
    );

    // Mailing the complainer again, and a notification from a real address.
    send_with(
        &server,
        "news@example.test",
        "",
        &[("angry@example.test", "")],
    )
    .await;
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    c.cmd("EHLO app.example.test").await;
    c.cmd("MAIL FROM:<noreply@example.test>").await;
    c.cmd("RCPT TO:<user@example.test>").await;
    c.cmd("DATA").await;
    c.send(b"Auto-Submitted: auto-generated\r\nSubject: notice\r\n\r\nhi\r\n")
        .await;
    c.cmd(".").await;
    c.cmd("QUIT").await;
    server.wait_for_sessions(4, WAIT).await.expect("sessions");
    let report = server.report();
    let v = verdict(&report, "stops_after_complaint");
    assert!(!v.passed, "{v:#?}");
    assert!(
        v.evidence[0].line.contains("complaint (ARF abuse)"),
        "{v:#?}"
    );
    let v = verdict(&report, "null_sender_for_reports");
    assert!(!v.passed, "{v:#?}");
    assert!(
        v.evidence[0].line.contains("<noreply@example.test>"),
        "{v:#?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_event_stream_announces_reports_and_the_timeline_shows_them() {
    let server = start("bounce-after-accept").await;
    let mut events = common::http::open_events(server.http_addr()).await;
    send_with(
        &server,
        "app@example.test",
        "",
        &[("gone@example.test", "")],
    )
    .await;
    server.wait_for_sessions(1, WAIT).await.expect("session");
    server.advance_clock(Duration::from_secs(120)).unwrap();
    // Announced when planned, then when released.
    let seen = common::http::read_events_until(&mut events, "\"state\":\"released\"").await;
    let states: Vec<Value> = seen
        .split("event: report\ndata: ")
        .skip(1)
        .filter_map(|rest| serde_json::from_str(rest.lines().next()?).ok())
        .collect();
    assert_eq!(
        states
            .iter()
            .map(|r| r["state"].clone())
            .collect::<Vec<_>>(),
        ["pending", "released"],
        "{seen}"
    );
    let report = &states[1];
    assert_eq!(report["recipient"], "gone@example.test");

    let body = get(server.http_addr(), "/api/v1/timeline").await.json();
    let tracks = body["tracks"].as_array().unwrap();
    let gone = tracks
        .iter()
        .find(|t| t["to"] == "gone@example.test")
        .unwrap_or_else(|| panic!("{body:#}"));
    assert_eq!(gone["from"], "app@example.test");
    assert_eq!(gone["attempts"][0]["code"], 250);
    assert_eq!(gone["reports"][0]["kind"], "bounce");
    assert_eq!(gone["reports"][0]["at"], 120.0);
    server.shutdown().await;
}
