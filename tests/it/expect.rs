//! The examples graded for real: `examples/grade-retries.yaml` served by an
//! in-process server, each Python sender run against it as a subprocess,
//! and the report judged from what the server saw.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use mailfault::expect::{Evidence, Report, RunFacts, Verdict, evaluate};
use mailfault::{Scenario, TestServer};

/// Both senders bound themselves well under this (the good one needs ~3 s).
const SENDER_LIMIT: Duration = Duration::from_secs(30);

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
}

/// Serves the scenario, runs `sender` against it, waits for its `sessions`
/// to finish and grades them.
async fn grade(sender: &str, sessions: usize) -> Report {
    let path = example("grade-retries.yaml");
    let scenario = Scenario::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let expect = scenario
        .expectations()
        .cloned()
        .expect("the example has an expect block");
    let max_message_size = scenario.max_message_size();
    let server = TestServer::with_scenario(scenario)
        .await
        .expect("server starts");
    let addr = server.smtp_addr();
    let started = Instant::now();
    let child = tokio::process::Command::new("python3")
        .arg(example(sender))
        .env("MAILFAULT_SMTP_HOST", addr.ip().to_string())
        .env("MAILFAULT_SMTP_PORT", addr.port().to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 must be installed to run these tests");
    let out = tokio::time::timeout(SENDER_LIMIT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{sender} ran longer than {SENDER_LIMIT:?}"))
        .expect("sender output");
    let elapsed = started.elapsed();
    assert!(
        out.stderr.is_empty(),
        "{sender} crashed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = server
        .wait_for_sessions(sessions, Duration::from_secs(10))
        .await
        .expect("sessions finish");
    let messages = server.messages();
    let report = evaluate(
        &expect,
        &Evidence {
            sessions: &records,
            messages: &messages,
            max_message_size,
            run: Some(RunFacts {
                elapsed,
                exit: out.status.code(),
                timed_out: false,
            }),
            reports: &[],
        },
    );
    server.shutdown().await;
    report
}

fn verdict<'r>(report: &'r Report, name: &str) -> &'r Verdict {
    report
        .verdicts
        .iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("no `{name}` verdict in\n{}", report.to_text()))
}

fn lines(v: &Verdict) -> Vec<&str> {
    v.evidence.iter().map(|e| e.line.as_str()).collect()
}

#[tokio::test]
async fn good_sender_passes_every_expectation() {
    let report = grade("good_sender.py", 2).await;
    assert!(report.passed, "{}", report.to_text());
    assert_eq!(report.verdicts.len(), 8, "{}", report.to_text());
    assert_eq!(report.summary.run.and_then(|r| r.exit), Some(0));
    assert_eq!(
        verdict(&report, "retried_after_temporary").found,
        "the one 4xx deferral was retried"
    );
}

#[tokio::test]
async fn bad_sender_fails_with_the_lines_that_show_it() {
    let report = grade("bad_sender.py", 3).await;
    assert!(!report.passed, "{}", report.to_text());
    let text = report.to_text();

    let v = verdict(&report, "no_retry_after_permanent");
    assert!(!v.passed, "{text}");
    assert_eq!(
        lines(v),
        [
            "S: 550 5.1.1 The email account that you tried to reach does not exist  [rule: unknown user]",
            "C: rcpt TO:<unknown@example.test>",
        ],
        "{text}"
    );
    assert_eq!(v.evidence[0].session + 1, v.evidence[1].session, "{text}");
    assert!(v.evidence[1].why.contains("2 tries in all"), "{text}");

    let v = verdict(&report, "min_retry_interval");
    assert!(!v.passed, "{text}");
    assert_eq!(
        lines(v)[..2],
        [
            "S: 450 4.2.0 Greylisted, please try again later  [rule: greylist]",
            "C: rcpt TO:<user@example.test>",
        ],
        "{text}"
    );
    assert!(v.evidence[1].why.contains("sooner than 2.000s"), "{text}");

    let v = verdict(&report, "quit");
    assert!(!v.passed, "{text}");
    assert_eq!(
        v.found,
        "3 sessions of 3 closed the connection without QUIT"
    );
    assert!(
        lines(v).contains(&"-- client closed the connection"),
        "{text}"
    );

    // Hammering never gets past the greylist, so the last 450 is never
    // retried and nothing is delivered.
    assert!(
        !verdict(&report, "retried_after_temporary").passed,
        "{text}"
    );
    assert!(!verdict(&report, "delivered").passed, "{text}");
    assert!(verdict(&report, "no_protocol_errors").passed, "{text}");
    assert!(verdict(&report, "within").passed, "{text}");
}
