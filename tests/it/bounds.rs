//! Time bounds a slow client cannot stretch: a command line must arrive
//! whole within the command time-out, message content must keep a minimum
//! rate, however steadily the bytes drip in.

use crate::common;

use std::time::{Duration, Instant};

use common::Raw;
use mailfault::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Writes one byte every `every` until the server closes; returns what it
/// answered and how long after the start the connection closed.
async fn drip_until_closed(c: &mut Raw, bytes: &[u8], every: Duration) -> (String, Duration) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut chunk = [0u8; 1024];
    let mut next = bytes.iter().cycle();
    let fut = async {
        loop {
            if let Some(b) = next.next() {
                // The server may already have closed; the read says so.
                let _ = c.stream.write_all(&[*b]).await;
            }
            match tokio::time::timeout(every, c.stream.read(&mut chunk)).await {
                Err(_) => {}
                Ok(Ok(0) | Err(_)) => break,
                Ok(Ok(n)) => got.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .expect("the server never closed the dripping connection");
    (String::from_utf8_lossy(&got).into_owned(), start.elapsed())
}

#[tokio::test]
async fn a_command_line_dripping_in_is_cut_at_the_command_timeout() {
    let yaml = "version: 1\nserver:\n  limits: { command_timeout: 1s }\n";
    let server = TestServer::with_scenario_str(yaml).await.unwrap();
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    // A byte every 200 ms: each read is well inside the time-out, but the
    // line never ends.
    let (said, took) =
        drip_until_closed(&mut c, b"EHLO slow.example", Duration::from_millis(200)).await;
    assert_eq!(said, "421 4.4.2 Timeout exceeded, closing connection\r\n");
    assert!(
        took < Duration::from_millis(2500),
        "421 after {took:?}, command_timeout is 1s"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_line_deadline_starts_again_after_each_reply() {
    let yaml = "version: 1\nserver:\n  limits: { command_timeout: 1s }\n";
    let server = TestServer::with_scenario_str(yaml).await.unwrap();
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    // Three commands, each sent in two halves 600 ms apart: 1.8 s in all,
    // but every line is whole within its own second.
    for line in ["EHLO a.example\r\n", "NOOP\r\n", "NOOP\r\n"] {
        let (head, tail) = line.split_at(3);
        c.send(head.as_bytes()).await;
        tokio::time::sleep(Duration::from_millis(600)).await;
        c.send(tail.as_bytes()).await;
        assert!(c.reply().await.starts_with("250"));
    }
    server.shutdown().await;
}

#[tokio::test]
async fn message_content_dripping_in_is_cut_by_the_minimum_rate() {
    let yaml = "version: 1\nserver:\n  limits: { command_timeout: 10s, data_timeout: 1s }\n";
    let server = TestServer::with_scenario_str(yaml).await.unwrap();
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    c.cmd("EHLO slow.example").await;
    c.cmd("MAIL FROM:<a@example.test>").await;
    c.cmd("RCPT TO:<b@example.test>").await;
    assert!(c.cmd("DATA").await.starts_with("354"));
    let (said, took) = drip_until_closed(&mut c, b"x", Duration::from_millis(200)).await;
    assert_eq!(said, "421 4.4.2 Timeout exceeded, closing connection\r\n");
    assert!(
        took < Duration::from_millis(2500),
        "421 after {took:?}, data_timeout is 1s and almost nothing came"
    );
    assert!(server.messages().is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn under_connection_pressure_the_longest_idle_session_is_closed_first() {
    let yaml = "version: 1\nserver:\n  limits: { max_connections: 2 }\n";
    let server = TestServer::with_scenario_str(yaml).await.unwrap();
    let addr = server.smtp_addr();
    let (mut oldest, _) = Raw::greeted(addr).await;
    oldest.cmd("EHLO oldest.example").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (mut newer, _) = Raw::greeted(addr).await;
    newer.cmd("EHLO newer.example").await;
    // Both idle past the grace: the newcomer takes the oldest one's slot.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (mut newcomer, greeting) = Raw::greeted(addr).await;
    assert!(greeting.starts_with("220 "), "{greeting}");
    assert_eq!(
        oldest.until_closed().await,
        "421 4.4.2 Idle too long under load, closing connection\r\n"
    );
    assert!(newer.cmd("NOOP").await.starts_with("250"));
    assert!(
        newcomer
            .cmd("EHLO newcomer.example")
            .await
            .starts_with("250")
    );
    // Nobody idle past the grace now: the next newcomer is refused.
    let mut refused = Raw::connect(addr).await;
    assert_eq!(
        refused.until_closed().await,
        "421 4.7.0 Too many connections, try again later\r\n"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_session_inside_data_is_not_closed_for_a_newcomer() {
    let yaml = "version: 1\nserver:\n  limits: { max_connections: 1 }\n";
    let server = TestServer::with_scenario_str(yaml).await.unwrap();
    let addr = server.smtp_addr();
    let (mut busy, _) = Raw::greeted(addr).await;
    busy.cmd("EHLO busy.example").await;
    busy.cmd("MAIL FROM:<a@example.test>").await;
    busy.cmd("RCPT TO:<b@example.test>").await;
    assert!(busy.cmd("DATA").await.starts_with("354"));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut refused = Raw::connect(addr).await;
    assert_eq!(
        refused.until_closed().await,
        "421 4.7.0 Too many connections, try again later\r\n"
    );
    busy.send(b"Subject: x\r\n\r\ny\r\n").await;
    assert!(busy.cmd(".").await.starts_with("250"));
    server.shutdown().await;
}
