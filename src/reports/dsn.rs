//! Delivery status notifications (RFC 3464) as receivers write them: a
//! `multipart/report; report-type=delivery-status` with a part for people,
//! a `message/delivery-status` part and the returned headers (or the whole
//! message when the sender asked `RET=FULL`). Which recipients get one
//! follows their `NOTIFY=` (RFC 3461 §4.1).

use std::time::SystemTime;

use super::{
    Original, boundary, decode_xtext, envelope_headers, header_section, one_line, push_crlf,
};
use crate::proto::command::{self, Notify, Ret};
use crate::proto::reply::EnhancedCode;
use crate::store::received::rfc5322_date;

/// A per-recipient `Action:` (RFC 3464 §2.3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Failed,
    Delayed,
    Delivered,
}

impl Action {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Action::Failed => "failed",
            Action::Delayed => "delayed",
            Action::Delivered => "delivered",
        }
    }
}

/// Whether a recipient's `NOTIFY=` asks for a report of this action. No
/// NOTIFY means failures and delays (RFC 3461 §4.1: the MTA's default;
/// Postfix and Exim send both); NEVER means none; SUCCESS only when asked.
pub(crate) fn wanted(rcpt_params: &str, action: Action) -> bool {
    let notify = command::recipient_dsn(rcpt_params).and_then(|(n, _)| n);
    match (notify, action) {
        (Some(Notify::Never), _) => false,
        (None, Action::Delivered) => false,
        (None, _) => true,
        (Some(Notify::On { success, .. }), Action::Delivered) => success,
        (Some(Notify::On { failure, .. }), Action::Failed) => failure,
        (Some(Notify::On { delay, .. }), Action::Delayed) => delay,
    }
}

/// One recipient's part of a DSN.
#[derive(Clone, Debug)]
pub(crate) struct Recipient<'a> {
    /// As given in RCPT TO.
    pub address: &'a str,
    /// RCPT TO's parameters as sent (for ORCPT).
    pub params: &'a str,
    pub action: Action,
    pub status: EnhancedCode,
    /// The receiver's reply, `550 5.1.1 ...`, for Diagnostic-Code.
    pub diagnostic: Option<String>,
}

fn human(action: Action, recipients: &[Recipient<'_>], hostname: &str) -> String {
    let mut text = match action {
        Action::Failed => format!(
            "This is the mail system at host {hostname}.\r\n\r\nI'm sorry to have to inform you that your message could not\r\nbe delivered to one or more recipients. It's attached below.\r\n"
        ),
        Action::Delayed => format!(
            "This is the mail system at host {hostname}.\r\n\r\n####################################################################\r\n# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\r\n####################################################################\r\n\r\nYour message could not be delivered yet; delivery will be tried again.\r\n"
        ),
        Action::Delivered => format!(
            "This is the mail system at host {hostname}.\r\n\r\nYour message was successfully delivered to the destination(s)\r\nlisted below.\r\n"
        ),
    };
    text.push_str("\r\n");
    for r in recipients {
        text.push_str(&format!(
            "<{}>: {}\r\n",
            one_line(r.address),
            r.diagnostic
                .as_deref()
                .map_or_else(|| format!("status {}", r.status), one_line)
        ));
    }
    text
}

/// The whole DSN. `recipients` share one action (one report per action,
/// as MTAs send them). `seed` makes the boundary; `message_id` is ours.
pub(crate) fn build(
    original: &Original<'_>,
    recipients: &[Recipient<'_>],
    now: SystemTime,
    message_id: &str,
    seed: u64,
) -> Vec<u8> {
    let action = recipients.first().map_or(Action::Failed, |r| r.action);
    let (ret, envid) = command::sender_dsn(original.mail_params).unwrap_or((None, None));
    let full = ret == Some(Ret::Full);
    let returned: &[u8] = if full {
        original.raw
    } else {
        header_section(original.raw)
    };
    let b = boundary(seed, returned);
    let subject = match action {
        Action::Failed => "Undelivered Mail Returned to Sender",
        Action::Delayed => "Delayed Mail (still being retried)",
        Action::Delivered => "Successful Mail Delivery Report",
    };
    let mut out = Vec::with_capacity(returned.len() + 2048);
    envelope_headers(
        &mut out,
        original.hostname,
        original.mail_from,
        subject,
        now,
        message_id,
    );
    out.extend_from_slice(
        format!(
            "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"{b}\"\r\n\r\nThis is a MIME-encapsulated message.\r\n\r\n"
        )
        .as_bytes(),
    );
    // The part for people.
    out.extend_from_slice(
        format!(
            "--{b}\r\nContent-Description: Notification\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        )
        .as_bytes(),
    );
    out.extend_from_slice(human(action, recipients, original.hostname).as_bytes());
    out.extend_from_slice(b"\r\n");
    // The machine-readable part: per-message fields, then one group per recipient.
    let host = one_line(original.hostname);
    let arrival = rfc5322_date(original.arrival);
    let mut status = format!("Reporting-MTA: dns; {host}\r\n");
    if let Some(envid) = envid {
        status.push_str(&format!(
            "Original-Envelope-Id: {}\r\n",
            one_line(&decode_xtext(envid))
        ));
    }
    status.push_str(&format!("Arrival-Date: {arrival}\r\n"));
    let last_attempt = rfc5322_date(now);
    for r in recipients {
        status.push_str("\r\n");
        status.push_str(&format!(
            "Final-Recipient: rfc822; {}\r\n",
            one_line(r.address)
        ));
        if let Some((_, Some(orcpt))) = command::recipient_dsn(r.params) {
            let (kind, addr) = orcpt.split_once(';').unwrap_or(("rfc822", orcpt));
            status.push_str(&format!(
                "Original-Recipient: {kind}; {}\r\n",
                one_line(&decode_xtext(addr))
            ));
        }
        status.push_str(&format!("Action: {}\r\n", r.action.name()));
        status.push_str(&format!("Status: {}\r\n", r.status));
        if let Some(d) = &r.diagnostic {
            status.push_str(&format!("Diagnostic-Code: smtp; {}\r\n", one_line(d)));
        }
        status.push_str(&format!("Last-Attempt-Date: {last_attempt}\r\n"));
    }
    out.extend_from_slice(
        format!(
            "--{b}\r\nContent-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\n{status}\r\n"
        )
        .as_bytes(),
    );
    // What is returned: the headers, or the whole message on RET=FULL.
    let (kind, description) = if full {
        ("message/rfc822", "Undelivered Message")
    } else {
        ("text/rfc822-headers", "Undelivered Message Headers")
    };
    out.extend_from_slice(
        format!("--{b}\r\nContent-Description: {description}\r\nContent-Type: {kind}\r\n\r\n")
            .as_bytes(),
    );
    push_crlf(&mut out, returned);
    out.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    out
}
