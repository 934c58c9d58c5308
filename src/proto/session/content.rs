//! The message-content half of the session: DATA and BDAT, the checks
//! before content may flow, and the final reply once it has.

use std::borrow::Cow;

use super::{Action, Chunk, Session, State};
use crate::proto::event::{CloseReason, Discard, Event, Fate};
use crate::proto::extensions::Extension;
use crate::proto::framer::{BareLf, Mode};
use crate::proto::policy::{Policy, Stage};
use crate::proto::replies as R;
use crate::proto::reply::{EnhancedCode, Reply};
use crate::proto::transaction::{Body, Incoming, Transaction};

impl<P: Policy> Session<P> {
    /// Why the open transaction cannot take content now, if it cannot.
    fn content_refusal(&self, bdat: bool) -> Option<Reply> {
        let Some(tx) = self.tx.as_ref() else {
            return Some(R::SEQ_NEED_MAIL);
        };
        match tx.body {
            Body::Chunks { .. } if !bdat => return Some(R::SEQ_DATA_AFTER_BDAT),
            _ if tx.binary && !bdat => return Some(R::SEQ_DATA_BINARYMIME),
            Body::Chunks { failed: true } => return Some(R::SEQ_BDAT_FAILED),
            _ => {}
        }
        if tx.recipients.is_empty() {
            return Some(if tx.rcpt_attempts == 0 {
                R::SEQ_NEED_RCPT
            } else {
                R::NO_VALID_RECIPIENTS
            });
        }
        None
    }

    pub(super) fn data(&mut self, count: u64, out: &mut Vec<Action>) {
        if let Some(refusal) = self.content_refusal(false) {
            return self.refuse(refusal, out);
        }
        let decision = self.decide(Stage::Data, None, count);
        let resolved = self.resolve(decision, R::START_DATA);
        let go = matches!(&resolved.reply, Some(o) if o.reply.code == 354);
        let cut_after = resolved.cut_after;
        self.emit(resolved, out);
        if go && self.state != State::Closed {
            if let Some(tx) = self.tx.as_mut() {
                tx.body = Body::Data;
                tx.cut_after = cut_after;
            }
            self.framer.set_mode(Mode::Data);
            self.cut_if_due(out);
        }
    }

    /// Ends the connection mid-content when `disconnect_after_bytes` says so;
    /// the partial message is dropped, never stored.
    pub(super) fn cut_if_due(&mut self, out: &mut Vec<Action>) {
        let Some(tx) = self.tx.as_ref() else {
            return;
        };
        if !tx.must_cut() || self.state == State::Closed {
            return;
        }
        out.push(Action::Record(Event::TransactionEnded(Fate::Discarded(
            Discard::Cut { bytes: tx.size },
        ))));
        self.tx = None;
        self.close(CloseReason::ContentCut, out);
    }

    /// 554 "no valid recipients" is the client's bad luck, not its error;
    /// everything else here is a sequence error.
    fn refuse(&mut self, reply: Reply, out: &mut Vec<Action>) {
        if reply.code == 554 {
            self.send(reply, out);
        } else {
            self.error(reply, out);
        }
    }

    pub(super) fn bdat(&mut self, size: u64, last: bool, count: u64, out: &mut Vec<Action>) {
        // The chunk is read whatever the verdict, or its bytes would be taken
        // for commands (RFC 3030 §2).
        self.framer.set_mode(Mode::Chunk { remaining: size });
        let protocol = |reply: Reply| self.protocol(reply);
        let refusal = if !self.config.extensions.contains(Extension::Chunking) {
            Some(protocol(R::BDAT_NOT_SUPPORTED))
        } else if let Some(r) = self.content_refusal(true) {
            Some(protocol(r))
        } else if self.tx.as_ref().is_some_and(|t| t.body == Body::None) {
            let decision = self.decide(Stage::Data, None, count);
            let resolved = self.resolve(decision, R::OK);
            if let Some(delay) = resolved.delay {
                out.push(Action::Delay(delay));
            }
            if let Some(tx) = self.tx.as_mut() {
                tx.cut_after = resolved.cut_after;
            }
            match resolved.reply {
                Some(o) if o.reply.code >= 400 => Some(o),
                _ => None,
            }
        } else {
            None
        };
        if refusal.is_none()
            && let Some(tx) = self.tx.as_mut()
        {
            tx.body = Body::Chunks { failed: false };
        }
        self.chunk = Some(Chunk { last, refusal });
    }

    /// A BDAT line whose size was readable but whose other arguments were
    /// not: the chunk is read and discarded, then 501 answers it (RFC 3030
    /// §2 replies after the chunk), so its bytes never pass for commands.
    pub(super) fn bad_bdat(&mut self, size: u64, why: &'static str) {
        self.framer.set_mode(Mode::Chunk { remaining: size });
        let refusal = self.protocol(Reply::new(501, Some(EnhancedCode::new(5, 5, 4)), why));
        self.chunk = Some(Chunk {
            last: false,
            refusal: Some(refusal),
        });
    }

    pub(super) fn chunk_end(&mut self, out: &mut Vec<Action>) {
        let Some(chunk) = self.chunk.take() else {
            return;
        };
        if let Some(refusal) = chunk.refusal {
            if let Some(tx) = self.tx.as_mut()
                && matches!(tx.body, Body::Chunks { .. })
            {
                tx.body = Body::Chunks { failed: true };
            }
            let close = refusal.reply.code == 421;
            let error = refusal.rule.is_none() && refusal.reply.code != 554;
            out.push(Action::Send(refusal));
            if close {
                self.close(CloseReason::Reply421, out);
            } else if error {
                self.errors += 1;
                if self.errors >= self.config.max_errors {
                    self.close_with(R::TOO_MANY_ERRORS, CloseReason::TooManyErrors, out);
                }
            }
            return;
        }
        if chunk.last {
            return self.finish_message(out);
        }
        let size = self.tx.as_ref().map_or(0, |t| t.size);
        let text = format!("{size} octets received");
        self.send(
            Reply {
                code: 250,
                enhanced: Some(EnhancedCode::new(2, 0, 0)),
                text: Cow::Owned(text),
            },
            out,
        );
    }

    pub(super) fn finish_message(&mut self, out: &mut Vec<Action>) {
        let Some(tx) = self.tx.as_ref() else {
            return;
        };
        out.push(Action::Record(Event::Content {
            bytes: tx.size,
            bare_lf: tx.bare_lf,
            smuggling: tx.smuggling,
        }));
        let refusal = if tx.too_big {
            Some(R::MESSAGE_TOO_BIG)
        } else if tx.bare_lf && self.config.bare_lf == BareLf::Reject {
            Some(R::BARE_LF_MESSAGE)
        } else {
            None
        };
        if let Some(reply) = refusal {
            self.tx = None;
            let code = reply.code;
            self.send(reply, out);
            out.push(Action::Record(Event::TransactionEnded(Fate::Refused {
                code,
            })));
            return;
        }
        self.messages += 1;
        let decision = self.decide(Stage::Message, None, self.messages);
        let Some(mut tx) = self.tx.take() else {
            return;
        };
        let mut resolved = self.resolve(decision, R::OK);
        tx.followups.extend(resolved.followup.take());
        if let Some(note) = resolved.note.take() {
            out.push(Action::Record(Event::RuleNote(note.into())));
        }
        if let Some(delay) = resolved.delay {
            out.push(Action::Delay(delay));
        }
        let discarded = |why| Action::Record(Event::TransactionEnded(Fate::Discarded(why)));
        if resolved.close_before {
            out.push(discarded(Discard::ClosedBeforeReply));
            self.close(CloseReason::RuleDisconnect, out);
            return;
        }
        let mut close = resolved.close_after.then_some(CloseReason::RuleDisconnect);
        match resolved.reply {
            None => out.push(discarded(Discard::NoReply)),
            Some(o) if o.reply.class() == 2 => {
                self.policy.message_accepted();
                if resolved.store {
                    out.push(Action::Deliver {
                        message: Box::new(self.incoming(tx)),
                        reply: resolved.custom.then_some(o.reply),
                        enhanced: o.enhanced,
                        rule: o.rule,
                        wire: o.wire,
                        answers: o.answers,
                    });
                } else {
                    out.push(Action::Send(o));
                    out.push(discarded(Discard::StoreFalse));
                }
            }
            Some(o) => {
                if o.reply.code == 421 {
                    close = Some(CloseReason::Reply421);
                }
                let code = o.reply.code;
                out.push(Action::Send(o));
                out.push(Action::Record(Event::TransactionEnded(Fate::Refused {
                    code,
                })));
            }
        }
        if let Some(reason) = close {
            self.close(reason, out);
        }
    }

    fn incoming(&self, tx: Transaction) -> Incoming {
        Incoming {
            helo: self.helo.clone(),
            mail_from: tx.from,
            mail_params: tx.mail_params,
            recipients: tx.recipients,
            // RFC 3848's names for the Received header's "with" clause.
            protocol: match (self.esmtp, self.tls, self.auth_user.is_some()) {
                (false, _, _) => "SMTP",
                (true, false, false) => "ESMTP",
                (true, false, true) => "ESMTPA",
                (true, true, false) => "ESMTPS",
                (true, true, true) => "ESMTPSA",
            },
            auth_user: self.auth_user.clone(),
            content: tx.content,
            smuggling_attempts: tx.smuggling,
            bare_lf: tx.bare_lf,
            followups: tx.followups,
        }
    }
}
