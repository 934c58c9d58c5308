//! Abuse reports in the Abuse Reporting Format (RFC 5965): a
//! `multipart/report; report-type=feedback-report` with a part for people,
//! the `message/feedback-report` fields and the whole original message,
//! as mailbox providers send them when a recipient clicks "report spam".

use std::time::SystemTime;

use super::{Original, boundary, envelope_headers, one_line, push_crlf};
use crate::store::received::rfc5322_date;

/// The whole report about `recipient` (as given in RCPT TO).
pub(crate) fn build(
    original: &Original<'_>,
    recipient: &str,
    feedback_type: &str,
    now: SystemTime,
    message_id: &str,
    seed: u64,
) -> Vec<u8> {
    let b = boundary(seed, original.raw);
    let mut out = Vec::with_capacity(original.raw.len() + 2048);
    envelope_headers(
        &mut out,
        original.hostname,
        original.mail_from,
        &format!("Abuse report ({})", one_line(feedback_type)),
        now,
        message_id,
    );
    let arrival = rfc5322_date(original.arrival);
    let ip = original.client_ip;
    out.extend_from_slice(
        format!(
            "Content-Type: multipart/report; report-type=feedback-report;\r\n\tboundary=\"{b}\"\r\n\r\nThis is a MIME-encapsulated message.\r\n\r\n"
        )
        .as_bytes(),
    );
    out.extend_from_slice(
        format!(
            "--{b}\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Disposition: inline\r\n\r\nThis is an email abuse report for an email message received from IP\r\n{ip} on {arrival}.\r\nA recipient ({}) reported it ({}).\r\n\r\n",
            one_line(recipient),
            one_line(feedback_type)
        )
        .as_bytes(),
    );
    let fields = [
        format!("Feedback-Type: {}", one_line(feedback_type)),
        format!("User-Agent: mailfault/{}", env!("CARGO_PKG_VERSION")),
        "Version: 1".to_owned(),
        format!("Original-Mail-From: <{}>", one_line(original.mail_from)),
        format!("Original-Rcpt-To: <{}>", one_line(recipient)),
        format!("Arrival-Date: {arrival}"),
        format!("Reporting-MTA: dns; {}", one_line(original.hostname)),
        format!("Source-IP: {ip}"),
    ];
    out.extend_from_slice(
        format!(
            "--{b}\r\nContent-Type: message/feedback-report\r\nContent-Disposition: inline\r\n\r\n"
        )
        .as_bytes(),
    );
    for f in fields {
        out.extend_from_slice(f.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(
        format!("\r\n--{b}\r\nContent-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n")
            .as_bytes(),
    );
    push_crlf(&mut out, original.raw);
    out.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    out
}
