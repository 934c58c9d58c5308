//! Texts that real receivers put behind their codes and that no RFC defines:
//! Gmail's, Microsoft 365's and Yahoo's wording, their private enhanced codes
//! (Microsoft's 5.7.708, 4.7.500...) and the blocklists rejecting servers
//! quote. The standard code alone often misleads (Yahoo's 5.7.9 is a policy
//! block, not a weak AUTH mechanism), so these take precedence in `explain`.

mod blocklists;
mod google;
mod microsoft;
mod yahoo;

use std::fmt;

use serde::ser::{Serialize, SerializeStruct, Serializer};

use super::kinds::{Category, Source};
use crate::proto::reply::EnhancedCode;

/// A run of enhanced codes one provider uses for one purpose, such as
/// Microsoft's 5.7.606 to 5.7.649 for banned sending IPs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CodeRange {
    pub class: u8,
    pub subject: u16,
    pub first: u16,
    pub last: u16,
}

impl CodeRange {
    pub(crate) const fn one(class: u8, subject: u16, detail: u16) -> Self {
        Self {
            class,
            subject,
            first: detail,
            last: detail,
        }
    }

    pub(crate) const fn span(class: u8, subject: u16, first: u16, last: u16) -> Self {
        Self {
            class,
            subject,
            first,
            last,
        }
    }

    pub(crate) fn contains(&self, code: EnhancedCode) -> bool {
        code.class == self.class
            && code.subject == self.subject
            && (self.first..=self.last).contains(&code.detail)
    }
}

impl fmt::Display for CodeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.first)?;
        if self.last != self.first {
            write!(f, "-{}", self.last)?;
        }
        Ok(())
    }
}

/// One recognisable field text. It applies to a reply when every condition
/// that is set holds: the enhanced code lies in `enhanced`, the reply class
/// is `class`, and the text contains one of `texts` (ignoring ASCII case).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ProviderEntry {
    /// Stable name, for tests and JSON consumers.
    pub id: &'static str,
    pub source: Source,
    pub texts: &'static [&'static str],
    pub enhanced: Option<CodeRange>,
    pub class: Option<u8>,
    pub category: Category,
    pub meaning: &'static str,
    pub advice: &'static str,
    /// Overrides the class's retry rule when the provider says otherwise
    /// (Yahoo's "permanently deferred" 421 will not succeed on retry).
    pub retry: Option<bool>,
    /// A reply line as the provider sends it, with addresses made up.
    pub example: &'static str,
    /// Where the text is documented, when not the provider's main page
    /// ([`Source::reference`]): another page, or "observed in bounces".
    pub cited: Option<&'static str>,
}

impl ProviderEntry {
    /// An entry recognised by its text alone; the `with_*` methods narrow it.
    pub(crate) const fn new(
        id: &'static str,
        source: Source,
        texts: &'static [&'static str],
        category: Category,
        meaning: &'static str,
        advice: &'static str,
        example: &'static str,
    ) -> Self {
        Self {
            id,
            source,
            texts,
            enhanced: None,
            class: None,
            category,
            meaning,
            advice,
            retry: None,
            example,
            cited: None,
        }
    }

    /// Names the page (or "observed in bounces") the text comes from.
    pub(crate) const fn cite(mut self, reference: &'static str) -> Self {
        self.cited = Some(reference);
        self
    }

    /// Where the text comes from: a provider page or "observed in bounces".
    pub(crate) const fn reference(&self) -> &'static str {
        match self.cited {
            Some(r) => r,
            None => self.source.reference(),
        }
    }

    pub(crate) const fn with_code(mut self, range: CodeRange) -> Self {
        self.enhanced = Some(range);
        self
    }

    pub(crate) const fn with_class(mut self, class: u8) -> Self {
        self.class = Some(class);
        self
    }

    pub(crate) const fn with_retry(mut self, retry: bool) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Whether this entry describes a reply with these parts; `line` is the
    /// whole line, so clues outside the reply text (a host name) count too.
    pub(crate) fn applies(
        &self,
        class: Option<u8>,
        enhanced: Option<EnhancedCode>,
        line: &str,
    ) -> bool {
        let code_fits = self
            .enhanced
            .is_none_or(|range| enhanced.is_some_and(|e| range.contains(e)));
        let class_fits = self.class.is_none_or(|want| class == Some(want));
        code_fits
            && class_fits
            && (self.texts.is_empty() || self.texts.iter().any(|t| contains_ci(line, t)))
    }
}

impl Serialize for ProviderEntry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("ProviderEntry", 11)?;
        st.serialize_field("id", self.id)?;
        st.serialize_field("provider", &self.source)?;
        st.serialize_field("source", self.reference())?;
        st.serialize_field("texts", self.texts)?;
        st.serialize_field("enhanced", &self.enhanced.map(|r| r.to_string()))?;
        st.serialize_field("class", &self.class)?;
        st.serialize_field("category", &self.category)?;
        st.serialize_field("meaning", self.meaning)?;
        st.serialize_field("advice", self.advice)?;
        st.serialize_field("example", self.example)?;
        st.serialize_field("standard", &false)?;
        st.end()
    }
}

/// Checked in this order, first match wins: providers' own texts come
/// before the generic blocklist names they may quote.
static GROUPS: [&[ProviderEntry]; 4] = [
    microsoft::TEXTS,
    yahoo::TEXTS,
    google::TEXTS,
    blocklists::TEXTS,
];

/// Every field text, in matching order.
pub(crate) fn provider_texts() -> impl Iterator<Item = &'static ProviderEntry> {
    GROUPS.iter().flat_map(|group| group.iter())
}

/// The first field text that describes this reply.
pub(super) fn match_line(
    class: Option<u8>,
    enhanced: Option<EnhancedCode>,
    line: &str,
) -> Option<&'static ProviderEntry> {
    provider_texts().find(|p| p.applies(class, enhanced, line))
}

/// The provider entry that owns a private enhanced code (one outside the
/// IANA registry), such as Microsoft's 5.7.708.
pub(crate) fn provider_code(code: EnhancedCode) -> Option<&'static ProviderEntry> {
    provider_texts().find(|p| p.enhanced.is_some_and(|r| r.contains(code)))
}

/// Substring search ignoring ASCII case, without allocating.
pub(crate) fn contains_ci(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    if n.is_empty() {
        return true;
    }
    h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// Like [`contains_ci`], but the match must not be part of a longer word,
/// for short clues such as `rbl` or `tls`.
pub(crate) fn contains_word_ci(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    if n.is_empty() || h.len() < n.len() {
        return false;
    }
    (0..=h.len() - n.len()).any(|i| {
        h[i..i + n.len()].eq_ignore_ascii_case(n)
            && (i == 0 || !h[i - 1].is_ascii_alphanumeric())
            && h.get(i + n.len())
                .is_none_or(|b| !b.is_ascii_alphanumeric())
    })
}
