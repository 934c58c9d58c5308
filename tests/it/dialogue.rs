//! Raw SMTP conversations over real sockets: byte-exact replies, and every
//! kind of hostile input the server must survive while serving others.

use crate::common;

use std::time::Duration;

use common::{Raw, send_message};
use mailfault::TestServer;
use mailfault::store::Direction;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn greeting_ehlo_and_a_message_byte_for_byte() {
    let server = TestServer::start().await.unwrap();
    let (mut c, greeting) = Raw::greeted(server.smtp_addr()).await;
    assert_eq!(greeting, "220 mailfault.test ESMTP mailfault\r\n");
    assert_eq!(
        c.cmd("EHLO client.test").await,
        "250-mailfault.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-SIZE 26214400\r\n250-ENHANCEDSTATUSCODES\r\n250-CHUNKING\r\n250 DSN\r\n"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<app@example.test>").await,
        "250 2.1.0 Sender ok\r\n"
    );
    assert_eq!(
        c.cmd("RCPT TO:<user@example.test>").await,
        "250 2.1.5 Recipient ok\r\n"
    );
    assert_eq!(
        c.cmd("DATA").await,
        "354 End data with <CR><LF>.<CR><LF>\r\n"
    );
    c.send(b"Subject: hello\r\n\r\n..leading dot\r\n").await;
    assert_eq!(c.cmd(".").await, "250 2.0.0 Ok: queued as 1\r\n");
    assert_eq!(c.cmd("QUIT").await, "221 2.0.0 Bye\r\n");
    assert_eq!(c.until_closed().await, "");

    let msgs = server.wait_for_messages(1, WAIT).await.unwrap();
    let m = &msgs[0];
    assert_eq!(m.content, b"Subject: hello\r\n\r\n.leading dot\r\n");
    assert!(m.received_header.starts_with("Received: from client.test ([127.0.0.1])\r\n\tby mailfault.test (mailfault) with ESMTP id 1\r\n\tfor <user@example.test>;"));
    assert!(m.raw().starts_with(b"Received: "));
    assert_eq!(m.header("subject").as_deref(), Some("hello"));

    let sessions = server.wait_for_sessions(1, WAIT).await.unwrap();
    let t = sessions[0].transcript();
    assert!(
        t.starts_with(
            "S: 220 mailfault.test ESMTP mailfault\nC: EHLO client.test\nS: 250-mailfault.test\n"
        ),
        "{t}"
    );
    assert!(t.contains("C: DATA\nS: 354 End data with <CR><LF>.<CR><LF>\n-- message content: 32 bytes\nS: 250 2.0.0 Ok: queued as 1\nC: QUIT\nS: 221 2.0.0 Bye\n"), "{t}");
    assert_eq!(sessions[0].messages, [1]);
    server.shutdown().await;
}

#[tokio::test]
async fn pipelined_batch_gets_replies_in_order() {
    let server = TestServer::start().await.unwrap();
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    c.send(
        b"EHLO p\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@x.test>\r\nRCPT TO:<c@x.test>\r\nDATA\r\n",
    )
    .await;
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(c.reply().await);
    }
    assert!(got[0].starts_with("250-mailfault.test"));
    assert_eq!(
        &got[1..],
        [
            "250 2.1.0 Sender ok\r\n",
            "250 2.1.5 Recipient ok\r\n",
            "250 2.1.5 Recipient ok\r\n",
            "354 End data with <CR><LF>.<CR><LF>\r\n"
        ]
    );
    c.send(b"x\r\n.\r\nRSET\r\nQUIT\r\n").await;
    assert_eq!(
        c.until_closed().await,
        "250 2.0.0 Ok: queued as 1\r\n250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn liberal_syntax_is_accepted_and_recorded() {
    let server = TestServer::start().await.unwrap();
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    c.cmd("ehlo c").await;
    assert_eq!(
        c.cmd("mail from: <a@b.test>").await,
        "250 2.1.0 Sender ok\r\n"
    );
    c.cmd("QUIT").await;
    let sessions = server.wait_for_sessions(1, WAIT).await.unwrap();
    let notes: Vec<String> = sessions[0]
        .lines()
        .into_iter()
        .filter(|l| l.direction == Direction::Note)
        .map(|l| l.text)
        .collect();
    assert!(
        notes.iter().any(|n| n.starts_with("tolerated:")),
        "{notes:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn hostile_command_lines_get_the_right_codes() {
    let server = TestServer::start().await.unwrap();
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    let long = format!("NOOP {}", "x".repeat(5000));
    assert_eq!(c.cmd(&long).await, "500 5.5.2 Line too long\r\n");
    assert_eq!(
        c.cmd("NOOP").await,
        "250 2.0.0 Ok\r\n",
        "recovers after a long line"
    );
    c.send(b"HE\x00LO x\r\n").await;
    assert!(c.reply().await.starts_with("50"));
    c.send(b"EHLO \xff\xfe\r\n").await;
    assert!(c.reply().await.starts_with("501 5.5.4"));
    c.send(b"NOOP\n").await;
    assert_eq!(
        c.reply().await,
        "500 5.5.2 Bare LF received; SMTP lines must end with CRLF\r\n"
    );
    c.send(b"NO\rOP\r\n").await;
    assert!(c.reply().await.starts_with("500 5.5.2"));
    assert!(
        c.cmd("MAIL FROM:<a@b>").await.starts_with("503 5.5.1"),
        "no EHLO was accepted yet"
    );
    assert_eq!(
        c.cmd("EHLO x").await.lines().next(),
        Some("250-mailfault.test")
    );
    assert!(
        c.cmd("MAIL FROM:<a@b> SIZE=abc")
            .await
            .starts_with("501 5.5.4")
    );
    assert_eq!(
        c.cmd("MAIL FROM:<a@b> FOO=BAR").await,
        "555 5.5.4 Unsupported option: FOO\r\n"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<a@b> SIZE=999999999999").await,
        "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
    );
    assert_eq!(c.cmd("NOOP").await, "250 2.0.0 Ok\r\n");
    server.shutdown().await;
}

#[tokio::test]
async fn syntax_errors_get_the_codes_postfix_and_the_rfcs_give() {
    let server = TestServer::start().await.unwrap();
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    c.cmd("EHLO c").await;
    assert_eq!(
        c.cmd("MAIL FROM:<a@b.test> BODY=BINARYMIME").await,
        "555 5.5.4 Unsupported option: BODY=BINARYMIME\r\n"
    );
    assert_eq!(
        c.cmd("MAIL FROM:").await,
        "501 5.1.7 MAIL requires a reverse-path (<> for the null sender)\r\n"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<a\x01@b.test>").await,
        "501 5.1.7 control character in address\r\n"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<a@b.test> SIZE=99999999999999999999")
            .await,
        "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<a@b.test> ENVID=x+2f").await,
        "501 5.5.4 ENVID must be xtext (RFC 3461 §4)\r\n"
    );
    assert_eq!(
        c.cmd("MAIL FROM:<a@b.test>").await,
        "250 2.1.0 Sender ok\r\n"
    );
    assert_eq!(
        c.cmd("RCPT TO:<b@[300.1.1.1]>").await,
        "501 5.1.3 bad address literal\r\n"
    );
    assert_eq!(
        c.cmd("RCPT TO:<a@-example.net>").await,
        "501 5.1.3 bad domain in address\r\n"
    );
    assert_eq!(
        c.cmd("RCPT TO:<a,b@example.net>").await,
        "501 5.1.3 bad local part\r\n"
    );
    assert_eq!(
        c.cmd("RCPT TO:<c@d.test> SIZE=1").await,
        "555 5.5.4 Unsupported option: SIZE\r\n"
    );
    assert_eq!(
        c.cmd("RCPT TO:<c@d.test> NOTIFY=SUCCESS,,FAILURE ORCPT=rfc822;")
            .await,
        "250 2.1.5 Recipient ok\r\n"
    );
    assert_eq!(
        c.cmd("RCPT TO:<Postmaster>").await,
        "250 2.1.5 Recipient ok\r\n"
    );
    // The chunk of a bad BDAT line is read and dropped, never run.
    c.send(b"BDAT 10 LAST extra\r\nQUIT\r\nQUIT").await;
    assert_eq!(
        c.reply().await,
        "501 5.5.4 BDAT takes only a size and LAST\r\n"
    );
    assert_eq!(c.cmd("NOOP").await, "250 2.0.0 Ok\r\n");
    c.send(b"BDAT 5 LAST\r\nhello").await;
    assert_eq!(c.reply().await, "250 2.0.0 Ok: queued as 1\r\n");
    assert_eq!(
        c.cmd("DATA\t").await,
        "503 5.5.1 Need MAIL command first\r\n"
    );
    assert_eq!(c.cmd("QUIT\t").await, "221 2.0.0 Bye\r\n");
    assert_eq!(c.until_closed().await, "");
    let msgs = server.wait_for_messages(1, WAIT).await.unwrap();
    assert_eq!(msgs[0].content, b"hello");
    assert_eq!(msgs[0].recipients.len(), 2);
    let sessions = server.wait_for_sessions(1, WAIT).await.unwrap();
    let t = sessions[0].transcript();
    assert!(
        t.contains("tolerated: trailing whitespace after the command"),
        "{t}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn random_bytes_never_stop_the_server() {
    let server = TestServer::start().await.unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..20 {
        let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
        let mut junk = Vec::with_capacity(8192);
        for _ in 0..8192 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            junk.push(seed as u8);
        }
        let _ = tokio::io::AsyncWriteExt::write_all(&mut c.stream, &junk).await;
        let _ = tokio::io::AsyncWriteExt::write_all(&mut c.stream, b"\r\nQUIT\r\n").await;
        c.until_closed().await;
    }
    let reply = send_message(
        server.smtp_addr(),
        "a@b.test",
        &["c@d.test"],
        "Subject: still here\r\n\r\nok\r\n",
    )
    .await;
    assert_eq!(reply, "250 2.0.0 Ok: queued as 1\r\n");
    server.shutdown().await;
}

#[tokio::test]
async fn oversized_message_is_refused_and_not_kept() {
    let yaml = "version: 1\nserver:\n  limits: { max_message_size: 10KiB }\n";
    let server = TestServer::with_scenario_str(yaml).await.unwrap();
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    assert!(c.cmd("EHLO c").await.contains("250-SIZE 10240\r\n"));
    c.cmd("MAIL FROM:<a@b>").await;
    c.cmd("RCPT TO:<c@d>").await;
    c.cmd("DATA").await;
    let line = format!("{}\r\n", "y".repeat(998));
    for _ in 0..200 {
        c.send(line.as_bytes()).await;
    }
    assert_eq!(
        c.cmd(".").await,
        "552 5.3.4 Message size exceeds fixed maximum message size\r\n"
    );
    assert_eq!(c.cmd("NOOP").await, "250 2.0.0 Ok\r\n");
    assert!(server.messages().is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn ten_thousand_recipients_are_capped() {
    let server = TestServer::start().await.unwrap();
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    c.cmd("EHLO c").await;
    c.cmd("MAIL FROM:<a@b>").await;
    let mut batch = String::new();
    for i in 0..10_000 {
        batch.push_str(&format!("RCPT TO:<u{i}@x.test>\r\n"));
    }
    let writer = {
        let mut bytes = batch.into_bytes();
        bytes.extend_from_slice(b"NOOP\r\n");
        bytes
    };
    let (mut read_half, mut write_half) = c.stream.into_split();
    let send = tokio::spawn(async move {
        tokio::io::AsyncWriteExt::write_all(&mut write_half, &writer)
            .await
            .unwrap();
        write_half
    });
    let mut all = Vec::new();
    let read = async {
        let mut chunk = [0u8; 65536];
        loop {
            let n = tokio::io::AsyncReadExt::read(&mut read_half, &mut chunk)
                .await
                .unwrap();
            assert!(n > 0);
            all.extend_from_slice(&chunk[..n]);
            if all.ends_with(b"250 2.0.0 Ok\r\n") {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("replies to 10,000 RCPTs");
    send.await.unwrap();
    let text = String::from_utf8_lossy(&all);
    assert_eq!(text.matches("250 2.1.5").count(), 100);
    assert_eq!(text.matches("452 4.5.3 Too many recipients").count(), 9_900);
    server.shutdown().await;
}

#[tokio::test]
async fn dropped_mid_data_stores_nothing() {
    let server = TestServer::start().await.unwrap();
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    c.cmd("EHLO c").await;
    c.cmd("MAIL FROM:<a@b>").await;
    c.cmd("RCPT TO:<c@d>").await;
    c.cmd("DATA").await;
    c.send(b"Subject: half\r\n\r\nonly part of it\r\n").await;
    drop(c);
    let sessions = server.wait_for_sessions(1, WAIT).await.unwrap();
    assert!(server.messages().is_empty());
    assert!(
        sessions[0]
            .transcript()
            .contains("partial message discarded")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_never_reads_does_not_block_others() {
    let server = TestServer::start().await.unwrap();
    let (mut hog, _) = Raw::greeted(server.smtp_addr()).await;
    // ~2 MB of NOOPs without reading a single reply: the server must stop
    // reading from this client (back-pressure) instead of buffering replies.
    let noops = "NOOP\r\n".repeat(350_000);
    let writer = tokio::spawn(async move {
        let _ = tokio::time::timeout(
            Duration::from_secs(3),
            tokio::io::AsyncWriteExt::write_all(&mut hog.stream, noops.as_bytes()),
        )
        .await;
        hog
    });
    let reply = send_message(
        server.smtp_addr(),
        "a@b.test",
        &["c@d.test"],
        "Subject: x\r\n\r\ny\r\n",
    )
    .await;
    assert_eq!(reply, "250 2.0.0 Ok: queued as 1\r\n");
    let hog = writer.await.unwrap();
    drop(hog);
    server.shutdown().await;
}

/// The soft limit on open files, from `/proc/self/limits`.
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// 1,000 idle connections cost 2,000 descriptors here (both ends live in
/// this process) beside what the tests running alongside hold. Under a low
/// `ulimit -n` the test scales down, and says so, rather than fail on the
/// machine instead of the server.
#[tokio::test]
async fn a_thousand_idle_connections_and_still_serving() {
    let yaml = "version: 1\nserver:\n  limits: { max_connections: 1100 }\n";
    let server = TestServer::with_scenario_str(yaml).await.unwrap();
    let room = open_file_limit().map_or(1000, |n| n.saturating_sub(400) / 2);
    let count = room.clamp(100, 1000);
    if count < 1000 {
        eprintln!(
            "note: open-file limit {:?} leaves room for {count} idle connections, not 1,000 (raise ulimit -n for the full test)",
            open_file_limit()
        );
    }
    let mut idle = Vec::new();
    for _ in 0..count {
        idle.push(Raw::connect(server.smtp_addr()).await);
    }
    let reply = send_message(
        server.smtp_addr(),
        "a@b.test",
        &["c@d.test"],
        "Subject: x\r\n\r\ny\r\n",
    )
    .await;
    assert_eq!(reply, "250 2.0.0 Ok: queued as 1\r\n");
    let mut first = idle.swap_remove(0);
    assert!(first.reply().await.starts_with("220 "));
    drop(idle);
    server.shutdown().await;
}

#[tokio::test]
async fn connections_over_the_limit_get_421() {
    let yaml = "version: 1\nserver:\n  limits: { max_connections: 2 }\n";
    let server = TestServer::with_scenario_str(yaml).await.unwrap();
    let (_a, _) = Raw::greeted(server.smtp_addr()).await;
    let (_b, _) = Raw::greeted(server.smtp_addr()).await;
    let mut c = Raw::connect(server.smtp_addr()).await;
    assert_eq!(
        c.until_closed().await,
        "421 4.7.0 Too many connections, try again later\r\n"
    );
    drop(_a);
    server.wait_for_sessions(1, WAIT).await.unwrap();
    let (_d, greeting) = Raw::greeted(server.smtp_addr()).await;
    assert!(greeting.starts_with("220 "));
    server.shutdown().await;
}

#[tokio::test]
async fn command_timeout_answers_421() {
    let yaml = "version: 1\nserver:\n  limits: { command_timeout: 300ms }\n";
    let server = TestServer::with_scenario_str(yaml).await.unwrap();
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    assert_eq!(
        c.until_closed().await,
        "421 4.4.2 Timeout exceeded, closing connection\r\n"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_says_421_to_idle_sessions_and_finishes_data_in_flight() {
    let server = TestServer::start().await.unwrap();
    let addr = server.smtp_addr();
    let (mut idle, _) = Raw::greeted(addr).await;
    idle.cmd("EHLO idle").await;
    let (mut busy, _) = Raw::greeted(addr).await;
    busy.cmd("EHLO busy").await;
    busy.cmd("MAIL FROM:<a@b>").await;
    busy.cmd("RCPT TO:<c@d>").await;
    busy.cmd("DATA").await;
    busy.send(b"Subject: in flight\r\n\r\n").await;
    let store = std::sync::Arc::clone(server.store());
    let stopping = tokio::spawn(server.shutdown());
    assert_eq!(
        idle.until_closed().await,
        "421 4.3.2 Service shutting down, closing connection\r\n"
    );
    busy.send(b"body\r\n").await;
    assert_eq!(busy.cmd(".").await, "250 2.0.0 Ok: queued as 1\r\n");
    assert_eq!(
        busy.until_closed().await,
        "421 4.3.2 Service shutting down, closing connection\r\n"
    );
    tokio::time::timeout(WAIT, stopping).await.unwrap().unwrap();
    assert_eq!(store.messages().len(), 1);
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener closed"
    );
}

#[tokio::test]
async fn bdat_chunks_are_captured() {
    let server = TestServer::start().await.unwrap();
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    c.cmd("EHLO c").await;
    c.cmd("MAIL FROM:<a@b> BODY=8BITMIME").await;
    c.cmd("RCPT TO:<c@d>").await;
    c.send(b"BDAT 13\r\nSubject: hi\r\n").await;
    assert_eq!(c.reply().await, "250 2.0.0 13 octets received\r\n");
    c.send(b"BDAT 8 LAST\r\n\r\nbody\r\n").await;
    assert_eq!(c.reply().await, "250 2.0.0 Ok: queued as 1\r\n");
    let msgs = server.wait_for_messages(1, WAIT).await.unwrap();
    assert_eq!(msgs[0].content, b"Subject: hi\r\n\r\nbody\r\n");
    assert_eq!(msgs[0].mail_params, "BODY=8BITMIME");
    server.shutdown().await;
}

#[tokio::test]
async fn maildir_store_writes_before_250() {
    let dir = tempfile::tempdir().unwrap();
    let kind = mailfault::store::StoreKind::Maildir(dir.path().to_path_buf());
    let store = std::sync::Arc::new(mailfault::Store::open(&kind, 10, 1 << 30).unwrap());
    let handle = mailfault::start(
        "127.0.0.1:0".parse().unwrap(),
        std::sync::Arc::new(mailfault::Scenario::accept_all()),
        store,
    )
    .await
    .unwrap();
    let reply = send_message(
        handle.smtp_addr(),
        "a@b.test",
        &["c@d.test"],
        "Subject: disk\r\n\r\nbody\r\n",
    )
    .await;
    assert!(reply.starts_with("250 2.0.0"));
    let files: Vec<_> = std::fs::read_dir(dir.path().join("new")).unwrap().collect();
    assert_eq!(files.len(), 1);
    let bytes = std::fs::read(files[0].as_ref().unwrap().path()).unwrap();
    assert!(bytes.starts_with(b"Received: from client.test"));
    assert!(bytes.ends_with(b"Subject: disk\r\n\r\nbody\r\n"));
    handle.shutdown().await;
}

#[tokio::test]
async fn memory_store_keeps_the_newest_and_counts_evictions() {
    let store = std::sync::Arc::new(mailfault::Store::memory(2));
    let handle = mailfault::start(
        "127.0.0.1:0".parse().unwrap(),
        std::sync::Arc::new(mailfault::Scenario::accept_all()),
        std::sync::Arc::clone(&store),
    )
    .await
    .unwrap();
    for i in 1..=3 {
        let reply = send_message(
            handle.smtp_addr(),
            "a@b.test",
            &["c@d.test"],
            &format!("Subject: m{i}\r\n\r\nx\r\n"),
        )
        .await;
        assert_eq!(reply, format!("250 2.0.0 Ok: queued as {i}\r\n"));
    }
    let subjects: Vec<String> = store
        .messages()
        .iter()
        .filter_map(|m| m.header("Subject"))
        .collect();
    assert_eq!(subjects, ["m2", "m3"]);
    assert_eq!(store.evicted(), 1);
    handle.shutdown().await;
}
