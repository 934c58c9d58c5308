//! Every file in `scenarios/` loaded into a real server and exercised with
//! the client behaviour it is meant to test.

use crate::common;

use std::path::PathBuf;
use std::time::Duration;

use common::{Raw, send_message};
use mailfault::TestServer;

const WAIT: Duration = Duration::from_secs(10);

async fn start(name: &str) -> TestServer {
    TestServer::with_scenario_file(common::scenario_file(name))
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every file under `scenarios/` must be named, as a quoted string, by some
/// integration test; a new scenario without a test fails here.
#[test]
fn every_scenario_file_has_a_test() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut tests = String::new();
    let mut sources = vec![root.join("tests")];
    while let Some(dir) = sources.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                tests.push_str(&std::fs::read_to_string(path).unwrap());
            }
        }
    }
    let mut dirs = vec![root.join("scenarios")];
    let mut seen = 0;
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
                assert!(
                    tests.contains(&format!("\"{stem}\"")),
                    "{} has no test naming \"{stem}\" in tests/",
                    path.display()
                );
                seen += 1;
            }
        }
    }
    assert!(seen >= 15, "only {seen} scenario files found");
}

/// The README's YAML examples are real scenarios (a block labelled after
/// `yaml`, such as `yaml compose`, is some other file and is not loaded).
#[test]
fn readme_yaml_examples_load() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let blocks: Vec<&str> = readme
        .split("```yaml\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .collect();
    assert!(blocks.len() >= 4, "found {} yaml blocks", blocks.len());
    for block in blocks {
        if let Err(e) = mailfault::Scenario::from_str(block, "README.md") {
            panic!("README example does not load:\n{block}\n{e}");
        }
    }
}

#[tokio::test]
async fn accept_all_captures_everything() {
    let server = start("accept-all").await;
    for i in 0..3 {
        let reply = send_message(
            server.smtp_addr(),
            "a@b.test",
            &["x@anywhere.test"],
            &format!("Subject: {i}\r\n\r\nbody\r\n"),
        )
        .await;
        assert!(reply.starts_with("250 2.0.0"), "{reply}");
    }
    assert_eq!(server.wait_for_messages(3, WAIT).await.unwrap().len(), 3);
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_user_rejects_only_the_pattern() {
    let server = start("unknown-user").await;
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    c.cmd("EHLO c").await;
    c.cmd("MAIL FROM:<a@b.test>").await;
    let no = c.cmd("RCPT TO:<ghost@nowhere.example.test>").await;
    assert!(no.starts_with("550 5.1.1 "), "{no}");
    assert!(
        c.cmd("RCPT TO:<real@example.test>")
            .await
            .starts_with("250")
    );
    c.cmd("DATA").await;
    c.send(b"Subject: x\r\n\r\ny\r\n").await;
    assert!(c.cmd(".").await.starts_with("250"));
    let msgs = server.wait_for_messages(1, WAIT).await.unwrap();
    assert_eq!(msgs[0].recipients.len(), 1);
    assert_eq!(msgs[0].recipients[0].address, "real@example.test");
    server.shutdown().await;
}

#[tokio::test]
async fn bad_sequence_forces_503_at_data() {
    let server = start("bad-sequence").await;
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    c.cmd("EHLO c").await;
    c.cmd("MAIL FROM:<a@b.test>").await;
    c.cmd("RCPT TO:<c@d.test>").await;
    let reply = c.cmd("DATA").await;
    assert!(reply.starts_with("503 5.5.1"), "{reply}");
    assert_eq!(c.cmd("RSET").await, "250 2.0.0 Ok\r\n");
    assert!(server.messages().is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn mailbox_full_rejects_552_for_that_recipient_only() {
    let server = start("mailbox-full").await;
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    c.cmd("EHLO c").await;
    c.cmd("MAIL FROM:<a@b.test>").await;
    let reply = c.cmd("RCPT TO:<full@example.test>").await;
    assert!(reply.starts_with("552 5.2.2 "), "{reply}");
    assert!(
        c.cmd("RCPT TO:<roomy@example.test>")
            .await
            .starts_with("250")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn spam_reject_refuses_after_the_content() {
    let server = start("spam-reject").await;
    let reply = send_message(
        server.smtp_addr(),
        "a@b.test",
        &["c@d.test"],
        "Subject: cheap spam offer\r\n\r\nbuy\r\n",
    )
    .await;
    assert!(reply.starts_with("554 5.7.1 "), "{reply}");
    // The filter reads the Subject as the API shows it: RFC 2047-decoded
    // ("Cheap SPAM offer").
    let encoded = send_message(
        server.smtp_addr(),
        "a@b.test",
        &["c@d.test"],
        "Subject: =?UTF-8?B?Q2hlYXAgU1BBTSBvZmZlcg==?=\r\n\r\nbuy\r\n",
    )
    .await;
    assert!(encoded.starts_with("554 5.7.1 "), "{encoded}");
    let ok = send_message(
        server.smtp_addr(),
        "a@b.test",
        &["c@d.test"],
        "Subject: quarterly report\r\n\r\nnumbers\r\n",
    )
    .await;
    assert!(ok.starts_with("250 2.0.0"), "{ok}");
    let msgs = server.wait_for_messages(1, WAIT).await.unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(
        msgs[0].header("Subject").as_deref(),
        Some("quarterly report")
    );
    server.shutdown().await;
}

/// On tokio's paused clock: the 2 s delays pass in no real time, and the
/// test still sees that each reply waited for its full delay.
#[tokio::test(start_paused = true)]
async fn tarpit_slows_greeting_and_rcpt() {
    use tokio::time::Instant;
    let server = start("tarpit").await;
    let started = Instant::now();
    let (mut c, greeting) = Raw::greeted(server.smtp_addr()).await;
    let greeted = started.elapsed();
    assert!(greeting.starts_with("220 "));
    assert!(
        greeted >= Duration::from_secs(2),
        "greeting came after {greeted:?}"
    );
    c.cmd("EHLO c").await;
    c.cmd("MAIL FROM:<a@b.test>").await;
    let before = Instant::now();
    assert!(c.cmd("RCPT TO:<c@d.test>").await.starts_with("250"));
    assert!(before.elapsed() >= Duration::from_secs(2));
    c.cmd("QUIT").await;
    let sessions = server.wait_for_sessions(1, WAIT).await.unwrap();
    let t = sessions[0].transcript();
    assert!(t.contains("[rule: "), "{t}");
    server.shutdown().await;
}

#[tokio::test]
async fn drop_after_data_closes_without_a_final_reply() {
    let server = start("drop-after-data").await;
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    c.cmd("EHLO c").await;
    c.cmd("MAIL FROM:<a@b.test>").await;
    c.cmd("RCPT TO:<c@d.test>").await;
    assert!(c.cmd("DATA").await.starts_with("354"));
    c.send(b"Subject: lost\r\n\r\nbody\r\n.\r\n").await;
    assert_eq!(
        c.until_closed().await,
        "",
        "no final reply, just a closed connection"
    );
    let sessions = server.wait_for_sessions(1, WAIT).await.unwrap();
    assert!(
        server.messages().is_empty(),
        "a message without a 250 is not captured"
    );
    assert!(
        sessions[0]
            .transcript()
            .contains("connection closed before the final reply")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn outage_window_refuses_connections_at_first() {
    let server = start("outage-window").await;
    let mut c = Raw::connect(server.smtp_addr()).await;
    let reply = c.until_closed().await;
    assert!(reply.starts_with("421 4."), "{reply}");
    server.shutdown().await;
}

#[tokio::test]
async fn first_connection_gets_421_the_next_is_served() {
    let server = start("first-connection-421").await;
    let mut first = Raw::connect(server.smtp_addr()).await;
    let reply = first.until_closed().await;
    assert!(reply.starts_with("421 4.7.0"), "{reply}");
    let ok = send_message(
        server.smtp_addr(),
        "a@b.test",
        &["c@d.test"],
        "Subject: retry\r\n\r\nx\r\n",
    )
    .await;
    assert!(ok.starts_with("250 2.0.0"), "{ok}");
    server.shutdown().await;
}

#[tokio::test]
async fn fail_twice_then_accept_counts_attempts() {
    let server = start("fail-twice-then-accept").await;
    let mut replies = Vec::new();
    for _ in 0..3 {
        let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
        c.cmd("EHLO c").await;
        c.cmd("MAIL FROM:<a@b.test>").await;
        replies.push(c.cmd("RCPT TO:<c@d.test>").await);
        c.cmd("QUIT").await;
    }
    assert!(replies[0].starts_with("451 4."), "{replies:?}");
    assert!(replies[1].starts_with("451 4."), "{replies:?}");
    assert!(replies[2].starts_with("250 2.1.5"), "{replies:?}");
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    c.cmd("EHLO c").await;
    c.cmd("MAIL FROM:<a@b.test>").await;
    let other = c.cmd("RCPT TO:<someone-else@d.test>").await;
    assert!(
        other.starts_with("451"),
        "attempts are counted per (ip, from, to): {other}"
    );
    server.shutdown().await;
}

/// Runs a fixed client workload and returns every reply line it saw.
async fn chaos_run() -> Vec<String> {
    let server = start("chaos").await;
    let mut seen = Vec::new();
    for i in 0..30 {
        let (mut c, greeting) = Raw::greeted(server.smtp_addr()).await;
        seen.push(greeting);
        let steps = [
            "EHLO chaos.test".to_string(),
            "MAIL FROM:<a@b.test>".to_string(),
            format!("RCPT TO:<u{i}@d.test>"),
            "DATA".to_string(),
        ];
        let mut alive = true;
        for step in &steps {
            c.send(format!("{step}\r\n").as_bytes()).await;
            let r = c.reply().await;
            let stop = r.starts_with('4') || r.starts_with('5');
            seen.push(r);
            if stop {
                alive = false;
                break;
            }
        }
        if alive {
            c.send(b"Subject: chaos\r\n\r\nx\r\n").await;
            seen.push(c.cmd(".").await);
        }
        drop(c);
    }
    server.shutdown().await;
    seen
}

#[tokio::test]
async fn chaos_is_reproducible_with_its_seed() {
    let first = chaos_run().await;
    let second = chaos_run().await;
    assert_eq!(first, second, "same seed, same faults");
    let faults = first
        .iter()
        .filter(|r| r.starts_with('4') || r.starts_with('5'))
        .count();
    assert!(
        faults > 0,
        "30 sessions of chaos produced no fault: {first:?}"
    );
    assert!(
        first.iter().any(|r| r.starts_with("250 2.0.0")),
        "and some mail still gets through"
    );
}

/// The README walks through `examples/grade-retries.yaml`; the copy it
/// shows is the file itself, less its comments.
#[test]
fn readme_shows_the_example_scenario_as_it_is() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let file = std::fs::read_to_string(format!("{root}/examples/grade-retries.yaml")).unwrap();
    let uncommented: String = file
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        readme.contains(&format!("```yaml\n{uncommented}```")),
        "README's copy of examples/grade-retries.yaml differs from the file:\n{uncommented}"
    );
}
