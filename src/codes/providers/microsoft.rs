//! Microsoft 365 (Exchange Online Protection) and Outlook.com texts. Microsoft
//! uses many enhanced codes outside the IANA registry (5.7.606-649, 5.7.708,
//! 4.7.500-699...) and the consumer service adds tags like S3150 or RP-001.

use super::super::kinds::{Category::*, Source::Microsoft};
use super::{CodeRange, ProviderEntry as P};

/// Outlook.com's (consumer) troubleshooting page for senders.
const OUTLOOK_COM: &str =
    "https://sendersupport.olc.protection.outlook.com/pm/troubleshooting.aspx";

pub(super) static TEXTS: &[P] = &[
    P::new(
        "microsoft-banned-ip",
        Microsoft,
        &[],
        Blocklist,
        "The sending IP is on Microsoft's own block list (5.7.606 to 5.7.649).",
        "Request delisting at sender.office.com after fixing whatever sent the spam; until then mail from this IP will not reach Microsoft mailboxes.",
        "550 5.7.606 Access denied, banned sending IP [192.0.2.1]. To request removal from this list please visit https://sender.office.com/ and follow the directions.",
    )
    .with_code(CodeRange::span(5, 7, 606, 649)),
    P::new(
        "microsoft-ip-not-accepted",
        Microsoft,
        &[],
        Blocklist,
        "Microsoft does not accept mail from this IP because of its low reputation; new Microsoft 365 tenants often meet it.",
        "Send from an IP with a sending history, or through Microsoft's own outbound pool; ask support if the IP is yours and clean.",
        "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.",
    )
    .with_code(CodeRange::one(5, 7, 708)),
    P::new(
        "microsoft-tenant-threshold",
        Microsoft,
        &[],
        PolicySpam,
        "The Microsoft 365 tenant sending this mail exceeded its limits, usually after sending spam, and is blocked (5.7.700 to 5.7.749).",
        "Find the compromised or misused account in the tenant, then contact Microsoft support to lift the block.",
        "550 5.7.705 Access denied, tenant has exceeded threshold.",
    )
    .with_code(CodeRange::span(5, 7, 700, 749)),
    P::new(
        "microsoft-unregistered-domain",
        Microsoft,
        &[],
        PolicySpam,
        "The tenant sent from a domain it has not verified, too much of it, and is blocked from doing so.",
        "Add and verify the sending domain in the Microsoft 365 admin center.",
        "550 5.7.750 Service unavailable. Client blocked from sending from unregistered domains.",
    )
    .with_code(CodeRange::one(5, 7, 750)),
    P::new(
        "microsoft-spam-abuse",
        Microsoft,
        &[],
        PolicySpam,
        "The sending account was banned for sending spam (5.7.501 to 5.7.503).",
        "Secure the account and clean the lists; then ask Microsoft to restore it.",
        "550 5.7.501 Access denied, spam abuse detected.",
    )
    .with_code(CodeRange::span(5, 7, 501, 503)),
    P::new(
        "microsoft-dmarc-reject",
        Microsoft,
        &[],
        Authentication,
        "The From domain failed DMARC and publishes p=reject.",
        "Align SPF or DKIM with the From domain; resending unchanged fails again.",
        "550 5.7.509 Access denied, sending domain example.com does not pass DMARC verification and has a DMARC policy of reject.",
    )
    .with_code(CodeRange::one(5, 7, 509)),
    P::new(
        "microsoft-ipv6",
        Microsoft,
        &[],
        Other,
        "The recipient's organisation does not take mail over IPv6.",
        "Deliver to this domain over IPv4.",
        "550 5.7.510 Access denied, example.com does not accept email over IPv6.",
    )
    .with_code(CodeRange::one(5, 7, 510)),
    P::new(
        "microsoft-banned-sender",
        Microsoft,
        &[],
        Blocklist,
        "The sender is on Microsoft's banned-sender list.",
        "Follow the delisting instructions in the reply (forward it to delist@microsoft.com).",
        "550 5.7.511 Access denied, banned sender[192.0.2.1]. To request removal from this list, forward this message to delist@microsoft.com.",
    )
    .with_code(CodeRange::one(5, 7, 511)),
    P::new(
        "microsoft-customer-block-list",
        Microsoft,
        &[],
        Blocklist,
        "The recipient's organisation blocks this IP in its own tenant block list.",
        "Only the recipient's administrator can remove the block; contact them another way.",
        "550 5.7.513 Service unavailable, Client host [192.0.2.1] blocked by example.com using Customer Block list (AS16012607).",
    )
    .with_code(CodeRange::one(5, 7, 513)),
    P::new(
        "microsoft-auth-level",
        Microsoft,
        &[],
        Authentication,
        "Outlook.com's bulk-sender rules: the sending domain lacks the SPF, DKIM and DMARC it requires.",
        "Publish SPF, sign with DKIM and publish a DMARC record for the sending domain.",
        "550 5.7.515 Access denied, sending domain example.com doesn't meet the required authentication level.",
    )
    .with_code(CodeRange::one(5, 7, 515)),
    P::new(
        "microsoft-not-authenticated",
        Microsoft,
        &[],
        Authentication,
        "The client tried to send through Microsoft 365 without logging in first.",
        "Configure SMTP AUTH (or a connector) in the sending application.",
        "530 5.7.57 Client not authenticated to send mail. [BN8NAM12FT011.eop-nam12.prod.protection.outlook.com]",
    )
    .with_code(CodeRange::one(5, 7, 57)),
    P::new(
        "microsoft-send-as",
        Microsoft,
        &[],
        Authentication,
        "The authenticated mailbox may not send as the address in MAIL FROM or From.",
        "Grant Send As rights or send from the mailbox's own address.",
        "550 5.7.60 SMTP; Client does not have permissions to send as this sender.",
    )
    .with_code(CodeRange::one(5, 7, 60)),
    P::new(
        "microsoft-relay-denied",
        Microsoft,
        &[],
        PolicySpam,
        "Microsoft 365 could not attribute the connection to a tenant that may relay through it.",
        "Check the inbound connector (certificate or IP) that should match this sender.",
        "550 5.7.64 TenantAttribution; Relay Access Denied",
    )
    .with_code(CodeRange::one(5, 7, 64)),
    P::new(
        "microsoft-smtp-auth-disabled",
        Microsoft,
        &[],
        Authentication,
        "SMTP AUTH is switched off for the tenant or mailbox.",
        "Enable authenticated SMTP for the mailbox, or move the application to OAuth or Graph.",
        "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.",
    )
    .with_code(CodeRange::one(5, 7, 139)),
    P::new(
        "microsoft-ip-reputation-rate",
        Microsoft,
        &[],
        Throttling,
        "Microsoft is rate-limiting this IP because of its reputation.",
        "Retry with back-off and lower volume; check the IP's standing in Microsoft SNDS.",
        "451 4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://postmaster.live.com (S775)",
    )
    .with_code(CodeRange::one(4, 7, 650)),
    P::new(
        "microsoft-server-busy",
        Microsoft,
        &[],
        Throttling,
        "Exchange Online is deferring this IP, typically a new or suspicious one (4.7.500 to 4.7.699).",
        "Retry later at a lower rate; volume from a new IP has to grow slowly.",
        "451 4.7.500 Server busy. Please try again later from [192.0.2.1]. (S77714) [BN1NAM02FT012.eop-nam02.prod.protection.outlook.com]",
    )
    .with_code(CodeRange::span(4, 7, 500, 699)),
    P::new(
        "microsoft-recipient-access-denied",
        Microsoft,
        &["Recipient address rejected: Access denied"],
        UnknownRecipient,
        "Microsoft 365 directory-based edge blocking: the recipient does not exist in the tenant.",
        "Remove the address; 5.4.1 here means an unknown recipient, not a network failure.",
        "550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [DM6NAM12FT034.eop-nam12.prod.protection.outlook.com]",
    )
    .with_code(CodeRange::one(5, 4, 1)),
    P::new(
        "microsoft-recipient-not-found",
        Microsoft,
        &["RESOLVER.ADR.RecipientNotFound", "RESOLVER.ADR.ExRecipNotFound", "RESOLVER.ADR.RecipNotFound"],
        UnknownRecipient,
        "Exchange found no mailbox for this address.",
        "Remove the address from the list.",
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
    ),
    P::new(
        "microsoft-spamhaus",
        Microsoft,
        &["blocked using Spamhaus"],
        Blocklist,
        "Exchange Online refused the connection because the IP is listed by Spamhaus.",
        "Look the IP up at check.spamhaus.org, fix the cause (often an infected host or a missing PTR) and request removal.",
        "550 5.7.1 Service unavailable, Client host [192.0.2.1] blocked using Spamhaus. To request removal from this list see https://www.spamhaus.org/query/ip/192.0.2.1 (AS3130). [BN1NAM02FT032.eop-nam02.prod.protection.outlook.com]",
    ),
    P::new(
        "outlook-policy",
        Microsoft,
        &["SC-001", "SC-002", "SC-003", "SC-004", "OU-001", "OU-002", "DY-001", "DY-002"],
        PolicySpam,
        "Outlook.com refused mail for policy reasons: content, IP or domain reputation, an open relay, or a dynamic IP.",
        "Do not resend unchanged; fix reputation or send through a proper relay, then use the Outlook.com sender support form.",
        "550 SC-001 (BAY004-MC1F5) Unfortunately, messages from 192.0.2.1 weren't sent. Please contact your Internet service provider since part of their network is on our block list. You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors.",
    )
    .cite(OUTLOOK_COM),
    P::new(
        "outlook-block-list",
        Microsoft,
        &["(S3150)", "(S3140)", "part of their network is on our block list"],
        Blocklist,
        "The sending IP or its network is on Outlook.com's block list.",
        "Ask for delisting through the Outlook.com sender support form; the block applies to every message from that IP.",
        "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors.",
    )
    .cite(OUTLOOK_COM),
    P::new(
        "outlook-rate-limit",
        Microsoft,
        &["limits for how many messages can be sent per hour"],
        Throttling,
        "Outlook.com's hourly and daily limits for this IP were reached.",
        "Retry later and spread volume over the day.",
        "421 RP-001 (BAY004-MC1F5) Unfortunately, some messages from 192.0.2.1 weren't sent. Please try again. We have limits for how many messages can be sent per hour and per day. You can also refer to http://mail.live.com/mail/troubleshooting.aspx#errors.",
    )
    .cite(OUTLOOK_COM),
    P::new(
        "exchange-content-filter",
        Microsoft,
        &["rejected as spam by Content Filtering"],
        PolicySpam,
        "On-premises Exchange Server's content filter agent refused the message as spam (its default rejection text); Microsoft 365 does not send this.",
        "Do not resend unchanged; review content, links and the sender's reputation, or ask the recipient's administrator to allow the sender.",
        "550 5.7.1 Message rejected as spam by Content Filtering.",
    )
    .cite("https://learn.microsoft.com/en-us/exchange/antispam-and-antimalware/antispam-protection/content-filter-procedures"),
];
