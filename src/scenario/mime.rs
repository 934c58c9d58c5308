//! The message as `header:` and `body:` conditions see it: the same
//! `mail-parser` reading the HTTP API shows, so a rule written against what
//! the web page displays matches.
//!
//! - A header's value is RFC 2047-decoded and unfolded (`=?UTF-8?B?...?=`
//!   reads as the text it encodes); the MIME structure headers
//!   (`Content-Type`, `Content-Disposition`, `Content-Id`) are matched as
//!   written, unfolded, since their decoded form is a structure, not text.
//! - The body is the decoded text of every inline text part in order
//!   (transfer encoding and charset undone), joined by a newline. A part
//!   that exists only as HTML is converted to text, so a tag between two
//!   words does not defeat a glob; attachments are not body. A message
//!   without any text part has an empty body.
//! - A message `mail-parser` cannot read (no header section at all) is
//!   matched on its raw bytes as lossy UTF-8: headers by a plain scan of the
//!   lines before the first empty line, the body as everything after it (or
//!   everything, if there is no empty line).
//!
//! Parsing happens at most once per decision, and only when a rule with such
//! a condition is reached: the parse is cached in the [`MessageView`] one
//! decision shares across its rules.

use std::borrow::Cow;
use std::cell::OnceCell;

use mail_parser::{HeaderValue, Message, MessageParser};

/// The parser rules use: MIME structure headers parsed for their meaning
/// (finding the parts needs them), every other header as RFC 2047 text.
pub(super) fn parser() -> MessageParser {
    MessageParser::new()
        .with_mime_headers()
        .default_header_text()
}

/// One message during one decision. Built empty; parsed on first use.
pub(super) struct MessageView<'c, 'a> {
    raw: &'a [u8],
    parser: &'c MessageParser,
    /// Whether a rule may ask for the body; if not, only the header section
    /// is parsed, which skips decoding attachments of a large message.
    with_body: bool,
    parsed: &'c OnceCell<Option<Message<'a>>>,
    body: OnceCell<Cow<'c, str>>,
}

impl<'a> MessageView<'_, 'a> {
    /// Runs `f` with a view of `raw` whose parse lives exactly as long as
    /// the call: one decision.
    pub(super) fn with<R>(
        raw: &'a [u8],
        parser: &MessageParser,
        with_body: bool,
        f: impl FnOnce(&MessageView<'_, 'a>) -> R,
    ) -> R {
        let parsed = OnceCell::new();
        let view = MessageView {
            raw,
            parser,
            with_body,
            parsed: &parsed,
            body: OnceCell::new(),
        };
        f(&view)
    }
}

impl<'c, 'a> MessageView<'c, 'a> {
    fn parsed(&self) -> Option<&'c Message<'a>> {
        self.parsed
            .get_or_init(|| {
                #[cfg(test)]
                PARSES.with(|n| n.set(n.get() + 1));
                if self.with_body {
                    guarded(|| self.parser.parse(self.raw))
                } else {
                    // A header section that does not parse alone may parse
                    // as part of the whole message: read it as the full
                    // parse would, so no answer depends on which came first.
                    guarded(|| self.parser.parse_headers(self.raw))
                        .or_else(|| guarded(|| self.parser.parse(self.raw)))
                }
            })
            .as_ref()
    }

    /// Whether any value of header `name` (case-insensitive) satisfies `test`.
    pub(super) fn any_header(&self, name: &str, test: impl Fn(&str) -> bool) -> bool {
        let Some(message) = self.parsed() else {
            return raw_header_values(self.raw, name).iter().any(|v| test(v));
        };
        message
            .headers()
            .iter()
            .filter(|h| h.name.as_str().eq_ignore_ascii_case(name))
            .any(|h| match &h.value {
                HeaderValue::Text(text) => test(text),
                _ => {
                    let start = h.offset_start as usize;
                    let end = h.offset_end as usize;
                    let value = self.raw.get(start..end).unwrap_or_default();
                    test(&unfold(&String::from_utf8_lossy(value)))
                }
            })
    }

    /// The body text (see the module documentation), computed once.
    pub(super) fn body(&self) -> &str {
        self.body.get_or_init(|| match self.parsed() {
            Some(message) if self.with_body => text_body(message),
            // Only the header section was parsed: the engine said no rule
            // reads the body. Correct, if slower, should that ever be wrong.
            Some(_) => match guarded(|| self.parser.parse(self.raw)) {
                Some(full) => Cow::Owned(text_body(&full).into_owned()),
                None => String::from_utf8_lossy(raw_body(self.raw)),
            },
            None => String::from_utf8_lossy(raw_body(self.raw)),
        })
    }
}

/// Runs a parse, taking a panic for "unparsable". mail-parser 0.11 has a
/// `debug_assert!` that a malformed multipart trips ("Invalid part ID",
/// parsers/message.rs): in debug builds (tests, the in-process
/// `TestServer`) a client's message would panic the decision.
fn guarded<'x>(parse: impl FnOnce() -> Option<Message<'x>>) -> Option<Message<'x>> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(parse))
        .ok()
        .flatten()
}

fn text_body<'c>(message: &'c Message<'_>) -> Cow<'c, str> {
    match message.text_body_count() {
        0 => Cow::Borrowed(""),
        1 => message.body_text(0).unwrap_or_default(),
        n => {
            let parts: Vec<Cow<'c, str>> = (0..n).filter_map(|i| message.body_text(i)).collect();
            Cow::Owned(parts.join("\n"))
        }
    }
}

/// A folded header value on one line.
fn unfold(raw: &str) -> String {
    raw.split(['\r', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every unfolded value of header `name`, by a plain scan of the lines
/// before the first empty line: the reading of a message with no parsable
/// header section.
fn raw_header_values(message: &[u8], name: &str) -> Vec<String> {
    let end = memchr::memmem::find(message, b"\r\n\r\n").map_or(message.len(), |p| p + 2);
    let head = String::from_utf8_lossy(&message[..end]);
    let mut values: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for line in head.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with([' ', '\t']) {
            if let Some(v) = current.as_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some(v) = current.take() {
            values.push(v);
        }
        if let Some((key, value)) = line.split_once(':')
            && key.trim().eq_ignore_ascii_case(name)
        {
            current = Some(value.trim().to_owned());
        }
    }
    values.extend(current);
    values
}

/// Everything after the first empty line, or the whole message when it has
/// none (then nothing in it was a header).
fn raw_body(message: &[u8]) -> &[u8] {
    memchr::memmem::find(message, b"\r\n\r\n").map_or(message, |p| &message[p + 4..])
}

#[cfg(test)]
thread_local! {
    /// How many messages this thread has parsed, so tests can tell that a
    /// decision parses once, not once per rule.
    static PARSES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

#[cfg(test)]
pub(super) fn parses() -> u64 {
    PARSES.with(std::cell::Cell::get)
}

#[cfg(test)]
#[path = "mime_tests.rs"]
mod tests;
