//! A session's events as the judgements read them: each prompt (the
//! greeting, a command, the end of message content, nothing at all) with
//! the reply it got, and the session's facts (TLS, content, how it ended).
//!
//! Nothing here reads text: a reply names what it answers
//! ([`Answer`]), a command carries the parser's verb and address, and how a
//! session ended is an event of its own. Text appears only when a verdict
//! quotes a line as evidence, rendered then from the event.

use std::time::Duration;

use crate::proto::command::Verb;
use crate::proto::event::{Answer, CloseReason, CommandEvent, Event, ReplyEvent};
use crate::store::SessionRecord;
use crate::store::transcript;

use super::EvidenceLine;

/// One event of one session, with what a report needs to quote it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Said<'a> {
    pub record: &'a SessionRecord,
    /// Position in the session's record: orders the events of a session.
    pub index: usize,
    /// Scenario time: comparable across the sessions of one scenario.
    pub at: Duration,
}

impl<'a> Said<'a> {
    fn new(record: &'a SessionRecord, index: usize) -> Self {
        let offset = record
            .log
            .events()
            .get(index)
            .map_or(Duration::ZERO, |e| e.at);
        Said {
            record,
            index,
            at: record.scenario_time(offset),
        }
    }

    /// The event the way a transcript shows it: `C: ...`, `S: ... [rule: x]`.
    pub(crate) fn shown(&self) -> String {
        transcript::quote(&self.record.log, self.index).map_or_else(String::new, |l| l.shown())
    }

    pub(crate) fn evidence(&self, why: impl Into<String>) -> EvidenceLine {
        EvidenceLine {
            session: self.record.id,
            at: seconds(self.at),
            line: self.shown(),
            why: why.into(),
        }
    }

    /// Sort key across sessions: scenario time, then session, then event.
    pub(crate) fn order(&self) -> (Duration, u64, usize) {
        (self.at, self.record.id, self.index)
    }
}

/// Scenario time the way reports print it: `12.031s`.
pub(super) fn seconds(d: Duration) -> String {
    format!("{}.{:03}s", d.as_secs(), d.subsec_millis())
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Command<'a> {
    pub event: &'a CommandEvent,
    pub said: Said<'a>,
}

impl Command<'_> {
    pub(crate) fn verb(&self) -> Option<Verb> {
        self.event.verb
    }

    pub(crate) fn is(&self, verb: Verb) -> bool {
        self.event.verb == Some(verb)
    }

    /// The MAIL FROM / RCPT TO path, lower-cased so addresses compare
    /// case-insensitively (`<>` is the empty string).
    pub(crate) fn address(&self) -> Option<String> {
        self.event.address.as_deref().map(str::to_lowercase)
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Reply<'a> {
    pub event: &'a ReplyEvent,
    pub said: Said<'a>,
}

impl Reply<'_> {
    pub(crate) fn code(&self) -> u16 {
        self.event.reply.code
    }

    pub(crate) fn class(&self) -> u16 {
        self.event.reply.code / 100
    }

    /// A scenario rule produced it (a fault on purpose).
    pub(crate) fn by_rule(&self) -> bool {
        self.event.rule.is_some()
    }
}

/// What a reply answered.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Prompt<'a> {
    Greeting,
    Command(Command<'a>),
    /// The end of DATA content: the reply that decides the message.
    Content,
    /// Sent on the server's own account (time-out, shutdown), or a second
    /// reply to one command (a 421 after too many errors).
    Unsolicited,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Exchange<'a> {
    pub prompt: Prompt<'a>,
    /// `None`: no reply (the connection closed, `reply: none`, or a line
    /// read after a 421).
    pub reply: Option<Reply<'a>>,
}

impl<'a> Exchange<'a> {
    pub(crate) fn command(&self) -> Option<Command<'a>> {
        match self.prompt {
            Prompt::Command(c) => Some(c),
            _ => None,
        }
    }

    pub(crate) fn code(&self) -> Option<u16> {
        self.reply.map(|r| r.code())
    }
}

/// How a session ended.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Ending<'a> {
    Server(CloseReason),
    /// The client closed the socket (or it broke).
    Client(Said<'a>),
    /// No ending on record: a record built by hand.
    Unknown,
}

/// One session, read for judging.
#[derive(Clone, Debug)]
pub(crate) struct Session<'a> {
    pub record: &'a SessionRecord,
    pub exchanges: Vec<Exchange<'a>>,
}

impl<'a> Session<'a> {
    pub(crate) fn of(record: &'a SessionRecord) -> Self {
        let mut exchanges: Vec<Exchange<'a>> = Vec::new();
        // The exchange of the latest command, while it may still get its reply.
        let mut open: Option<usize> = None;
        for (index, stamped) in record.log.events().iter().enumerate() {
            match &stamped.event {
                Event::Command(event) => {
                    open = (!event.late).then_some(exchanges.len());
                    exchanges.push(Exchange {
                        prompt: Prompt::Command(Command {
                            event,
                            said: Said::new(record, index),
                        }),
                        reply: None,
                    });
                }
                Event::Reply(event) => {
                    let reply = Reply {
                        event,
                        said: Said::new(record, index),
                    };
                    let slot = match event.answers {
                        Answer::Command => open.and_then(|i| exchanges.get_mut(i)),
                        _ => None,
                    };
                    match slot {
                        Some(e) if e.reply.is_none() => e.reply = Some(reply),
                        _ => exchanges.push(Exchange {
                            prompt: match event.answers {
                                Answer::Greeting => Prompt::Greeting,
                                Answer::Content => Prompt::Content,
                                _ => Prompt::Unsolicited,
                            },
                            reply: Some(reply),
                        }),
                    }
                }
                _ => {}
            }
        }
        Session { record, exchanges }
    }

    pub(crate) fn id(&self) -> u64 {
        self.record.id
    }

    pub(crate) fn commands(&self) -> impl Iterator<Item = Command<'a>> + '_ {
        self.exchanges.iter().filter_map(Exchange::command)
    }

    /// Events of one kind, with where they are.
    pub(crate) fn events(&self) -> impl Iterator<Item = (Said<'a>, &'a Event)> + 'a {
        let record = self.record;
        record
            .log
            .events()
            .iter()
            .enumerate()
            .map(move |(i, e)| (Said::new(record, i), &e.event))
    }

    /// The first TLS handshake that succeeded (STARTTLS, or before the
    /// greeting on an implicit-TLS port).
    pub(crate) fn tls_established(&self) -> Option<Said<'a>> {
        self.events()
            .find(|(_, e)| matches!(e, Event::TlsEstablished { .. }))
            .map(|(s, _)| s)
    }

    pub(crate) fn ending(&self) -> Ending<'a> {
        self.events()
            .filter_map(|(said, e)| match e {
                Event::ServerClosed(reason) => Some(Ending::Server(*reason)),
                Event::ClientClosed { .. } | Event::ReadFailed { .. } => Some(Ending::Client(said)),
                _ => None,
            })
            .last()
            .unwrap_or(Ending::Unknown)
    }
}
