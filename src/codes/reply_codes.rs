//! The three-digit reply codes: every one RFC 5321 and its extensions define,
//! plus the non-standard ones receivers are known to send, so that `explain`
//! can say something useful about any code found in a bounce log.

use serde::Serialize;

use super::kinds::{Category, Class};

/// One reply code and what it tells a sender.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub(crate) struct ReplyCodeEntry {
    pub code: u16,
    /// The wording the defining document gives the code (or, for
    /// non-standard codes, the wording receivers use).
    pub title: &'static str,
    /// What it means for the sender, in this project's words.
    pub meaning: &'static str,
    /// Where the code is defined; for non-standard codes, where it is seen.
    pub rfc: &'static str,
    pub standard: bool,
    /// The usual reason behind the code when the text gives no better clue.
    pub category: Category,
    /// Where the code is defined (RFC and section) or "observed in bounces".
    pub source: &'static str,
}

impl ReplyCodeEntry {
    /// Every catalog code starts with 2, 3, 4 or 5, so this never fails for
    /// catalog entries; it is `Option` for codes built by hand.
    pub(crate) const fn class(&self) -> Option<Class> {
        Class::from_digit((self.code / 100) as u8)
    }

    /// `RFC 5321`, or `non-standard` for codes no RFC defines: the short
    /// form for tables.
    pub(crate) fn rfc_short(&self) -> &'static str {
        if self.standard {
            self.rfc
        } else {
            "non-standard"
        }
    }
}

const fn std(
    code: u16,
    title: &'static str,
    meaning: &'static str,
    rfc: &'static str,
    category: Category,
) -> ReplyCodeEntry {
    ReplyCodeEntry {
        code,
        title,
        meaning,
        rfc,
        standard: true,
        category,
        source: section(code, rfc),
    }
}

const fn field(
    code: u16,
    title: &'static str,
    meaning: &'static str,
    rfc: &'static str,
    category: Category,
) -> ReplyCodeEntry {
    ReplyCodeEntry {
        standard: false,
        source: "observed in bounces",
        ..std(code, title, meaning, rfc, category)
    }
}

/// The section that defines a standard code.
const fn section(code: u16, rfc: &'static str) -> &'static str {
    match code {
        235 | 334 | 432 | 454 | 530 | 534 | 535 | 538 => "RFC 4954 §6; RFC 3207 §4 (454, 530)",
        521 | 556 => "RFC 7504 §3",
        211..=554 => "RFC 5321 §4.2.2-4.2.3",
        555 => "RFC 5321 §4.1.1.11, §4.2.3",
        _ => rfc,
    }
}

use Category::*;

/// Sorted by code; `reply_code` relies on that for its binary search.
#[rustfmt::skip]
pub(crate) static REPLY_CODES: &[ReplyCodeEntry] = &[
    std(211, "System status, or system help reply",
        "Answer to a HELP or status request; carries no verdict on any message.",
        "RFC 5321", Other),
    std(214, "Help message",
        "Human-readable help text, usually in answer to HELP.",
        "RFC 5321", Other),
    std(220, "<domain> Service ready",
        "The greeting: the server is ready for EHLO. Also the go-ahead after STARTTLS.",
        "RFC 5321", Other),
    std(221, "<domain> Service closing transmission channel",
        "Goodbye after QUIT; the server is closing the connection normally.",
        "RFC 5321", Other),
    std(235, "Authentication successful",
        "AUTH succeeded; the client may now send as the authenticated user.",
        "RFC 4954", Other),
    std(250, "Requested mail action okay, completed",
        "The command worked. After the message content it means the receiver has taken responsibility for the message.",
        "RFC 5321", Other),
    std(251, "User not local; will forward to <forward-path>",
        "Accepted; the receiver will pass the message on to another address.",
        "RFC 5321", Other),
    std(252, "Cannot VRFY user, but will accept message and attempt delivery",
        "VRFY declined to confirm the address, but mail to it is still accepted.",
        "RFC 5321", Other),
    std(334, "Server challenge",
        "AUTH in progress: the server sends a base64 challenge and waits for the client's answer.",
        "RFC 4954", Other),
    std(354, "Start mail input; end with <CRLF>.<CRLF>",
        "DATA accepted: send the message, then a line holding a single dot.",
        "RFC 5321", Other),
    field(420, "Timeout connection problem",
        "Seen from a few servers when the connection or the receiving side timed out; not defined by any RFC. Treat it like any other transient failure.",
        "non-standard (seen in the field)", Other),
    std(421, "<domain> Service not available, closing transmission channel",
        "The server will not go on now and closes the connection: overload, maintenance, or a sender that is being throttled. Reconnect later, more slowly.",
        "RFC 5321", Throttling),
    field(422, "Recipient mailbox has exceeded its storage limit",
        "Used by some servers for a full mailbox. RFC 4954's registry entry for X.7.12 also names 422 for a required password transition. Not an RFC 5321 code.",
        "non-standard (seen in the field)", MailboxFull),
    field(431, "Not enough space or resources on the receiving server",
        "The receiving server is short of memory or disk, or is overloaded; some guides suggest it appears when the sender pushes too much at once.",
        "non-standard (seen in the field)", Other),
    std(432, "A password transition is needed",
        "AUTH refused until the user logs in once with a plain mechanism so the server can store the new kind of credential.",
        "RFC 4954", Authentication),
    field(442, "The connection was dropped during transmission",
        "Reported by some sending systems when the receiver went away mid-transfer; nothing was delivered.",
        "non-standard (seen in the field)", Other),
    field(447, "Outgoing message timed out",
        "Reported by some sending systems when the receiving server did not answer in time.",
        "non-standard (seen in the field)", Other),
    field(449, "Routing error",
        "Used by Microsoft Exchange for a temporary routing failure towards the recipient.",
        "non-standard (seen in the field)", Other),
    std(450, "Requested mail action not taken: mailbox unavailable",
        "The mailbox cannot take mail right now: busy, temporarily blocked by policy, or the sender is being greylisted.",
        "RFC 5321", Other),
    std(451, "Requested action aborted: local error in processing",
        "Something went wrong on the receiving side (a failing lookup, a filter, a disk); the sender did nothing wrong as far as this code says.",
        "RFC 5321", Other),
    std(452, "Requested action not taken: insufficient system storage",
        "The server is out of space, or (with 4.5.3) will not take more recipients in this transaction.",
        "RFC 5321", Other),
    std(454, "Temporary authentication failure",
        "AUTH could not be completed now (RFC 4954); servers also use it when TLS is not available for the moment (RFC 3207).",
        "RFC 4954, RFC 3207", Other),
    std(455, "Server unable to accommodate parameters",
        "The server understood the MAIL or RCPT parameters but cannot honour them at the moment.",
        "RFC 5321", SyntaxProtocol),
    field(471, "Local error at the sending side's server",
        "Informal lists describe it as an error of the sender's own mail server, often its outgoing anti-spam or content filter, not of the receiver; look at the sending side's relay first.",
        "non-standard (seen in the field)", Other),
    std(500, "Syntax error, command unrecognized",
        "The server did not understand the command, or the line was too long. Nearly always a bug in the sending client.",
        "RFC 5321", SyntaxProtocol),
    std(501, "Syntax error in parameters or arguments",
        "The command was known but its arguments were not, often a malformed address in MAIL FROM or RCPT TO.",
        "RFC 5321", SyntaxProtocol),
    std(502, "Command not implemented",
        "The server does not support that command at all.",
        "RFC 5321", SyntaxProtocol),
    std(503, "Bad sequence of commands",
        "The command came out of order, such as DATA before any RCPT, or AUTH twice.",
        "RFC 5321", SyntaxProtocol),
    std(504, "Command parameter not implemented",
        "The command is supported but one of its parameters is not.",
        "RFC 5321", SyntaxProtocol),
    field(510, "Bad email address",
        "Some bounce generators write 510 or 511 for a recipient address that does not exist; the standard form is 550 5.1.1.",
        "non-standard (seen in the field)", UnknownRecipient),
    field(512, "Host of the recipient's domain not found",
        "Used in some bounces when the recipient domain has no mail server that DNS can find.",
        "non-standard (seen in the field)", UnknownRecipient),
    std(521, "Host does not accept mail",
        "This host never accepts mail (it is not a mail server); retrying cannot help.",
        "RFC 7504", Other),
    field(523, "Encryption needed",
        "Named in RFC 5248's registry entry for X.7.10: a stronger privacy layer such as TLS is required before this authentication. Some servers use 523 for a message larger than they accept instead.",
        "non-standard (RFC 5248 registry note)", Tls),
    field(525, "User account disabled",
        "Named in RFC 5248's registry entry for X.7.13: the login worked but the account is disabled until an administrator re-enables it.",
        "non-standard (RFC 5248 registry note)", Authentication),
    std(530, "Authentication required",
        "The server wants AUTH (RFC 4954) or STARTTLS (RFC 3207) before it takes this command.",
        "RFC 4954, RFC 3207", Authentication),
    std(534, "Authentication mechanism is too weak",
        "The chosen AUTH mechanism is weaker than the server allows for this user; try a stronger one.",
        "RFC 4954", Authentication),
    std(535, "Authentication credentials invalid",
        "The username or password was rejected.",
        "RFC 4954", Authentication),
    std(538, "Encryption required for requested authentication mechanism",
        "That AUTH mechanism may only be used over an encrypted connection.",
        "RFC 4954", Tls),
    field(541, "Message rejected by the recipient address",
        "Used by some receivers when the recipient's anti-spam filtering refused the message.",
        "non-standard (seen in the field)", PolicySpam),
    std(550, "Requested action not taken: mailbox unavailable",
        "The catch-all permanent refusal: no such mailbox, no access, or a policy rejection. The enhanced code and the text say which.",
        "RFC 5321", Other),
    std(551, "User not local; please try <forward-path>",
        "The recipient is not here; the text may name where the mailbox has moved.",
        "RFC 5321", UnknownRecipient),
    std(552, "Requested mail action aborted: exceeded storage allocation",
        "The recipient is out of storage, or (with 5.3.4) the message is larger than the server takes.",
        "RFC 5321", MailboxFull),
    std(553, "Requested action not taken: mailbox name not allowed",
        "The address was refused as written: bad syntax, a sender the server does not allow, or relaying it will not do.",
        "RFC 5321", Other),
    std(554, "Transaction failed",
        "A permanent failure with no more specific code; at connection time it means no SMTP service here. In practice often a content or reputation rejection.",
        "RFC 5321", PolicySpam),
    std(555, "MAIL FROM/RCPT TO parameters not recognized or not implemented",
        "An ESMTP parameter on MAIL or RCPT was refused.",
        "RFC 5321", SyntaxProtocol),
    std(556, "Domain does not accept mail",
        "The recipient's domain publishes that it receives no mail at all (for example a null MX).",
        "RFC 7504", UnknownRecipient),
    field(571, "Delivery not authorized, message refused",
        "Used by older Microsoft and appliance filters for a policy or spam block; the standard form is 550 5.7.1.",
        "non-standard (seen in the field)", PolicySpam),
];
