//! The real `mailpit-api` npm client against mailfault: list, get by ID
//! and `latest`, headers, raw, attachments, search, read status,
//! `waitForMessage`, deletes and chaos triggers (which SMTP then feels).
//!
//! Needs node, npm and the npm registry, so it is `#[ignore]`d: a plain
//! `cargo test` lists it as ignored instead of printing "passed" for a
//! client it never ran. `.ci/run` runs it with `--ignored` and
//! MAILFAULT_NODE_TESTS=require; run by hand without node it says "skipped".

use crate::common;

use std::process::Command;
use std::time::Duration;

use common::send_message;
use mailfault::TestServer;

const DRIVER: &str = include_str!("mailpit_client/drive.mjs");

const REPORT: &str = "From: Ann <ann@example.test>\r\nTo: bob@example.test\r\nSubject: Quarterly report\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nNumbers inside\r\n--b\r\nContent-Type: text/csv\r\nContent-Disposition: attachment; filename=\"q.csv\"\r\n\r\na,b\r\n1,2\r\n--b--\r\n";

fn node_tools() -> bool {
    ["node", "npm"].iter().all(|tool| {
        Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// `npm install` of the client into `dir`; `Err` says why.
fn npm_install(dir: &std::path::Path) -> Result<(), String> {
    std::fs::write(
        dir.join("package.json"),
        r#"{"private": true, "type": "module"}"#,
    )
    .map_err(|e| e.to_string())?;
    let out = Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "mailpit-api@2",
        ])
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run npm: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "npm install mailpit-api failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[tokio::test]
#[ignore = "needs node, npm and the npm registry: cargo test -- --ignored mailpit"]
async fn the_mailpit_api_npm_client_works_against_mailfault() {
    let required = std::env::var("MAILFAULT_NODE_TESTS").is_ok_and(|v| v == "require");
    if !node_tools() {
        assert!(
            !required,
            "MAILFAULT_NODE_TESTS=require but node or npm is missing"
        );
        println!(
            "skipped: node and npm are needed to run the mailpit-api client (set MAILFAULT_NODE_TESTS=require to fail instead)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let installed = tokio::task::spawn_blocking({
        let path = dir.path().to_owned();
        move || npm_install(&path)
    })
    .await
    .unwrap();
    if let Err(why) = installed {
        assert!(!required, "{why}");
        println!("skipped: {why}");
        return;
    }
    std::fs::write(dir.path().join("drive.mjs"), DRIVER).unwrap();

    let server = TestServer::start().await.unwrap();
    let smtp = server.smtp_addr();
    for (from, to, content) in [
        ("ann@example.test", "bob@example.test", REPORT),
        (
            "carl@example.test",
            "bob@example.test",
            "From: carl@example.test\r\nTo: bob@example.test\r\nSubject: a note\r\n\r\nshort\r\n",
        ),
        (
            "ann@example.test",
            "dora@example.test",
            "From: ann@example.test\r\nTo: dora@example.test\r\nSubject: hello again\r\n\r\nhi\r\n",
        ),
    ] {
        assert!(
            send_message(smtp, from, &[to], content)
                .await
                .starts_with("250")
        );
    }

    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new("node")
            .arg("drive.mjs")
            .arg(server.http_url())
            .arg(smtp.port().to_string())
            .current_dir(dir.path())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the node driver took over 60 s")
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "node driver failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_str(&stdout).unwrap();

    assert_eq!(seen["info"]["Messages"], 3);
    assert_eq!(seen["list"]["ids"], serde_json::json!(["3", "2", "1"]));
    assert_eq!(
        (
            seen["list"]["total"].as_u64(),
            seen["list"]["unread"].as_u64()
        ),
        (Some(3), Some(3))
    );
    assert_eq!(seen["list"]["first"]["Subject"], "hello again");
    assert_eq!(seen["byId"]["Subject"], "Quarterly report");
    assert_eq!(seen["byId"]["From"]["Name"], "Ann");
    assert_eq!(seen["byId"]["Attachments"][0]["FileName"], "q.csv");
    assert_eq!(seen["attachmentSize"], 8, "a,b CRLF 1,2");
    assert_eq!(seen["latest"]["ID"], "3");
    assert_eq!(seen["headers"]["Subject"][0], "Quarterly report");
    assert!(seen["raw"].as_str().unwrap().ends_with(REPORT));

    let search = &seen["search"];
    assert_eq!(search["from:ann"], serde_json::json!(["3", "1"]));
    assert_eq!(
        search["subject:\"quarterly report\""],
        serde_json::json!(["1"])
    );
    assert_eq!(search["-from:ann"], serde_json::json!(["2"]));
    assert_eq!(search["has:attachment"], serde_json::json!(["1"]));
    assert_eq!(
        search["is:read"],
        serde_json::json!(["3", "1"]),
        "the client opened these"
    );
    assert_eq!(search["note"], serde_json::json!(["2"]));
    assert_eq!(
        search["to:bob@example.test -subject:hello"],
        serde_json::json!(["2", "1"])
    );

    assert_eq!(seen["unreadAfterMarkingOne"], 2);
    assert_eq!(seen["unreadAfterMarkingAll"], 0);
    assert_eq!(seen["waited"]["subject"], "arrives late");
    assert_eq!(seen["waitedForTwo"], 2);
    assert_eq!(seen["afterDeleteOne"], serde_json::json!(["4", "3", "2"]));
    assert_eq!(seen["afterDeleteSearch"], serde_json::json!(["4", "3"]));
    assert_eq!(seen["afterDeleteAll"], 0);

    assert_eq!(
        seen["chaosSet"]["Recipient"],
        serde_json::json!({"ErrorCode": 451, "Probability": 100})
    );
    assert_eq!(seen["chaosGet"]["Recipient"]["ErrorCode"], 451);
    assert_eq!(seen["chaosReply"], "451", "SMTP felt the chaos trigger");
    assert_eq!(seen["chaosReset"]["Recipient"]["Probability"], 0);
    assert_eq!(seen["afterReset"], "250");
    assert_eq!(seen["tags"], serde_json::json!([]));
    assert_eq!(seen["webui"]["ChaosEnabled"], true);
    server.shutdown().await;
}
