//! Manners on the wire: ending sessions with QUIT, not causing protocol
//! errors, and going quiet after a 421.

use super::exchanges::{Ending, Exchange, Said, Session};
use super::{Seen, Verdict};
use crate::proto::command::Verb;
use crate::proto::event::CloseReason;

fn sessions(n: usize) -> String {
    if n == 1 {
        "1 session".to_owned()
    } else {
        format!("{n} sessions")
    }
}

/// How a session ended, for the QUIT judgement.
enum Close<'a> {
    Quit,
    /// The server ended it for a reason of its own (a 421, as RFC 5321
    /// §3.8 requires; a `disconnect` fault; a failed TLS handshake;
    /// shutdown): the client had no chance to say QUIT.
    Server,
    /// The client closed the socket (or it broke) without QUIT.
    Dropped(Said<'a>),
}

fn close<'a>(s: &Session<'a>) -> Close<'a> {
    if s.commands().any(|c| c.is(Verb::Quit) && !c.event.late) {
        return Close::Quit;
    }
    match s.ending() {
        Ending::Server(CloseReason::Quit) => Close::Quit,
        Ending::Server(_) | Ending::Unknown => Close::Server,
        Ending::Client(said) => Close::Dropped(said),
    }
}

/// Every session ends with the client's QUIT. Sessions the server ended (a
/// 421, a `disconnect` fault, a failed TLS handshake) are excused: the
/// client never had the chance.
pub(super) fn quit(seen: &Seen<'_>) -> Verdict {
    let (mut quit, mut excused, mut dropped) = (0, 0, 0);
    let mut evidence = Vec::new();
    for s in &seen.sessions {
        match close(s) {
            Close::Quit => quit += 1,
            Close::Server => excused += 1,
            Close::Dropped(end) => {
                dropped += 1;
                if let Some(last) = s.commands().last() {
                    evidence.push(last.said.evidence("last command of the session"));
                }
                evidence.push(end.evidence("the client closed the connection without QUIT"));
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

/// The client never caused a 500, 501, 503, 504 or 555. Replies a scenario rule
/// produced are faults on purpose, and a 503 to RCPT, DATA or BDAT behind a
/// refused MAIL is what a pipelining client gets by design (RFC 2920 §3.1).
pub(super) fn no_protocol_errors(seen: &Seen<'_>) -> Verdict {
    let mut evidence = Vec::new();
    let mut count = 0;
    for s in &seen.sessions {
        let mut mail_refused = false;
        for e in &s.exchanges {
            let Some(c) = e.command() else { continue };
            match c.verb() {
                Some(Verb::Mail) => mail_refused = e.reply.map(|r| r.class()) != Some(2),
                Some(Verb::Rset | Verb::Helo | Verb::Ehlo) => mail_refused = false,
                _ => {}
            }
            let excused = mail_refused
                && e.code() == Some(503)
                && matches!(c.verb(), Some(Verb::Rcpt | Verb::Data | Verb::Bdat));
            if !caused_error(e) || excused {
                continue;
            }
            count += 1;
            evidence.push(c.said.evidence("this command"));
            if let Some(r) = e.reply {
                evidence.push(r.said.evidence("the protocol error it caused"));
            }
        }
    }
    let expected = "the client never causes a 500, 501, 503, 504 or 555 reply";
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

fn caused_error(e: &Exchange<'_>) -> bool {
    e.reply
        .is_some_and(|r| matches!(r.code(), 500 | 501 | 503 | 504 | 555) && !r.by_rule())
}

/// After a 421 the client sends nothing more on that connection. The
/// connection half-closes after a 421 and records what still arrives for a
/// moment (bytes pipelined before the 421 went out are excused), so a client
/// that keeps talking shows up here. A QUIT is a polite goodbye, not a
/// violation.
pub(super) fn closed_after_421(seen: &Seen<'_>) -> Verdict {
    let mut evidence = Vec::new();
    let (mut replies, mut offending) = (0, 0);
    for s in &seen.sessions {
        let Some(first) = s
            .exchanges
            .iter()
            .filter_map(|e| e.reply)
            .find(|r| r.code() == 421)
            .map(|r| r.said)
        else {
            continue;
        };
        replies += 1;
        let after: Vec<_> = s
            .commands()
            .filter(|c| c.said.index > first.index && !c.is(Verb::Quit))
            .collect();
        if let Some(next) = after.first() {
            offending += 1;
            evidence.push(first.evidence("421: the server is closing this connection"));
            evidence.push(next.said.evidence(format!(
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
