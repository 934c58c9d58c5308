//! What the compatibility shapes need from a message's MIME structure,
//! read once per request with mail-parser and kept as owned values.
//!
//! Capture never parses; this does, lazily, and a message that does not
//! parse still has its envelope and raw bytes: the failure is a field.

use mail_parser::{Address, Message, MessageParser, MimeHeaders, PartType};
use md5::{Digest, Md5};

use crate::store::StoredMessage;

/// A display name and an address, as Mailpit's `Address` object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Mailbox {
    pub name: String,
    pub address: String,
}

/// A part that is not the text or HTML body: an attachment or an inline
/// resource (an image the HTML refers to by Content-ID).
#[derive(Clone, Debug)]
pub(crate) struct Part {
    /// Index into mail-parser's flat part list; stable for one message.
    pub part_id: String,
    pub file_name: String,
    pub content_type: String,
    pub content_id: String,
    pub size: usize,
    pub inline: bool,
    pub md5: String,
}

/// The facts of one message the Mailpit and MailHog shapes are made of.
#[derive(Clone, Debug, Default)]
pub(crate) struct Parsed {
    pub from: Option<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub bcc: Vec<Mailbox>,
    pub reply_to: Vec<Mailbox>,
    pub subject: String,
    pub message_id: String,
    /// The Date header as RFC 3339, when there is a readable one.
    pub date: Option<String>,
    pub text: String,
    pub html: String,
    pub parts: Vec<Part>,
    /// Every header in order, folded values unfolded.
    pub headers: Vec<(String, String)>,
    pub parse_error: Option<String>,
}

fn mailboxes(address: Option<&Address<'_>>) -> Vec<Mailbox> {
    address.map_or_else(Vec::new, |a| {
        a.iter()
            .map(|addr| Mailbox {
                name: addr.name().unwrap_or_default().to_owned(),
                address: addr.address().unwrap_or_default().to_owned(),
            })
            .collect()
    })
}

/// A folded header value on one line, as a reader wants it.
pub(crate) fn unfold(raw: &str) -> String {
    raw.split(['\r', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn content_type(part: &mail_parser::MessagePart<'_>) -> String {
    part.content_type()
        .map_or_else(
            || "application/octet-stream".to_owned(),
            |ct| match ct.subtype() {
                Some(sub) => format!("{}/{sub}", ct.ctype()),
                None => ct.ctype().to_owned(),
            },
        )
        .to_lowercase()
}

/// Parses a client's message. Some malformed multiparts trip a
/// `debug_assert` inside mail-parser 0.11: in debug builds (tests, the
/// in-process fixture) that would panic the request, so a panic reads as
/// "does not parse", as it does for the scenario's MIME view.
pub(crate) fn parse(raw: &[u8]) -> Option<Message<'_>> {
    std::panic::catch_unwind(|| MessageParser::default().parse(raw))
        .ok()
        .flatten()
}

impl Parsed {
    pub(crate) fn of(m: &StoredMessage) -> Self {
        Self::of_raw(&m.raw())
    }

    pub(crate) fn of_raw(raw: &[u8]) -> Self {
        let Some(p) = parse(raw) else {
            return Self {
                parse_error: Some("no header section found; see the raw message".to_owned()),
                ..Self::default()
            };
        };
        let parts = p
            .attachments
            .iter()
            .filter_map(|&index| {
                let part = p.parts.get(index as usize)?;
                let contents = part.contents();
                let disposition_inline = part
                    .content_disposition()
                    .is_some_and(|d| d.ctype().eq_ignore_ascii_case("inline"));
                let content_id = part
                    .content_id()
                    .unwrap_or_default()
                    .trim_matches(['<', '>'])
                    .to_owned();
                let file_name = match &part.body {
                    PartType::Message(m) => m.subject().map(|s| format!("{s}.eml")),
                    _ => None,
                };
                Some(Part {
                    part_id: index.to_string(),
                    file_name: part
                        .attachment_name()
                        .map(str::to_owned)
                        .or(file_name)
                        .unwrap_or_default(),
                    content_type: content_type(part),
                    inline: !content_id.is_empty()
                        && (disposition_inline || part.content_disposition().is_none()),
                    content_id,
                    size: contents.len(),
                    md5: format!("{:x}", Md5::digest(contents)),
                })
            })
            .collect();
        Self {
            from: mailboxes(p.from()).into_iter().next(),
            to: mailboxes(p.to()),
            cc: mailboxes(p.cc()),
            bcc: mailboxes(p.bcc()),
            reply_to: mailboxes(p.reply_to()),
            subject: p.subject().unwrap_or_default().to_owned(),
            message_id: p.message_id().unwrap_or_default().to_owned(),
            date: p.date().map(mail_parser::DateTime::to_rfc3339),
            text: p.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
            html: p.body_html(0).map(|t| t.into_owned()).unwrap_or_default(),
            parts,
            headers: p
                .headers_raw()
                .map(|(name, value)| (name.to_owned(), unfold(value)))
                .collect(),
            parse_error: None,
        }
    }

    /// The decoded contents of one part, by the id the shapes hand out.
    pub(crate) fn part_contents(raw: &[u8], part_id: &str) -> Option<(String, String, Vec<u8>)> {
        let index: usize = part_id.parse().ok()?;
        let p = parse(raw)?;
        let part = p.parts.get(index)?;
        Some((
            content_type(part),
            part.attachment_name().unwrap_or_default().to_owned(),
            part.contents().to_vec(),
        ))
    }

    /// Up to 250 characters of the text (or, without one, the HTML with its
    /// tags dropped), whitespace collapsed: what a list shows.
    pub(crate) fn snippet(&self) -> String {
        let source = if self.text.trim().is_empty() {
            strip_tags(&self.html)
        } else {
            self.text.clone()
        };
        let collapsed = source.split_whitespace().collect::<Vec<_>>().join(" ");
        match collapsed.char_indices().nth(250) {
            Some((cut, _)) => format!("{}...", &collapsed[..cut]),
            None => collapsed,
        }
    }

    pub(crate) fn attachments(&self) -> impl Iterator<Item = &Part> {
        self.parts.iter().filter(|p| !p.inline)
    }

    pub(crate) fn inline(&self) -> impl Iterator<Item = &Part> {
        self.parts.iter().filter(|p| p.inline)
    }

    /// The first value of a header, by case-insensitive name.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// HTML to text for snippets only: tags and the contents of style and
/// script elements go.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        out.push(' ');
        let after = &rest[open..];
        let lower = after.get(..8).unwrap_or(after).to_ascii_lowercase();
        let skip_to = if lower.starts_with("<style") {
            "</style>"
        } else if lower.starts_with("<script") {
            "</script>"
        } else {
            ">"
        };
        rest = match after.to_ascii_lowercase().find(skip_to) {
            Some(end) => &after[end + skip_to.len()..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {

    /// A fuzz finding: this multipart trips mail-parser's debug assertion.
    #[test]
    fn a_message_tripping_the_parser_assertion_reads_as_unparsable() {
        let raw: &[u8] =
            b"Content-Type: multipart/; boundary=x\n\r\n--xContent-Type:message/rFc822\n\r\n\
            Content-Type:message/rfc822\n\n\n--x--\r";
        // Unguarded, debug builds panic here.
        assert!(
            !cfg!(debug_assertions)
                || std::panic::catch_unwind(|| MessageParser::default().parse(raw)).is_err()
        );
        let parsed = Parsed::of_raw(raw);
        let _ = parsed.parse_error;
        let _ = Parsed::part_contents(raw, "1");
    }
    use super::*;

    const MIME: &[u8] = b"From: Ann <ann@example.test>\r\nTo: bob@example.test, Carl <carl@example.test>\r\nSubject: hi\r\nMessage-ID: <m1@example.test>\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nHello   there\r\n--b\r\nContent-Type: image/png\r\nContent-ID: <logo>\r\n\r\nPNG\r\n--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"a.pdf\"\r\n\r\nPDF\r\n--b--\r\n";

    #[test]
    fn reads_addresses_parts_and_snippet() {
        let p = Parsed::of_raw(MIME);
        assert_eq!(p.from.as_ref().map(|m| m.name.as_str()), Some("Ann"));
        assert_eq!(p.to.len(), 2);
        assert_eq!(p.message_id, "m1@example.test");
        assert_eq!(p.snippet(), "Hello there");
        let inline: Vec<_> = p.inline().map(|x| x.content_id.as_str()).collect();
        assert_eq!(inline, ["logo"]);
        let files: Vec<_> = p.attachments().map(|x| x.file_name.as_str()).collect();
        assert_eq!(files, ["a.pdf"]);
        let id = &p
            .attachments()
            .next()
            .map(|a| a.part_id.clone())
            .unwrap_or_default();
        let (ct, _, bytes) = Parsed::part_contents(MIME, id).unwrap();
        assert_eq!(
            (ct.as_str(), bytes.as_slice()),
            ("application/pdf", &b"PDF"[..])
        );
    }

    #[test]
    fn snippet_of_html_drops_tags_and_styles() {
        assert_eq!(
            strip_tags("<style>p{}</style><p>Hi <b>you</b></p>")
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["Hi", "you"]
        );
    }

    #[test]
    fn no_headers_is_a_field_not_a_crash() {
        assert!(
            Parsed::of_raw(b"").parse_error.is_some() || Parsed::of_raw(b"").subject.is_empty()
        );
    }
}
