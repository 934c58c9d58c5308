//! A session's transcript as a dialogue: each client command with the reply
//! it got, the server's own replies (greeting, end of data, time-outs) and
//! mailfault's notes, in order. Every judgement reads this view, so the
//! pairing rules live in one place.
//!
//! Pairing: the transcript groups into runs of commands followed by runs of
//! replies. Within a run the replies answer the commands in order, which
//! covers a client that pipelines (the connection transcribes each reply as
//! it is produced, so a pipelined batch usually appears interleaved anyway).
//! When a run has fewer replies than commands, the replies go to the last
//! commands: the earlier ones met a rule that answers nothing (`reply:
//! none`). Extra replies are the end-of-data reply after a 354, the greeting,
//! or replies the server sent on its own (a 421 on time-out or shutdown).

use std::time::Duration;

use crate::store::SessionRecord;
use crate::store::transcript::Direction;

use super::EvidenceLine;

/// Commands as the judgements need them; verbs are matched case-insensitively.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Helo,
    Ehlo,
    Mail,
    Rcpt,
    Data,
    Bdat,
    Rset,
    Noop,
    Quit,
    Vrfy,
    Expn,
    Help,
    StartTls,
    Auth,
    /// Anything else, including the lines of an AUTH exchange.
    Other,
}

impl Verb {
    fn of(line: &str) -> Verb {
        let word = line.split_ascii_whitespace().next().unwrap_or("");
        // `MAIL FROM:<a>` may arrive as `MAIL FROM:<a>` or `mail from:<a>`.
        let word = word.split(':').next().unwrap_or("");
        match word.to_ascii_uppercase().as_str() {
            "HELO" => Verb::Helo,
            "EHLO" => Verb::Ehlo,
            "MAIL" => Verb::Mail,
            "RCPT" => Verb::Rcpt,
            "DATA" => Verb::Data,
            "BDAT" => Verb::Bdat,
            "RSET" => Verb::Rset,
            "NOOP" => Verb::Noop,
            "QUIT" => Verb::Quit,
            "VRFY" => Verb::Vrfy,
            "EXPN" => Verb::Expn,
            "HELP" => Verb::Help,
            "STARTTLS" => Verb::StartTls,
            "AUTH" => Verb::Auth,
            _ => Verb::Other,
        }
    }

    pub fn is_greeting(self) -> bool {
        matches!(self, Verb::Helo | Verb::Ehlo)
    }
}

/// One transcript line, kept with what a report needs to quote it.
#[derive(Clone, Debug)]
pub struct Said {
    pub session: u64,
    /// Position in the session's transcript: orders lines of one session.
    pub index: usize,
    /// Scenario time: comparable across the sessions of one scenario.
    pub at: Duration,
    pub direction: Direction,
    pub text: String,
    pub rule: Option<String>,
}

impl Said {
    /// The line the way a transcript shows it: `C: ...`, `S: ... [rule: x]`.
    pub fn shown(&self) -> String {
        let prefix = match self.direction {
            Direction::Client => "C: ",
            Direction::Server => "S: ",
            Direction::Note => "-- ",
        };
        match &self.rule {
            Some(rule) => format!("{prefix}{}  [rule: {rule}]", self.text),
            None => format!("{prefix}{}", self.text),
        }
    }

    pub fn evidence(&self, why: impl Into<String>) -> EvidenceLine {
        EvidenceLine {
            session: self.session,
            at: seconds(self.at),
            line: self.shown(),
            why: why.into(),
        }
    }

    /// Sort key across sessions: scenario time, then session, then line.
    pub fn order(&self) -> (Duration, u64, usize) {
        (self.at, self.session, self.index)
    }
}

/// Scenario time the way reports print it: `12.031s`.
pub fn seconds(d: Duration) -> String {
    format!("{}.{:03}s", d.as_secs(), d.subsec_millis())
}

#[derive(Clone, Debug)]
pub struct Command {
    pub verb: Verb,
    pub line: Said,
    /// MAIL FROM / RCPT TO address without its brackets, lower-cased so
    /// addresses compare case-insensitively (`<>` becomes the empty string).
    pub address: Option<String>,
    /// The `SIZE=` parameter of MAIL FROM.
    pub size: Option<u64>,
    /// `BDAT n LAST`: the chunk that ends the message.
    pub last_chunk: bool,
}

impl Command {
    fn parse(line: Said) -> Command {
        let verb = Verb::of(&line.text);
        let (address, size) = match verb {
            Verb::Mail => envelope(&line.text, "FROM:"),
            Verb::Rcpt => envelope(&line.text, "TO:"),
            _ => (None, None),
        };
        let last_chunk = verb == Verb::Bdat
            && line
                .text
                .split_ascii_whitespace()
                .any(|w| w.eq_ignore_ascii_case("LAST"));
        Command {
            verb,
            line,
            address,
            size,
            last_chunk,
        }
    }
}

/// The address after `FROM:`/`TO:` and the `SIZE=` parameter; liberal like
/// the server (spaces after the colon, missing brackets).
fn envelope(text: &str, keyword: &str) -> (Option<String>, Option<u64>) {
    let upper = text.to_ascii_uppercase();
    let Some(pos) = upper.find(keyword) else {
        return (None, None);
    };
    let rest = text.get(pos + keyword.len()..).unwrap_or("").trim_start();
    let (address, params) = match rest.strip_prefix('<') {
        Some(inner) => match inner.split_once('>') {
            Some((addr, params)) => (addr, params),
            None => (inner, ""),
        },
        None => rest.split_once(' ').unwrap_or((rest, "")),
    };
    let size = params.split_ascii_whitespace().find_map(|p| {
        let (key, value) = p.split_once('=')?;
        key.eq_ignore_ascii_case("SIZE")
            .then(|| value.parse().ok())
            .flatten()
    });
    (Some(address.trim().to_lowercase()), size)
}

/// A complete reply: one or more server lines.
#[derive(Clone, Debug)]
pub struct Reply {
    /// `None` when the line does not start with three digits (a malformed reply).
    pub code: Option<u16>,
    pub lines: Vec<Said>,
}

impl Reply {
    /// The last line: the one that completes the reply and the one to quote.
    pub fn line(&self) -> Option<&Said> {
        self.lines.last()
    }

    pub fn class(&self) -> Option<u16> {
        self.code.map(|c| c / 100)
    }

    /// The scenario rule that produced it, if any.
    pub fn rule(&self) -> Option<&str> {
        self.lines.iter().find_map(|l| l.rule.as_deref())
    }

    pub fn at(&self) -> Duration {
        self.line().map_or(Duration::ZERO, |l| l.at)
    }
}

/// What a reply answered.
#[derive(Clone, Debug)]
pub enum Prompt {
    Greeting,
    Command(Command),
    /// The final reply to message content sent after a 354.
    EndOfData,
    /// Sent on the server's own account (time-out, shutdown).
    Unsolicited,
}

#[derive(Clone, Debug)]
pub struct Exchange {
    pub prompt: Prompt,
    /// `None`: the command got no reply (connection closed, `reply: none`).
    pub reply: Option<Reply>,
}

impl Exchange {
    pub fn command(&self) -> Option<&Command> {
        match &self.prompt {
            Prompt::Command(c) => Some(c),
            _ => None,
        }
    }

    pub fn code(&self) -> Option<u16> {
        self.reply.as_ref().and_then(|r| r.code)
    }
}

#[derive(Clone, Debug)]
pub enum Step {
    Exchange(Exchange),
    Note(Said),
}

/// One session as a sequence of exchanges and notes.
#[derive(Clone, Debug)]
pub struct Dialogue {
    pub session: u64,
    pub steps: Vec<Step>,
}

enum Item {
    Command(Command),
    Reply(Reply),
    Note(Said),
}

impl Dialogue {
    pub fn of(record: &SessionRecord) -> Dialogue {
        let items = items(record);
        Dialogue {
            session: record.id,
            steps: pair(items),
        }
    }

    pub fn exchanges(&self) -> impl Iterator<Item = &Exchange> {
        self.steps.iter().filter_map(|s| match s {
            Step::Exchange(e) => Some(e),
            Step::Note(_) => None,
        })
    }

    pub fn commands(&self) -> impl Iterator<Item = &Command> {
        self.exchanges().filter_map(Exchange::command)
    }

    pub fn notes(&self) -> impl Iterator<Item = &Said> {
        self.steps.iter().filter_map(|s| match s {
            Step::Note(n) => Some(n),
            Step::Exchange(_) => None,
        })
    }

    /// The note the connection writes once a TLS handshake succeeded
    /// (STARTTLS, or before the greeting on an implicit-TLS port).
    pub fn tls_established(&self) -> Option<&Said> {
        self.notes().find(|n| n.text.starts_with("TLS established"))
    }

    /// The note saying the client went away: it closed the socket, the
    /// socket failed, or a TLS handshake it was in failed. Without one, the
    /// server ended the session.
    pub fn client_went_away(&self) -> Option<&Said> {
        self.notes().find(|n| {
            n.text.starts_with("client closed the connection")
                || n.text.starts_with("connection lost during message content")
                || n.text.starts_with("read error")
        })
    }

    /// The last line of the session, for "the session ended here" evidence.
    pub fn last_line(&self) -> Option<&Said> {
        self.steps.iter().rev().find_map(|s| match s {
            Step::Note(n) => Some(n),
            Step::Exchange(e) => e
                .reply
                .as_ref()
                .and_then(Reply::line)
                .or(e.command().map(|c| &c.line)),
        })
    }
}

fn items(record: &SessionRecord) -> Vec<Item> {
    let mut items = Vec::new();
    let mut open: Option<Reply> = None;
    for (index, line) in record.transcript.lines().enumerate() {
        let said = Said {
            session: record.id,
            index,
            at: record.scenario_time(line.at),
            direction: line.direction,
            text: line.text(),
            rule: line.rule.map(str::to_owned),
        };
        if line.direction != Direction::Server
            && let Some(reply) = open.take()
        {
            // A multiline reply that never finished (`truncated_multiline`).
            items.push(Item::Reply(reply));
        }
        match line.direction {
            Direction::Client => items.push(Item::Command(Command::parse(said))),
            Direction::Note => items.push(Item::Note(said)),
            Direction::Server => {
                let code = said
                    .text
                    .get(..3)
                    .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|c| c.parse().ok());
                let continues = said.text.as_bytes().get(3) == Some(&b'-');
                let reply = match open.take() {
                    Some(mut r) if r.code == code => {
                        r.lines.push(said);
                        r
                    }
                    Some(r) => {
                        items.push(Item::Reply(r));
                        Reply {
                            code,
                            lines: vec![said],
                        }
                    }
                    None => Reply {
                        code,
                        lines: vec![said],
                    },
                };
                if continues && code.is_some() {
                    open = Some(reply);
                } else {
                    items.push(Item::Reply(reply));
                }
            }
        }
    }
    if let Some(reply) = open {
        items.push(Item::Reply(reply));
    }
    items
}

/// Pairs runs of commands with the runs of replies after them.
fn pair(items: Vec<Item>) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::with_capacity(items.len());
    // Steps of the current command run still waiting for a reply.
    let mut waiting: Vec<usize> = Vec::new();
    // Replies of the current reply run, held until the run ends.
    let mut replies: Vec<Reply> = Vec::new();
    let mut seen_command = false;
    let mut in_replies = false;
    for item in items {
        match item {
            Item::Note(n) => steps.push(Step::Note(n)),
            Item::Command(c) => {
                if in_replies {
                    settle(&mut steps, &mut waiting, &mut replies, seen_command);
                    in_replies = false;
                }
                seen_command = true;
                waiting.push(steps.len());
                steps.push(Step::Exchange(Exchange {
                    prompt: Prompt::Command(c),
                    reply: None,
                }));
            }
            Item::Reply(r) => {
                in_replies = true;
                replies.push(r);
            }
        }
    }
    settle(&mut steps, &mut waiting, &mut replies, seen_command);
    steps
}

/// Hands a run of replies to the waiting commands; see the module doc.
fn settle(steps: &mut Vec<Step>, waiting: &mut Vec<usize>, replies: &mut Vec<Reply>, any: bool) {
    let skip = waiting.len().saturating_sub(replies.len());
    let mut rest = std::mem::take(replies).into_iter();
    for &slot in waiting.iter().skip(skip) {
        if let (Some(Step::Exchange(e)), Some(r)) = (steps.get_mut(slot), rest.next()) {
            e.reply = Some(r);
        }
    }
    waiting.clear();
    let mut greeted = any;
    for r in rest {
        let prompt = if !greeted {
            greeted = true;
            Prompt::Greeting
        } else if awaits_content(steps) {
            Prompt::EndOfData
        } else {
            Prompt::Unsolicited
        };
        steps.push(Step::Exchange(Exchange {
            prompt,
            reply: Some(r),
        }));
    }
}

/// The latest exchange is a DATA that got its 354: the next reply is the
/// verdict on the content.
fn awaits_content(steps: &[Step]) -> bool {
    let last = steps.iter().rev().find_map(|s| match s {
        Step::Exchange(e) => Some(e),
        Step::Note(_) => None,
    });
    last.is_some_and(|e| e.command().is_some_and(|c| c.verb == Verb::Data) && e.code() == Some(354))
}

#[cfg(test)]
#[path = "dialogue_tests.rs"]
mod tests;
