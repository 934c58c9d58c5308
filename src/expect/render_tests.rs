//! The three renderings: readable text, JSON that round-trips, and JUnit
//! XML that an XML parser accepts.

use std::process::{Command, Stdio};
use std::time::Duration;

use super::super::testkit::{Script, judge};
use super::super::{Report, RunFacts};

/// A report with a pass, a failure with hostile text, and a skipped case.
fn report() -> Report {
    let sessions = [Script::greeted(1, 0.0)
        .c("MAIL FROM:<a&b'x@c.test>")
        .s("250 ok")
        .c("RCPT TO:<unknown@c.test>")
        .rule("550 5.1.1 <no> & \"such\" user", "unknown & <user>")
        .c("RCPT TO:<unknown@c.test>")
        .rule("550 5.1.1 <no> & \"such\" user", "unknown & <user>")
        .c("HELO \u{1b}]8;;x")
        .s("250 ok")
        .dropped()
        .done()];
    let mut r = judge(
        "  no_retry_after_permanent: true\n  delivered: 0\n  quit: false\n",
        &sessions,
        &[],
    );
    r.summary.run = Some(RunFacts {
        elapsed: Duration::from_millis(1500),
        exit: Some(0),
        timed_out: false,
    });
    r
}

#[test]
fn text_shows_pass_fail_and_indented_evidence() {
    let text = report().to_text();
    assert!(
        text.starts_with("expectations FAILED: 1 passed, 1 failed"),
        "{text}"
    );
    assert!(text.contains("\nPASS  delivered\n"), "{text}");
    assert!(
        text.contains("\nFAIL  no_retry_after_permanent\n"),
        "{text}"
    );
    assert!(
        text.contains("        [session 1 at 0.007s] C: RCPT TO:<unknown@c.test>\n"),
        "{text}"
    );
    assert!(text.contains("sender exited with 0 after 1.500s"), "{text}");
    assert!(text.contains("not judged (set to false): quit"), "{text}");
}

#[test]
fn json_round_trips() {
    let r = report();
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).expect("valid JSON");
    assert_eq!(v["passed"], false);
    assert_eq!(v["summary"]["failed"], 1);
    assert_eq!(v["summary"]["not_judged"][0], "quit");
    assert_eq!(v["summary"]["run"]["elapsed"], "1.500s");
    let failing = &v["verdicts"][1];
    assert_eq!(failing["name"], "no_retry_after_permanent");
    assert_eq!(failing["evidence"][0]["session"], 1);
    assert_eq!(
        failing["evidence"][0]["line"],
        r.verdicts[1].evidence[0].line.as_str()
    );
}

/// Parses with Python's XML parser (python3 is on every machine these tests
/// run on) and prints what a CI server would read.
fn parse_with_python(xml: &str) -> String {
    let script = r#"
import sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
print(root.tag, root.get("name"), root.get("tests"), root.get("failures"), root.get("skipped"))
for case in root.findall("testcase"):
    f = case.find("failure")
    s = case.find("skipped")
    state = "failure" if f is not None else "skipped" if s is not None else "pass"
    print(case.get("name"), case.get("classname"), state)
    if f is not None:
        print("message:", f.get("message"))
        print("body:", f.text)
"#;
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(xml.as_bytes())
        .expect("write xml");
    let out = child.wait_with_output().expect("python3 finishes");
    assert!(
        out.status.success(),
        "XML rejected: {}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn junit_is_well_formed_with_one_case_per_verdict() {
    let xml = report().to_junit("grade \"retries\" & <more>");
    let seen = parse_with_python(&xml);
    let mut lines = seen.lines();
    assert_eq!(
        lines.next(),
        Some("testsuite grade \"retries\" & <more> 3 1 1")
    );
    assert_eq!(lines.next(), Some("delivered mailfault.expect pass"));
    assert_eq!(
        lines.next(),
        Some("no_retry_after_permanent mailfault.expect failure")
    );
    let message = lines.next().unwrap_or_default();
    assert!(
        message.starts_with("message: 1 retry after a permanent failure"),
        "{seen}"
    );
    assert!(
        seen.contains("S: 550 5.1.1 <no> & \"such\" user  [rule: unknown & <user>]"),
        "{seen}"
    );
    assert!(seen.contains("quit mailfault.expect skipped"), "{seen}");
}

#[test]
fn junit_replaces_characters_xml_cannot_carry() {
    let mut r = report();
    r.verdicts[1].found = "bell \u{7} and nul \u{0} and tab\tand newline\n".into();
    let seen = parse_with_python(&r.to_junit("s"));
    assert!(
        seen.contains("message: bell \u{FFFD} and nul \u{FFFD} and tab\tand newline\n"),
        "{seen}"
    );
}
