//! What a sender should do about a reply, by category and class, for when no
//! provider text gives more precise advice. Written for the people who
//! maintain sending software: what to retry, what to suppress, what to fix.

use super::kinds::{Category, Class};

/// Advice for a failure in `category`; `class` separates "wait and retry"
/// from "change something first".
pub(super) fn advice(category: Category, class: Class) -> &'static str {
    use Category::*;
    match class {
        Class::Success => return "Nothing to do: the receiver accepted this step.",
        Class::Intermediate => {
            return "Nothing to do yet: the receiver waits for the next part of the dialogue (message data or an AUTH answer).";
        }
        Class::Transient | Class::Permanent => {}
    }
    let transient = class == Class::Transient;
    match (category, transient) {
        (UnknownRecipient, true) => {
            "Retry later; the address could not be confirmed just now. If it keeps failing for days, stop mailing it."
        }
        (UnknownRecipient, false) => {
            "Remove the address from the list now; sending to it again hurts the sender's reputation."
        }
        (MailboxFull, true) => {
            "Retry later; if the mailbox stays full for several days, pause mailing it."
        }
        (MailboxFull, false) => {
            "Do not retry this message. Keep the address but pause mailing it; suppress it if it stays full for days."
        }
        (PolicySpam, true) => {
            "Retry later at a lower rate, and look at why the receiver distrusts this mail: content, reputation, complaints."
        }
        (PolicySpam, false) => {
            "Do not resend unchanged. The address may be fine; the message or the sender's reputation is the problem: check content, complaint rates and where the list came from."
        }
        (Authentication, true) => {
            "Retry later, but check SPF, DKIM and DMARC (or the SMTP login): the receiver is unlikely to accept until they pass."
        }
        (Authentication, false) => {
            "Fix authentication before sending again: SPF must cover the sending IP, DKIM must sign for the From domain, DMARC must align; for SMTP AUTH errors, fix the credentials."
        }
        (Blocklist, true) => {
            "Retry later, but find out which blocklist names the sending IP or domain and get it removed; retries fail while it is listed."
        }
        (Blocklist, false) => {
            "Do not retry. Find the blocklist named in the text, fix what got the IP or domain listed, and request removal."
        }
        (Throttling, true) => {
            "Retry with exponential back-off and send more slowly to this receiver: fewer connections and messages per minute."
        }
        (Throttling, false) => {
            "Do not resend now; the receiver refuses this volume. Spread sending over time and build reputation gradually."
        }
        (Greylisting, true) => {
            "Retry the same message from the same IP after a few minutes (typically 1 to 15); greylisting lets real mail servers through on the second try."
        }
        (Greylisting, false) => {
            "Greylisting should not produce a permanent error; retry once later and ask the receiver's administrator."
        }
        (SyntaxProtocol, true) => {
            "Retry later; if it persists, compare the SMTP dialogue with RFC 5321 (a transcript shows the failing command)."
        }
        (SyntaxProtocol, false) => {
            "Fix the sending software: the receiver rejected a command or its arguments. Retrying unchanged fails the same way."
        }
        (Tls, true) => {
            "Retry later; if it persists, check the TLS setup: STARTTLS support, protocol versions and certificates."
        }
        (Tls, false) => {
            "Enable or fix TLS (STARTTLS with a valid certificate and a current protocol version) before sending again."
        }
        (Size, true) => "Retry later, or send a smaller message.",
        (Size, false) => {
            "Make the message smaller (link to large files instead of attaching them); the receiver will not take it at this size."
        }
        (Other, true) => "Retry later with back-off; the receiver expects a later attempt to work.",
        (Other, false) => {
            "Do not retry unchanged. Read the reply text for the reason; the codes alone do not say what to change."
        }
    }
}
