//! Rewinding a session to before an input.
//!
//! A policy backed by a shared store may need an answer it cannot give
//! without a network round trip (a greylist or a rate window in Redis).
//! Rather than block a runtime worker for it, the connection takes a
//! [`Checkpoint`], feeds the input, and when the policy says it is waiting
//! for an answer, restores the checkpoint, drops the actions of that pass,
//! fetches the answer asynchronously and feeds the same input again. The
//! policy remembers the answers it was given, so the replay asks nothing
//! twice and every check-and-update in the store happens once.
//!
//! A checkpoint is offered only when it is cheap and complete: between
//! commands, with no message content, BDAT chunk or AUTH exchange open.
//! Otherwise the policy is told it may not wait and answers as before.

use super::{Session, State};
use crate::proto::command::Verb;
use crate::proto::event::Answer;
use crate::proto::framer::{Framer, Mode};
use crate::proto::policy::Policy;
use crate::proto::transaction::Transaction;

/// What one input may change in a session (the policy aside, which keeps
/// its own answers across a rewind).
pub(crate) struct Checkpoint {
    framer: Framer,
    state: State,
    helo: Option<String>,
    esmtp: bool,
    tx: Option<Transaction>,
    counts: [u64; Verb::COUNT],
    messages: u64,
    errors: u32,
    tls: bool,
    auth_user: Option<String>,
    answering: Answer,
}

impl<P: Policy> Session<P> {
    /// The session as it is now, if it can be restored cheaply (see the
    /// module doc); `None` while content, a chunk or an exchange is open.
    pub(crate) fn checkpoint(&self) -> Option<Checkpoint> {
        if self.framer.mode() != Mode::Command
            || self.chunk.is_some()
            || self.exchange.is_some()
            || self.tx.as_ref().is_some_and(|tx| !tx.content.is_empty())
        {
            return None;
        }
        Some(Checkpoint {
            framer: self.framer.clone(),
            state: self.state,
            helo: self.helo.clone(),
            esmtp: self.esmtp,
            tx: self.tx.clone(),
            counts: self.counts,
            messages: self.messages,
            errors: self.errors,
            tls: self.tls,
            auth_user: self.auth_user.clone(),
            answering: self.answering,
        })
    }

    /// Puts the session back as it was at `checkpoint`.
    pub(crate) fn restore(&mut self, checkpoint: Checkpoint) {
        let Checkpoint {
            framer,
            state,
            helo,
            esmtp,
            tx,
            counts,
            messages,
            errors,
            tls,
            auth_user,
            answering,
        } = checkpoint;
        self.framer = framer;
        self.state = state;
        self.helo = helo;
        self.esmtp = esmtp;
        self.tx = tx;
        self.counts = counts;
        self.messages = messages;
        self.errors = errors;
        self.tls = tls;
        self.auth_user = auth_user;
        self.answering = answering;
        self.chunk = None;
        self.exchange = None;
    }

    /// The policy, for a connection that answers what it waits for.
    pub(crate) fn policy_mut(&mut self) -> &mut P {
        &mut self.policy
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{Outcome, Rules, collect, config, run};
    use super::*;
    use crate::proto::policy::{Context, Decision, Stage};
    use crate::proto::reply::Reply;
    use std::sync::Arc;

    /// Refuses one recipient, so a rewound RCPT must come out refused too.
    fn policy() -> impl Policy {
        Rules(|ctx: &Context<'_>| {
            (ctx.stage == Stage::Rcpt && ctx.to == Some("no@d.test"))
                .then(|| Decision::reply("refuse", Reply::new(550, None, "No such user")))
        })
    }

    /// Feeds every input twice where a checkpoint is offered: once, then
    /// rewound and again, as a connection does when a decision waited.
    fn run_rewinding(input: &[u8]) -> (Outcome, usize) {
        let mut s = Session::new(
            Arc::new(config()),
            policy(),
            "192.0.2.1".parse().expect("an address"),
            1,
        );
        let mut o = Outcome::default();
        let mut actions = Vec::new();
        let mut rewound = 0;
        let checkpoint = s.checkpoint().expect("a fresh session can be rewound");
        s.start(&mut actions);
        actions.clear();
        s.restore(checkpoint);
        s.start(&mut actions);
        collect(&mut actions, &mut o);
        let mut buf = input.to_vec();
        loop {
            let checkpoint = s.checkpoint();
            let Some(step) = s.receive(&buf, &mut actions) else {
                break;
            };
            if let Some(checkpoint) = checkpoint {
                actions.clear();
                s.restore(checkpoint);
                rewound += 1;
                let again = s.receive(&buf, &mut actions);
                assert_eq!(again, Some(step), "the replay consumes the same input");
            }
            buf.drain(..step.consumed);
            collect(&mut actions, &mut o);
        }
        (o, rewound)
    }

    #[test]
    fn a_rewound_input_gives_what_it_gave_the_first_time() {
        let input: &[u8] = b"HELO first\r\nEHLO client.test\r\nRCPT TO:<x@d.test>\r\n\
MAIL FROM:<a@b.test>\r\nMAIL FROM:<again@b.test>\r\nRCPT TO:<c@d.test>\r\n\
RCPT TO:<no@d.test>\r\nRCPT TO:<e@d.test>\r\nNOOP\r\nDATA\r\nSubject: hi\r\n\r\nbody\r\n.\r\n\
MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nBDAT 6\r\nHello\nBDAT 0 LAST\r\n\
RSET\r\nVRFY c\r\nBOGUS\r\nQUIT\r\n";
        let plain = run(config(), policy(), input);
        let (rewound, times) = run_rewinding(input);
        assert_eq!(rewound, plain);
        assert!(plain.wire.contains("550 No such user"), "{}", plain.wire);
        assert_eq!(plain.delivered.len(), 2);
        assert!(times >= 15, "only {times} inputs were rewound");
    }

    #[test]
    fn no_checkpoint_while_content_or_a_chunk_is_open() {
        let mut s = Session::new(
            Arc::new(config()),
            policy(),
            "192.0.2.1".parse().expect("an address"),
            1,
        );
        let mut out = Vec::new();
        s.start(&mut out);
        let mut buf: &[u8] = b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n";
        while let Some(step) = s.receive(buf, &mut out) {
            buf = &buf[step.consumed..];
        }
        assert!(s.checkpoint().is_none(), "in DATA");
        let mut buf: &[u8] =
            b"x\r\n.\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nBDAT 2\r\nhi";
        while let Some(step) = s.receive(buf, &mut out) {
            buf = &buf[step.consumed..];
        }
        assert!(s.checkpoint().is_none(), "a chunk's content is held");
    }
}
