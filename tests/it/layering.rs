//! The architecture as rules the source must keep: `proto` (the sans-IO
//! core) imports nothing above it, `expect` (the grader) reads typed events
//! and never the transport or transcript text.

use std::path::{Path, PathBuf};

fn sources(dir: &str) -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut out = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path, text));
            }
        }
    }
    assert!(!out.is_empty(), "no sources under {dir}");
    out
}

/// Test files may build sessions by hand; the rule is about the code.
fn is_test(path: &Path) -> bool {
    let name = path.file_name().unwrap().to_string_lossy();
    name.ends_with("tests.rs") || name == "testkit.rs"
}

fn offenders(dir: &str, needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (path, text) in sources(dir) {
        if is_test(&path) {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for needle in needles {
                if code.contains(needle) {
                    found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
        }
    }
    found
}

#[test]
fn proto_imports_nothing_above_it() {
    let above = [
        "crate::scenario",
        "crate::store",
        "crate::transport",
        "crate::http",
        "crate::expect",
        "crate::codes",
        "crate::commands",
        "crate::fixture",
        "crate::tls",
        "tokio",
    ];
    let found = offenders("src/proto", &above);
    assert!(
        found.is_empty(),
        "proto reaches above itself:\n{}",
        found.join("\n")
    );
}

#[test]
fn expect_imports_no_transport() {
    let found = offenders("src/expect", &["crate::transport", "tokio"]);
    assert!(
        found.is_empty(),
        "expect reaches into the transport:\n{}",
        found.join("\n")
    );
}

/// Verdicts come from fields of typed events. Text is made only to quote
/// evidence; no judgement matches on it.
#[test]
fn expect_matches_no_transcript_text() {
    let text_reading = [
        "Direction",
        "transcript::lines",
        "transcript::render",
        ".text.",
        ".text(",
        "starts_with(\"",
        "ends_with(\"",
        "contains(\"",
        "strip_prefix(\"",
        "find(\"",
        "split_once(",
        "to_ascii_uppercase",
        ".parse()",
    ];
    let found = offenders("src/expect", &text_reading);
    assert!(
        found.is_empty(),
        "expect reads transcript text:\n{}",
        found.join("\n")
    );
}
