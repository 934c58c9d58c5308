//! `explain`: from one reply line (as pasted from a bounce or a log) to what
//! a sender needs to know: class, meaning, category, hard or soft bounce,
//! whether to retry, advice, and warnings where the receiver contradicts
//! itself. Never fails: a line without a reply is explained as such.

use serde::Serialize;

use super::advice::advice;
use super::enhanced::{EnhancedEntry, SubjectEntry};
use super::kinds::{Bounce, Category, Class, Provider};
use super::parse::locate;
use super::providers::{ProviderEntry, match_line, provider_code};
use super::reply_codes::ReplyCodeEntry;
use super::{clues, enhanced, reply_code, subject};
use crate::proto::reply::EnhancedCode;

/// Everything `explain` found out about one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Explanation {
    pub line: String,
    pub code: Option<u16>,
    pub enhanced: Option<EnhancedCode>,
    /// The reply text after the code(s).
    pub text: String,
    /// From the reply code; `None` when the line has no reply code.
    pub class: Option<Class>,
    pub reply: Option<&'static ReplyCodeEntry>,
    pub subject: Option<&'static SubjectEntry>,
    pub detail: Option<&'static EnhancedEntry>,
    /// The provider or blocklist text the line matched.
    pub field_text: Option<&'static ProviderEntry>,
    pub provider: Option<Provider>,
    pub category: Category,
    pub bounce: Bounce,
    /// Whether sending the same message again later can succeed.
    pub retry: bool,
    pub advice: &'static str,
    pub warnings: Vec<String>,
}

/// Explains one reply line; see the module documentation.
pub(crate) fn explain(line: &str) -> Explanation {
    let Some(found) = locate(line) else {
        return Explanation {
            line: line.to_owned(),
            code: None,
            enhanced: None,
            text: line.trim().to_owned(),
            class: None,
            reply: None,
            subject: None,
            detail: None,
            field_text: None,
            provider: clues::provider(line),
            category: Category::Other,
            bounce: Bounce::None,
            retry: false,
            advice: "No SMTP reply found. Paste the line from the bounce or log that starts with (or quotes) a three-digit code such as 550.",
            warnings: vec![
                "no reply code found: expected a three-digit code starting with 2, 3, 4 or 5, as in `550 5.1.1 ...`".to_owned(),
            ],
        };
    };
    let code = found.code;
    let digit = (code / 100) as u8;
    let class = Class::from_digit(digit).unwrap_or(Class::Permanent);
    let reply = reply_code(code);
    let detail = found.enhanced.and_then(enhanced);
    let subject = found.enhanced.and_then(|e| subject(e.subject));
    let field_text = match_line(Some(digit), found.enhanced, line);
    let mut warnings = Vec::new();
    if reply.is_none() {
        warnings.push(format!(
            "reply code {code} is not in the catalog; only its first digit ({}) is meaningful",
            class.as_str()
        ));
    }
    if let Some(e) = found.enhanced {
        check_enhanced(e, class, detail, field_text, &mut warnings);
    }
    let category = category(class, line, reply, detail, field_text);
    check_text(class, found.text, &mut warnings);
    let (bounce, retry) = match class {
        Class::Success | Class::Intermediate => (Bounce::None, false),
        Class::Transient => (Bounce::Soft, true),
        Class::Permanent if category == Category::MailboxFull => (Bounce::Soft, false),
        Class::Permanent => (Bounce::Hard, false),
    };
    let retry = field_text.and_then(|f| f.retry).unwrap_or(retry);
    Explanation {
        line: line.to_owned(),
        code: Some(code),
        enhanced: found.enhanced,
        text: found.text.to_owned(),
        class: Some(class),
        reply,
        subject,
        detail,
        field_text,
        provider: field_text
            .and_then(|f| f.source.provider())
            .or_else(|| clues::provider(line)),
        category,
        bounce,
        retry,
        advice: field_text.map_or_else(|| advice(category, class), |f| f.advice),
        warnings,
    }
}

/// Class disagreement, codes outside both tables, and codes used in a
/// class their definition does not foresee.
fn check_enhanced(
    e: EnhancedCode,
    class: Class,
    detail: Option<&EnhancedEntry>,
    field_text: Option<&ProviderEntry>,
    warnings: &mut Vec<String>,
) {
    if class == Class::Intermediate {
        warnings.push(format!(
            "enhanced code {e} on a 3xx reply: enhanced codes only go with 2xx, 4xx and 5xx (RFC 3463)"
        ));
    } else if e.class != class.digit() {
        let theirs = Class::from_digit(e.class).map_or("?", Class::as_str);
        warnings.push(format!(
            "reply code is {} but enhanced code {e} is {theirs}; clients act on the reply code, so this is treated as {}",
            class.as_str(),
            class.as_str()
        ));
    }
    match detail {
        None if provider_code(e).is_none() => warnings.push(format!(
            "enhanced code {e} is not in the IANA registry or among known provider codes"
        )),
        Some(d) if field_text.is_none() && !d.allows_class(e.class) => {
            warnings.push(class_not_listed(d));
        }
        _ => {}
    }
    if detail.is_some_and(EnhancedEntry::deprecated) {
        warnings.push(format!(
            "{} is deprecated (registered by mistake as a duplicate of X.6.8); send X.6.8 instead",
            e
        ));
    }
}

fn class_not_listed(d: &EnhancedEntry) -> String {
    let allowed: Vec<String> = d.classes.iter().map(|c| format!("{c}.x.x")).collect();
    let title = if d.deprecated() {
        "deprecated"
    } else {
        d.title
    };
    format!(
        "{} ({title}) is defined for {} only",
        d.pattern(),
        allowed.join(" and ")
    )
}

/// The warning `mailfault check` gives a scenario reply whose enhanced code
/// the IANA registry does not list for its class (a `450 4.7.26`, a
/// `550 5.4.2`), unless a known provider text explains the combination.
pub(crate) fn registry_class_warning(line: &str) -> Option<String> {
    let found = locate(line)?;
    let e = found.enhanced?;
    let d = enhanced(e)?;
    let digit = (found.code / 100) as u8;
    if d.allows_class(e.class) || match_line(Some(digit), Some(e), line).is_some() {
        return None;
    }
    Some(class_not_listed(d))
}

/// A 5xx that promises a later success, or a 4xx that rules it out.
fn check_text(class: Class, text: &str, warnings: &mut Vec<String>) {
    match class {
        Class::Permanent => {
            if let Some(p) = clues::transient_phrase(text) {
                warnings.push(format!(
                    "the text says \"{p}\" but 5xx is permanent: a standard client will not retry"
                ));
            }
        }
        Class::Transient => {
            if let Some(p) = clues::permanent_phrase(text) {
                warnings.push(format!(
                    "the text says \"{p}\" but 4xx is transient: a standard client will keep retrying"
                ));
            }
        }
        Class::Success | Class::Intermediate => {}
    }
}

/// Most specific evidence first: a provider's own text, then unambiguous
/// words in the line, then a specific enhanced code, then vaguer words, and
/// last the basic reply code.
fn category(
    class: Class,
    line: &str,
    reply: Option<&ReplyCodeEntry>,
    detail: Option<&EnhancedEntry>,
    field_text: Option<&ProviderEntry>,
) -> Category {
    if matches!(class, Class::Success | Class::Intermediate) {
        return Category::Other;
    }
    if let Some(f) = field_text {
        return f.category;
    }
    if let Some(c) = clues::strong_category(line) {
        return c;
    }
    if let Some(d) = detail.filter(|d| d.detail != 0) {
        return d.category;
    }
    if let Some(c) = clues::weak_category(line) {
        return c;
    }
    if let Some(d) = detail.filter(|d| d.category != Category::Other) {
        return d.category;
    }
    reply.map_or(Category::Other, |r| r.category)
}

/// The JSON shape of an explanation: flat, with the catalog texts inlined
/// so a consumer needs no second lookup.
#[derive(Serialize)]
struct View<'a> {
    line: &'a str,
    code: Option<u16>,
    enhanced: Option<String>,
    text: &'a str,
    class: Option<Class>,
    meaning: Option<&'static str>,
    reply_title: Option<&'static str>,
    standard_code: Option<bool>,
    subject: Option<&'static str>,
    detail: Option<&'static str>,
    detail_meaning: Option<&'static str>,
    detail_rfc: Option<&'static str>,
    provider: Option<Provider>,
    field_text: Option<FieldView>,
    category: Category,
    bounce: Bounce,
    retry: bool,
    advice: &'static str,
    warnings: &'a [String],
}

#[derive(Serialize)]
struct FieldView {
    id: &'static str,
    source: &'static str,
    meaning: &'static str,
}

impl Serialize for Explanation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        View {
            line: &self.line,
            code: self.code,
            enhanced: self.enhanced.map(|e| e.to_string()),
            text: &self.text,
            class: self.class,
            meaning: self.reply.map(|r| r.meaning),
            reply_title: self.reply.map(|r| r.title),
            standard_code: self.reply.map(|r| r.standard),
            subject: self.subject.map(|s| s.title),
            detail: self.detail.map(|d| {
                if d.deprecated() {
                    "Deprecated (duplicate of X.6.8)"
                } else {
                    d.title
                }
            }),
            detail_meaning: self.detail.map(|d| d.meaning),
            detail_rfc: self.detail.map(|d| d.rfc),
            provider: self.provider,
            field_text: self.field_text.map(|f| FieldView {
                id: f.id,
                source: f.source.as_str(),
                meaning: f.meaning,
            }),
            category: self.category,
            bounce: self.bounce,
            retry: self.retry,
            advice: self.advice,
            warnings: &self.warnings,
        }
        .serialize(s)
    }
}
