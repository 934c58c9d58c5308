//! The small vocabularies every catalog table and every explanation share,
//! kept apart so the tables read as data and the JSON names stay stable.

use serde::Serialize;

/// What the first digit of a reply code promises the sender (RFC 5321 §4.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Class {
    Success,
    Intermediate,
    Transient,
    Permanent,
}

impl Class {
    /// The class a reply-code or enhanced-code digit stands for; `None` for
    /// digits SMTP does not use.
    pub(crate) const fn from_digit(digit: u8) -> Option<Self> {
        match digit {
            2 => Some(Self::Success),
            3 => Some(Self::Intermediate),
            4 => Some(Self::Transient),
            5 => Some(Self::Permanent),
            _ => None,
        }
    }

    pub(crate) const fn digit(self) -> u8 {
        match self {
            Self::Success => 2,
            Self::Intermediate => 3,
            Self::Transient => 4,
            Self::Permanent => 5,
        }
    }

    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Intermediate => "intermediate",
            Self::Transient => "transient",
            Self::Permanent => "permanent",
        }
    }
}

/// Why a reply failed, in the buckets bounce handlers act on: each one calls
/// for a different fix (clean the list, slow down, fix DNS records, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Category {
    UnknownRecipient,
    MailboxFull,
    PolicySpam,
    /// SPF, DKIM, DMARC, reverse DNS and SMTP AUTH.
    Authentication,
    Blocklist,
    Throttling,
    Greylisting,
    SyntaxProtocol,
    Tls,
    Size,
    Other,
}

impl Category {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::UnknownRecipient => "unknown_recipient",
            Self::MailboxFull => "mailbox_full",
            Self::PolicySpam => "policy_spam",
            Self::Authentication => "authentication",
            Self::Blocklist => "blocklist",
            Self::Throttling => "throttling",
            Self::Greylisting => "greylisting",
            Self::SyntaxProtocol => "syntax_protocol",
            Self::Tls => "tls",
            Self::Size => "size",
            Self::Other => "other",
        }
    }
}

/// How a bounce handler should file the reply: a hard bounce will not go
/// away by itself, a soft one may.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Bounce {
    Hard,
    Soft,
    /// The reply is not a failure.
    None,
}

impl Bounce {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Hard => "hard",
            Self::Soft => "soft",
            Self::None => "none",
        }
    }
}

/// The mailbox providers whose wording the catalog recognises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Provider {
    Google,
    Microsoft,
    /// Yahoo and AOL share one mail platform and one set of texts.
    Yahoo,
}

impl Provider {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Google => "google",
            Self::Microsoft => "microsoft",
            Self::Yahoo => "yahoo",
        }
    }
}

/// Who wrote a field text: a mailbox provider, or a blocklist whose name the
/// rejecting server quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Source {
    Google,
    Microsoft,
    Yahoo,
    Spamhaus,
    Barracuda,
    SpamCop,
}

impl Source {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Google => "google",
            Self::Microsoft => "microsoft",
            Self::Yahoo => "yahoo",
            Self::Spamhaus => "spamhaus",
            Self::Barracuda => "barracuda",
            Self::SpamCop => "spamcop",
        }
    }

    /// The page that documents most of this source's texts; a blocklist's
    /// wording is known from the bounces that quote it.
    pub(crate) const fn reference(self) -> &'static str {
        match self {
            Self::Google => "https://support.google.com/a/answer/3726730",
            Self::Microsoft => {
                "https://learn.microsoft.com/en-us/exchange/mail-flow-best-practices/non-delivery-reports-in-exchange-online/non-delivery-reports-in-exchange-online"
            }
            Self::Yahoo => "https://senders.yahooinc.com/smtp-error-codes/",
            Self::Spamhaus | Self::Barracuda | Self::SpamCop => "observed in bounces",
        }
    }

    /// The mailbox provider behind the text, if it is one (a blocklist
    /// message can come from any receiver).
    pub(crate) const fn provider(self) -> Option<Provider> {
        match self {
            Self::Google => Some(Provider::Google),
            Self::Microsoft => Some(Provider::Microsoft),
            Self::Yahoo => Some(Provider::Yahoo),
            Self::Spamhaus | Self::Barracuda | Self::SpamCop => None,
        }
    }
}
