//! The same raw dialogues sent to a private Postfix smtpd and to mailfault
//! (accept-all): their reply codes, and their enhanced codes where both give
//! one, must agree step by step. Every difference is either fixed in
//! mailfault or listed, with its reason, in `differential_allowed.rs`; the
//! test fails on a difference that is not listed, and on a listed one that
//! no longer happens, so the list stays true.
//!
//! Postfix runs with mailfault's limits (see `common::postfix`); host names,
//! queue ids and texts are not compared, only the codes.

mod dialogues;

use crate::common::postfix::Postfix;
use crate::differential_allowed::ALLOWED;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use mailfault::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one expected reply may take; servers answer in microseconds,
/// so this is only reached when a server waits for more input.
const REPLY_WAIT: Duration = Duration::from_secs(5);
/// After a step's expected replies, how long to wait for unexpected ones.
const EXTRA_WAIT: Duration = Duration::from_millis(40);
/// Dialogues run at once per server.
const PARALLEL: usize = 8;

/// One write and the number of replies it should produce.
#[derive(Clone)]
struct Step {
    send: Vec<u8>,
    replies: usize,
}

#[derive(Clone)]
struct Dialogue {
    name: String,
    steps: Vec<Step>,
}

impl Dialogue {
    /// Greeting, then `EHLO client.test`.
    fn new(name: impl Into<String>) -> Self {
        Self::bare(name).cmd("EHLO client.test")
    }

    /// Greeting only.
    fn bare(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            steps: Vec::new(),
        }
    }

    /// One command line, CRLF added, one reply.
    fn cmd(self, line: &str) -> Self {
        self.raw(format!("{line}\r\n").as_bytes(), 1)
    }

    /// Bytes as they are, `replies` replies.
    fn raw(mut self, bytes: &[u8], replies: usize) -> Self {
        self.steps.push(Step {
            send: bytes.to_vec(),
            replies,
        });
        self
    }

    /// `MAIL FROM:<a@example.test>`.
    fn mail(self) -> Self {
        self.cmd("MAIL FROM:<a@example.test>")
    }

    /// MAIL and one `RCPT TO:<b@example.test>`.
    fn mail_rcpt(self) -> Self {
        self.mail().cmd("RCPT TO:<b@example.test>")
    }
}

/// A reply reduced to what is compared: `250`, `501 5.1.3`.
fn codes(reply: &str) -> String {
    let last = reply.trim_end().rsplit("\r\n").next().unwrap_or("");
    let code: String = last.chars().take(3).collect();
    let rest = last.get(4..).unwrap_or("");
    match rest.split_whitespace().next() {
        Some(e) if is_enhanced(e) => format!("{code} {e}"),
        _ => code,
    }
}

fn is_enhanced(word: &str) -> bool {
    let parts: Vec<&str> = word.split('.').collect();
    parts.len() == 3
        && matches!(parts[0], "2" | "4" | "5")
        && parts[1..]
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    closed: bool,
}

impl Conn {
    /// The next complete reply, `None` when none came within `wait` or
    /// the connection closed.
    async fn reply(&mut self, wait: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let mut start = 0;
            while let Some(pos) = self.buf[start..].iter().position(|&b| b == b'\n') {
                let end = start + pos + 1;
                let line = &self.buf[start..end];
                if line.len() < 4 || line[3] != b'-' {
                    let reply: Vec<u8> = self.buf.drain(..end).collect();
                    return Some(String::from_utf8_lossy(&reply).into_owned());
                }
                start = end;
            }
            if self.closed {
                return None;
            }
            let mut chunk = [0u8; 8192];
            match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Err(_) => return None,
                Ok(Ok(0)) | Ok(Err(_)) => self.closed = true,
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

/// Runs one dialogue; one entry per step (the greeting first), each the
/// step's replies as codes joined by `,`, `closed` once the server hung up.
async fn play(addr: SocketAddr, dialogue: &Dialogue) -> Vec<String> {
    let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .expect("connect timed out")
        .expect("connect failed");
    let mut c = Conn {
        stream,
        buf: Vec::new(),
        closed: false,
    };
    let greeting = Step {
        send: Vec::new(),
        replies: 1,
    };
    let mut out = Vec::new();
    for step in std::iter::once(&greeting).chain(&dialogue.steps) {
        if c.closed && c.buf.is_empty() {
            out.push("closed".to_owned());
            break;
        }
        if !step.send.is_empty() && c.stream.write_all(&step.send).await.is_err() {
            out.push("closed".to_owned());
            break;
        }
        let mut got = Vec::new();
        for _ in 0..step.replies {
            match c.reply(REPLY_WAIT).await {
                Some(r) => got.push(codes(&r)),
                None => break,
            }
        }
        while let Some(r) = c.reply(EXTRA_WAIT).await {
            got.push(format!("extra {}", codes(&r)));
        }
        if got.is_empty() {
            got.push(if c.closed { "closed" } else { "-" }.to_owned());
        }
        out.push(got.join(","));
    }
    out
}

/// Whether two steps agree: the same reply codes, and the same enhanced
/// codes where both gave one.
fn same_step(a: &str, b: &str) -> bool {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.split(',').collect(), b.split(',').collect());
    a.len() == b.len()
        && a.iter().zip(&b).all(|(x, y)| {
            let (xc, xe) = x.split_once(' ').unwrap_or((x, ""));
            let (yc, ye) = y.split_once(' ').unwrap_or((y, ""));
            xc == yc && (xe.is_empty() || ye.is_empty() || xe == ye)
        })
}

fn same(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_step(x, y))
}

async fn play_all(addr: SocketAddr, dialogues: &[Dialogue]) -> Vec<Vec<String>> {
    let mut results = vec![Vec::new(); dialogues.len()];
    for (batch_no, batch) in dialogues.chunks(PARALLEL).enumerate() {
        let mut set = tokio::task::JoinSet::new();
        for (i, d) in batch.iter().enumerate() {
            let d = d.clone();
            set.spawn(async move { (i, play(addr, &d).await) });
        }
        while let Some(done) = set.join_next().await {
            let (i, r) = done.expect("dialogue task");
            results[batch_no * PARALLEL + i] = r;
        }
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailfault_answers_like_postfix_or_says_why_not() {
    let Some(postfix) = Postfix::start() else {
        return;
    };
    let server = TestServer::start().await.unwrap();
    let dialogues = dialogues::dialogues();
    assert!(dialogues.len() >= 200, "{} dialogues", dialogues.len());
    let names: BTreeSet<&str> = dialogues.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names.len(), dialogues.len(), "dialogue names are unique");
    for (name, _, _, reason) in ALLOWED {
        assert!(
            names.contains(name),
            "listed difference {name} names no dialogue"
        );
        assert!(
            !reason.is_empty(),
            "{name}: a listed difference needs its reason"
        );
    }

    let theirs = play_all(postfix.addr(), &dialogues).await;
    let ours = play_all(server.smtp_addr(), &dialogues).await;

    let allowed: BTreeMap<&str, (&str, &str)> = ALLOWED
        .iter()
        .map(|(name, p, m, _)| (*name, (*p, *m)))
        .collect();
    let mut problems = Vec::new();
    let mut differ = 0;
    for ((d, p), m) in dialogues.iter().zip(&theirs).zip(&ours) {
        let (p_line, m_line) = (p.join(" | "), m.join(" | "));
        let listed = allowed.get(d.name.as_str());
        if same(p, m) {
            if listed.is_some() {
                problems.push(format!(
                    "{}: listed as a difference, but both now answer {m_line}; remove it from differential_allowed.rs",
                    d.name
                ));
            }
            continue;
        }
        differ += 1;
        match listed {
            Some((lp, lm)) if *lp == p_line && *lm == m_line => {}
            Some((lp, lm)) => problems.push(format!(
                "{}: the listed difference changed:\n    listed   postfix {lp}\n             mailfault {lm}\n    now      postfix {p_line}\n             mailfault {m_line}",
                d.name
            )),
            None => problems.push(format!(
                "{}: not listed:\n    (\"{}\", \"{p_line}\", \"{m_line}\", \"...\"),",
                d.name, d.name
            )),
        }
    }
    eprintln!(
        "{} dialogues, {} identical, {differ} listed differences",
        dialogues.len(),
        dialogues.len() - differ
    );
    server.shutdown().await;
    if !problems.is_empty() {
        let log = postfix.log();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        drop(postfix);
        panic!(
            "{} problem(s):\n{}\n\npostfix log (last lines, newest first):\n{}",
            problems.len(),
            problems.join("\n"),
            tail.join("\n")
        );
    }
}
