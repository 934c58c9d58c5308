//! The IANA "SMTP Enhanced Status Codes" registry (RFC 3463 and the RFCs that
//! added to it), so that a `5.7.26` in a bounce can be named and classified
//! without a network lookup. Titles are the registry's sample texts; the
//! meanings are this project's own words.

use serde::ser::{Serialize, SerializeStruct, Serializer};

use super::kinds::Category;

/// One registry entry, `X.subject.detail`: the class digit is left open
/// because most entries apply to success, transient and permanent alike.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct EnhancedEntry {
    pub subject: u16,
    pub detail: u16,
    /// The class digits the code is meant to be used with, ascending. A code
    /// seen with another class is still this entry, but `explain` warns.
    pub classes: &'static [u8],
    /// The registry's sample text.
    pub title: &'static str,
    pub meaning: &'static str,
    pub rfc: &'static str,
    pub category: Category,
}

impl EnhancedEntry {
    /// `X.7.26`: the registry's own spelling.
    pub(crate) fn pattern(&self) -> String {
        format!("X.{}.{}", self.subject, self.detail)
    }

    pub(crate) fn allows_class(&self, class: u8) -> bool {
        self.classes.contains(&class)
    }

    /// X.6.10, the registry's one deprecated entry (a duplicate of X.6.8).
    pub(crate) fn deprecated(&self) -> bool {
        self.title.is_empty()
    }

    /// The defining document and section: RFC 3463 gives each subject its
    /// own section (X.1 in §3.2 ... X.7 in §3.8); later codes are cited by
    /// RFC, all through the IANA registry.
    pub(crate) fn source(&self) -> String {
        if self.rfc == "RFC 3463" {
            format!("RFC 3463 §3.{}; {IANA}", self.subject + 1)
        } else {
            format!("{}; {IANA}", self.rfc)
        }
    }
}

impl Serialize for EnhancedEntry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("EnhancedEntry", 9)?;
        st.serialize_field("code", &self.pattern())?;
        st.serialize_field("classes", self.classes)?;
        st.serialize_field("title", self.title)?;
        st.serialize_field("meaning", self.meaning)?;
        st.serialize_field("rfc", self.rfc)?;
        st.serialize_field("source", &self.source())?;
        st.serialize_field("deprecated", &self.deprecated())?;
        st.serialize_field("category", &self.category)?;
        st.serialize_field("standard", &true)?;
        st.end()
    }
}

/// The middle digit of an enhanced code: what part of the mail system the
/// status is about (RFC 3463 §3).
#[derive(Debug, PartialEq, Eq, serde::Serialize)]
pub(crate) struct SubjectEntry {
    pub subject: u16,
    pub title: &'static str,
    pub meaning: &'static str,
}

#[rustfmt::skip]
pub(crate) static SUBJECTS: &[SubjectEntry] = &[
    SubjectEntry { subject: 0, title: "Other or undefined status", meaning: "No finer classification is available." },
    SubjectEntry { subject: 1, title: "Addressing status", meaning: "About the sender or recipient address." },
    SubjectEntry { subject: 2, title: "Mailbox status", meaning: "About the recipient's mailbox, which exists." },
    SubjectEntry { subject: 3, title: "Mail system status", meaning: "About the receiving mail system as a whole." },
    SubjectEntry { subject: 4, title: "Network and routing status", meaning: "About getting the message to the next hop." },
    SubjectEntry { subject: 5, title: "Mail delivery protocol status", meaning: "About the SMTP dialogue itself." },
    SubjectEntry { subject: 6, title: "Message content or media status", meaning: "About the message's content or its encoding." },
    SubjectEntry { subject: 7, title: "Security or policy status", meaning: "About authentication, encryption or local policy." },
];

/// The registry, which lists for each code the reply classes it goes with.
const IANA: &str = "https://www.iana.org/assignments/smtp-enhanced-status-codes";

const ANY: &[u8] = &[2, 4, 5];
const FAIL: &[u8] = &[4, 5];
const PERM: &[u8] = &[5];
const TEMP: &[u8] = &[4];
const OK: &[u8] = &[2];

const fn e(
    subject: u16,
    detail: u16,
    classes: &'static [u8],
    title: &'static str,
    meaning: &'static str,
    rfc: &'static str,
    category: Category,
) -> EnhancedEntry {
    EnhancedEntry {
        subject,
        detail,
        classes,
        title,
        meaning,
        rfc,
        category,
    }
}

use Category::*;

/// Every registry entry, in registry order (subject, then detail).
#[rustfmt::skip]
pub(crate) static ENHANCED_CODES: &[EnhancedEntry] = &[
    e(0, 0, ANY, "Other undefined Status",
        "Only the class is known: success, transient or permanent, with nothing more specific to say.",
        "RFC 3463", Other),
    // X.1: addressing
    e(1, 0, ANY, "Other address status",
        "Something about an address (sender or recipient) caused this status. 2.1.0 is the usual answer to an accepted MAIL FROM.",
        "RFC 3463", Other),
    e(1, 1, FAIL, "Bad destination mailbox address",
        "The part left of the @ names no mailbox here: the recipient does not exist.",
        "RFC 3463", UnknownRecipient),
    e(1, 2, FAIL, "Bad destination system address",
        "The part right of the @ is not a domain that takes mail. As 4.1.2 it usually means the domain could not be looked up just now.",
        "RFC 3463", UnknownRecipient),
    e(1, 3, PERM, "Bad destination mailbox address syntax",
        "The recipient address is not valid syntax at all.",
        "RFC 3463", UnknownRecipient),
    e(1, 4, FAIL, "Destination mailbox address ambiguous",
        "The address matches more than one mailbox on the receiving system, so it delivers to none.",
        "RFC 3463", UnknownRecipient),
    e(1, 5, OK, "Destination address valid",
        "The recipient address was accepted; the usual answer to a good RCPT TO.",
        "RFC 3463", Other),
    e(1, 6, PERM, "Destination mailbox has moved, No forwarding address",
        "The address used to work but no longer takes mail, and there is no new address to use.",
        "RFC 3463", UnknownRecipient),
    e(1, 7, FAIL, "Bad sender's mailbox address syntax",
        "The envelope sender (MAIL FROM) is not valid syntax.",
        "RFC 3463", SyntaxProtocol),
    e(1, 8, FAIL, "Bad sender's system address",
        "The sender's domain does not exist or cannot receive mail, so bounces could not be returned to it.",
        "RFC 3463", Other),
    e(1, 9, ANY, "Message relayed to non-compliant mailer",
        "The address was good, but the message went on to a system that cannot report what happened next.",
        "RFC 3886", Other),
    e(1, 10, PERM, "Recipient address has null MX",
        "The recipient's domain publishes a null MX: it declares that it receives no mail.",
        "RFC 7505", UnknownRecipient),
    // X.2: mailbox
    e(2, 0, ANY, "Other or undefined mailbox status",
        "The mailbox exists, but something about it caused this status.",
        "RFC 3463", Other),
    e(2, 1, FAIL, "Mailbox disabled, not accepting messages",
        "The mailbox exists but is switched off, for now or for good.",
        "RFC 3463", UnknownRecipient),
    e(2, 2, FAIL, "Mailbox full",
        "The recipient is over quota. RFC 3463 means it as a transient condition, though many servers send it as 5.2.2.",
        "RFC 3463", MailboxFull),
    e(2, 3, FAIL, "Message length exceeds administrative limit",
        "The message is larger than this mailbox accepts, even if the system takes bigger ones.",
        "RFC 3463", Size),
    e(2, 4, FAIL, "Mailing list expansion problem",
        "The address is a mailing list that could not be expanded into its members.",
        "RFC 3463", Other),
    // X.3: mail system
    e(3, 0, ANY, "Other or undefined mail system status",
        "The receiving system normally takes mail, but something about it caused this status.",
        "RFC 3463", Other),
    e(3, 1, TEMP, "Mail system full",
        "The receiving system has run out of storage; the recipient cannot free space to fix it.",
        "RFC 3463", Other),
    e(3, 2, FAIL, "System not accepting network messages",
        "The host is not taking mail: shutting down, overloaded, in maintenance, or (with 521) never.",
        "RFC 3463, RFC 7504", Other),
    e(3, 3, FAIL, "System not capable of selected features",
        "The message asks for a feature the receiving system does not support.",
        "RFC 3463", SyntaxProtocol),
    e(3, 4, PERM, "Message too big for system",
        "The message is larger than the system's per-message limit.",
        "RFC 3463", Size),
    e(3, 5, FAIL, "System incorrectly configured",
        "The receiving system is set up in a way that stops it taking this message.",
        "RFC 3463", Other),
    e(3, 6, OK, "Requested priority was changed",
        "Accepted, but not at the MT-PRIORITY the sender asked for; the text gives the new priority.",
        "RFC 6710", Other),
    // X.4: network and routing
    e(4, 0, ANY, "Other or undefined network or routing status",
        "Something went wrong on the network path, without a finer diagnosis.",
        "RFC 3463", Other),
    e(4, 1, TEMP, "No answer from host",
        "The next hop did not answer the connection attempt. Microsoft 365 also sends 5.4.1 to refuse unknown recipients.",
        "RFC 3463", Other),
    e(4, 2, TEMP, "Bad connection",
        "The connection was made but broke or timed out before the transaction finished.",
        "RFC 3463", Other),
    e(4, 3, FAIL, "Directory server failure",
        "A directory lookup, typically DNS, failed while routing the message.",
        "RFC 3463", Other),
    e(4, 4, FAIL, "Unable to route",
        "No route to the next hop could be found, for example the domain has no usable MX or address records.",
        "RFC 3463", Other),
    e(4, 5, TEMP, "Mail system congestion",
        "The mail system is congested and is deferring work.",
        "RFC 3463", Throttling),
    e(4, 6, TEMP, "Routing loop detected",
        "The message went round in a loop, through misrouting or forwarding between mailboxes.",
        "RFC 3463", Other),
    e(4, 7, FAIL, "Delivery time expired",
        "The message waited in queues for too long and was given up.",
        "RFC 3463", Other),
    // X.5: protocol
    e(5, 0, ANY, "Other or undefined protocol status",
        "Something in the SMTP dialogue went wrong, without a finer diagnosis.",
        "RFC 3463", SyntaxProtocol),
    e(5, 1, FAIL, "Invalid command",
        "A command was out of sequence or not supported.",
        "RFC 3463", SyntaxProtocol),
    e(5, 2, PERM, "Syntax error",
        "A command could not be parsed.",
        "RFC 3463", SyntaxProtocol),
    e(5, 3, FAIL, "Too many recipients",
        "More recipients than the server takes in one transaction; send the rest in another.",
        "RFC 3463", Throttling),
    e(5, 4, FAIL, "Invalid command arguments",
        "A known command came with arguments that are out of range or not supported.",
        "RFC 3463", SyntaxProtocol),
    e(5, 5, FAIL, "Wrong protocol version",
        "Client and server could not agree on a protocol version.",
        "RFC 3463", SyntaxProtocol),
    e(5, 6, FAIL, "Authentication Exchange line is too long",
        "A base64 line sent during AUTH was longer than the server's buffer.",
        "RFC 4954", Authentication),
    // X.6: content and media
    e(6, 0, ANY, "Other or undefined media error",
        "Something about the message content stopped it, without a finer diagnosis.",
        "RFC 3463", Other),
    e(6, 1, FAIL, "Media not supported",
        "The message's media type is not supported on the way to the recipient.",
        "RFC 3463", Other),
    e(6, 2, FAIL, "Conversion required and prohibited",
        "The content would have to be converted to go on, and the sender or a policy forbids that.",
        "RFC 3463", Other),
    e(6, 3, FAIL, "Conversion required but not supported",
        "The content would have to be converted (say 8-bit to 7-bit) and no host on the path can do it.",
        "RFC 3463", Other),
    e(6, 4, &[2, 5], "Conversion with loss performed",
        "Delivered after a conversion that lost some data; permanent instead when the sender forbade lossy conversion.",
        "RFC 3463", Other),
    e(6, 5, FAIL, "Conversion Failed",
        "A needed conversion was attempted and failed.",
        "RFC 3463", Other),
    e(6, 6, FAIL, "Message content not available",
        "The content to be sent by reference (BURL) could not be fetched.",
        "RFC 4468", Other),
    e(6, 7, PERM, "Non-ASCII addresses not permitted for that sender/recipient",
        "An internationalised address was used where the server does not allow one.",
        "RFC 6531", Other),
    e(6, 8, &[2, 5], "UTF-8 string reply is required, but not permitted by the SMTP client",
        "The server would have to answer with UTF-8 to name the mailbox, and the client did not ask for SMTPUTF8.",
        "RFC 6531", Other),
    e(6, 9, PERM, "UTF-8 header message cannot be transferred to one or more recipients, so the message must be rejected",
        "The message has UTF-8 headers and some recipient's path cannot carry them.",
        "RFC 6531", Other),
    e(6, 10, &[2, 5], "",
        "Deprecated: registered by mistake as a duplicate of X.6.8, which is the code to use; the registry gives it no title.",
        "RFC 6531", Other),
    // X.7: security and policy
    e(7, 0, ANY, "Other or undefined security status",
        "A security or policy matter without a finer code, or one the receiver will not detail. Also the usual code for AUTH and TLS replies.",
        "RFC 3463", Other),
    e(7, 1, FAIL, "Delivery not authorized, message refused",
        "The receiver's policy refuses this sender, client or message: spam filtering, reputation, relaying not allowed.",
        "RFC 3463", PolicySpam),
    e(7, 2, PERM, "Mailing list expansion prohibited",
        "The sender may not post to this mailing list.",
        "RFC 3463", PolicySpam),
    e(7, 3, FAIL, "Security conversion required but not possible",
        "The message would need converting between secure messaging formats, which cannot be done.",
        "RFC 3463", Other),
    e(7, 4, PERM, "Security features not supported",
        "The message uses security features the delivery path cannot support.",
        "RFC 3463", Other),
    e(7, 5, FAIL, "Cryptographic failure",
        "A system that should decrypt or verify the message lacked a usable key.",
        "RFC 3463", Other),
    e(7, 6, FAIL, "Cryptographic algorithm not supported",
        "A system that should decrypt or verify the message does not support its algorithm.",
        "RFC 3463", Other),
    e(7, 7, ANY, "Message integrity failure",
        "The message was found altered or corrupted in transit; in practice often a broken DKIM signature.",
        "RFC 3463", Authentication),
    e(7, 8, PERM, "Authentication credentials invalid",
        "AUTH failed: wrong username or password, or credentials not good enough.",
        "RFC 4954", Authentication),
    e(7, 9, PERM, "Authentication mechanism is too weak",
        "The AUTH mechanism chosen is weaker than the server allows for this user.",
        "RFC 4954", Authentication),
    e(7, 10, PERM, "Encryption Needed",
        "Authentication needs a privacy layer such as TLS first, mainly for clear-text mechanisms.",
        "RFC 5248", Tls),
    e(7, 11, PERM, "Encryption required for requested authentication mechanism",
        "This AUTH mechanism is only allowed on an encrypted connection.",
        "RFC 4954", Tls),
    e(7, 12, TEMP, "A password transition is needed",
        "Log in once with PLAIN so the server can store the credential form this mechanism needs.",
        "RFC 4954", Authentication),
    e(7, 13, PERM, "User Account Disabled",
        "The credentials were right but the account is disabled; only an administrator can fix it.",
        "RFC 5248", Authentication),
    e(7, 14, PERM, "Trust relationship required",
        "The submission server needs a configured trust with a third party to fetch the content.",
        "RFC 5248", Authentication),
    e(7, 15, FAIL, "Priority Level is too low",
        "The MT-PRIORITY asked for is below what the server accepts at the moment.",
        "RFC 6710", Other),
    e(7, 16, FAIL, "Message is too big for the specified priority",
        "At the priority asked for, the server only takes smaller messages.",
        "RFC 6710", Size),
    e(7, 17, PERM, "Mailbox owner has changed",
        "RRVS check: the mailbox has changed hands since the date the sender gave, so the message is not for this owner.",
        "RFC 7293", UnknownRecipient),
    e(7, 18, PERM, "Domain owner has changed",
        "RRVS check: the recipient's domain has changed hands since the date the sender gave.",
        "RFC 7293", UnknownRecipient),
    e(7, 19, PERM, "RRVS test cannot be completed",
        "RRVS check: the receiver has no record to compare against; the sender decides whether to resend without it.",
        "RFC 7293", Other),
    e(7, 20, PERM, "No passing DKIM signature found",
        "The receiver requires a valid DKIM signature and the message had none that verified.",
        "RFC 7372", Authentication),
    e(7, 21, PERM, "No acceptable DKIM signature found",
        "DKIM signatures verified, but none from a signer the receiver accepts.",
        "RFC 7372", Authentication),
    e(7, 22, PERM, "No valid author-matched DKIM signature found",
        "No verified DKIM signature is from the domain in the From header.",
        "RFC 7372", Authentication),
    e(7, 23, PERM, "SPF validation failed",
        "The sending IP is not allowed by the sender domain's SPF record, and local policy rejects that.",
        "RFC 7372", Authentication),
    e(7, 24, PERM, "SPF validation error",
        "Evaluating SPF failed (a broken record or a DNS error), so the receiver could not decide.",
        "RFC 7372", Authentication),
    e(7, 25, PERM, "Reverse DNS validation failed",
        "The sending IP's PTR record is missing or does not point back to the IP.",
        "RFC 7372", Authentication),
    e(7, 26, PERM, "Multiple authentication checks failed",
        "More than one authentication check (SPF, DKIM, DMARC...) failed; Gmail and Microsoft use it for unauthenticated mail.",
        "RFC 7372", Authentication),
    e(7, 27, PERM, "Sender address has null MX",
        "The sender's domain declares it receives no mail, so bounces could not reach it; the receiver refuses such senders.",
        "RFC 7505", Other),
    e(7, 28, FAIL, "Mail flood detected",
        "The message looks like part of a flood of similar abusive messages.",
        "draft-levine-mailbomb-header", Throttling),
    e(7, 29, FAIL, "ARC validation failure",
        "The message's ARC chain did not validate.",
        "RFC 8617", Authentication),
    e(7, 30, PERM, "REQUIRETLS support required",
        "The sender demanded TLS all the way (REQUIRETLS) and the next hop cannot promise it.",
        "RFC 8689", Tls),
];
