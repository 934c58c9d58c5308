//! The Mailpit and MailHog endpoints over real HTTP, checked against the
//! shapes their published APIs document: field names, types (IDs are
//! strings), paging, search syntax, deletes, read status, chaos, health.

use crate::common;

use common::http::{get, request};
use common::{Raw, send_message};
use mailfault::TestServer;

const MIME: &str = "From: Ann <ann@example.test>\r\nTo: bob@example.test\r\nCc: Carl <carl@example.test>\r\nReply-To: help@example.test\r\nMessage-ID: <m1@example.test>\r\nList-Unsubscribe: <mailto:unsub@example.test>\r\nSubject: =?utf-8?q?Caf=C3=A9_report?=\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n--b2\r\nContent-Type: text/plain\r\n\r\nHello in text\r\n--b2\r\nContent-Type: text/html\r\n\r\n<p>Hello in <b>HTML</b></p>\r\n--b2--\r\n--b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n";

const PLAIN: &str = "From: carl@example.test\r\nTo: dora@example.test\r\nSubject: second note\r\n\r\nplain body words\r\n";

/// A server holding the two messages above: MIME (ID 1, to bob plus a
/// blind copy to zed) and PLAIN (ID 2).
async fn two_messages() -> TestServer {
    let server = TestServer::start().await.unwrap();
    let smtp = server.smtp_addr();
    let first = send_message(
        smtp,
        "ann@example.test",
        &["bob@example.test", "zed@example.test"],
        MIME,
    )
    .await;
    assert!(first.starts_with("250"), "{first}");
    let second = send_message(smtp, "carl@example.test", &["dora@example.test"], PLAIN).await;
    assert!(second.starts_with("250"), "{second}");
    server
}

fn ids(page: &serde_json::Value) -> Vec<String> {
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["ID"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn mailpit_list_has_mailpits_fields_and_pages() {
    let server = two_messages().await;
    let http = server.http_addr();
    let list = get(http, "/api/v1/messages").await;
    assert_eq!(list.status, 200);
    let list = list.json();
    for key in [
        "total",
        "unread",
        "count",
        "messages_count",
        "messages_unread",
        "start",
        "tags",
    ] {
        assert!(!list[key].is_null(), "no {key}: {list}");
    }
    assert_eq!(
        (list["total"].as_u64(), list["unread"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(ids(&list), ["2", "1"], "newest first, IDs are strings");
    let m = &list["messages"][1];
    assert_eq!(
        m["From"],
        serde_json::json!({"Name": "Ann", "Address": "ann@example.test"})
    );
    assert_eq!(m["To"][0]["Address"], "bob@example.test");
    assert_eq!(m["Cc"][0]["Name"], "Carl");
    assert_eq!(
        m["Bcc"][0]["Address"], "zed@example.test",
        "envelope-only recipient"
    );
    assert_eq!(m["ReplyTo"][0]["Address"], "help@example.test");
    assert_eq!(m["Subject"], "Café report");
    assert_eq!(m["MessageID"], "m1@example.test");
    assert_eq!(m["Read"], false);
    assert_eq!(m["Attachments"], 1);
    assert_eq!(m["Snippet"], "Hello in text");
    assert!(m["Size"].as_u64().unwrap() > MIME.len() as u64);
    assert!(m["Created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(m["Tags"], serde_json::json!([]));
    assert_eq!(
        m["Envelope"]["From"], "ann@example.test",
        "mailfault's extra"
    );
    let paged = get(http, "/api/v1/messages?start=1&limit=1").await.json();
    assert_eq!(ids(&paged), ["1"]);
    assert_eq!(
        (paged["start"].as_u64(), paged["count"].as_u64()),
        (Some(1), Some(1))
    );
    let bad = get(http, "/api/v1/messages?limit=lots").await;
    assert_eq!(bad.status, 400);
    let old_filter = get(http, "/api/v1/messages?to=bob").await;
    assert_eq!(old_filter.status, 400);
    assert!(
        old_filter.json()["error"]
            .as_str()
            .unwrap()
            .contains("/api/v1/search?query=to:bob")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn mailpit_message_headers_raw_and_parts() {
    let server = two_messages().await;
    let http = server.http_addr();
    let one = get(http, "/api/v1/message/1").await;
    assert_eq!(one.status, 200);
    let one = one.json();
    assert_eq!(one["ID"], "1");
    assert_eq!(one["ReturnPath"], "ann@example.test");
    assert_eq!(one["Text"].as_str().unwrap().trim(), "Hello in text");
    assert!(one["HTML"].as_str().unwrap().contains("<b>HTML</b>"));
    assert_eq!(one["Inline"], serde_json::json!([]));
    let att = &one["Attachments"][0];
    assert_eq!(
        (
            att["FileName"].as_str(),
            att["ContentType"].as_str(),
            att["Size"].as_u64()
        ),
        (Some("report.pdf"), Some("application/pdf"), Some(9))
    );
    assert_eq!(
        one["ListUnsubscribe"]["Links"][0],
        "mailto:unsub@example.test"
    );
    assert_eq!(one["SessionID"], server.sessions()[0].id);
    assert!(one["Date"].is_string());
    assert_eq!(get(http, "/api/v1/message/latest").await.json()["ID"], "2");
    assert_eq!(
        get(http, "/api/v1/messages/1").await.json()["ID"],
        "1",
        "mailfault's earlier path, the same shape"
    );

    let headers = get(http, "/api/v1/message/1/headers").await.json();
    assert_eq!(headers["Message-Id"][0], "<m1@example.test>");
    assert!(
        headers["Received"][0]
            .as_str()
            .unwrap()
            .starts_with("from client.test")
    );

    let raw = get(http, "/api/v1/message/1/raw").await;
    assert!(
        raw.header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(raw.text().starts_with("Received: from client.test"));
    assert!(raw.text().ends_with(MIME));
    assert_eq!(get(http, "/api/v1/messages/1/raw").await.text(), raw.text());

    let part_id = att["PartID"].as_str().unwrap();
    let part = get(http, &format!("/api/v1/message/1/part/{part_id}")).await;
    assert_eq!(part.status, 200);
    assert_eq!(part.header("content-type"), Some("application/pdf"));
    assert_eq!(part.body, b"%PDF-1.4\n");
    assert_eq!(get(http, "/api/v1/message/1/part/99").await.status, 404);
    assert_eq!(get(http, "/api/v1/message/999").await.status, 404);
    let bad = get(http, "/api/v1/message/abc").await;
    assert_eq!(bad.status, 400);
    assert!(bad.json()["error"].as_str().unwrap().contains("latest"));
    server.shutdown().await;
}

async fn search(server: &TestServer, q: &str) -> Vec<String> {
    let q: String = q
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b':' | b'@' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let r = get(server.http_addr(), &format!("/api/v1/search?query={q}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    ids(&r.json())
}

#[tokio::test]
async fn mailpit_search_syntax() {
    let server = two_messages().await;
    assert_eq!(search(&server, "from:ann").await, ["1"]);
    assert_eq!(search(&server, "to:dora@").await, ["2"]);
    assert_eq!(search(&server, "cc:carl").await, ["1"]);
    assert_eq!(search(&server, "subject:café").await, ["1"]);
    assert_eq!(search(&server, "message-id:<m1@example.test>").await, ["1"]);
    assert_eq!(search(&server, "has:attachment").await, ["1"]);
    assert_eq!(search(&server, "-has:attachment").await, ["2"]);
    assert_eq!(search(&server, "\"body words\"").await, ["2"]);
    assert_eq!(search(&server, "subject:\"second note\"").await, ["2"]);
    assert_eq!(search(&server, "hello").await, ["1"], "text body");
    assert_eq!(
        search(&server, "after:2000-01-01 before:2999-01-01").await,
        ["2", "1"]
    );
    assert!(search(&server, "before:2000-01-01").await.is_empty());
    assert_eq!(search(&server, "is:unread").await, ["2", "1"]);
    get(server.http_addr(), "/api/v1/message/2").await;
    assert_eq!(
        search(&server, "is:read").await,
        ["2"],
        "opening marks read"
    );
    let bad = get(server.http_addr(), "/api/v1/search?query=is:starred").await;
    assert_eq!(bad.status, 400);
    let page = get(server.http_addr(), "/api/v1/search?query=example.test")
        .await
        .json();
    assert_eq!(
        (page["messages_count"].as_u64(), page["total"].as_u64()),
        (Some(2), Some(2))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn mailpit_read_status_and_deletes() {
    let server = two_messages().await;
    let http = server.http_addr();
    let put = request(
        http,
        "PUT",
        "/api/v1/messages",
        &[],
        br#"{"IDs": ["1"], "Read": true}"#,
    )
    .await;
    assert_eq!((put.status, put.text().as_str()), (200, "ok"));
    assert_eq!(get(http, "/api/v1/messages").await.json()["unread"], 1);
    request(http, "PUT", "/api/v1/messages", &[], br#"{"Read": true}"#).await;
    assert_eq!(get(http, "/api/v1/messages").await.json()["unread"], 0);
    request(
        http,
        "PUT",
        "/api/v1/messages",
        &[],
        br#"{"Search": "from:ann", "Read": false}"#,
    )
    .await;
    assert_eq!(search(&server, "is:unread").await, ["1"]);
    let bad = request(http, "PUT", "/api/v1/messages", &[], br#"{"IDs": ["x"]}"#).await;
    assert_eq!(bad.status, 400);

    let del = request(
        http,
        "DELETE",
        "/api/v1/messages",
        &[],
        br#"{"IDs": ["2"]}"#,
    )
    .await;
    assert_eq!((del.status, del.text().as_str()), (200, "ok"));
    assert_eq!(ids(&get(http, "/api/v1/messages").await.json()), ["1"]);
    let by_search = request(http, "DELETE", "/api/v1/search?query=from:ann", &[], b"").await;
    assert_eq!(by_search.status, 200);
    assert_eq!(get(http, "/api/v1/messages").await.json()["total"], 0);
    send_message(server.smtp_addr(), "a@x.test", &["b@y.test"], PLAIN).await;
    request(http, "DELETE", "/api/v1/messages", &[], b"").await;
    assert_eq!(
        get(http, "/api/v1/messages").await.json()["total"],
        0,
        "no body: all"
    );
    let info = get(http, "/api/v1/info").await.json();
    assert_eq!(info["RuntimeStats"]["MessagesDeleted"], 3);
    server.shutdown().await;
}

#[tokio::test]
async fn mailpit_info_webui_and_tags() {
    let server = two_messages().await;
    let http = server.http_addr();
    let info = get(http, "/api/v1/info").await.json();
    assert!(info["Version"].as_str().unwrap().starts_with("mailfault"));
    assert_eq!(
        (info["Messages"].as_u64(), info["Unread"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(info["RuntimeStats"]["SMTPAccepted"], 2);
    assert!(info["RuntimeStats"]["Uptime"].is_u64());
    let webui = get(http, "/api/v1/webui").await.json();
    assert_eq!(webui["ChaosEnabled"], true);
    assert_eq!(webui["MessageRelay"]["Enabled"], false);
    assert_eq!(
        get(http, "/api/v1/tags").await.json(),
        serde_json::json!([])
    );
    server.shutdown().await;
}

#[tokio::test]
async fn mailpit_chaos_triggers_become_scenario_rules() {
    let server = TestServer::start().await.unwrap();
    let http = server.http_addr();
    let none = get(http, "/api/v1/chaos").await.json();
    assert_eq!(
        none["Sender"],
        serde_json::json!({"ErrorCode": 451, "Probability": 0})
    );
    let set = request(
        http,
        "PUT",
        "/api/v1/chaos",
        &[("Content-Type", "application/json")],
        br#"{"Recipient": {"ErrorCode": 552, "Probability": 100}}"#,
    )
    .await;
    assert_eq!(set.status, 200, "{}", set.text());
    assert_eq!(set.json()["Recipient"]["ErrorCode"], 552);
    assert_eq!(
        get(http, "/api/v1/chaos").await.json()["Recipient"]["Probability"],
        100
    );
    let yaml = get(http, "/api/v1/scenario").await.text();
    assert!(yaml.contains("mailpit chaos: Recipient"), "{yaml}");

    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    c.cmd("EHLO client.test").await;
    c.cmd("MAIL FROM:<a@x.test>").await;
    let rcpt = c.cmd("RCPT TO:<b@y.test>").await;
    assert!(rcpt.starts_with("552 5.0.0 Chaos"), "{rcpt}");
    c.cmd("QUIT").await;

    let bad = request(
        http,
        "PUT",
        "/api/v1/chaos",
        &[],
        br#"{"Sender": {"ErrorCode": 250, "Probability": 1}}"#,
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(bad.json()["error"].as_str().unwrap().contains("400 to 599"));
    let cleared = request(http, "PUT", "/api/v1/chaos", &[], b"{}")
        .await
        .json();
    assert_eq!(cleared["Recipient"]["Probability"], 0);
    assert!(
        !get(http, "/api/v1/scenario")
            .await
            .text()
            .contains("mailpit chaos")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn mailhog_v2_messages_and_search_have_mailhogs_shape() {
    let server = two_messages().await;
    let http = server.http_addr();
    let page = get(http, "/api/v2/messages?start=0&limit=10").await;
    assert_eq!(page.status, 200);
    let page = page.json();
    assert_eq!(
        (
            page["total"].as_u64(),
            page["count"].as_u64(),
            page["start"].as_u64()
        ),
        (Some(2), Some(2), Some(0))
    );
    let m = &page["items"][1];
    assert_eq!(m["ID"], "1");
    assert_eq!(
        m["From"],
        serde_json::json!({"Relays": null, "Mailbox": "ann", "Domain": "example.test", "Params": ""})
    );
    assert_eq!(m["To"][1]["Mailbox"], "zed");
    assert_eq!(
        m["Content"]["Headers"]["Subject"][0],
        "=?utf-8?q?Caf=C3=A9_report?="
    );
    assert!(m["Content"]["Body"].as_str().unwrap().starts_with("--b1"));
    assert!(m["Content"]["Size"].as_u64().unwrap() > 0);
    assert_eq!(m["MIME"]["Parts"].as_array().unwrap().len(), 2);
    assert_eq!(
        m["MIME"]["Parts"][1]["Headers"]["Content-Type"][0],
        "application/pdf"
    );
    assert_eq!(m["Raw"]["From"], "ann@example.test");
    assert_eq!(m["Raw"]["Helo"], "client.test");
    assert!(m["Raw"]["Data"].as_str().unwrap().ends_with(MIME));
    assert!(m["Created"].is_string());
    assert!(page["items"][0]["MIME"].is_null(), "single part");
    let limited = get(http, "/api/v2/messages?limit=1").await.json();
    assert_eq!(
        (limited["total"].as_u64(), limited["count"].as_u64()),
        (Some(2), Some(1))
    );

    let from = get(http, "/api/v2/search?kind=from&query=carl")
        .await
        .json();
    assert_eq!(
        (from["total"].as_u64(), from["items"][0]["ID"].as_str()),
        (Some(1), Some("2"))
    );
    let to = get(http, "/api/v2/search?kind=to&query=ZED@").await.json();
    assert_eq!(to["items"][0]["ID"], "1");
    let containing = get(http, "/api/v2/search?kind=containing&query=body%20words")
        .await
        .json();
    assert_eq!(containing["items"][0]["ID"], "2");
    assert_eq!(
        get(http, "/api/v2/search?kind=subject&query=x")
            .await
            .status,
        400
    );

    assert_eq!(
        request(http, "DELETE", "/api/v1/messages/1", &[], b"")
            .await
            .status,
        200
    );
    assert_eq!(get(http, "/api/v2/messages").await.json()["total"], 1);
    assert_eq!(
        request(http, "DELETE", "/api/v1/messages/1", &[], b"")
            .await
            .status,
        404
    );
    assert_eq!(
        request(http, "DELETE", "/api/v1/messages", &[], b"")
            .await
            .status,
        200
    );
    assert_eq!(get(http, "/api/v2/messages").await.json()["total"], 0);
    server.shutdown().await;
}

#[tokio::test]
async fn livez_and_readyz_answer_and_healthcheck_agrees() {
    let server = TestServer::start().await.unwrap();
    let http = server.http_addr();
    assert_eq!(get(http, "/livez").await.status, 200);
    let ready = get(http, "/readyz").await;
    assert_eq!((ready.status, ready.text().trim()), (200, "ready"));
    let url = format!("http://{http}");
    let code = tokio::task::spawn_blocking(move || mailfault::commands::healthcheck::run(&url))
        .await
        .unwrap();
    assert_eq!(code, 0);
    server.shutdown().await;
}
