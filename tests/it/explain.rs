//! `mailfault explain`, `mailfault codes` and the catalog warnings of
//! `mailfault check`, run as a user runs them.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_mailfault");

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn explains_lines_given_as_arguments() {
    let out = run(
        &[
            "explain",
            "550 5.7.26 This mail has been blocked because the sender is unauthenticated.",
            "450 4.2.0 Greylisted, please try again later",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let blocks: Vec<&str> = text.split("\n\n").collect();
    assert_eq!(blocks.len(), 2, "{text}");
    assert!(blocks[0].contains("Multiple authentication checks failed (RFC 7372)"));
    assert!(blocks[0].contains("  provider  google"));
    assert!(blocks[0].contains("  category  authentication"));
    assert!(blocks[0].contains("  bounce    hard, retry: no"));
    assert!(blocks[1].contains("  category  greylisting"));
    assert!(blocks[1].contains("  bounce    soft, retry: yes"));
}

#[test]
fn reads_a_bounce_log_on_stdin_as_json() {
    let log = "\
host mx.example.com[192.0.2.1] said: 550 5.1.1 <a@example.com>: Recipient address rejected: User unknown

421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints
this line is not a reply
550 4.1.1 mixed classes
";
    let out = run(&["explain", "--json"], Some(log));
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = json.as_array().unwrap();
    assert_eq!(items.len(), 4, "blank lines are skipped: {json:#}");
    assert_eq!(items[0]["code"], 550);
    assert_eq!(items[0]["enhanced"], "5.1.1");
    assert_eq!(items[0]["category"], "unknown_recipient");
    assert_eq!(items[0]["bounce"], "hard");
    assert_eq!(items[0]["retry"], false);
    assert_eq!(items[1]["provider"], "yahoo");
    assert_eq!(items[1]["category"], "throttling");
    assert_eq!(items[1]["class"], "transient");
    assert_eq!(items[1]["retry"], true);
    assert_eq!(items[2]["code"], serde_json::Value::Null);
    assert!(
        items[2]["warnings"][0]
            .as_str()
            .unwrap()
            .contains("no reply code")
    );
    assert!(
        items[3]["warnings"][0]
            .as_str()
            .unwrap()
            .contains("4.1.1 is transient")
    );
}

#[test]
fn empty_input_gives_empty_output_and_bad_flags_exit_2() {
    let out = run(&["explain"], Some(""));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "");
    let out = run(&["explain", "--json"], Some("\n\n"));
    assert_eq!(stdout(&out).trim(), "[]");
    let out = run(&["explain", "--bogus"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn codes_lists_the_whole_catalog() {
    let out = run(&["codes", "--json"], None);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let enhanced = json["enhanced_codes"].as_array().unwrap();
    let x726 = enhanced
        .iter()
        .find(|e| e["code"] == "X.7.26")
        .expect("X.7.26 listed");
    assert_eq!(x726["title"], "Multiple authentication checks failed");
    assert_eq!(x726["rfc"], "RFC 7372");
    assert!(enhanced.iter().any(|e| e["code"] == "X.7.30"));
    let replies = json["reply_codes"].as_array().unwrap();
    assert!(
        replies
            .iter()
            .any(|r| r["code"] == 556 && r["standard"] == true)
    );
    assert!(
        replies
            .iter()
            .any(|r| r["code"] == 422 && r["standard"] == false)
    );
    let texts = json["provider_texts"].as_array().unwrap();
    assert!(
        texts
            .iter()
            .any(|t| t["enhanced"] == "5.7.708" && t["standard"] == false)
    );

    let out = run(&["codes"], None);
    let text = stdout(&out);
    assert!(text.contains("Enhanced status codes (IANA registry)"));
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("X.7.26") && l.contains("RFC 7372"))
    );
}

#[test]
fn check_warns_about_enhanced_codes_outside_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.yaml");
    std::fs::write(
        &path,
        "version: 1\nrules:\n  - name: odd one\n    on: rcpt\n    reply: 550 5.9.99 odd\n  - name: microsoft\n    on: rcpt\n    reply: 550 5.7.708 Service unavailable\n  - name: plain\n    on: mail\n    reply: 550 5.1.1 No such user\n",
    )
    .unwrap();
    let out = Command::new(BIN).arg("check").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    let want = format!(
        "warning: {}: rule \"odd one\": enhanced code 5.9.99 is not in the catalog (see `mailfault codes`)",
        path.display()
    );
    assert_eq!(
        err.trim_end(),
        want,
        "only the unknown code is warned about"
    );
    assert!(stdout(&out).starts_with("ok: "));
}

/// The README's console examples are real output: each `$ cargo run -q --
/// explain ...` is run again and must print what the README shows.
#[test]
fn readme_examples_match_the_binary() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("## Explaining reply codes")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("README has an \"Explaining reply codes\" section");
    let mut checked = 0;
    for block in section.split("```console\n").skip(1) {
        let block = block.split("```").next().unwrap();
        let mut file = String::new();
        let mut lines = block.lines().peekable();
        while let Some(line) = lines.next() {
            let Some(command) = line.strip_prefix("$ ") else {
                continue;
            };
            let mut shown = String::new();
            while let Some(next) = lines.next_if(|l| !l.starts_with("$ ")) {
                shown.push_str(next);
                shown.push('\n');
            }
            if command.starts_with("cat ") {
                file = shown;
                continue;
            }
            let args = command
                .strip_prefix("cargo run -q -- ")
                .expect("examples run the binary");
            let out = if let Some(quoted) = args.strip_prefix("explain \"") {
                run(&["explain", quoted.trim_end_matches('"')], None)
            } else {
                assert!(args.starts_with("explain <"), "{args}");
                run(&["explain"], Some(&file))
            };
            assert_eq!(stdout(&out), shown, "README example: {command}");
            checked += 1;
        }
    }
    assert_eq!(checked, 2);
}

#[test]
fn check_warns_about_a_class_the_registry_does_not_list() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("classes.yaml");
    std::fs::write(
        &path,
        "version: 1\nrules:\n  - name: temp dkim\n    on: rcpt\n    reply: 451 4.7.26 Authentication checks failed\n  - name: fine\n    on: rcpt\n    reply: 550 5.7.26 Authentication checks failed\n  - name: microsoft\n    on: rcpt\n    reply: \"550 5.4.1 Recipient address rejected: Access denied\"\n",
    )
    .unwrap();
    let out = Command::new(BIN).arg("check").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("rule \"temp dkim\": reply 451 with 4.7.26")
            && lines[0].contains("defined for 5.x.x only"),
        "{err}"
    );
}

#[test]
fn codes_json_names_the_source_of_every_entry_and_profile_reply() {
    let out = run(&["codes", "--json"], None);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for list in [
        "reply_codes",
        "enhanced_codes",
        "provider_texts",
        "profiles",
    ] {
        let items = json[list].as_array().unwrap();
        assert!(!items.is_empty(), "{list}");
        for item in items {
            assert!(
                item["source"].as_str().is_some_and(|s| !s.is_empty()),
                "{list}: {item}"
            );
        }
    }
    let profiles = json["profiles"].as_array().unwrap();
    assert!(profiles.iter().any(|p| {
        p["profile"] == "yahoo"
            && p["reply"]
                .as_str()
                .is_some_and(|r| r.starts_with("553 5.7.2 [TSS09]"))
    }));
}
