//! Words in reply texts that say more than the codes: "greylisted" on a 450,
//! "spamhaus" on a 554, "try again later" on a 550 that should not have been
//! a 5xx. Free text is all a bounce handler has when a receiver sends a bare
//! 550, so `explain` reads it, carefully: a clue only decides when nothing
//! more specific does.

use super::kinds::{Category, Provider};
use super::providers::{contains_ci, contains_word_ci};

/// A phrase to look for; `word` clues must stand alone (`rbl` but not
/// `verbless`), others may sit inside longer words (`greylist` in
/// `greylisted`).
struct Clue {
    text: &'static str,
    word: bool,
}

const fn sub(text: &'static str) -> Clue {
    Clue { text, word: false }
}

const fn word(text: &'static str) -> Clue {
    Clue { text, word: true }
}

fn any(line: &str, clues: &[Clue]) -> bool {
    clues.iter().any(|c| {
        if c.word {
            contains_word_ci(line, c.text)
        } else {
            contains_ci(line, c.text)
        }
    })
}

/// Clues specific enough to override the enhanced code's own category: a
/// `5.7.1` that names Spamhaus is a blocklist hit, not just "policy".
static STRONG: &[(Category, &[Clue])] = &[
    (
        Category::Greylisting,
        &[
            sub("greylist"),
            sub("graylist"),
            sub("grey-list"),
            sub("gray-list"),
            sub("grey list"),
        ],
    ),
    (
        Category::Blocklist,
        &[
            sub("spamhaus"),
            sub("barracuda"),
            sub("spamcop"),
            sub("blocked using"),
            sub("blacklist"),
            sub("blocklist"),
            sub("block list"),
            sub("black list"),
            sub("listed at"),
            sub("listed in"),
            sub("listed on"),
            word("rbl"),
            word("dnsbl"),
        ],
    ),
    (
        Category::Authentication,
        &[
            word("dmarc"),
            word("spf"),
            word("dkim"),
            sub("authenticat"),
            sub("sender policy framework"),
            sub("ptr record"),
            sub("reverse dns"),
            sub("reverse lookup"),
            sub("cannot find your hostname"),
            sub("fails to pass authentication"),
        ],
    ),
    (
        Category::Throttling,
        &[
            sub("rate limit"),
            sub("rate-limit"),
            sub("ratelimit"),
            sub("throttl"),
            sub("too many connections"),
            sub("too many messages"),
            sub("too many concurrent"),
            sub("too fast"),
            sub("unexpected volume"),
            sub("sending rate"),
            sub("server busy"),
            sub("slow down"),
        ],
    ),
    (
        Category::Tls,
        &[
            word("starttls"),
            word("tls"),
            word("ssl"),
            sub("encryption"),
        ],
    ),
];

/// Clues that only decide when the codes say nothing specific (a bare 550,
/// a 5.0.0): "rejected" or "policy" appear in too many texts to trust more.
static WEAK: &[(Category, &[Clue])] = &[
    (
        Category::UnknownRecipient,
        &[
            sub("does not exist"),
            sub("doesn't exist"),
            sub("no such user"),
            sub("no such mailbox"),
            sub("no such recipient"),
            sub("user unknown"),
            sub("unknown user"),
            sub("unknown recipient"),
            sub("recipient unknown"),
            sub("recipient not found"),
            sub("user not found"),
            sub("mailbox not found"),
            sub("address not found"),
            sub("invalid recipient"),
            sub("invalid mailbox"),
            sub("not a valid mailbox"),
            sub("unrouteable address"),
            sub("mailbox disabled"),
            sub("account disabled"),
            sub("is disabled"),
            sub("is inactive"),
            sub("account inactive"),
            sub("mailbox inactive"),
        ],
    ),
    (
        Category::MailboxFull,
        &[
            sub("mailbox full"),
            sub("mailbox is full"),
            sub("inbox is full"),
            sub("over quota"),
            sub("quota exceeded"),
            sub("exceeded storage"),
            sub("out of storage"),
            sub("storage space"),
        ],
    ),
    (
        Category::Size,
        &[
            sub("too large"),
            sub("too big"),
            sub("message size"),
            sub("size limit"),
            sub("exceeds size"),
            sub("maximum size"),
        ],
    ),
    (
        Category::SyntaxProtocol,
        &[
            sub("syntax"),
            sub("command unrecognized"),
            sub("unrecognized command"),
            sub("bad sequence"),
            sub("not implemented"),
            sub("line too long"),
            sub("from: header"),
            sub("from header"),
        ],
    ),
    (
        Category::PolicySpam,
        &[
            word("spam"),
            sub("unsolicited"),
            sub("policy"),
            sub("reputation"),
            sub("content"),
            sub("blocked"),
            sub("not authorized"),
            sub("access denied"),
            sub("relay"),
        ],
    ),
];

fn first(line: &str, table: &[(Category, &[Clue])]) -> Option<Category> {
    table
        .iter()
        .find(|(_, clues)| any(line, clues))
        .map(|(category, _)| *category)
}

/// A category the text states outright.
pub(super) fn strong_category(line: &str) -> Option<Category> {
    first(line, STRONG)
}

/// A category the text hints at.
pub(super) fn weak_category(line: &str) -> Option<Category> {
    first(line, WEAK)
}

/// Phrases that promise a later success: wrong on a 5xx.
static TRANSIENT: &[Clue] = &[
    sub("try again later"),
    sub("please try again"),
    sub("try later"),
    sub("retry later"),
    sub("come back later"),
    sub("temporarily"),
    sub("temporary"),
    sub("greylist"),
    sub("graylist"),
];

/// Phrases that rule out a later success: wrong on a 4xx.
static PERMANENT: &[Clue] = &[
    sub("does not exist"),
    sub("doesn't exist"),
    sub("no such user"),
    sub("user unknown"),
    sub("unknown user"),
    sub("permanently"),
    sub("permanent"),
    sub("will not succeed"),
    sub("will never"),
];

/// The first phrase in `line` that says "temporary", if any.
pub(super) fn transient_phrase(line: &str) -> Option<&'static str> {
    TRANSIENT
        .iter()
        .find(|c| any(line, std::slice::from_ref(*c)))
        .map(|c| c.text)
}

/// The first phrase in `line` that says "permanent", if any.
pub(super) fn permanent_phrase(line: &str) -> Option<&'static str> {
    PERMANENT
        .iter()
        .find(|c| any(line, std::slice::from_ref(*c)))
        .map(|c| c.text)
}

/// Host names and brand words that give away who answered, even when the
/// text itself is not in the provider table.
static PROVIDERS: &[(Provider, &[Clue])] = &[
    (
        Provider::Google,
        &[
            word("gsmtp"),
            word("gmail"),
            word("googlemail"),
            sub("google.com"),
            word("google"),
        ],
    ),
    (
        Provider::Microsoft,
        &[
            sub("outlook.com"),
            sub("protection.outlook"),
            sub("office 365"),
            sub("office365"),
            sub("microsoft"),
            word("hotmail"),
            word("live.com"),
            sub("exchange online"),
            word("outlook"),
        ],
    ),
    (
        Provider::Yahoo,
        &[
            word("yahoo"),
            sub("yahoo.com"),
            sub("yahooinc"),
            sub("yahoodns"),
            word("aol"),
            sub("aol.com"),
        ],
    ),
];

/// The mailbox provider the line names, if it names one.
pub(super) fn provider(line: &str) -> Option<Provider> {
    PROVIDERS
        .iter()
        .find(|(_, clues)| any(line, clues))
        .map(|(provider, _)| *provider)
}
