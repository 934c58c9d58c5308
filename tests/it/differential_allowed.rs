//! Where mailfault answers a raw dialogue differently from Postfix on
//! purpose, and why. `differential.rs` reads this table: each entry names a
//! dialogue, Postfix's and mailfault's codes step by step (greeting first,
//! `|` between steps), and the reason. A difference not listed here fails
//! that test, and so does a listed one that no longer happens or has changed.
//!
//! Differences that were mailfault's own errors are not here: they were
//! fixed (555 for a parameter form not implemented, 5.1.7 / 5.1.3 for a
//! broken path).

const STRICT_NOARG: &str = "RFC 5321 §4.1.1.10 gives QUIT no arguments; mailfault answers 501 to a malformed command, Postfix ignores the argument.";
const VRFY: &str = "Both answer 252 (RFC 5321 §3.5.3); no enhanced code is defined for it, Postfix writes 2.0.0 and mailfault 2.5.0 (protocol status). Either is valid.";
const EXPN: &str = "Postfix does not implement EXPN (500); mailfault recognises it and answers 502 5.5.1 (command not implemented), or 501 without an argument, as RFC 5321 §4.2.4 describes.";
const HELP: &str =
    "Postfix does not implement HELP (500); mailfault answers 214 as RFC 5321 §4.1.1.8 describes.";
const AUTH: &str = "AUTH is not advertised: Postfix answers 503 (not enabled), mailfault 502 5.5.1 (not implemented) or 501 for a missing mechanism. RFC 4954 leaves this open; both tell the client to go without AUTH.";
const ETRN: &str = "Postfix implements ETRN (RFC 1985) and says 459 for a queue it does not hold; mailfault does not implement ETRN and answers it like any unknown verb.";
const LEADING_SPACE: &str = "RFC 5321 §4.1.1 puts the verb first on the line; mailfault answers a line starting with a space 500, Postfix skips the space.";
const NULL_PATH_CODE: &str = "Same reply code (501); mailfault names the address as the problem with 5.1.7 / 5.1.3 (bad sender / recipient syntax), Postfix uses the generic 5.5.4.";
const DATA_ARG: &str = "DATA takes no argument and there is no transaction: Postfix checks the sequence first (503), mailfault the syntax (501). Both are errors the client must fix.";
const GENERAL_LITERAL: &str = "A General-address-literal (RFC 5321 §4.1.3) is grammar-valid and mailfault accepts its syntax; Postfix refuses literals other than IPv4/IPv6. A sink should not refuse what the grammar allows.";
const LENIENT_ADDRESS: &str = "Not a Mailbox in the grammar of RFC 5321 §4.1.2 (Local-part \"@\" Domain, Dot-string without empty atoms, Let-dig domain labels): mailfault refuses it with 501 and the address enhanced code, so senders find the bug; Postfix accepts it (it qualifies or repairs addresses by default, strict_rfc821_envelopes = no).";
const UTF8: &str = "A non-ASCII address without the SMTPUTF8 parameter: RFC 6531 §3.2 requires SMTPUTF8 on MAIL for it, and mailfault answers 553 5.6.7 as RFC 6531 §3.5 describes; Postfix accepts the address anyway.";
const SIZE21: &str = "RFC 1870 allows at most 20 digits (size-value = 1*20DIGIT); 21 digits are not a size at all, so mailfault says 501 syntax, Postfix 552 too big.";
const AUTH_PARAM: &str = "AUTH= on MAIL while AUTH is not advertised is a parameter the server does not implement: mailfault answers 555 as RFC 5321 §4.1.1.11 requires; Postfix ignores it.";
const DUPLICATE: &str = "The same parameter twice is ambiguous; mailfault refuses it with 501, Postfix keeps the last value.";
const NO_HELO: &str = "MAIL before EHLO/HELO: RFC 5321 §4.1.4 says a mail session MUST start with EHLO; mailfault answers 503 5.5.1 so clients that skip it are caught, Postfix accepts by default (smtpd_helo_required = no).";
const DATA_SEQ: &str = "DATA (or BDAT) with no valid recipient: RFC 5321 §3.3 allows either 503 (bad sequence) or 554 (no valid recipients). mailfault says 503 when no RCPT was accepted by syntax, Postfix 554.";
const BARE_LF: &str = "A bare LF (or CR) where SMTP needs CRLF (RFC 5321 §2.3.8): mailfault refuses it by default (server.bare_lf: reject), the defence against SMTP smuggling; Postfix 3.7 accepts it by default.";
const SMUGGLING: &str = "LF.LF inside DATA: Postfix 3.7 with default settings ends the message there and runs the rest as commands (the SMTP smuggling weakness); mailfault refuses bare LF in content by default (550 5.5.2) and keeps reading until CRLF.CRLF.";
const BDAT_BAD: &str = "A BDAT line without a usable size: Postfix answers 521 and closes (it cannot know where the chunk ends); mailfault answers 501 and stays open, reading and discarding the chunk when its size is readable. RFC 3030 allows both; the issue asked for either.";
const LONG_LINE: &str = "Command lines are limited to 512 octets (RFC 5321 §4.5.3.1.4) and mailfault allows 2048; a longer line gets 500 5.5.2 line too long (§4.2.4), where Postfix reads up to its own limit and then judges the command.";

/// (dialogue, Postfix's codes, mailfault's codes, reason).
pub(crate) const ALLOWED: &[(&str, &str, &str, &str)] = &[
    (
        "cmd/quit-arg",
        "220 | 250 | 221 2.0.0",
        "220 | 250 | 501 5.5.4",
        STRICT_NOARG,
    ),
    (
        "cmd/vrfy-address",
        "220 | 250 | 252 2.0.0 | 221 2.0.0",
        "220 | 250 | 252 2.5.0 | 221 2.0.0",
        VRFY,
    ),
    (
        "cmd/vrfy-name",
        "220 | 250 | 252 2.0.0 | 221 2.0.0",
        "220 | 250 | 252 2.5.0 | 221 2.0.0",
        VRFY,
    ),
    (
        "cmd/expn-list",
        "220 | 250 | 500 5.5.2 | 221 2.0.0",
        "220 | 250 | 502 5.5.1 | 221 2.0.0",
        EXPN,
    ),
    (
        "cmd/expn-bare",
        "220 | 250 | 500 5.5.2 | 221 2.0.0",
        "220 | 250 | 501 5.5.4 | 221 2.0.0",
        EXPN,
    ),
    (
        "cmd/help",
        "220 | 250 | 500 5.5.2 | 221 2.0.0",
        "220 | 250 | 214 2.0.0 | 221 2.0.0",
        HELP,
    ),
    (
        "cmd/help-topic",
        "220 | 250 | 500 5.5.2 | 221 2.0.0",
        "220 | 250 | 214 2.0.0 | 221 2.0.0",
        HELP,
    ),
    (
        "cmd/auth-plain-no-auth",
        "220 | 250 | 503 5.5.1 | 221 2.0.0",
        "220 | 250 | 502 5.5.1 | 221 2.0.0",
        AUTH,
    ),
    (
        "cmd/auth-bare",
        "220 | 250 | 503 5.5.1 | 221 2.0.0",
        "220 | 250 | 501 5.5.4 | 221 2.0.0",
        AUTH,
    ),
    (
        "cmd/etrn",
        "220 | 250 | 459 | 221 2.0.0",
        "220 | 250 | 500 5.5.2 | 221 2.0.0",
        ETRN,
    ),
    (
        "cmd/leading-space",
        "220 | 250 | 250 2.0.0 | 221 2.0.0",
        "220 | 250 | 500 5.5.2 | 221 2.0.0",
        LEADING_SPACE,
    ),
    (
        "cmd/mail-from-colon-nothing",
        "220 | 250 | 501 5.5.4 | 221 2.0.0",
        "220 | 250 | 501 5.1.7 | 221 2.0.0",
        NULL_PATH_CODE,
    ),
    (
        "cmd/data-arg",
        "220 | 250 | 503 5.5.1 | 221 2.0.0",
        "220 | 250 | 501 5.5.4 | 221 2.0.0",
        DATA_ARG,
    ),
    (
        "mail-address/general-literal",
        "220 | 250 | 501 5.1.7 | 221 2.0.0",
        "220 | 250 | 250 2.1.0 | 221 2.0.0",
        GENERAL_LITERAL,
    ),
    (
        "rcpt-address/general-literal",
        "220 | 250 | 250 2.1.0 | 501 5.1.3 | 221 2.0.0",
        "220 | 250 | 250 2.1.0 | 250 2.1.5 | 221 2.0.0",
        GENERAL_LITERAL,
    ),
    (
        "mail-address/no-local",
        "220 | 250 | 250 2.1.0 | 221 2.0.0",
        "220 | 250 | 501 5.1.7 | 221 2.0.0",
        LENIENT_ADDRESS,
    ),
    (
        "rcpt-address/no-local",
        "220 | 250 | 250 2.1.0 | 250 2.1.5 | 221 2.0.0",
        "220 | 250 | 250 2.1.0 | 501 5.1.3 | 221 2.0.0",
        LENIENT_ADDRESS,
    ),
    (
        "mail-address/no-at",
        "220 | 250 | 250 2.1.0 | 221 2.0.0",
        "220 | 250 | 501 5.1.7 | 221 2.0.0",
        LENIENT_ADDRESS,
    ),
    (
        "rcpt-address/no-at",
        "220 | 250 | 250 2.1.0 | 250 2.1.5 | 221 2.0.0",
        "220 | 250 | 250 2.1.0 | 501 5.1.3 | 221 2.0.0",
        LENIENT_ADDRESS,
    ),
    (
        "mail-address/trailing-dot-domain",
        "220 | 250 | 250 2.1.0 | 221 2.0.0",
        "220 | 250 | 501 5.1.7 | 221 2.0.0",
        LENIENT_ADDRESS,
    ),
    (
        "rcpt-address/trailing-dot-domain",
        "220 | 250 | 250 2.1.0 | 250 2.1.5 | 221 2.0.0",
        "220 | 250 | 250 2.1.0 | 501 5.1.3 | 221 2.0.0",
        LENIENT_ADDRESS,
    ),
    (
        "mail-address/leading-dot-local",
        "220 | 250 | 250 2.1.0 | 221 2.0.0",
        "220 | 250 | 501 5.1.7 | 221 2.0.0",
        LENIENT_ADDRESS,
    ),
    (
        "rcpt-address/leading-dot-local",
        "220 | 250 | 250 2.1.0 | 250 2.1.5 | 221 2.0.0",
        "220 | 250 | 250 2.1.0 | 501 5.1.3 | 221 2.0.0",
        LENIENT_ADDRESS,
    ),
    (
        "mail-address/double-dot-local",
        "220 | 250 | 250 2.1.0 | 221 2.0.0",
        "220 | 250 | 501 5.1.7 | 221 2.0.0",
        LENIENT_ADDRESS,
    ),
    (
        "rcpt-address/double-dot-local",
        "220 | 250 | 250 2.1.0 | 250 2.1.5 | 221 2.0.0",
        "220 | 250 | 250 2.1.0 | 501 5.1.3 | 221 2.0.0",
        LENIENT_ADDRESS,
    ),
    (
        "mail-address/two-ats",
        "220 | 250 | 250 2.1.0 | 221 2.0.0",
        "220 | 250 | 501 5.1.7 | 221 2.0.0",
        LENIENT_ADDRESS,
    ),
    (
        "rcpt-address/two-ats",
        "220 | 250 | 250 2.1.0 | 250 2.1.5 | 221 2.0.0",
        "220 | 250 | 250 2.1.0 | 501 5.1.3 | 221 2.0.0",
        LENIENT_ADDRESS,
    ),
    (
        "mail-address/unopened",
        "220 | 250 | 250 2.1.0 | 221 2.0.0",
        "220 | 250 | 501 5.1.7 | 221 2.0.0",
        LENIENT_ADDRESS,
    ),
    (
        "rcpt-address/unopened",
        "220 | 250 | 250 2.1.0 | 250 2.1.5 | 221 2.0.0",
        "220 | 250 | 250 2.1.0 | 501 5.1.3 | 221 2.0.0",
        LENIENT_ADDRESS,
    ),
    (
        "mail-address/utf8-local",
        "220 | 250 | 250 2.1.0 | 221 2.0.0",
        "220 | 250 | 553 5.6.7 | 221 2.0.0",
        UTF8,
    ),
    (
        "rcpt-address/utf8-local",
        "220 | 250 | 250 2.1.0 | 250 2.1.5 | 221 2.0.0",
        "220 | 250 | 250 2.1.0 | 553 5.6.7 | 221 2.0.0",
        UTF8,
    ),
    (
        "mail-address/underscore-domain",
        "220 | 250 | 250 2.1.0 | 221 2.0.0",
        "220 | 250 | 501 5.1.7 | 221 2.0.0",
        LENIENT_ADDRESS,
    ),
    (
        "rcpt-address/underscore-domain",
        "220 | 250 | 250 2.1.0 | 250 2.1.5 | 221 2.0.0",
        "220 | 250 | 250 2.1.0 | 501 5.1.3 | 221 2.0.0",
        LENIENT_ADDRESS,
    ),
    (
        "mail-param/size-21-digits",
        "220 | 250 | 552 5.3.4 | 221 2.0.0",
        "220 | 250 | 501 5.5.4 | 221 2.0.0",
        SIZE21,
    ),
    (
        "mail-param/auth-null",
        "220 | 250 | 250 2.1.0 | 221 2.0.0",
        "220 | 250 | 555 5.5.4 | 221 2.0.0",
        AUTH_PARAM,
    ),
    (
        "mail-param/duplicate-size",
        "220 | 250 | 250 2.1.0 | 221 2.0.0",
        "220 | 250 | 501 5.5.4 | 221 2.0.0",
        DUPLICATE,
    ),
    (
        "rcpt-special/to-colon-nothing",
        "220 | 250 | 250 2.1.0 | 501 5.5.4 | 221 2.0.0",
        "220 | 250 | 250 2.1.0 | 501 5.1.3 | 221 2.0.0",
        NULL_PATH_CODE,
    ),
    (
        "seq/mail-before-helo",
        "220 | 250 2.1.0 | 221 2.0.0",
        "220 | 503 5.5.1 | 221 2.0.0",
        NO_HELO,
    ),
    (
        "seq/vrfy-before-helo",
        "220 | 252 2.0.0 | 221 2.0.0",
        "220 | 252 2.5.0 | 221 2.0.0",
        VRFY,
    ),
    (
        "seq/data-before-rcpt",
        "220 | 250 | 250 2.1.0 | 554 5.5.1 | 221 2.0.0",
        "220 | 250 | 250 2.1.0 | 503 5.5.1 | 221 2.0.0",
        DATA_SEQ,
    ),
    (
        "seq/data-after-rejected-rcpts",
        "220 | 250 | 250 2.1.0 | 501 5.1.3 | 554 5.5.1 | 221 2.0.0",
        "220 | 250 | 250 2.1.0 | 501 5.1.3 | 503 5.5.1 | 221 2.0.0",
        DATA_SEQ,
    ),
    (
        "seq/vrfy-in-transaction",
        "220 | 250 | 250 2.1.0 | 250 2.1.5 | 252 2.0.0 | 354 | 250 2.0.0 | 221 2.0.0",
        "220 | 250 | 250 2.1.0 | 250 2.1.5 | 252 2.5.0 | 354 | 250 2.0.0 | 221 2.0.0",
        VRFY,
    ),
    (
        "data/bare-lf-in-body",
        "220 | 250 | 250 2.1.0 | 250 2.1.5 | 354 | 250 2.0.0 | 221 2.0.0",
        "220 | 250 | 250 2.1.0 | 250 2.1.5 | 354 | 550 5.5.2 | 221 2.0.0",
        BARE_LF,
    ),
    (
        "data/lf-dot-lf-smuggling",
        "220 | 250 | 250 2.1.0 | 250 2.1.5 | 354 | 250 2.0.0,extra 250 2.1.0,extra 221 2.7.0 | closed",
        "220 | 250 | 250 2.1.0 | 250 2.1.5 | 354 | 550 5.5.2 | 221 2.0.0",
        SMUGGLING,
    ),
    (
        "bdat/no-size",
        "220 | 250 | 250 2.1.0 | 250 2.1.5 | 521 5.5.4 | closed",
        "220 | 250 | 250 2.1.0 | 250 2.1.5 | 501 5.5.4 | 221 2.0.0",
        BDAT_BAD,
    ),
    (
        "bdat/letters-size",
        "220 | 250 | 250 2.1.0 | 250 2.1.5 | 521 5.5.4 | closed",
        "220 | 250 | 250 2.1.0 | 250 2.1.5 | 501 5.5.4 | 221 2.0.0",
        BDAT_BAD,
    ),
    (
        "bdat/bad-keyword",
        "220 | 250 | 250 2.1.0 | 250 2.1.5 | 521 5.5.4 | closed",
        "220 | 250 | 250 2.1.0 | 250 2.1.5 | 501 5.5.4 | 221 2.0.0",
        BDAT_BAD,
    ),
    (
        "bdat/no-rcpt",
        "220 | 250 | 250 2.1.0 | 554 5.5.1 | 221 2.0.0",
        "220 | 250 | 250 2.1.0 | 503 5.5.1 | 221 2.0.0",
        DATA_SEQ,
    ),
    (
        "line/bare-lf-noop",
        "220 | 250 | 250 2.0.0 | 221 2.0.0",
        "220 | 250 | 500 5.5.2 | 221 2.0.0",
        BARE_LF,
    ),
    (
        "line/cr-cr-lf",
        "220 | 250 | 250 2.0.0 | 221 2.0.0",
        "220 | 250 | 500 5.5.2 | 221 2.0.0",
        BARE_LF,
    ),
    (
        "line/line-5000",
        "220 | 250 | 250 2.0.0 | 221 2.0.0",
        "220 | 250 | 500 5.5.2 | 221 2.0.0",
        LONG_LINE,
    ),
    (
        "line/bare-lf-mail",
        "220 | 250 | 250 2.1.0 | 221 2.0.0",
        "220 | 250 | 500 5.5.2 | 221 2.0.0",
        BARE_LF,
    ),
    (
        "line/long-mail-line",
        "220 | 250 | 501 5.1.7 | 221 2.0.0",
        "220 | 250 | 500 5.5.2 | 221 2.0.0",
        LONG_LINE,
    ),
];
