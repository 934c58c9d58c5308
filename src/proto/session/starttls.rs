//! STARTTLS (RFC 3207) in the state machine: when it is offered, what it
//! answers, and the reset once TLS is up. The handshake itself is the
//! connection's job ([`Action::StartTls`]).

use super::{Action, Session, State};
use crate::proto::event::{CloseReason, Event};
use crate::proto::policy::{Policy, Stage, TlsFault};
use crate::proto::replies as R;

impl<P: Policy> Session<P> {
    /// TLS is up (after STARTTLS, or from the start on an implicit-TLS
    /// port): the session forgets everything the client said before, as RFC
    /// 3207 §4.2 requires, and waits for a new EHLO.
    pub(crate) fn tls_started(&mut self) {
        self.tls = true;
        self.helo = None;
        self.esmtp = false;
        self.tx = None;
        self.auth_user = None;
        self.exchange = None;
    }

    #[cfg(test)]
    pub(crate) fn is_tls(&self) -> bool {
        self.tls
    }

    pub(super) fn starttls(&mut self, count: u64, out: &mut Vec<Action>) {
        if !self.config.starttls {
            return self.error(R::NOT_IMPLEMENTED, out);
        }
        if self.tls {
            return self.error(R::SEQ_TLS_ACTIVE, out);
        }
        if self.helo.is_none() {
            return self.error(R::SEQ_NEED_HELO, out);
        }
        let decision = self.decide(Stage::StartTls, None, count);
        let resolved = self.resolve(decision, R::READY_FOR_TLS);
        let go = matches!(&resolved.reply, Some(o) if o.reply.code == 220);
        let fault = resolved.tls_fault;
        self.emit(resolved, out);
        if !go || self.state == State::Closed {
            return;
        }
        if fault == Some(TlsFault::AbortHandshake) {
            out.push(Action::Record(Event::TlsFault(TlsFault::AbortHandshake)));
            self.close(CloseReason::TlsAborted, out);
            return;
        }
        out.push(Action::StartTls(fault));
    }
}
