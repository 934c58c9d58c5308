//! Browser safety over real HTTP: a page on another origin cannot change
//! the server, a foreign Host (DNS rebinding) is refused, and clients that
//! are not browsers (no Origin header) keep working.

use crate::common;

use std::time::Duration;

use common::http::{get, request};
use common::send_message;
use mailfault::TestServer;

async fn server_with_one_message() -> TestServer {
    let server = TestServer::start().await.unwrap();
    send_message(
        server.smtp_addr(),
        "a@x.test",
        &["b@y.test"],
        "Subject: kept\r\n\r\nx\r\n",
    )
    .await;
    server
        .wait_for_messages(1, Duration::from_secs(5))
        .await
        .unwrap();
    server
}

#[tokio::test]
async fn a_cross_origin_post_is_refused_and_resets_nothing() {
    let server = server_with_one_message().await;
    let http = server.http_addr();
    for (method, path) in [
        ("POST", "/api/v1/reset"),
        ("DELETE", "/api/v1/messages"),
        ("PUT", "/api/v1/scenario"),
    ] {
        let refused = request(
            http,
            method,
            path,
            &[
                ("Origin", "http://evil.test"),
                ("Content-Type", "text/plain"),
            ],
            b"version: 1\n",
        )
        .await;
        assert_eq!(refused.status, 403, "{method} {path}: {}", refused.text());
        let error = refused.json()["error"].as_str().unwrap().to_owned();
        assert!(error.contains("--http-cors http://evil.test"), "{error}");
        assert_eq!(refused.header("access-control-allow-origin"), None);
    }
    let null = request(http, "POST", "/api/v1/reset", &[("Origin", "null")], b"").await;
    assert_eq!(null.status, 403);
    assert_eq!(
        server.messages().len(),
        1,
        "a refused request changed nothing"
    );
    // Reading is not a state change; without CORS headers the browser
    // keeps the answer from the foreign page.
    let read = request(
        http,
        "GET",
        "/api/v1/messages",
        &[("Origin", "http://evil.test")],
        b"",
    )
    .await;
    assert_eq!(read.status, 200);
    assert_eq!(read.header("access-control-allow-origin"), None);
    server.shutdown().await;
}

#[tokio::test]
async fn same_origin_and_originless_requests_are_accepted() {
    let server = server_with_one_message().await;
    let http = server.http_addr();
    let own = format!("http://{http}");
    let same = request(http, "POST", "/api/v1/reset", &[("Origin", &own)], b"").await;
    assert_eq!(same.status, 200, "{}", same.text());
    assert_eq!(server.messages().len(), 0);
    let port = http.port();
    let localhost = format!("localhost:{port}");
    let page = format!("http://localhost:{port}");
    let by_name = request(
        http,
        "DELETE",
        "/api/v1/messages",
        &[("Host", &localhost), ("Origin", &page)],
        b"",
    )
    .await;
    assert_eq!(by_name.status, 200, "{}", by_name.text());
    let plain = request(http, "POST", "/api/v1/reset", &[], b"").await;
    assert_eq!(plain.status, 200, "{}", plain.text());
    server.shutdown().await;
}

#[tokio::test]
async fn a_foreign_host_is_refused_and_loopback_names_are_accepted() {
    let server = server_with_one_message().await;
    let http = server.http_addr();
    let port = http.port();
    let rebound = format!("evil.test:{port}");
    for (method, path) in [("GET", "/api/v1/messages"), ("POST", "/api/v1/reset")] {
        let refused = request(http, method, path, &[("Host", &rebound)], b"").await;
        assert_eq!(refused.status, 421, "{}", refused.text());
        let error = refused.json()["error"].as_str().unwrap().to_owned();
        assert!(error.contains("--http-allow-host evil.test"), "{error}");
    }
    assert_eq!(server.messages().len(), 1);
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
    ] {
        let ok = request(http, "GET", "/api/v1/messages", &[("Host", &host)], b"").await;
        assert_eq!(ok.status, 200, "{host}: {}", ok.text());
    }
    assert_eq!(get(http, "/livez").await.status, 200);
    server.shutdown().await;
}

/// A client dripping a request head (slowloris) is cut at the header
/// timeout instead of holding its connection for ever.
#[tokio::test]
async fn a_request_head_that_never_ends_is_cut_at_the_header_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start().await.unwrap();
    let mut slow = tokio::net::TcpStream::connect(server.http_addr())
        .await
        .unwrap();
    slow.write_all(b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 256];
    // Keep dripping: per-read timeouts would never fire.
    let closed = tokio::time::timeout(Duration::from_secs(40), async {
        loop {
            tokio::select! {
                n = slow.read(&mut buf) => break n.map_or(0, |n| n),
                () = tokio::time::sleep(Duration::from_secs(1)) => {
                    if slow.write_all(b"a").await.is_err() {
                        break 0;
                    }
                }
            }
        }
    })
    .await
    .expect("the server kept a dripping request head past 40 s");
    let waited = started.elapsed();
    assert_eq!(closed, 0, "expected a close, got a response");
    assert!(
        (Duration::from_secs(14)..Duration::from_secs(30)).contains(&waited),
        "{waited:?}"
    );
    // A whole request on a new connection is still answered.
    assert_eq!(get(server.http_addr(), "/livez").await.status, 200);
    server.shutdown().await;
}

/// HTTP connections are capped: past the cap new ones wait in the backlog,
/// SMTP keeps its descriptors and answers, and a freed slot serves the next.
#[tokio::test]
async fn http_connections_are_capped_and_smtp_still_answers() {
    let server = TestServer::start().await.unwrap();
    let mut idle = Vec::new();
    for _ in 0..512 {
        idle.push(
            tokio::net::TcpStream::connect(server.http_addr())
                .await
                .unwrap(),
        );
    }
    // Give the server time to accept all 512.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waiting = tokio::spawn(common::http::request_within(
        server.http_addr(),
        "GET",
        "/livez",
        &[],
        b"",
        Duration::from_secs(10),
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "the 513th connection was served");
    let (_c, greeting) = common::Raw::greeted(server.smtp_addr()).await;
    assert!(greeting.starts_with("220"), "{greeting}");
    idle.truncate(500);
    let served = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("a freed slot did not serve the waiting request")
        .unwrap();
    assert_eq!(served.status, 200);
    drop(idle);
    server.shutdown().await;
}

/// Whoever can reach the API must not make the server connect elsewhere on
/// its network: a PUT's `deliver_to` may name only this machine.
#[tokio::test]
async fn a_put_scenario_cannot_send_reports_off_this_machine() {
    let server = TestServer::start().await.unwrap();
    let yaml = |to: &str| {
        format!(
            "version: 1\nserver:\n  reports: {{ deliver_to: \"smtp://{to}\" }}\nrules:\n  - on: rcpt\n    bounce: {{ after: 1m, status: 5.1.1 }}\n"
        )
    };
    let refused = request(
        server.http_addr(),
        "PUT",
        "/api/v1/scenario",
        &[],
        yaml("192.0.2.1:25").as_bytes(),
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert!(
        refused.text().contains("may only name this machine"),
        "{}",
        refused.text()
    );
    for local in ["127.0.0.1:2526", "localhost:2526", "[::1]:2526"] {
        let ok = request(
            server.http_addr(),
            "PUT",
            "/api/v1/scenario",
            &[],
            yaml(local).as_bytes(),
        )
        .await;
        assert_eq!(ok.status, 200, "{local}: {}", ok.text());
    }
    server.shutdown().await;
}
