//! `mailfault run` as CI uses it: the example senders graded through the
//! binary, exit codes, JSON and JUnit reports, the environment the command
//! gets, time limits and usage errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mailfault");

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("run")
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("mailfault runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Parses a JUnit file with Python's XML parser (a real consumer, not ours)
/// and returns (tests, failures, skipped, failing test case names).
fn junit(path: &Path) -> (u64, u64, u64, Vec<String>) {
    let script = r#"
import sys, xml.etree.ElementTree as ET
suite = ET.parse(sys.argv[1]).getroot()
assert suite.tag == "testsuite", suite.tag
failing = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
print(suite.get("tests"), suite.get("failures"), suite.get("skipped"), ",".join(failing))
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "JUnit does not parse: {}",
        text(&out.stderr)
    );
    let line = text(&out.stdout);
    let mut parts = line.trim().splitn(4, ' ');
    let mut num = || parts.next().unwrap().parse::<u64>().unwrap();
    let (t, f, s) = (num(), num(), num());
    let failing = parts
        .next()
        .unwrap_or("")
        .split(',')
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    (t, f, s, failing)
}

/// Runs an example sender against `examples/grade-retries.yaml` with both
/// reports; returns the output, the report paths and their folder.
fn grade(sender: &str) -> (Output, PathBuf, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let xml = dir.path().join("junit.xml");
    let out = run(&[
        repo("examples/grade-retries.yaml").to_str().unwrap(),
        "--report",
        &format!("json:{}", json.display()),
        "--report",
        &format!("junit:{}", xml.display()),
        "--",
        "python3",
        repo(&format!("examples/{sender}")).to_str().unwrap(),
    ]);
    (out, json, xml, dir)
}

#[test]
fn the_good_sender_passes_with_json_and_junit_reports() {
    let (out, json, xml, _dir) = grade("good_sender.py");
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("expectations PASSED: 8 passed, 0 failed"),
        "{stdout}"
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["passed"], true);
    assert_eq!(report["verdicts"].as_array().unwrap().len(), 8);
    assert_eq!(report["summary"]["run"]["exit"], 0);
    assert_eq!(junit(&xml), (8, 0, 0, vec![]));
}

#[test]
fn the_bad_sender_fails_with_evidence_and_exit_1() {
    let (out, json, xml, _dir) = grade("bad_sender.py");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL  no_retry_after_permanent"),
        "{stdout}"
    );
    assert!(stdout.contains("[rule: unknown user]"), "{stdout}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["passed"], false);
    let failed: Vec<&str> = report["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["passed"] == false)
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    for name in [
        "no_retry_after_permanent",
        "min_retry_interval",
        "quit",
        "retried_after_temporary",
    ] {
        assert!(failed.contains(&name), "{name} should fail: {failed:?}");
    }
    let evidence = &report["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "no_retry_after_permanent")
        .unwrap()["evidence"];
    assert!(
        evidence[0]["line"]
            .as_str()
            .unwrap()
            .starts_with("S: 550 5.1.1"),
        "{evidence}"
    );
    assert!(
        evidence[1]["line"]
            .as_str()
            .unwrap()
            .contains("unknown@example.test"),
        "{evidence}"
    );
    let (tests, failures, _, failing) = junit(&xml);
    assert_eq!((tests, failures as usize), (8, failed.len()));
    assert!(failing.contains(&"quit".to_owned()));
}

#[test]
fn the_command_gets_the_server_in_its_environment() {
    let dir = tempfile::tempdir().unwrap();
    let seen = dir.path().join("env.txt");
    let script = format!(
        "import os, smtplib, urllib.request\n\
         host, port = os.environ['MAILFAULT_SMTP_HOST'], int(os.environ['MAILFAULT_SMTP_PORT'])\n\
         s = smtplib.SMTP(host, port)\n\
         s.sendmail('a@x.test', ['b@y.test'], 'Subject: env\\r\\n\\r\\nx\\r\\n')\n\
         s.quit()\n\
         msgs = urllib.request.urlopen(os.environ['MAILFAULT_HTTP_URL'] + '/api/v1/messages').read().decode()\n\
         open({:?}, 'w').write(os.environ['MAILFAULT_SMTP_URL'] + '\\n' + msgs)\n",
        seen.display().to_string()
    );
    let out = run(&[
        repo("scenarios/accept-all.yaml").to_str().unwrap(),
        "--",
        "python3",
        "-c",
        &script,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let seen = std::fs::read_to_string(&seen).unwrap();
    assert!(seen.starts_with("smtp://127.0.0.1:"), "{seen}");
    assert!(seen.contains("\"Subject\":\"env\""), "{seen}");
}

#[test]
fn without_expectations_the_commands_own_failure_fails_the_run() {
    let out = run(&[
        repo("scenarios/accept-all.yaml").to_str().unwrap(),
        "--",
        "python3",
        "-c",
        "import sys; sys.exit(3)",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("exited with 3"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_sender_past_within_is_stopped_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("quick.yaml");
    std::fs::write(&scenario, "version: 1\nexpect:\n  within: 1s\n").unwrap();
    let started = Instant::now();
    let out = run(&[
        scenario.to_str().unwrap(),
        "--",
        "python3",
        "-c",
        "import time; time.sleep(30)",
    ]);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "not stopped at the limit"
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("FAIL  within"), "{stdout}");
}

/// A connection left open by the sender's leftover process (here a
/// background child that outlives the command) does not keep `run` from
/// judging: the server drains for a bounded time, then closes it.
#[test]
fn a_connection_left_open_after_the_command_does_not_hang_run() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("quick.yaml");
    std::fs::write(&scenario, "version: 1\nexpect:\n  within: 2s\n").unwrap();
    // Stalls inside DATA, where a shutdown does not cut a client short.
    let hold = "import os, socket, time; s = socket.create_connection((os.environ['MAILFAULT_SMTP_HOST'], int(os.environ['MAILFAULT_SMTP_PORT']))); f = s.makefile('rb'); f.readline(); s.sendall(b'HELO x\\\\r\\\\nMAIL FROM:<a@x.test>\\\\r\\\\nRCPT TO:<b@y.test>\\\\r\\\\nDATA\\\\r\\\\nSubject: hi\\\\r\\\\n'); time.sleep(60)";
    let script = format!("python3 -c \"{hold}\" >/dev/null 2>&1 & sleep 0.5");
    let started = Instant::now();
    let out = run(&[scenario.to_str().unwrap(), "--", "sh", "-c", &script]);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(20), "run hung for {took:?}");
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("still open after the command ended were closed"),
        "{stdout}{stderr}"
    );
}

#[test]
fn usage_errors_exit_2_with_a_reason() {
    let bad_program = run(&[
        repo("scenarios/accept-all.yaml").to_str().unwrap(),
        "--",
        "/nonexistent/sender",
    ]);
    assert_eq!(bad_program.status.code(), Some(2));
    assert!(text(&bad_program.stderr).contains("cannot start `/nonexistent/sender`"));

    let bad_scenario = run(&["/nonexistent/s.yaml", "--", "true"]);
    assert_eq!(bad_scenario.status.code(), Some(2));
    assert!(text(&bad_scenario.stderr).contains("/nonexistent/s.yaml"));

    let no_command = run(&[repo("scenarios/accept-all.yaml").to_str().unwrap()]);
    assert_eq!(no_command.status.code(), Some(2));

    let bad_report = run(&[
        repo("scenarios/accept-all.yaml").to_str().unwrap(),
        "--report",
        "xml:out.xml",
        "--",
        "true",
    ]);
    assert_eq!(bad_report.status.code(), Some(2));
    assert!(text(&bad_report.stderr).contains("json:FILE or junit:FILE"));
}

/// A sender with a retry queue, as a CI job would run one: it retries
/// deferrals (4xx, a 421 or a dropped connection) after a short pause, gives
/// up on a 5xx, and always says QUIT when the server lets it.
const PATIENT_SENDER: &str = r#"
import os, smtplib, sys, time
host, port = os.environ["MAILFAULT_SMTP_HOST"], int(os.environ["MAILFAULT_SMTP_PORT"])
to = sys.argv[1]
for attempt in range(8):
    try:
        s = smtplib.SMTP(host, port, timeout=10)
    except (smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected, ConnectionError):
        time.sleep(0.3)
        continue
    try:
        s.sendmail("app@example.test", [to], "Subject: patient\r\n\r\nhello\r\n")
        s.quit()
        sys.exit(0)
    except smtplib.SMTPRecipientsRefused as e:
        code = e.recipients[to][0]
    except smtplib.SMTPResponseException as e:
        code = e.smtp_code
    except smtplib.SMTPServerDisconnected:
        code = 421
    try:
        s.quit()
    except smtplib.SMTPServerDisconnected:
        pass
    if code >= 500:
        sys.exit(0)
    time.sleep(0.3)
sys.exit(1)
"#;

#[test]
fn the_ready_made_scenarios_pass_a_patient_sender() {
    for (scenario, to) in [
        ("accept-all", "user@example.test"),
        ("unknown-user", "who@nowhere.example.test"),
        ("mailbox-full", "full@example.test"),
        ("fail-twice-then-accept", "user@example.test"),
        ("first-connection-421", "user@example.test"),
    ] {
        let out = run(&[
            repo(&format!("scenarios/{scenario}.yaml"))
                .to_str()
                .unwrap(),
            "--",
            "python3",
            "-c",
            PATIENT_SENDER,
            to,
        ]);
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{scenario}:\n{stdout}\n{}",
            text(&out.stderr)
        );
        assert!(
            stdout.contains("expectations PASSED"),
            "{scenario}: {stdout}"
        );
    }
}

#[test]
fn a_sender_without_a_retry_queue_fails_the_deferring_scenarios() {
    let impatient = "import os, smtplib\n\
        s = smtplib.SMTP(os.environ['MAILFAULT_SMTP_HOST'], int(os.environ['MAILFAULT_SMTP_PORT']))\n\
        try:\n    s.sendmail('app@example.test', ['user@example.test'], 'Subject: once\\r\\n\\r\\nx\\r\\n')\n\
        except smtplib.SMTPException as e:\n    print('gave up:', e)\n\
        s.quit()\n";
    let out = run(&[
        repo("scenarios/fail-twice-then-accept.yaml")
            .to_str()
            .unwrap(),
        "--",
        "python3",
        "-c",
        impatient,
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL  retried_after_temporary"), "{stdout}");
    assert!(stdout.contains("FAIL  delivered"), "{stdout}");
}

/// Runs an example sender against `examples/grade-bounces.yaml` with a JSON report.
fn grade_bounces(sender: &str) -> (Output, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let out = run(&[
        repo("examples/grade-bounces.yaml").to_str().unwrap(),
        "--report",
        &format!("json:{}", json.display()),
        "--",
        "python3",
        repo(&format!("examples/{sender}")).to_str().unwrap(),
    ]);
    let report = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    (out, report)
}

#[test]
fn a_sender_with_a_suppression_list_passes_the_bounce_grading() {
    let (out, report) = grade_bounces("suppressing_sender.py");
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("suppression list: ['angry@example.test', 'gone@example.test']"),
        "{stdout}"
    );
    assert_eq!(report["passed"], true, "{report:#}");
    let names: Vec<&str> = report["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"stops_after_hard_bounce"), "{names:?}");
    assert!(names.contains(&"stops_after_complaint"), "{names:?}");
}

#[test]
fn a_naive_sender_fails_the_bounce_grading_with_evidence() {
    let (out, report) = grade_bounces("naive_sender.py");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let verdict = |name: &str| {
        report["verdicts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .cloned()
            .unwrap()
    };
    let bounce = verdict("stops_after_hard_bounce");
    assert_eq!(bounce["passed"], false);
    let evidence = bounce["evidence"].as_array().unwrap();
    assert!(
        evidence[0]["line"]
            .as_str()
            .unwrap()
            .contains("bounce (DSN failed 5.1.1) about <gone@example.test> sent to <bounces+gone=example.test@app.example.test>"),
        "{evidence:?}"
    );
    assert!(
        evidence[1]["line"]
            .as_str()
            .unwrap()
            .ends_with("TO:<gone@example.test>"),
        "{evidence:?}"
    );
    let complaint = verdict("stops_after_complaint");
    assert_eq!(complaint["passed"], false);
    assert!(
        complaint["found"]
            .as_str()
            .unwrap()
            .contains("<angry@example.test>")
    );
}
