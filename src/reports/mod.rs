//! Reports a receiver sends after it accepted a message: delivery status
//! notifications (RFC 3464, `dsn`) and abuse reports (ARF, RFC 5965,
//! `arf`), built as pure functions from the captured message; the
//! `outbox` keeps them until they are due and hands them to `client`, a
//! small SMTP client, when `server.reports.deliver_to` names an endpoint.

pub(crate) mod arf;
pub(crate) mod client;
pub(crate) mod dsn;
pub(crate) mod outbox;

use std::net::IpAddr;
use std::time::SystemTime;

pub(crate) use outbox::Outbox;

/// What a report says about the message it reports on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Original<'a> {
    /// Our name: Reporting-MTA, the From domain, the Message-ID's right side.
    pub hostname: &'a str,
    /// The envelope sender as given (`""` for `<>`).
    pub mail_from: &'a str,
    /// MAIL FROM's parameters as sent (RET=, ENVID=).
    pub mail_params: &'a str,
    pub client_ip: IpAddr,
    pub arrival: SystemTime,
    /// The message as stored: our Received header, then the client's bytes.
    pub raw: &'a [u8],
}

/// Whether a captured message is an automatic notification: a
/// `multipart/report` (a DSN, an ARF report, an MDN) or a message marked
/// `Auto-Submitted:` other than `no` (RFC 3834). Such mail must come from
/// the null sender, so nobody answers it automatically.
pub(crate) fn is_notification(m: &crate::store::StoredMessage) -> bool {
    let report = m.header("Content-Type").is_some_and(|c| {
        c.trim()
            .get(..16)
            .is_some_and(|t| t.eq_ignore_ascii_case("multipart/report"))
    });
    let auto = m
        .header("Auto-Submitted")
        .is_some_and(|v| !v.trim().eq_ignore_ascii_case("no"));
    report || auto
}

/// The header section of a message (up to and with the CRLF that ends
/// its last header line); the whole message when it has no body.
pub(crate) fn header_section(raw: &[u8]) -> &[u8] {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 2)
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|p| p + 1))
        .unwrap_or(raw.len());
    raw.get(..end).unwrap_or(raw)
}

/// A MIME boundary found nowhere in `content`.
pub(crate) fn boundary(seed: u64, content: &[u8]) -> String {
    let mut n = seed;
    loop {
        let b = format!("=_mailfault_report_{n:016x}");
        if !content.windows(b.len()).any(|w| w == b.as_bytes()) {
            return b;
        }
        n = n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    }
}

/// RFC 3461 §4: `+XX` in xtext stands for the byte XX.
pub(crate) fn decode_xtext(x: &str) -> String {
    let bytes = x.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'+', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Strips CR and LF from a value bound for a header line.
pub(crate) fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

/// The headers every report starts with: from the null sender's mailbox
/// (`MAILER-DAEMON@host`) to the original envelope sender.
pub(crate) fn envelope_headers(
    out: &mut Vec<u8>,
    hostname: &str,
    to: &str,
    subject: &str,
    now: SystemTime,
    message_id: &str,
) {
    let date = crate::store::received::rfc5322_date(now);
    let host = one_line(hostname);
    let lines = [
        format!("From: Mail Delivery System <MAILER-DAEMON@{host}>"),
        format!("To: <{}>", one_line(to)),
        format!("Subject: {subject}"),
        format!("Date: {date}"),
        format!("Message-ID: <{message_id}>"),
        // RFC 3834: machine-written, so no auto-responder answers it.
        "Auto-Submitted: auto-replied".to_owned(),
        "MIME-Version: 1.0".to_owned(),
    ];
    for line in lines {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends `bytes` with every line ending made CRLF, and a final CRLF.
pub(crate) fn push_crlf(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut prev = 0u8;
    for &b in bytes {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests;
