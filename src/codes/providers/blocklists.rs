//! Public DNS blocklists that rejecting servers name in their replies. Any
//! receiver can quote them, so these come last: a provider's own wording
//! (Yahoo's `[BL21]`, Microsoft's "blocked using Spamhaus") wins.

use super::super::kinds::{
    Category::Blocklist,
    Source::{Barracuda, SpamCop, Spamhaus},
};
use super::ProviderEntry as P;

pub(super) static TEXTS: &[P] = &[
    P::new(
        "spamhaus",
        Spamhaus,
        &["spamhaus"],
        Blocklist,
        "The receiver checked the sending IP or domain against a Spamhaus list (ZEN, SBL, XBL, PBL or DBL) and found it listed.",
        "Look the IP or domain up at check.spamhaus.org; it says which list and why. Fix the cause (infected host, open relay, missing PTR, a PBL range for end users), then request removal.",
        "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1",
    ),
    P::new(
        "barracuda",
        Barracuda,
        &["barracuda"],
        Blocklist,
        "The sending IP is listed in the Barracuda Reputation Block List.",
        "Check the IP at barracudacentral.org and request removal once the cause is fixed.",
        "554 Service unavailable; Client host [192.0.2.1] blocked using Barracuda Reputation; http://www.barracudanetworks.com/reputation/?pr=1&ip=192.0.2.1",
    ),
    P::new(
        "spamcop",
        SpamCop,
        &["spamcop"],
        Blocklist,
        "The sending IP is listed by SpamCop after spam reports from its users.",
        "Check the IP at spamcop.net; listings expire by themselves once the reports stop.",
        "550 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using bl.spamcop.net; Blocked - see https://www.spamcop.net/bl.shtml?192.0.2.1",
    ),
];
