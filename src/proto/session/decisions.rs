//! From the policy's [`Decision`] to actions: ask the policy with the
//! session's context, fall back to the protocol's reply, and emit the reply
//! with its delay, note, wire form and disconnects.

use super::{Action, Outgoing, Resolved, Session};
use crate::proto::event::{CloseReason, Event};
use crate::proto::policy::{Context, Decision, Disconnect, Policy, ReplyChoice, Stage};
use crate::proto::reply::Reply;

impl<P: Policy> Session<P> {
    pub(super) fn decide(
        &mut self,
        stage: Stage,
        to: Option<&str>,
        command: u64,
    ) -> Option<Decision> {
        let message = match stage {
            Stage::Message => self.tx.as_ref().map(|t| t.content.as_slice()),
            _ => None,
        };
        let ctx = Context {
            stage,
            client_ip: self.client_ip,
            helo: self.helo.as_deref(),
            from: self.tx.as_ref().map(|t| t.from.as_str()),
            to,
            recipients: self.tx.as_ref().map_or(&[], |t| t.recipients.as_slice()),
            tls: self.tls,
            auth_user: self.auth_user.as_deref(),
            connection: self.connection,
            command,
            message,
        };
        self.policy.decide(&ctx)
    }

    pub(super) fn resolve(&self, decision: Option<Decision>, default: Reply) -> Resolved {
        let Some(d) = decision else {
            return Resolved {
                reply: Some(self.protocol(default)),
                custom: false,
                delay: None,
                close_before: false,
                close_after: false,
                store: true,
                cut_after: None,
                note: None,
                tls_fault: None,
                followup: None,
            };
        };
        let custom = matches!(d.reply, ReplyChoice::Custom(_));
        let (reply, enhanced) = match d.reply {
            ReplyChoice::Default => (Some(default), self.enhanced()),
            ReplyChoice::Silent => (None, false),
            ReplyChoice::Custom(r) => (Some(r), true),
        };
        Resolved {
            reply: reply.map(|reply| Outgoing {
                reply,
                enhanced,
                rule: Some(d.rule),
                wire: d.wire,
                answers: self.answering,
            }),
            custom,
            delay: d.delay,
            close_before: d.disconnect == Some(Disconnect::BeforeReply),
            close_after: d.disconnect == Some(Disconnect::AfterReply),
            store: d.store,
            cut_after: d.cut_after,
            note: d.note,
            tls_fault: d.tls_fault,
            followup: d.followup,
        }
    }

    /// Sends a resolved reply with its delay and disconnects; returns whether
    /// the client got a positive answer (2xx, or 354 at DATA).
    pub(super) fn emit(&mut self, resolved: Resolved, out: &mut Vec<Action>) -> bool {
        if let Some(note) = resolved.note {
            out.push(Action::Record(Event::RuleNote(note.into())));
        }
        if let Some(delay) = resolved.delay {
            out.push(Action::Delay(delay));
        }
        if resolved.close_before {
            self.close(CloseReason::RuleDisconnect, out);
            return false;
        }
        let mut positive = false;
        let mut close = resolved.close_after.then_some(CloseReason::RuleDisconnect);
        if let Some(outgoing) = resolved.reply {
            positive = outgoing.reply.code < 400;
            // RFC 5321 §3.8: a 421 always ends the session.
            if outgoing.reply.code == 421 {
                close = Some(CloseReason::Reply421);
            }
            out.push(Action::Send(outgoing));
        }
        if let Some(reason) = close {
            self.close(reason, out);
            return false;
        }
        if positive && let (Some(f), Some(tx)) = (resolved.followup, self.tx.as_mut()) {
            tx.followups.push(f);
        }
        positive
    }

    /// Asks the policy and answers; `true` when the client may go on.
    pub(super) fn stage(
        &mut self,
        stage: Stage,
        default: Reply,
        to: Option<&str>,
        count: u64,
        out: &mut Vec<Action>,
    ) -> bool {
        let decision = self.decide(stage, to, count);
        let resolved = self.resolve(decision, default);
        self.emit(resolved, out)
    }
}
