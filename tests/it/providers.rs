//! The provider profiles in `scenarios/providers/`, each exercised over SMTP
//! convention by convention, and `extends:` composing them with user rules.

use crate::common;

use std::path::PathBuf;
use std::time::Duration;

use common::Raw;
use mailfault::{Scenario, TestServer};

const WAIT: Duration = Duration::from_secs(10);

fn profile(name: &str) -> PathBuf {
    common::scenario_file(&format!("providers/{name}"))
}

/// Where a convention's reply comes: at RCPT, or as the final reply after DATA.
#[derive(Clone, Copy, Debug)]
enum At {
    Rcpt,
    Message,
}

/// Sends to `local@example.test` and returns the reply the convention
/// governs, whole (all lines of a multiline reply).
async fn reply_for(server: &TestServer, local: &str, at: At) -> String {
    let (mut c, _) = Raw::greeted(server.smtp_addr()).await;
    c.cmd("EHLO sender.test").await;
    c.cmd("MAIL FROM:<app@example.test>").await;
    let rcpt = c.cmd(&format!("RCPT TO:<{local}@example.test>")).await;
    if let At::Rcpt = at {
        return rcpt;
    }
    assert!(rcpt.starts_with("250"), "{local}: {rcpt}");
    assert!(c.cmd("DATA").await.starts_with("354"));
    c.send(b"Subject: test\r\n\r\nhello\r\n").await;
    c.cmd(".").await
}

/// (profile, local part, where, reply code, enhanced code (empty: none), a
/// text fragment).
const CONVENTIONS: &[(&str, &str, At, &str, &str, &str)] = &[
    (
        "gmail",
        "unknown",
        At::Rcpt,
        "550",
        "5.1.1",
        "does not exist",
    ),
    (
        "gmail",
        "full",
        At::Rcpt,
        "452",
        "4.2.2",
        "out of storage space",
    ),
    (
        "gmail",
        "throttle",
        At::Rcpt,
        "450",
        "4.2.1",
        "receiving mail at a rate",
    ),
    (
        "gmail",
        "busy",
        At::Rcpt,
        "421",
        "4.7.0",
        "Try again later, closing connection",
    ),
    (
        "gmail",
        "blocked",
        At::Rcpt,
        "550",
        "5.7.1",
        "very low reputation",
    ),
    (
        "gmail",
        "spam",
        At::Message,
        "550",
        "5.7.1",
        "likely unsolicited",
    ),
    (
        "gmail",
        "dmarc",
        At::Message,
        "550",
        "5.7.26",
        "sender is unauthenticated",
    ),
    (
        "microsoft365",
        "unknown",
        At::Rcpt,
        "550",
        "5.4.1",
        "Access denied",
    ),
    (
        "microsoft365",
        "throttle",
        At::Rcpt,
        "451",
        "4.7.500",
        "Server busy",
    ),
    (
        "microsoft365",
        "busy",
        At::Rcpt,
        "421",
        "4.3.2",
        "Service not available",
    ),
    (
        "microsoft365",
        "blocked",
        At::Rcpt,
        "550",
        "5.7.606",
        "banned sending IP",
    ),
    (
        "microsoft365",
        "blocklist",
        At::Rcpt,
        "550",
        "5.7.1",
        "blocked using Spamhaus",
    ),
    (
        "microsoft365",
        "full",
        At::Message,
        "554",
        "5.2.2",
        "QuotaExceeded",
    ),
    (
        "microsoft365",
        "dmarc",
        At::Message,
        "550",
        "5.7.509",
        "DMARC policy of reject",
    ),
    (
        "yahoo",
        "unknown",
        At::Rcpt,
        "552",
        "",
        "1 Requested mail action aborted, mailbox not found",
    ),
    ("yahoo", "full", At::Rcpt, "452", "4.2.2", "over quota"),
    ("yahoo", "throttle", At::Rcpt, "421", "4.7.0", "[TSS04]"),
    (
        "yahoo",
        "busy",
        At::Rcpt,
        "553",
        "5.7.2",
        "[TSS09] All messages from 192.0.2.1 will be permanently deferred; Retrying will NOT succeed",
    ),
    ("yahoo", "blocked", At::Rcpt, "553", "5.7.1", "[BL21]"),
    (
        "yahoo",
        "spam",
        At::Message,
        "554",
        "5.7.9",
        "policy reasons",
    ),
    (
        "yahoo",
        "policy",
        At::Message,
        "554",
        "",
        "Message not allowed - [PH01] Email not accepted for policy reasons",
    ),
    ("yahoo", "dmarc", At::Message, "550", "5.7.9", "SPF or DKIM"),
];

#[tokio::test]
async fn every_profile_convention_replies_as_documented() {
    for name in ["gmail", "microsoft365", "yahoo"] {
        let server = TestServer::with_scenario_file(profile(name)).await.unwrap();
        for (_, local, at, code, enhanced, fragment) in CONVENTIONS.iter().filter(|c| c.0 == name) {
            let reply = reply_for(&server, local, *at).await;
            let last = reply.trim_end().rsplit("\r\n").next().unwrap_or("");
            let codes = if enhanced.is_empty() {
                code.to_string()
            } else {
                format!("{code} {enhanced}")
            };
            let (dash, space) = (codes.replacen(' ', "-", 1), codes.clone());
            let dash = if enhanced.is_empty() {
                format!("{code}-")
            } else {
                format!("{dash} ")
            };
            assert!(
                last.starts_with(&format!("{space} ")),
                "{name}/{local}: {reply}"
            );
            for line in reply.trim_end().split("\r\n") {
                assert!(
                    line.starts_with(&dash) || line.starts_with(&format!("{space} ")),
                    "{name}/{local}: every line carries the codes: {line:?}"
                );
            }
            assert!(reply.contains(fragment), "{name}/{local}: {reply}");
        }
        // Anyone else is accepted and captured.
        let ok = common::send_message(
            server.smtp_addr(),
            "app@example.test",
            &["someone@example.test"],
            "Subject: fine\r\n\r\nhello\r\n",
        )
        .await;
        assert!(ok.starts_with("250"), "{name}: {ok}");
        assert_eq!(server.wait_for_messages(1, WAIT).await.unwrap().len(), 1);
        server.shutdown().await;
    }
}

#[tokio::test]
async fn profiles_greet_and_advertise_like_the_provider() {
    let cases = [
        (
            "gmail",
            "220 mx.google.com ESMTP a1b2c3d4e5f6.7 - gsmtp\r\n",
            "250-SIZE 157286400\r\n",
        ),
        (
            "microsoft365",
            "220 BN8NAM11FT066.mail.protection.outlook.com Microsoft ESMTP MAIL Service ready at {date}\r\n",
            "250-SIZE 157286400\r\n250-PIPELINING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n",
        ),
        (
            "yahoo",
            "220 mta7.am0.yahoodns.net ESMTP ready\r\n",
            "250-PIPELINING\r\n250-SIZE 41697280\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n",
        ),
    ];
    for (name, greeting, advertised) in cases {
        let server = TestServer::with_scenario_file(profile(name)).await.unwrap();
        let (mut c, g) = Raw::greeted(server.smtp_addr()).await;
        // `{date}` is the date of the connection, as Microsoft's greeting shows.
        let date = g
            .strip_prefix(greeting.split("{date}").next().unwrap_or(""))
            .filter(|_| greeting.contains("{date}"))
            .map(|rest| rest.trim_end().to_owned());
        if let Some(date) = &date {
            let parsed = std::process::Command::new("python3")
                .args(["-c", "import sys, email.utils; print(email.utils.parsedate_to_datetime(sys.argv[1]).year)"])
                .arg(date)
                .output()
                .unwrap();
            assert!(parsed.status.success(), "not an RFC 5322 date: {date}");
        }
        let greeting = greeting.replace("{date}", date.as_deref().unwrap_or(""));
        assert_eq!(g, greeting);
        let ehlo = c.cmd("EHLO sender.test").await;
        assert!(ehlo.contains(advertised), "{name}: {ehlo}");
        c.cmd("QUIT").await;
        server.shutdown().await;
    }
}

#[tokio::test]
async fn user_rules_go_in_front_of_an_extended_profile() {
    let yaml = r#"
version: 1
name: my-app-vs-gmail
extends: gmail
server:
  hostname: mx.test.example
rules:
  - name: my override
    on: rcpt
    match: { to: "unknown@*" }
    reply: 550 5.1.1 No such user here
"#;
    let server = TestServer::with_scenario_str(yaml).await.unwrap();
    let scenario = server_scenario_summary(yaml);
    assert_eq!(scenario, ("my-app-vs-gmail".to_owned(), 8, 157_286_400));
    let (mut c, g) = Raw::greeted(server.smtp_addr()).await;
    assert_eq!(g, "220 mx.test.example ESMTP a1b2c3d4e5f6.7 - gsmtp\r\n");
    c.cmd("EHLO s").await;
    c.cmd("MAIL FROM:<a@example.test>").await;
    assert_eq!(
        c.cmd("RCPT TO:<unknown@example.test>").await,
        "550 5.1.1 No such user here\r\n"
    );
    assert!(
        c.cmd("RCPT TO:<full@example.test>")
            .await
            .starts_with("452-4.2.2 "),
        "the profile's own rules still apply"
    );
    c.cmd("QUIT").await;
    server.shutdown().await;
}

fn server_scenario_summary(yaml: &str) -> (String, usize, u64) {
    let s = Scenario::from_str(yaml, "<test>").unwrap();
    (s.name().to_owned(), s.rule_count(), s.max_message_size())
}

#[test]
fn extends_by_path_and_its_errors() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.yaml");
    std::fs::write(
        &base,
        "version: 1\nserver: { hostname: base.test }\nrules:\n  - { name: base rule, on: rcpt, reply: 550 5.1.1 gone }\n",
    )
    .unwrap();
    let child = dir.path().join("child.yaml");
    std::fs::write(&child, "version: 1\nextends: ./base.yaml\nseed: 3\n").unwrap();
    let s = Scenario::from_file(&child).unwrap();
    assert_eq!(s.hostname(), "base.test");
    assert_eq!(s.rule_count(), 1);
    assert_eq!(s.seed(), 3);

    let err = |yaml: &str, path: &std::path::Path| {
        std::fs::write(path, yaml).unwrap();
        Scenario::from_file(path).unwrap_err().to_string()
    };
    let e = err("version: 1\nextends: hotmail\n", &child);
    assert!(
        e.contains("child.yaml:2:10: unknown profile `hotmail`"),
        "{e}"
    );
    assert!(e.contains("gmail, microsoft365, yahoo"), "{e}");
    let e = err("version: 1\nextends: ./missing.yaml\n", &child);
    assert!(e.contains("cannot read"), "{e}");
    std::fs::write(
        &base,
        "version: 1\nrules:\n  - { on: rcpt, reply: 550 4.1.1 x }\n",
    )
    .unwrap();
    let e = err("version: 1\nextends: base.yaml\n", &child);
    assert!(
        e.contains("child.yaml:2:10: the scenario extended here"),
        "{e}"
    );
    assert!(
        e.contains("base.yaml:3:"),
        "errors in the base name the base: {e}"
    );
    let e = err("version: 1\nextends: child.yaml\n", &child);
    assert!(e.contains("levels deep"), "{e}");
}

#[test]
fn extends_reads_only_regular_files_of_sensible_size() {
    let dir = tempfile::tempdir().unwrap();
    let child = dir.path().join("child.yaml");
    let err = |yaml: &str| {
        std::fs::write(&child, yaml).unwrap();
        Scenario::from_file(&child).unwrap_err().to_string()
    };
    let big = dir.path().join("big.yaml");
    let mut text = String::from("version: 1\n");
    text.push_str(&"#".repeat(1024 * 1024));
    std::fs::write(&big, text).unwrap();
    let e = err("version: 1\nextends: ./big.yaml\n");
    assert!(e.contains("child.yaml:2:10:"), "{e}");
    assert!(e.contains("larger than 1024 KiB"), "{e}");
    let e = err("version: 1\nextends: ./\n");
    assert!(e.contains("not a regular file"), "{e}");
    #[cfg(unix)]
    {
        let fifo = dir.path().join("fifo.yaml");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // Would block forever if it were opened.
        let e = err("version: 1\nextends: ./fifo.yaml\n");
        assert!(e.contains("child.yaml:2:10:"), "{e}");
        assert!(e.contains("not a regular file"), "{e}");
        let e = Scenario::from_file(&fifo).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
    }
}
