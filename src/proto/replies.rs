//! The protocol's own replies, one constant each, so the state machine names
//! what it means (`SEQ_NEED_MAIL`) and the hot path never formats text.
//!
//! Codes follow RFC 5321 §4.2 and the enhanced codes RFC 3463 / RFC 5248
//! assign; texts are short and say how to fix the client.

use super::reply::{EnhancedCode as E, Reply};

const fn r(code: u16, e: E, text: &'static str) -> Reply {
    Reply::new(code, Some(e), text)
}

pub(crate) const OK: Reply = r(250, E::new(2, 0, 0), "Ok");
pub(crate) const SENDER_OK: Reply = r(250, E::new(2, 1, 0), "Sender ok");
pub(crate) const RECIPIENT_OK: Reply = r(250, E::new(2, 1, 5), "Recipient ok");
pub(crate) const START_DATA: Reply = Reply::new(354, None, "End data with <CR><LF>.<CR><LF>");
pub(crate) const BYE: Reply = r(221, E::new(2, 0, 0), "Bye");
pub(crate) const VRFY: Reply = r(
    252,
    E::new(2, 5, 0),
    "Cannot VRFY user, but will accept message and attempt delivery",
);
pub(crate) const EXPN: Reply = r(502, E::new(5, 5, 1), "EXPN not supported");
pub(crate) const HELP: Reply = r(
    214,
    E::new(2, 0, 0),
    "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY EXPN HELP",
);

pub(crate) const READY_FOR_TLS: Reply = r(220, E::new(2, 0, 0), "Ready to start TLS");
pub(crate) const SEQ_TLS_ACTIVE: Reply = r(503, E::new(5, 5, 1), "TLS already active");
pub(crate) const TLS_REQUIRED: Reply =
    r(530, E::new(5, 7, 0), "Must issue a STARTTLS command first");
pub(crate) const NOT_IMPLEMENTED: Reply = r(502, E::new(5, 5, 1), "Command not implemented");
pub(crate) const UNKNOWN_COMMAND: Reply = r(500, E::new(5, 5, 2), "Command unrecognized");
pub(crate) const LINE_TOO_LONG: Reply = r(500, E::new(5, 5, 2), "Line too long");
pub(crate) const BARE_LF_COMMAND: Reply = r(
    500,
    E::new(5, 5, 2),
    "Bare LF received; SMTP lines must end with CRLF",
);
pub(crate) const BARE_LF_MESSAGE: Reply = r(
    550,
    E::new(5, 5, 2),
    "Message contains bare LF line endings; SMTP requires CRLF",
);

pub(crate) const SEQ_NEED_HELO: Reply = r(503, E::new(5, 5, 1), "Send EHLO/HELO first");
pub(crate) const SEQ_NESTED_MAIL: Reply = r(503, E::new(5, 5, 1), "Nested MAIL command");
pub(crate) const SEQ_NEED_MAIL: Reply = r(503, E::new(5, 5, 1), "Need MAIL command first");
pub(crate) const SEQ_NEED_RCPT: Reply = r(503, E::new(5, 5, 1), "Need RCPT command first");
pub(crate) const SEQ_DATA_AFTER_BDAT: Reply = r(
    503,
    E::new(5, 5, 1),
    "DATA cannot follow BDAT in one transaction",
);
/// RFC 3030 §3: a BODY=BINARYMIME message cannot be sent with DATA.
pub(crate) const SEQ_DATA_BINARYMIME: Reply = r(
    503,
    E::new(5, 5, 1),
    "BODY=BINARYMIME requires BDAT, not DATA",
);
pub(crate) const SEQ_RCPT_AFTER_BDAT: Reply = r(
    503,
    E::new(5, 5, 1),
    "RCPT cannot follow BDAT in one transaction",
);
pub(crate) const SEQ_BDAT_FAILED: Reply = r(
    503,
    E::new(5, 5, 1),
    "Earlier BDAT of this transaction failed; send RSET",
);
pub(crate) const SEQ_REJECTED_AT_CONNECT: Reply = r(
    503,
    E::new(5, 5, 1),
    "Connection was rejected; only QUIT is accepted",
);
pub(crate) const NO_VALID_RECIPIENTS: Reply = r(554, E::new(5, 5, 1), "No valid recipients");

pub(crate) const TOO_MANY_RECIPIENTS: Reply = r(452, E::new(4, 5, 3), "Too many recipients");
pub(crate) const MESSAGE_TOO_BIG: Reply = r(
    552,
    E::new(5, 3, 4),
    "Message size exceeds fixed maximum message size",
);
pub(crate) const UTF8_NEEDS_SMTPUTF8: Reply = r(
    553,
    E::new(5, 6, 7),
    "Non-ASCII address requires the SMTPUTF8 parameter",
);
/// RFC 5321 §4.1.1.11: "555 MAIL FROM/RCPT TO parameters not recognized or
/// not implemented", naming the parameter as Postfix does.
pub(crate) fn param_not_supported(name: &str) -> Reply {
    Reply {
        code: 555,
        enhanced: Some(E::new(5, 5, 4)),
        text: std::borrow::Cow::Owned(format!("Unsupported option: {name}")),
    }
}
pub(crate) const BDAT_NOT_SUPPORTED: Reply = r(
    502,
    E::new(5, 5, 1),
    "BDAT requires CHUNKING, which is not advertised",
);

pub(crate) const TOO_MANY_ERRORS: Reply =
    r(421, E::new(4, 7, 0), "Too many errors, closing connection");
pub(crate) const TIMEOUT: Reply = r(421, E::new(4, 4, 2), "Timeout exceeded, closing connection");
pub(crate) const SHUTTING_DOWN: Reply = r(
    421,
    E::new(4, 3, 2),
    "Service shutting down, closing connection",
);
pub(crate) const TOO_MANY_CONNECTIONS: Reply = r(
    421,
    E::new(4, 7, 0),
    "Too many connections, try again later",
);
pub(crate) const STORE_FAILED: Reply = r(
    451,
    E::new(4, 3, 0),
    "Message could not be stored, try again later",
);

pub(crate) const AUTH_OK: Reply = r(235, E::new(2, 7, 0), "Authentication successful");
pub(crate) const AUTH_FAILED: Reply = r(535, E::new(5, 7, 8), "Authentication credentials invalid");
pub(crate) const AUTH_CANCELLED: Reply = r(501, E::new(5, 7, 0), "Authentication cancelled");
pub(crate) const AUTH_CANNOT_DECODE: Reply = r(501, E::new(5, 5, 2), "Cannot decode response");
pub(crate) const AUTH_UNKNOWN_MECHANISM: Reply =
    r(504, E::new(5, 5, 4), "Unrecognized authentication type");
pub(crate) const AUTH_NO_INITIAL_RESPONSE: Reply = r(
    501,
    E::new(5, 5, 4),
    "CRAM-MD5 does not take an initial response",
);
pub(crate) const SEQ_AUTH_NEED_EHLO: Reply = r(503, E::new(5, 5, 1), "Send EHLO first");
pub(crate) const SEQ_AUTH_TWICE: Reply = r(503, E::new(5, 5, 1), "Already authenticated");
pub(crate) const SEQ_AUTH_IN_TRANSACTION: Reply = r(
    503,
    E::new(5, 5, 1),
    "AUTH is not permitted during a mail transaction",
);
pub(crate) const AUTH_REQUIRED: Reply = r(530, E::new(5, 7, 0), "Authentication required");
pub(crate) const AUTH_NEEDS_TLS: Reply = r(
    538,
    E::new(5, 7, 11),
    "Encryption required for requested authentication mechanism",
);
