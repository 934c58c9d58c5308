//! Manners on the wire: ending sessions with QUIT, not causing protocol
//! errors, and going quiet after a 421.

use super::dialogue::{Dialogue, Exchange, Said, Verb};
use super::{Seen, Verdict};

fn sessions(n: usize) -> String {
    if n == 1 {
        "1 session".to_owned()
    } else {
        format!("{n} sessions")
    }
}

/// How a session ended, when the client did not say QUIT.
enum Ending<'a> {
    Quit,
    /// The server replied 421 and closed, as RFC 5321 §3.8 requires: the
    /// client had no chance to say QUIT.
    After421,
    /// The server closed for a reason of its own (a `disconnect` fault, a
    /// TLS handshake that failed, shutdown): not the client's doing.
    ServerClosed,
    /// The client closed the socket (or it broke) without QUIT.
    Dropped(&'a Said),
}

fn ending(d: &Dialogue) -> Ending<'_> {
    if d.commands().any(|c| c.verb == Verb::Quit) {
        return Ending::Quit;
    }
    if d.exchanges().any(|e| e.code() == Some(421)) {
        return Ending::After421;
    }
    match d.client_went_away() {
        Some(note) => Ending::Dropped(note),
        None => Ending::ServerClosed,
    }
}

/// Every session ends with the client's QUIT. Sessions the server ended (a
/// 421, a `disconnect` fault, a failed TLS handshake) are excused: the
/// client never had the chance.
pub fn quit(seen: &Seen<'_>) -> Verdict {
    let (mut quit, mut excused, mut dropped) = (0, 0, 0);
    let mut evidence = Vec::new();
    for d in &seen.dialogues {
        match ending(d) {
            Ending::Quit => quit += 1,
            Ending::After421 | Ending::ServerClosed => excused += 1,
            Ending::Dropped(note) => {
                dropped += 1;
                if let Some(last) = d.commands().last() {
                    evidence.push(last.line.evidence("last command of the session"));
                }
                evidence.push(note.evidence("the client closed the connection without QUIT"));
            }
        }
    }
    let expected = "every session ends with the client's QUIT";
    let server_part = match excused {
        0 => String::new(),
        n => format!(
            "; {} ended by the server (421 or a fault), excused",
            sessions(n)
        ),
    };
    if dropped == 0 {
        let found = format!("{} ended with QUIT{server_part}", sessions(quit));
        return Verdict::new("quit", true, expected, found, evidence);
    }
    let found = format!(
        "{} of {} closed the connection without QUIT{server_part}",
        sessions(dropped),
        quit + excused + dropped
    );
    Verdict::new("quit", false, expected, found, evidence)
}

/// The client never caused a 500, 501, 503 or 504. Replies a scenario rule
/// produced are faults on purpose, and a 503 to RCPT, DATA or BDAT behind a
/// refused MAIL is what a pipelining client gets by design (RFC 2920 §3.1).
pub fn no_protocol_errors(seen: &Seen<'_>) -> Verdict {
    let mut evidence = Vec::new();
    let mut count = 0;
    for d in &seen.dialogues {
        let mut mail_refused = false;
        for e in d.exchanges() {
            let Some(c) = e.command() else { continue };
            match c.verb {
                Verb::Mail => mail_refused = e.reply.as_ref().and_then(|r| r.class()) != Some(2),
                Verb::Rset | Verb::Helo | Verb::Ehlo => mail_refused = false,
                _ => {}
            }
            let excused = mail_refused
                && e.code() == Some(503)
                && matches!(c.verb, Verb::Rcpt | Verb::Data | Verb::Bdat);
            if !caused_error(e) || excused {
                continue;
            }
            count += 1;
            evidence.push(c.line.evidence("this command"));
            if let Some(line) = e.reply.as_ref().and_then(|r| r.line()) {
                evidence.push(line.evidence("the protocol error it caused"));
            }
        }
    }
    let expected = "the client never causes a 500, 501, 503 or 504 reply";
    if count == 0 {
        return Verdict::new(
            "no_protocol_errors",
            true,
            expected,
            "no command caused a protocol error",
            evidence,
        );
    }
    let found = format!(
        "{count} command{} caused a protocol error",
        if count == 1 { "" } else { "s" }
    );
    Verdict::new("no_protocol_errors", false, expected, found, evidence)
}

fn caused_error(e: &Exchange) -> bool {
    e.reply
        .as_ref()
        .is_some_and(|r| matches!(r.code, Some(500 | 501 | 503 | 504)) && r.rule().is_none())
}

/// After a 421 the client sends nothing more on that connection. The
/// connection half-closes after a 421 and records what still arrives for a
/// moment (bytes pipelined before the 421 went out are excused), so a client
/// that keeps talking shows up here. A QUIT is a polite goodbye, not a
/// violation.
pub fn closed_after_421(seen: &Seen<'_>) -> Verdict {
    let mut evidence = Vec::new();
    let (mut replies, mut offending) = (0, 0);
    for d in &seen.dialogues {
        let Some(first) = d
            .exchanges()
            .filter(|e| e.code() == Some(421))
            .find_map(|e| e.reply.as_ref().and_then(|r| r.line()))
        else {
            continue;
        };
        replies += 1;
        let after: Vec<_> = d
            .commands()
            .filter(|c| c.line.index > first.index && c.verb != Verb::Quit)
            .collect();
        if let Some(next) = after.first() {
            offending += 1;
            evidence.push(first.evidence("421: the server is closing this connection"));
            evidence.push(next.line.evidence(format!(
                "sent after the 421 ({} command{} in all)",
                after.len(),
                if after.len() == 1 { "" } else { "s" }
            )));
        }
    }
    let expected = "after a 421 the client sends no further command on that connection";
    if offending == 0 {
        let found = match replies {
            0 => "no 421 reply was sent".to_owned(),
            n => format!(
                "{} got a 421; the client sent nothing after it",
                sessions(n)
            ),
        };
        return Verdict::new("closed_after_421", true, expected, found, evidence);
    }
    let found = format!(
        "{} of {replies} kept sending commands after a 421",
        sessions(offending)
    );
    Verdict::new("closed_after_421", false, expected, found, evidence)
}
