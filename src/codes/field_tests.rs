//! Real reply lines, as Gmail, Microsoft 365, Yahoo, blocklist users,
//! greylisting servers and MTA logs write them (from the project's seed
//! guides and public provider documentation), and what `explain` must make of
//! each. Addresses are replaced by documentation ones.

use super::kinds::{Bounce, Category, Provider};
use super::*;

struct Case {
    line: &'static str,
    code: Option<u16>,
    enhanced: Option<&'static str>,
    category: Category,
    bounce: Bounce,
    retry: bool,
    provider: Option<Provider>,
    warns: bool,
}

const fn c(
    line: &'static str,
    code: u16,
    enhanced: Option<&'static str>,
    category: Category,
    bounce: Bounce,
    retry: bool,
    provider: Option<Provider>,
) -> Case {
    Case {
        line,
        code: Some(code),
        enhanced,
        category,
        bounce,
        retry,
        provider,
        warns: false,
    }
}

const fn warns(mut case: Case) -> Case {
    case.warns = true;
    case
}

use Bounce::{Hard, None as NoBounce, Soft};
use Category::*;
use Provider::{Google, Microsoft, Yahoo};

#[rustfmt::skip]
const CASES: &[Case] = &[
    // Gmail
    c("550 5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM.",
        550, Some("5.7.26"), Authentication, Hard, false, Some(Google)),
    c("550-5.7.26 This message does not pass authentication checks (SPF and DKIM both do not pass). - gsmtp",
        550, Some("5.7.26"), Authentication, Hard, false, Some(Google)),
    c("550 5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy. Please contact the administrator of example.com domain if this was a legitimate mail.",
        550, Some("5.7.26"), Authentication, Hard, false, Some(Google)),
    c("421 4.7.26 This mail has been rate limited because it is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM.",
        421, Some("4.7.26"), Authentication, Soft, true, Some(Google)),
    c("550 5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces.",
        550, Some("5.1.1"), UnknownRecipient, Hard, false, Some(Google)),
    c("host gmail-smtp-in.l.google.com[142.250.1.26] said: 550-5.1.1 The email account that you tried to reach does not exist. (in reply to RCPT TO command)",
        550, Some("5.1.1"), UnknownRecipient, Hard, false, Some(Google)),
    c("550 5.2.1 The email account that you tried to reach is disabled.",
        550, Some("5.2.1"), UnknownRecipient, Hard, false, Some(Google)),
    c("552 5.2.2 The email account that you tried to reach is over quota.",
        552, Some("5.2.2"), MailboxFull, Soft, false, Some(Google)),
    c("452 4.2.2 The recipient's inbox is out of storage space. Please direct the recipient to https://support.google.com/mail/?p=OverQuotaTemp",
        452, Some("4.2.2"), MailboxFull, Soft, true, Some(Google)),
    c("450 4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered. Please resend your message at a later point.",
        450, Some("4.2.1"), Throttling, Soft, true, Some(Google)),
    c("421 4.7.28 Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited.",
        421, Some("4.7.28"), Throttling, Soft, true, Some(Google)),
    c("550 5.7.1 Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been blocked.",
        550, Some("5.7.1"), PolicySpam, Hard, false, Some(Google)),
    c("550 5.7.1 Our system has detected that this message is likely unsolicited mail. To reduce the amount of spam sent to Gmail, this message has been blocked.",
        550, Some("5.7.1"), PolicySpam, Hard, false, Some(Google)),
    c("421 4.7.0 Try again later, closing connection.",
        421, Some("4.7.0"), Throttling, Soft, true, Some(Google)),
    c("421-4.7.0 [192.0.2.1 15] Our system has detected that this message is suspicious due to the very low reputation of the sending IP address. - gsmtp",
        421, Some("4.7.0"), Throttling, Soft, true, Some(Google)),
    c("550 5.7.25 The IP address sending this message does not have a PTR record setup, or the corresponding forward DNS entry does not point to the sending IP.",
        550, Some("5.7.25"), Authentication, Hard, false, Some(Google)),
    c("535 5.7.8 Username and Password not accepted. For more information, go to https://support.google.com/mail/?p=BadCredentials",
        535, Some("5.7.8"), Authentication, Hard, false, Some(Google)),
    c("552 5.3.4 Your message exceeded Google's message size limits.",
        552, Some("5.3.4"), Size, Hard, false, Some(Google)),
    c("250 2.0.0 OK 1700000000 d2e1a72fcca58-6c3a1a2b3c4si123456b3a.123 - gsmtp",
        250, Some("2.0.0"), Other, NoBounce, false, Some(Google)),
    c("354 Go ahead d2e1a72fcca58-6c3a1a2b3c4si123456b3a.123 - gsmtp",
        354, None, Other, NoBounce, false, Some(Google)),
    // Microsoft 365 and Outlook.com
    c("550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [DM6NAM12FT034.eop-nam12.prod.protection.outlook.com]",
        550, Some("5.4.1"), UnknownRecipient, Hard, false, Some(Microsoft)),
    c("550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.",
        550, Some("5.7.708"), Blocklist, Hard, false, Some(Microsoft)),
    c("550 5.7.606 Access denied, banned sending IP [192.0.2.1]. To request removal from this list please visit https://sender.office.com/ and follow the directions.",
        550, Some("5.7.606"), Blocklist, Hard, false, Some(Microsoft)),
    c("550 5.7.705 Access denied, tenant has exceeded threshold.",
        550, Some("5.7.705"), PolicySpam, Hard, false, Some(Microsoft)),
    c("550 5.7.750 Service unavailable. Client blocked from sending from unregistered domains.",
        550, Some("5.7.750"), PolicySpam, Hard, false, Some(Microsoft)),
    c("451 4.7.500 Server busy. Please try again later from [192.0.2.1]. (S77714)",
        451, Some("4.7.500"), Throttling, Soft, true, Some(Microsoft)),
    c("451 4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to IP reputation.",
        451, Some("4.7.650"), Throttling, Soft, true, Some(Microsoft)),
    c("550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).",
        550, Some("5.7.1"), Blocklist, Hard, false, Some(Microsoft)),
    c("550 5.7.1 Service unavailable, Client host [192.0.2.1] blocked using Spamhaus. To request removal from this list see https://www.spamhaus.org/query/ip/192.0.2.1 (AS3130).",
        550, Some("5.7.1"), Blocklist, Hard, false, Some(Microsoft)),
    c("Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'",
        550, Some("5.1.10"), UnknownRecipient, Hard, false, Some(Microsoft)),
    c("550 5.7.509 Access denied, sending domain example.com does not pass DMARC verification and has a DMARC policy of reject.",
        550, Some("5.7.509"), Authentication, Hard, false, Some(Microsoft)),
    c("421 RP-001 (BAY004-MC1F5) Unfortunately, some messages from 192.0.2.1 weren't sent. Please try again. We have limits for how many messages can be sent per hour and per day.",
        421, None, Throttling, Soft, true, Some(Microsoft)),
    c("550 5.7.26 This message was sent from an unauthenticated email source",
        550, Some("5.7.26"), Authentication, Hard, false, None),
    // Yahoo and AOL
    c("421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
        421, Some("4.7.0"), Throttling, Soft, true, Some(Yahoo)),
    c("421 4.7.0 [TS01] Messages from 192.0.2.1 temporarily deferred due to user complaints - 4.16.55.1",
        421, Some("4.7.0"), Throttling, Soft, true, Some(Yahoo)),
    warns(c("421 4.7.1 [TS03] All messages from 192.0.2.1 will be permanently deferred; Retrying will NOT succeed.",
        421, Some("4.7.1"), PolicySpam, Soft, false, Some(Yahoo))),
    c("553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.1, because the ip is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes",
        553, Some("5.7.1"), Blocklist, Hard, false, Some(Yahoo)),
    c("554 5.7.9 Message not accepted for policy reasons. See https://postmaster.yahooinc.com/error-codes",
        554, Some("5.7.9"), PolicySpam, Hard, false, Some(Yahoo)),
    c("554 delivery error: dd This user doesn't have a yahoo.com account (someone@yahoo.com) [0] - mta1234.mail.gq1.yahoo.com",
        554, None, UnknownRecipient, Hard, false, Some(Yahoo)),
    c("554 delivery error: dd Sorry your message to someone@yahoo.com cannot be delivered. This mailbox is disabled (554.30). - mta1234.mail.bf1.yahoo.com",
        554, None, UnknownRecipient, Hard, false, Some(Yahoo)),
    c("521 5.2.1 : AOL will not accept delivery of this message.",
        521, Some("5.2.1"), PolicySpam, Hard, false, Some(Yahoo)),
    // Blocklists quoted by any receiver
    c("554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1",
        554, Some("5.7.1"), Blocklist, Hard, false, None),
    c("550 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using Barracuda Reputation; http://www.barracudanetworks.com/reputation/?pr=1&ip=192.0.2.1",
        550, Some("5.7.1"), Blocklist, Hard, false, None),
    c("554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using bl.spamcop.net",
        554, Some("5.7.1"), Blocklist, Hard, false, None),
    c("554 5.7.1 Rejected: 192.0.2.1 listed at dnsbl.example.net",
        554, Some("5.7.1"), Blocklist, Hard, false, None),
    // Greylisting
    c("450 4.2.0 <user@example.com>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.com.html",
        450, Some("4.2.0"), Greylisting, Soft, true, None),
    c("451 4.7.1 Greylisting in action, please come back later",
        451, Some("4.7.1"), Greylisting, Soft, true, None),
    c("450 4.2.0 Greylisted, please try again later",
        450, Some("4.2.0"), Greylisting, Soft, true, None),
    // Non-standard codes seen in the field
    c("420 Timeout connection problem",
        420, None, Other, Soft, true, None),
    c("422 The recipient's mailbox has exceeded its storage limit",
        422, None, MailboxFull, Soft, true, None),
    c("431 Not enough space on the disk, or out of memory",
        431, None, Other, Soft, true, None),
    c("541 Message rejected by the recipient address",
        541, None, PolicySpam, Hard, false, None),
    c("571 Delivery not authorized, message refused",
        571, None, PolicySpam, Hard, false, None),
    // Generic replies and MTA logs
    c("421 Service isn't available, try again later",
        421, None, Throttling, Soft, true, None),
    c("450 Requested mail action not taken: mailbox unavailable",
        450, None, Other, Soft, true, None),
    c("451 4.3.0 Mail server temporarily rejected message.",
        451, Some("4.3.0"), Other, Soft, true, None),
    c("552 Requested mail action aborted: exceeded storage allocation",
        552, None, MailboxFull, Soft, false, None),
    c("554 Transaction failed",
        554, None, PolicySpam, Hard, false, None),
    c("500 Syntax error, command unrecognized",
        500, None, SyntaxProtocol, Hard, false, None),
    c("503 5.5.1 Bad sequence of commands",
        503, Some("5.5.1"), SyntaxProtocol, Hard, false, None),
    c("554 5.7.1 Message rejected as spam by content filtering",
        554, Some("5.7.1"), PolicySpam, Hard, false, Some(Microsoft)),
    c("550 5.7.1 <recipient@example.com>: Recipient address rejected: Access denied for IP 192.0.2.1. Your email has been identified as spam.",
        550, Some("5.7.1"), PolicySpam, Hard, false, None),
    c("554 5.7.1 Sender domain has not authenticated",
        554, Some("5.7.1"), Authentication, Hard, false, None),
    c("550 5.7.23 The message was rejected because of Sender Policy Framework violation",
        550, Some("5.7.23"), Authentication, Hard, false, None),
    c("SMTP error from remote mail server after RCPT TO:<x@example.com>: 550 5.1.1 <x@example.com>: Recipient address rejected: User unknown in virtual mailbox table",
        550, Some("5.1.1"), UnknownRecipient, Hard, false, None),
    c("530 5.7.0 Must issue a STARTTLS command first.",
        530, Some("5.7.0"), Tls, Hard, false, None),
    c("452 4.5.3 Too many recipients",
        452, Some("4.5.3"), Throttling, Soft, true, None),
    c("552 5.3.4 Message size exceeds fixed limit",
        552, Some("5.3.4"), Size, Hard, false, None),
    c("521 5.3.2 mx.example.com does not accept mail",
        521, Some("5.3.2"), Other, Hard, false, None),
    c("556 5.1.10 Recipient address has null MX",
        556, Some("5.1.10"), UnknownRecipient, Hard, false, None),
    // Corrections from providers' current pages and real bounces (issue 14)
    c("553 5.7.2 [TSS09] All messages from 192.0.2.1 will be permanently deferred; Retrying will NOT succeed. See https://senders.yahooinc.com/error-codes",
        553, Some("5.7.2"), PolicySpam, Hard, false, Some(Yahoo)),
    c("553 5.7.2 [TSS11] All messages from 192.0.2.1 will be permanently deferred; Retrying will NOT succeed. See https://senders.yahooinc.com/error-codes",
        553, Some("5.7.2"), PolicySpam, Hard, false, Some(Yahoo)),
    c("554 Message not allowed - [PH01] Email not accepted for policy reasons.  Please visit https://senders.yahooinc.com/error-codes",
        554, None, PolicySpam, Hard, false, Some(Yahoo)),
    c("552 1 Requested mail action aborted, mailbox not found",
        552, None, UnknownRecipient, Hard, false, Some(Yahoo)),
    c("550 5.4.1 Recipient address rejected: Access denied. For more information see https://aka.ms/EXOSmtpErrors [BN8NAM11FT066.eop-nam11.prod.protection.outlook.com]",
        550, Some("5.4.1"), UnknownRecipient, Hard, false, Some(Microsoft)),
    c("450 4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered. Please resend your message at a later time. If the user is able to receive mail at that time, your message will be delivered.",
        450, Some("4.2.1"), Throttling, Soft, true, Some(Google)),
    c("421 4.7.28 Gmail has detected an unusual rate of mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited.",
        421, Some("4.7.28"), Throttling, Soft, true, Some(Google)),
    c("421 4.7.28 Gmail has detected an unusual rate of mail originating from your SPF domain [example.com]. To protect our users from spam, mail sent from your domain has been temporarily rate limited.",
        421, Some("4.7.28"), Throttling, Soft, true, Some(Google)),
    c("550 5.7.26 Your email has been blocked because the sender is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM.",
        550, Some("5.7.26"), Authentication, Hard, false, Some(Google)),
    c("550 5.7.26 The sender does not have authentication information or fails to pass authentication checks (SPF or DKIM).",
        550, Some("5.7.26"), Authentication, Hard, false, Some(Google)),
    c("550 5.2.1 The email account that you tried to reach is inactive.",
        550, Some("5.2.1"), UnknownRecipient, Hard, false, Some(Google)),
    c("550 5.7.1 Messages missing a valid address in the From: header, or having no From: header, are not accepted.",
        550, Some("5.7.1"), SyntaxProtocol, Hard, false, Some(Google)),
    c("554 Service unavailable; Client host [192.0.2.1] blocked using Barracuda Reputation; http://www.barracudanetworks.com/reputation/?pr=1&ip=192.0.2.1",
        554, None, Blocklist, Hard, false, None),
];

#[test]
fn real_reply_lines_are_explained() {
    assert!(CASES.len() >= 40, "only {} cases", CASES.len());
    let mut failures = Vec::new();
    for case in CASES {
        let x = explain(case.line);
        let got = (
            x.code,
            x.enhanced.map(|e| e.to_string()),
            x.category,
            x.bounce,
            x.retry,
            x.provider,
            !x.warnings.is_empty(),
        );
        let want = (
            case.code,
            case.enhanced.map(str::to_owned),
            case.category,
            case.bounce,
            case.retry,
            case.provider,
            case.warns,
        );
        if got != want {
            failures.push(format!(
                "{}\n   got  {got:?} {:?}\n   want {want:?}",
                case.line, x.warnings
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
