//! The reply-code catalog: every RFC 5321 reply code, every entry of the IANA
//! enhanced status code registry, and the texts big receivers put behind
//! them, with what each means for a sender. It backs `mailfault explain`,
//! `mailfault codes` and the checks `mailfault check` makes on scenario
//! replies, so all three agree on what a code means.
//!
//! - `kinds`: the shared vocabularies (class, category, bounce, provider).
//! - `reply_codes`, `enhanced`: the standard tables.
//! - `providers`: Gmail, Microsoft 365, Yahoo and blocklist texts.
//! - `parse`, `clues`, `advice`, `explain`: reading a reply line.
//!
//! Lookups scan or bisect `'static` tables and never allocate.

mod advice;
mod clues;
mod enhanced;
mod explain;
mod kinds;
mod parse;
mod providers;
mod reply_codes;

#[cfg(test)]
mod field_tests;
#[cfg(test)]
mod tests;

pub(crate) use enhanced::{ENHANCED_CODES, EnhancedEntry, SUBJECTS, SubjectEntry};
pub(crate) use explain::{Explanation, explain, registry_class_warning};
pub(crate) use providers::{ProviderEntry, provider_code, provider_texts};
pub(crate) use reply_codes::{REPLY_CODES, ReplyCodeEntry};

use crate::proto::reply::EnhancedCode;

/// The catalog entry for a basic reply code such as 550.
pub(crate) fn reply_code(code: u16) -> Option<&'static ReplyCodeEntry> {
    REPLY_CODES
        .binary_search_by_key(&code, |e| e.code)
        .ok()
        .map(|i| &REPLY_CODES[i])
}

/// The IANA registry entry for an enhanced code, whatever its class digit:
/// `5.1.1` and `4.1.1` are both X.1.1. Check [`EnhancedEntry::allows_class`]
/// to see whether the class fits.
pub(crate) fn enhanced(code: EnhancedCode) -> Option<&'static EnhancedEntry> {
    ENHANCED_CODES
        .binary_search_by_key(&(code.subject, code.detail), |e| (e.subject, e.detail))
        .ok()
        .map(|i| &ENHANCED_CODES[i])
}

/// The subject (middle digit) of an enhanced code: X.1.X is addressing.
pub(crate) fn subject(subject: u16) -> Option<&'static SubjectEntry> {
    SUBJECTS.iter().find(|s| s.subject == subject)
}

/// Where the catalog knows an enhanced code from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KnownEnhanced {
    /// In the IANA registry.
    Registry(&'static EnhancedEntry),
    /// Outside the registry, but a provider is known to use it.
    Provider(&'static ProviderEntry),
}

impl KnownEnhanced {
    #[cfg(test)]
    pub(crate) fn standard(self) -> bool {
        matches!(self, Self::Registry(_))
    }
}

/// Whether the catalog knows an enhanced code at all, which is what
/// `mailfault check` asks before it warns about a scenario's reply.
pub(crate) fn known_enhanced(code: EnhancedCode) -> Option<KnownEnhanced> {
    enhanced(code)
        .map(KnownEnhanced::Registry)
        .or_else(|| provider_code(code).map(KnownEnhanced::Provider))
}
