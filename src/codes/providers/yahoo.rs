//! Yahoo and AOL texts. Yahoo tags each reason with a bracketed code such as
//! `[TSS04]` or `[BL21]`, which says more than the SMTP codes around it.

use super::super::kinds::{Category::*, Source::Yahoo};
use super::ProviderEntry as P;

pub(super) static TEXTS: &[P] = &[
    P::new(
        "yahoo-tss09-refused",
        Yahoo,
        &["[TSS09]", "[TSS11]"],
        PolicySpam,
        "Yahoo refuses everything from this IP for good; the text says \"permanently deferred\" but the reply is a 5xx.",
        "Stop retrying: the text says retries will not succeed. Fix the reputation problem, then contact Yahoo's sender support.",
        "553 5.7.2 [TSS09] All messages from 192.0.2.1 will be permanently deferred; Retrying will NOT succeed. See https://senders.yahooinc.com/error-codes",
    )
    .with_retry(false),
    P::new(
        "yahoo-permanently-deferred",
        Yahoo,
        &["[TS03]"],
        PolicySpam,
        "Yahoo has decided to defer everything from this IP for good, although it answers with a 4xx code.",
        "Stop retrying: the text says retries will not succeed. Fix the reputation problem, then contact Yahoo's postmaster support.",
        "421 4.7.1 [TS03] All messages from 192.0.2.1 will be permanently deferred; Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes",
    )
    .with_retry(false)
    .cite("observed in bounces"),
    P::new(
        "yahoo-policy-ph01",
        Yahoo,
        &["[PH01]"],
        PolicySpam,
        "Yahoo refused the message for policy reasons, typically a message that looks like phishing or abuse.",
        "Do not resend unchanged; review the content and links, and the authentication of the sending domain.",
        "554 Message not allowed - [PH01] Email not accepted for policy reasons.  Please visit https://senders.yahooinc.com/error-codes",
    ),
    P::new(
        "yahoo-mailbox-not-found",
        Yahoo,
        &["Requested mail action aborted, mailbox not found"],
        UnknownRecipient,
        "Yahoo's answer at RCPT for an address with no mailbox: a 552 with no enhanced code, where other receivers say 550 5.1.1.",
        "Remove the address from the list; the 552 is not about storage here.",
        "552 1 Requested mail action aborted, mailbox not found",
    )
    .with_class(5),
    P::new(
        "yahoo-deferred-volume-complaints",
        Yahoo,
        &["[TSS04]"],
        Throttling,
        "Yahoo is deferring this IP because of unexpected volume or user complaints.",
        "Retry with back-off and lower volume; look at complaint rates (Yahoo's feedback loop) and list hygiene.",
        "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
    ),
    P::new(
        "yahoo-deferred-complaints",
        Yahoo,
        &["[TS01]", "[TS02]"],
        Throttling,
        "Yahoo is deferring this IP because its users complained about its mail.",
        "Retry slowly, and reduce complaints: remove unengaged recipients and make unsubscribing easy.",
        "421 4.7.0 [TS01] Messages from 192.0.2.1 temporarily deferred due to user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
    ),
    P::new(
        "yahoo-spamhaus",
        Yahoo,
        &["[BL21]", "[BL22]", "[BL23]"],
        Blocklist,
        "Yahoo refuses connections from IPs on a Spamhaus list.",
        "Check the IP at check.spamhaus.org, fix the cause and request removal; Yahoo follows the list.",
        "553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.1, because the ip is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes",
    ),
    P::new(
        "yahoo-policy",
        Yahoo,
        &["Message not accepted for policy reasons"],
        PolicySpam,
        "Yahoo refused the message on content or reputation grounds (its 5.7.9 is not about AUTH mechanisms).",
        "Do not resend unchanged; check authentication (SPF, DKIM, DMARC), content and complaint rates.",
        "554 5.7.9 Message not accepted for policy reasons. See https://postmaster.yahooinc.com/error-codes",
    ),
    P::new(
        "yahoo-no-account",
        Yahoo,
        &["doesn't have a yahoo.com account", "doesn't have an aol.com account"],
        UnknownRecipient,
        "There is no Yahoo (or AOL) account at this address.",
        "Remove the address from the list.",
        "554 delivery error: dd This user doesn't have a yahoo.com account (someone@yahoo.com) [0] - mta1234.mail.gq1.yahoo.com",
    )
    .cite("observed in bounces"),
    P::new(
        "yahoo-mailbox-disabled",
        Yahoo,
        &["This mailbox is disabled"],
        UnknownRecipient,
        "The Yahoo mailbox exists but has been disabled, often after long inactivity.",
        "Treat as a hard bounce and stop mailing the address.",
        "554 delivery error: dd Sorry your message to someone@yahoo.com cannot be delivered. This mailbox is disabled (554.30). - mta1234.mail.bf1.yahoo.com",
    )
    .cite("observed in bounces"),
    P::new(
        "aol-not-accepted",
        Yahoo,
        &["AOL will not accept delivery of this message"],
        PolicySpam,
        "AOL refused the message on policy or reputation grounds.",
        "Do not resend unchanged; review authentication and reputation.",
        "521 5.2.1 : AOL will not accept delivery of this message.",
    )
    .cite("observed in bounces"),
];
