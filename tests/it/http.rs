//! The HTTP API over real HTTP: mailfault's own endpoints, bad input, the
//! event stream, metrics, and a scenario swapped while clients are sending
//! (the message endpoints are in `compat`).

use crate::common;

use std::time::Duration;

use common::http::{get, open_events, read_events_until, request, request_within};
use common::{Raw, send_message};
use mailfault::TestServer;

#[tokio::test]
async fn a_message_that_does_not_parse_still_shows_its_envelope() {
    let server = TestServer::start().await.unwrap();
    let junk = "\u{1}\u{2} not a header\r\n\r\n";
    send_message(server.smtp_addr(), "a@x.test", &["b@y.test"], junk).await;
    server
        .wait_for_messages(1, Duration::from_secs(5))
        .await
        .unwrap();
    let id = server.messages()[0].id;
    let one = get(server.http_addr(), &format!("/api/v1/messages/{id}")).await;
    assert_eq!(one.status, 200);
    let one = one.json();
    assert_eq!(one["ReturnPath"], "a@x.test");
    assert_eq!(one["Recipients"][0]["Address"], "b@y.test");
    assert_eq!(one["Subject"], "");
    server.shutdown().await;
}

#[tokio::test]
async fn sessions_show_transcripts_with_the_rule_behind_each_reply() {
    let server = TestServer::with_scenario_file(common::scenario_file("unknown-user"))
        .await
        .unwrap();
    let http = server.http_addr();
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    c.cmd("EHLO client.test").await;
    c.cmd("MAIL FROM:<a@x.test>").await;
    let no = c.cmd("RCPT TO:<who@nowhere.example.test>").await;
    assert!(no.starts_with("550"), "{no}");
    c.cmd("QUIT").await;
    server
        .wait_for_sessions(1, Duration::from_secs(5))
        .await
        .unwrap();

    let list = get(http, "/api/v1/sessions").await.json();
    let s = &list["sessions"][0];
    assert_eq!(s["faults"], 1);
    let id = s["id"].as_u64().unwrap();
    let one = get(http, &format!("/api/v1/sessions/{id}")).await.json();
    let lines = one["transcript"].as_array().unwrap();
    let fault = lines
        .iter()
        .find(|l| l["text"].as_str().unwrap().starts_with("550"))
        .unwrap();
    assert_eq!(fault["dir"], "server");
    assert!(fault["rule"].is_string(), "{fault}");
    assert!(
        lines
            .iter()
            .any(|l| l["dir"] == "client" && l["text"] == "RCPT TO:<who@nowhere.example.test>")
    );
    assert!(
        lines
            .iter()
            .all(|l| l["at"].as_str().unwrap().ends_with('s'))
    );
    // The same session as typed facts: no text to parse back.
    let events = one["events"].as_array().unwrap();
    let rcpt = events
        .iter()
        .position(|e| e["type"] == "command" && e["verb"] == "RCPT")
        .unwrap();
    assert_eq!(events[rcpt]["address"], "who@nowhere.example.test");
    let reply = &events[rcpt + 1];
    assert_eq!(reply["type"], "reply", "{reply}");
    assert_eq!(reply["answers"], "command");
    assert_eq!(reply["code"], 550);
    assert_eq!(reply["enhanced"], "5.1.1");
    assert!(reply["rule"].is_string(), "{reply}");
    let last = events.last().unwrap();
    assert_eq!(last["type"], "server_closed", "{last}");
    assert_eq!(last["reason"], "quit");
    assert_eq!(one["ended"], "server closed (after QUIT)");

    assert_eq!(get(http, "/api/v1/sessions/77").await.status, 404);
    assert_eq!(get(http, "/api/v1/sessions/x").await.status, 400);
    server.shutdown().await;
}

#[tokio::test]
async fn scenario_is_shown_swapped_and_a_bad_one_is_refused_with_line_and_column() {
    let server = TestServer::start().await.unwrap();
    let http = server.http_addr();
    let shown = get(http, "/api/v1/scenario").await;
    assert_eq!(shown.status, 200);
    assert!(
        shown
            .header("content-type")
            .unwrap()
            .starts_with("application/yaml")
    );
    assert!(shown.text().contains("name: accept-all"));
    assert!(mailfault::Scenario::from_str(&shown.text(), "shown").is_ok());

    let bad = "version: 1\nrules:\n  - on: rcpt\n    reply: 550 5.1.1 gone\n    colour: red\n";
    let refused = request(http, "PUT", "/api/v1/scenario", &[], bad.as_bytes()).await;
    assert_eq!(refused.status, 400);
    let body = refused.json();
    let problem = &body["problems"][0];
    assert_eq!(
        (problem["line"].as_u64(), problem["column"].as_u64()),
        (Some(5), Some(5)),
        "{body}"
    );
    assert!(
        problem["message"].as_str().unwrap().contains("colour"),
        "{body}"
    );
    assert!(problem.get("file").is_none());
    assert!(body["error"].as_str().unwrap().contains("unchanged"));
    assert!(
        send_message(
            server.smtp_addr(),
            "a@x.test",
            &["b@y.test"],
            "Subject: x\r\n\r\nx\r\n"
        )
        .await
        .starts_with("250")
    );

    let good = "version: 1\nname: all-gone\nrules:\n  - name: gone\n    on: rcpt\n    reply: 550 5.1.1 gone\n";
    let swapped = request(http, "PUT", "/api/v1/scenario", &[], good.as_bytes()).await;
    assert_eq!(swapped.status, 200, "{}", swapped.text());
    assert_eq!(swapped.json()["name"], "all-gone");
    assert_eq!(get(http, "/api/v1/scenario").await.text(), good);
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    c.cmd("EHLO client.test").await;
    c.cmd("MAIL FROM:<a@x.test>").await;
    assert!(
        c.cmd("RCPT TO:<b@y.test>")
            .await
            .starts_with("550 5.1.1 gone")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn reset_forgets_mail_sessions_and_rule_state() {
    let yaml = "version: 1\nrules:\n  - name: first try\n    on: rcpt\n    match: { attempt: 1 }\n    reply: 451 4.3.0 try again\n";
    let server = TestServer::with_scenario_str(yaml).await.unwrap();
    let (smtp, http) = (server.smtp_addr(), server.http_addr());
    let content = "Subject: x\r\n\r\nx\r\n";
    assert!(
        send_message(smtp, "a@x.test", &["b@y.test"], content)
            .await
            .starts_with("554")
    );
    assert!(
        send_message(smtp, "a@x.test", &["b@y.test"], content)
            .await
            .starts_with("250")
    );
    server
        .wait_for_sessions(2, Duration::from_secs(5))
        .await
        .unwrap();
    let reset = request(http, "POST", "/api/v1/reset", &[], b"").await;
    assert_eq!(reset.status, 200);
    assert_eq!(reset.json()["reset"], true);
    assert_eq!(get(http, "/api/v1/messages").await.json()["total"], 0);
    assert_eq!(
        get(http, "/api/v1/sessions").await.json()["sessions"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // The attempt counter started over: the first try is deferred again.
    assert!(
        send_message(smtp, "a@x.test", &["b@y.test"], content)
            .await
            .starts_with("554")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn wait_returns_when_mail_arrives_and_408_at_the_time_out() {
    let server = TestServer::start().await.unwrap();
    let (smtp, http) = (server.smtp_addr(), server.http_addr());
    let waiter = tokio::spawn(async move {
        request_within(
            http,
            "GET",
            "/api/v1/wait?messages=1&timeout=20s",
            &[],
            b"",
            Duration::from_secs(30),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Held open: no answer while no message has arrived.
    assert!(
        !waiter.is_finished(),
        "the long poll answered before any mail"
    );
    send_message(smtp, "a@x.test", &["b@y.test"], "Subject: x\r\n\r\nx\r\n").await;
    let done = waiter.await.unwrap();
    assert_eq!(done.status, 200);
    assert_eq!(done.json()["messages"], 1);

    let late = get(http, "/api/v1/wait?messages=5&timeout=200ms").await;
    assert_eq!(late.status, 408);
    let body = late.json();
    assert_eq!(body["messages"], 1);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("timed out after 200ms")
    );
    assert_eq!(
        get(http, "/api/v1/wait?messages=1&timeout=soon")
            .await
            .status,
        400
    );
    assert_eq!(get(http, "/api/v1/wait").await.status, 400);
    assert_eq!(
        get(http, "/api/v1/wait?messages=1&timeout=2h").await.status,
        400
    );
    server.shutdown().await;
}

#[tokio::test]
async fn clock_advance_moves_a_virtual_clock_and_refuses_a_real_one() {
    let real = TestServer::start().await.unwrap();
    let refused = request(
        real.http_addr(),
        "POST",
        "/api/v1/clock/advance",
        &[("Content-Type", "application/json")],
        br#"{"by":"5m"}"#,
    )
    .await;
    assert_eq!(refused.status, 409);
    assert!(
        refused.json()["error"]
            .as_str()
            .unwrap()
            .contains("clock: virtual")
    );
    real.shutdown().await;

    let server = TestServer::with_scenario_str("version: 1\nclock: virtual\n")
        .await
        .unwrap();
    let http = server.http_addr();
    let json = [("Content-Type", "application/json")];
    let moved = request(
        http,
        "POST",
        "/api/v1/clock/advance",
        &json,
        br#"{"by":"5m"}"#,
    )
    .await;
    assert_eq!(moved.status, 200, "{}", moved.text());
    assert_eq!(moved.json()["now_ms"], 300_000);
    assert_eq!(get(http, "/api/v1/clock").await.json()["now"], "300.000s");
    let bad = request(
        http,
        "POST",
        "/api/v1/clock/advance",
        &json,
        br#"{"by":"soon"}"#,
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.json()["error"]
            .as_str()
            .unwrap()
            .contains("not a duration")
    );
    let not_json = request(http, "POST", "/api/v1/clock/advance", &json, b"5m").await;
    assert_eq!(not_json.status, 400);
    assert!(
        not_json.json()["error"]
            .as_str()
            .unwrap()
            .contains("{\"by\": \"5m\"}")
    );
    // A huge advance is refused with a reason instead of pinning the
    // clock at its limit for good.
    let huge = request(
        http,
        "POST",
        "/api/v1/clock/advance",
        &json,
        br#"{"by":"500000years"}"#,
    )
    .await;
    assert_eq!(huge.status, 400, "{}", huge.text());
    assert!(huge.json()["error"].as_str().unwrap().contains("at most"));
    assert_eq!(get(http, "/api/v1/clock").await.json()["now"], "300.000s");
    let moved = request(
        http,
        "POST",
        "/api/v1/clock/advance",
        &json,
        br#"{"by":"1s"}"#,
    )
    .await;
    assert_eq!(moved.status, 200, "{}", moved.text());
    assert_eq!(moved.json()["now_ms"], 301_000);
    server.shutdown().await;
}

#[tokio::test]
async fn events_stream_new_messages_and_sessions() {
    let server = TestServer::start().await.unwrap();
    let mut events = open_events(server.http_addr()).await;
    read_events_until(&mut events, "text/event-stream").await;
    send_message(
        server.smtp_addr(),
        "a@x.test",
        &["b@y.test"],
        "Subject: live\r\n\r\nx\r\n",
    )
    .await;
    let seen = read_events_until(&mut events, "event: session").await;
    assert!(seen.contains("event: message"), "{seen}");
    assert!(seen.contains("\"Subject\":\"live\""), "{seen}");
    request(server.http_addr(), "POST", "/api/v1/reset", &[], b"").await;
    read_events_until(&mut events, "event: reset").await;
    server.shutdown().await;
}

#[tokio::test]
async fn metrics_count_connections_messages_replies_and_rule_hits() {
    let server = TestServer::with_scenario_file(common::scenario_file("unknown-user"))
        .await
        .unwrap();
    let smtp = server.smtp_addr();
    send_message(smtp, "a@x.test", &["b@y.test"], "Subject: x\r\n\r\nx\r\n").await;
    send_message(
        smtp,
        "a@x.test",
        &["who@nowhere.example.test"],
        "Subject: x\r\n\r\nx\r\n",
    )
    .await;
    server
        .wait_for_sessions(2, Duration::from_secs(5))
        .await
        .unwrap();
    let m = get(server.http_addr(), "/metrics").await;
    assert_eq!(m.status, 200);
    assert!(
        m.header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = m.text();
    for want in [
        "mailfault_connections_total 2",
        "mailfault_messages_total 1",
        "mailfault_connections_active 0",
        "mailfault_replies_total{code=\"550\"} 1",
        "mailfault_replies_total{code=\"221\"} 1",
        "mailfault_replies_total{code=\"554\"} 1",
        "# TYPE mailfault_rule_hits_total counter",
    ] {
        assert!(text.contains(want), "no `{want}` in:\n{text}");
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("mailfault_rule_hits_total{") && l.ends_with(" 1")),
        "{text}"
    );
    assert!(text.contains("mailfault_message_bytes_total "));
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_endpoints_get_a_json_404() {
    let server = TestServer::start().await.unwrap();
    let r = get(server.http_addr(), "/api/v1/nothing").await;
    assert_eq!(r.status, 404);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("/api/v1/nothing")
    );
    let page = get(server.http_addr(), "/").await;
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text().contains("/app.js"));
    assert_eq!(get(server.http_addr(), "/app.js").await.status, 200);
    assert_eq!(get(server.http_addr(), "/style.css").await.status, 200);
    server.shutdown().await;
}

/// Each scenario names itself in its greeting and its RCPT reply; a session
/// that saw one name in one place and another elsewhere was served mixed.
fn named(name: &str) -> String {
    format!(
        "version: 1\nname: {name}\nserver: {{ greeting: ESMTP {name} }}\nrules:\n  - name: {name}\n    on: rcpt\n    reply: 250 2.1.5 {name}\n"
    )
}

#[tokio::test]
async fn swapping_the_scenario_while_clients_send_drops_and_mixes_nothing() {
    let server = TestServer::with_scenario_str(&named("alpha"))
        .await
        .unwrap();
    let (smtp, http) = (server.smtp_addr(), server.http_addr());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let stop = std::sync::Arc::clone(&stop);
        tokio::spawn(async move {
            let mut swaps = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && swaps < 200 {
                let name = if swaps % 2 == 0 { "beta" } else { "alpha" };
                let r = request(http, "PUT", "/api/v1/scenario", &[], named(name).as_bytes()).await;
                assert_eq!(r.status, 200, "{}", r.text());
                swaps += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            swaps
        })
    };
    let mut clients = Vec::new();
    for c in 0..8 {
        clients.push(tokio::spawn(async move {
            let mut accepted = 0;
            for i in 0..15 {
                let (mut raw, greeting) = Raw::greeted(smtp).await;
                let name = if greeting.contains("alpha") {
                    "alpha"
                } else {
                    "beta"
                };
                raw.cmd("EHLO client.test").await;
                raw.cmd(&format!("MAIL FROM:<c{c}@x.test>")).await;
                let rcpt = raw.cmd(&format!("RCPT TO:<m{i}@y.test>")).await;
                assert_eq!(
                    rcpt.trim_end(),
                    format!("250 2.1.5 {name}"),
                    "greeting: {greeting}"
                );
                raw.cmd("DATA").await;
                raw.send(b"Subject: x\r\n\r\nx\r\n").await;
                let done = raw.cmd(".").await;
                assert!(done.starts_with("250"), "{done}");
                accepted += 1;
                raw.cmd("QUIT").await;
            }
            accepted
        }));
    }
    let mut accepted = 0;
    for c in clients {
        accepted += c.await.unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let swaps = swapper.await.unwrap();
    assert!(swaps > 2, "only {swaps} swaps happened during the run");
    assert_eq!(accepted, 120);
    assert_eq!(
        server.messages().len(),
        120,
        "every 250 is a stored message"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn sessions_in_progress_are_listed_and_announced() {
    let server = TestServer::start().await.unwrap();
    let http = server.http_addr();
    let mut events = open_events(http).await;
    read_events_until(&mut events, "text/event-stream").await;
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    let started = read_events_until(&mut events, "event: session_started").await;
    assert!(started.contains("\"open\":true"), "{started}");

    let list = get(http, "/api/v1/sessions").await.json();
    let open = &list["sessions"][0];
    assert_eq!(
        (open["open"].as_bool(), open["ended_at"].is_null()),
        (Some(true), true),
        "{list}"
    );
    let id = open["id"].as_u64().unwrap();
    let one = get(http, &format!("/api/v1/sessions/{id}")).await.json();
    assert_eq!(one["open"], true);
    assert_eq!(one["transcript"].as_array().unwrap().len(), 0);

    c.cmd("QUIT").await;
    read_events_until(&mut events, "event: session\n").await;
    let done = get(http, &format!("/api/v1/sessions/{id}")).await.json();
    assert_eq!(done["open"], false);
    assert!(done["ended_at"].is_string());
    assert_eq!(
        get(http, "/api/v1/sessions").await.json()["sessions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_scenario_sent_over_http_extends_only_built_in_profiles() {
    let server = TestServer::start().await.unwrap();
    let http = server.http_addr();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret.yaml");
    std::fs::write(&secret, "version: 1\nname: top-secret-content\n").unwrap();
    let missing = dir.path().join("missing.yaml");
    let mut answers = Vec::new();
    for path in [&secret, &missing] {
        let body = format!("version: 1\nextends: {}\n", path.display());
        let put = request(http, "PUT", "/api/v1/scenario", &[], body.as_bytes()).await;
        assert_eq!(put.status, 400, "{}", put.text());
        let text = put.text();
        assert!(!text.contains("top-secret-content"), "{text}");
        assert!(text.contains("built-in profile"), "{text}");
        // The same answer whether the file exists or not.
        answers.push(text.replace(&path.display().to_string(), "PATH"));
    }
    assert_eq!(answers[0], answers[1]);
    let running = get(http, "/api/v1/scenario").await.text();
    assert!(!running.contains("top-secret"), "{running}");
    let profile = request(
        http,
        "PUT",
        "/api/v1/scenario",
        &[],
        b"version: 1\nname: mine\nextends: gmail\n",
    )
    .await;
    assert_eq!(profile.status, 200, "{}", profile.text());
    assert_eq!(profile.json()["name"], "mine");
    server.shutdown().await;
}

#[tokio::test]
async fn the_scenario_is_shown_with_its_passwords_masked() {
    let yaml = "version: 1\nname: with users\nserver:\n  auth:\n    users:\n      - username: app\n        password: hunter2 # the CI secret\n";
    let server = TestServer::with_scenario_str(yaml).await.unwrap();
    let shown = get(server.http_addr(), "/api/v1/scenario").await;
    assert_eq!(shown.status, 200);
    let text = shown.text();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(
        text.contains("password: \"****\" # the CI secret"),
        "{text}"
    );
    assert!(text.contains("username: app"), "{text}");
    server.shutdown().await;
}
