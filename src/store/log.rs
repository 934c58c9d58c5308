//! A session's record: its [`Event`]s in order, each with its time, bounded
//! so a client that talks forever cannot grow server memory without limit,
//! and never cut in a way that changes a verdict.
//!
//! Up to a soft cap everything is kept. Past it the record says so once
//! ([`Event::Truncated`], whose count grows as events are left out) and keeps
//! only what verdicts read ([`Event::essential`]): a NOOP flood goes, the
//! envelope, TLS, content and error replies stay. A reply shares its
//! command's fate, except that a 4xx/5xx brings its dropped command back
//! with it. Past the hard cap only the ending is kept, with the last command
//! before it, so "how did this session end, and what was the last thing the
//! client said" always has an answer.

use std::time::Duration;

use crate::proto::event::{Answer, CommandEvent, Event};

/// Events kept in full before only essential ones are.
const SOFT_EVENTS: usize = 2_000;
/// Bytes of line text kept in full (a dialogue this long is already absurd).
const SOFT_BYTES: usize = 1 << 20;
/// No event past these but the ending (and the last command before it).
const HARD_EVENTS: usize = 20_000;
const HARD_BYTES: usize = 4 << 20;

/// One event and when it happened, counted from the session's start.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stamped {
    /// Time since the session started.
    #[serde(with = "super::codec::nanos")]
    pub at: Duration,
    /// What happened.
    pub event: Event,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
/// A session's events, bounded (see the module doc).
pub struct EventLog {
    events: Vec<Stamped>,
    bytes: usize,
    /// Index of the `Truncated` event, once the soft cap is reached.
    truncated: Option<usize>,
    /// The latest command was left out: its replies go too (unless errors).
    skipping: bool,
    /// The latest command when it was left out, to restore before an error
    /// reply or the ending.
    held: Option<Stamped>,
}

impl EventLog {
    /// An empty record.
    pub fn new() -> Self {
        Self {
            events: Vec::with_capacity(16),
            ..Self::default()
        }
    }

    /// Records `event`, unless the caps say it may go.
    pub fn push(&mut self, at: Duration, event: Event) {
        let stamped = Stamped { at, event };
        if self.truncated.is_none() {
            if self.events.len() < SOFT_EVENTS && self.bytes < SOFT_BYTES {
                return self.keep(stamped);
            }
            self.truncated = Some(self.events.len());
            self.events.push(Stamped {
                at,
                event: Event::Truncated { dropped: 0 },
            });
        }
        self.push_past_cap(stamped);
    }

    fn keep(&mut self, stamped: Stamped) {
        self.bytes += stamped.event.heap_bytes();
        if let Event::Command(_) = stamped.event {
            self.held = None;
            self.skipping = false;
        }
        self.events.push(stamped);
    }

    fn room(&self) -> bool {
        self.events.len() < HARD_EVENTS && self.bytes < HARD_BYTES
    }

    fn push_past_cap(&mut self, stamped: Stamped) {
        if stamped.event.ending() {
            if let Some(held) = self.held.take() {
                self.keep(held);
            }
            return self.keep(stamped);
        }
        match &stamped.event {
            Event::Command(_) => {
                if stamped.event.essential() && self.room() {
                    return self.keep(stamped);
                }
                if self.held.replace(stamped).is_some() {
                    self.count_dropped(1);
                }
                self.skipping = true;
            }
            Event::Reply(r) if r.answers == Answer::Command && self.skipping => {
                if r.reply.code >= 400
                    && self.room()
                    && let Some(held) = self.held.take()
                {
                    self.keep(held);
                    self.keep(stamped);
                } else {
                    self.count_dropped(1);
                }
            }
            event => {
                if event.essential() && self.room() {
                    self.keep(stamped);
                } else {
                    self.count_dropped(1);
                }
            }
        }
    }

    fn count_dropped(&mut self, n: u64) {
        if let Some(Stamped {
            event: Event::Truncated { dropped },
            ..
        }) = self.truncated.and_then(|i| self.events.get_mut(i))
        {
            *dropped += n;
        }
    }

    /// The events kept, in order.
    pub fn events(&self) -> &[Stamped] {
        &self.events
    }

    /// Bytes the record holds, its event slots included: what the store's
    /// `--max-memory` budget counts for a finished session.
    pub fn weight(&self) -> usize {
        self.bytes + self.events.capacity() * std::mem::size_of::<Stamped>()
    }

    /// How many events are kept.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// No event yet.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Events left out past the cap (the held command not counted until
    /// another replaces it).
    pub fn dropped(&self) -> u64 {
        match self.truncated.and_then(|i| self.events.get(i)) {
            Some(Stamped {
                event: Event::Truncated { dropped },
                ..
            }) => *dropped,
            _ => 0,
        }
    }

    /// Time of the last event: how long the session lasted as recorded.
    pub fn last_at(&self) -> Option<Duration> {
        self.events.last().map(|s| s.at)
    }

    /// The commands in order, for the readers that want only them.
    pub fn commands(&self) -> impl Iterator<Item = (usize, &CommandEvent)> {
        self.events
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match &s.event {
                Event::Command(c) => Some((i, c)),
                _ => None,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::command::Verb;
    use crate::proto::event::{CloseReason, ReplyEvent};
    use crate::proto::replies;
    use crate::proto::reply::Wire;

    fn command(verb: Verb, line: &str) -> Event {
        Event::Command(CommandEvent {
            verb: Some(verb),
            ..CommandEvent::unparsed(line.as_bytes())
        })
    }

    fn reply(r: crate::proto::reply::Reply) -> Event {
        Event::Reply(ReplyEvent {
            answers: Answer::Command,
            reply: r,
            enhanced: true,
            rule: None,
            wire: Wire::Normal,
        })
    }

    #[test]
    fn a_short_session_is_kept_whole() {
        let mut log = EventLog::new();
        log.push(Duration::ZERO, command(Verb::Noop, "NOOP"));
        log.push(Duration::ZERO, reply(replies::OK));
        log.push(
            Duration::from_millis(1),
            Event::ServerClosed(CloseReason::Quit),
        );
        assert_eq!(log.len(), 3);
        assert_eq!(log.dropped(), 0);
    }

    /// 100,000 NOOPs then a hang-up: the flood is cut, the hang-up, the
    /// last command and what was said before the cap are all there.
    #[test]
    fn a_noop_flood_keeps_its_ending_and_last_command() {
        let mut log = EventLog::new();
        log.push(Duration::ZERO, command(Verb::Ehlo, "EHLO c"));
        log.push(Duration::ZERO, reply(replies::OK));
        for _ in 0..100_000 {
            log.push(Duration::ZERO, command(Verb::Noop, "NOOP"));
            log.push(Duration::ZERO, reply(replies::OK));
        }
        log.push(Duration::ZERO, command(Verb::Noop, "NOOP last"));
        log.push(
            Duration::from_secs(1),
            Event::ClientClosed { in_content: false },
        );
        assert!(log.len() <= SOFT_EVENTS + 3, "{}", log.len());
        let events = log.events();
        assert_eq!(
            events.last().map(|s| &s.event),
            Some(&Event::ClientClosed { in_content: false })
        );
        let last_command = log.commands().last().map(|(_, c)| c.line.clone());
        assert_eq!(last_command.as_deref(), Some(&b"NOOP last"[..]));
        assert_eq!(log.dropped(), 2 * 100_000 + 2 - SOFT_EVENTS as u64);
    }

    #[test]
    fn past_the_cap_envelope_commands_and_errors_stay() {
        let mut log = EventLog::new();
        for _ in 0..SOFT_EVENTS {
            log.push(Duration::ZERO, command(Verb::Noop, "NOOP"));
        }
        log.push(Duration::ZERO, command(Verb::Rcpt, "RCPT TO:<a@b>"));
        log.push(Duration::ZERO, reply(replies::OK));
        log.push(Duration::ZERO, command(Verb::Noop, "NOOP x"));
        log.push(Duration::ZERO, reply(replies::UNKNOWN_COMMAND));
        log.push(Duration::ZERO, command(Verb::Noop, "NOOP y"));
        log.push(Duration::ZERO, reply(replies::OK));
        let tail: Vec<_> = log.events()[SOFT_EVENTS..]
            .iter()
            .map(|s| s.event.clone())
            .collect();
        assert!(matches!(tail[0], Event::Truncated { .. }));
        assert_eq!(tail[1], command(Verb::Rcpt, "RCPT TO:<a@b>"));
        assert_eq!(tail[2], reply(replies::OK));
        assert_eq!(tail[3], command(Verb::Noop, "NOOP x"));
        assert_eq!(tail[4], reply(replies::UNKNOWN_COMMAND));
        assert_eq!(tail.len(), 5);
    }

    #[test]
    fn the_hard_cap_holds() {
        let mut log = EventLog::new();
        for _ in 0..(HARD_EVENTS * 3) {
            log.push(Duration::ZERO, command(Verb::Rset, "RSET"));
        }
        log.push(Duration::ZERO, Event::ServerClosed(CloseReason::Timeout));
        assert!(log.len() <= HARD_EVENTS + 2);
        assert_eq!(
            log.events().last().map(|s| &s.event),
            Some(&Event::ServerClosed(CloseReason::Timeout))
        );
    }
}
