//! Mailpit's JSON shapes for messages (`MessageSummary`, `Message`,
//! `MessagesSummary`), field for field as its published API names them,
//! with mailfault's own facts (envelope, session, TLS) as extra fields that
//! Mailpit clients ignore.

use std::collections::BTreeMap;

use serde::Serialize;

use super::parsed::{Mailbox, Parsed, Part};
use crate::http::views::time;
use crate::store::{Store, StoredMessage};

/// Mailpit's `Address`.
#[derive(Serialize, Clone, Debug, Default)]
pub(crate) struct Address {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Address")]
    pub address: String,
}

impl From<&Mailbox> for Address {
    fn from(m: &Mailbox) -> Self {
        Self {
            name: m.name.clone(),
            address: m.address.clone(),
        }
    }
}

fn addresses(list: &[Mailbox]) -> Vec<Address> {
    list.iter().map(Address::from).collect()
}

/// Envelope recipients the To and Cc headers do not name: how a blind
/// copy shows up on the wire, and what Mailpit lists as Bcc.
fn bcc(m: &StoredMessage, p: &Parsed) -> Vec<Address> {
    let mut out = addresses(&p.bcc);
    for r in &m.recipients {
        let named =
            p.to.iter()
                .chain(&p.cc)
                .chain(&p.bcc)
                .any(|a| a.address.eq_ignore_ascii_case(&r.address));
        if !named {
            out.push(Address {
                name: String::new(),
                address: r.address.clone(),
            });
        }
    }
    out
}

/// mailfault's facts about the SMTP transaction, beside Mailpit's fields.
#[derive(Serialize)]
pub(crate) struct Envelope {
    #[serde(rename = "From")]
    pub from: String,
    #[serde(rename = "To")]
    pub to: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Summary {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "MessageID")]
    pub message_id: String,
    pub read: bool,
    pub from: Address,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub bcc: Vec<Address>,
    pub reply_to: Vec<Address>,
    pub subject: String,
    pub created: String,
    pub username: String,
    pub tags: Vec<String>,
    pub size: usize,
    pub attachments: usize,
    pub snippet: String,
    // mailfault's extras.
    #[serde(rename = "SessionID")]
    pub session_id: u64,
    pub envelope: Envelope,
    #[serde(rename = "TLS")]
    pub tls: Option<String>,
}

impl Summary {
    pub(crate) fn of(m: &StoredMessage, read: bool) -> Self {
        Self::with(m, &Parsed::of(m), read)
    }

    pub(crate) fn with(m: &StoredMessage, p: &Parsed, read: bool) -> Self {
        Self {
            id: m.id.to_string(),
            message_id: p.message_id.clone(),
            read,
            from: p.from.as_ref().map(Address::from).unwrap_or_default(),
            to: addresses(&p.to),
            cc: addresses(&p.cc),
            bcc: bcc(m, p),
            reply_to: addresses(&p.reply_to),
            subject: p.subject.clone(),
            created: time(m.received_at),
            username: m.auth_user.clone().unwrap_or_default(),
            tags: Vec::new(),
            size: m.size(),
            attachments: p.attachments().count(),
            snippet: p.snippet(),
            session_id: m.session_id,
            envelope: Envelope {
                from: m.mail_from.clone(),
                to: m.recipients.iter().map(|r| r.address.clone()).collect(),
            },
            tls: m.tls.clone(),
        }
    }
}

/// Mailpit's `Attachment`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Attachment {
    #[serde(rename = "PartID")]
    pub part_id: String,
    pub file_name: String,
    pub content_type: String,
    #[serde(rename = "ContentID")]
    pub content_id: String,
    pub size: usize,
    /// MD5 only: SHA1 and SHA256 would each need a new crate.
    pub checksums: BTreeMap<&'static str, String>,
}

impl From<&Part> for Attachment {
    fn from(p: &Part) -> Self {
        Self {
            part_id: p.part_id.clone(),
            file_name: p.file_name.clone(),
            content_type: p.content_type.clone(),
            content_id: p.content_id.clone(),
            size: p.size,
            checksums: BTreeMap::from([("MD5", p.md5.clone())]),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListUnsubscribe {
    pub header: String,
    pub header_post: String,
    pub links: Vec<String>,
    pub errors: String,
}

impl ListUnsubscribe {
    fn of(p: &Parsed) -> Self {
        let header = p.header("List-Unsubscribe").unwrap_or_default().to_owned();
        let links = header
            .split(',')
            .filter_map(|l| {
                let l = l.trim();
                l.strip_prefix('<')?.strip_suffix('>').map(str::to_owned)
            })
            .collect();
        Self {
            header,
            header_post: p
                .header("List-Unsubscribe-Post")
                .unwrap_or_default()
                .to_owned(),
            links,
            errors: String::new(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Recipient {
    pub address: String,
    pub params: String,
}

/// Mailpit's `Message`, plus the SMTP facts mailfault saw.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Message {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "MessageID")]
    pub message_id: String,
    pub from: Address,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub bcc: Vec<Address>,
    pub reply_to: Vec<Address>,
    pub return_path: String,
    pub subject: String,
    pub list_unsubscribe: ListUnsubscribe,
    pub date: String,
    pub tags: Vec<String>,
    pub username: String,
    pub text: String,
    #[serde(rename = "HTML")]
    pub html: String,
    pub size: usize,
    pub inline: Vec<Attachment>,
    pub attachments: Vec<Attachment>,
    // mailfault's extras.
    pub created: String,
    pub read: bool,
    #[serde(rename = "SessionID")]
    pub session_id: u64,
    pub client: String,
    pub helo: Option<String>,
    pub mail_params: String,
    pub recipients: Vec<Recipient>,
    #[serde(rename = "TLS")]
    pub tls: Option<String>,
    /// Why the MIME structure could not be read; the raw message is intact.
    pub parse_error: Option<String>,
    pub smuggling_attempts: u32,
    #[serde(rename = "BareLF")]
    pub bare_lf: bool,
}

impl Message {
    pub(crate) fn of(m: &StoredMessage, read: bool) -> Self {
        let p = Parsed::of(m);
        let created = time(m.received_at);
        Self {
            id: m.id.to_string(),
            message_id: p.message_id.clone(),
            from: p.from.as_ref().map(Address::from).unwrap_or_default(),
            to: addresses(&p.to),
            cc: addresses(&p.cc),
            bcc: bcc(m, &p),
            reply_to: addresses(&p.reply_to),
            return_path: m.mail_from.clone(),
            subject: p.subject.clone(),
            list_unsubscribe: ListUnsubscribe::of(&p),
            date: p.date.clone().unwrap_or_else(|| created.clone()),
            tags: Vec::new(),
            username: m.auth_user.clone().unwrap_or_default(),
            text: p.text.clone(),
            html: p.html.clone(),
            size: m.size(),
            inline: p.inline().map(Attachment::from).collect(),
            attachments: p.attachments().map(Attachment::from).collect(),
            created,
            read,
            session_id: m.session_id,
            client: m.client.to_string(),
            helo: m.helo.clone(),
            mail_params: m.mail_params.clone(),
            recipients: m
                .recipients
                .iter()
                .map(|r| Recipient {
                    address: r.address.clone(),
                    params: r.params.clone(),
                })
                .collect(),
            tls: m.tls.clone(),
            parse_error: p.parse_error,
            smuggling_attempts: m.smuggling_attempts,
            bare_lf: m.bare_lf,
        }
    }
}

/// Mailpit's `MessagesSummary`: one page of a list or a search.
#[derive(Serialize)]
pub(crate) struct Page {
    /// Messages held.
    pub total: usize,
    /// Unread messages held.
    pub unread: usize,
    /// Messages matching the query (all of them for a plain list).
    pub messages_count: usize,
    /// Unread messages matching the query.
    pub messages_unread: usize,
    /// How many are on this page (Mailpit sends it too).
    pub count: usize,
    pub start: usize,
    pub tags: Vec<String>,
    pub messages: Vec<Summary>,
}

impl Page {
    /// A page of `matching` (newest first) out of everything `store` holds.
    pub(crate) fn of(
        store: &Store,
        matching: &[(&StoredMessage, Parsed)],
        start: usize,
        limit: usize,
    ) -> Self {
        let all = store.messages();
        let unread = all.iter().filter(|m| !store.is_read(m.id)).count();
        let messages: Vec<Summary> = matching
            .iter()
            .skip(start)
            .take(limit)
            .map(|(m, p)| Summary::with(m, p, store.is_read(m.id)))
            .collect();
        Self {
            total: all.len(),
            unread,
            messages_count: matching.len(),
            messages_unread: matching
                .iter()
                .filter(|(m, _)| !store.is_read(m.id))
                .count(),
            count: messages.len(),
            start,
            tags: Vec::new(),
            messages,
        }
    }
}

/// Headers as Mailpit's `/headers` returns them: canonical names (as Go
/// writes them, `Message-Id`) to every value in order.
pub(crate) fn headers(p: &Parsed) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in &p.headers {
        map.entry(canonical(name)).or_default().push(value.clone());
    }
    map
}

/// `content-type` -> `Content-Type`, `MESSAGE-ID` -> `Message-Id`.
fn canonical(name: &str) -> String {
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => {
                    first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
                }
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_are_canonical_like_mailpit() {
        assert_eq!(canonical("MESSAGE-ID"), "Message-Id");
        assert_eq!(canonical("x-mailer"), "X-Mailer");
    }
}
