//! MailHog's read API: `GET /api/v2/messages` and `GET /api/v2/search`
//! (`{total, count, start, items}` with MailHog's message shape: `From`
//! and `To` as paths, `Content` with headers and body, `MIME` parts, and the
//! SMTP `Raw`). Its deletes share handlers with Mailpit's (see `messages`).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Query, State};
use mail_parser::PartType;
use serde::{Deserialize, Serialize};

use crate::http::error::{ApiError, rejected};
use crate::http::views::time;
use crate::store::StoredMessage;
use crate::transport::Control;

const DEFAULT_LIMIT: usize = 50;

/// MailHog's `Path`: an address split at the last `@`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct MailPath {
    relays: Option<Vec<String>>,
    mailbox: String,
    domain: String,
    params: String,
}

impl MailPath {
    fn of(address: &str, params: &str) -> Self {
        let (mailbox, domain) = address.rsplit_once('@').unwrap_or((address, ""));
        Self {
            relays: None,
            mailbox: mailbox.to_owned(),
            domain: domain.to_owned(),
            params: params.to_owned(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Content {
    headers: BTreeMap<String, Vec<String>>,
    body: String,
    size: usize,
    #[serde(rename = "MIME")]
    mime: Option<Mime>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Mime {
    parts: Vec<Content>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Raw {
    from: String,
    to: Vec<String>,
    data: String,
    helo: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Item {
    #[serde(rename = "ID")]
    id: String,
    from: MailPath,
    to: Vec<MailPath>,
    content: Content,
    created: String,
    #[serde(rename = "MIME")]
    mime: Option<Mime>,
    raw: Raw,
}

#[derive(Serialize)]
pub(super) struct Page {
    total: usize,
    count: usize,
    start: usize,
    items: Vec<Item>,
}

/// A header block as MailHog keeps it: each name (as written) to its
/// values, folded lines joined.
fn header_map(head: &str) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in head.split('\n').map(|l| l.trim_end_matches('\r')) {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = current.as_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = current.take() {
            map.entry(name).or_default().push(value);
        }
        if let Some((name, value)) = line.split_once(':') {
            current = Some((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    if let Some((name, value)) = current {
        map.entry(name).or_default().push(value);
    }
    map
}

fn slice(raw: &[u8], from: u32, to: u32) -> String {
    let (from, to) = (from as usize, (to as usize).min(raw.len()));
    String::from_utf8_lossy(raw.get(from..to).unwrap_or_default()).into_owned()
}

/// The top-level MIME parts, each with its own headers and raw body, as
/// MailHog splits a multipart message; `None` for a single-part one.
fn mime(raw: &[u8]) -> Option<Mime> {
    let parsed = super::parsed::parse(raw)?;
    let PartType::Multipart(children) = &parsed.parts.first()?.body else {
        return None;
    };
    let parts = children
        .iter()
        .filter_map(|&i| parsed.parts.get(i as usize))
        .map(|part| {
            let body = slice(raw, part.offset_body, part.offset_end);
            Content {
                headers: header_map(&slice(raw, part.offset_header, part.offset_body)),
                size: body.len(),
                body,
                mime: None,
            }
        })
        .collect();
    Some(Mime { parts })
}

fn item(m: &StoredMessage) -> Item {
    let raw = m.raw();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .or_else(|| text.split_once("\n\n"))
        .unwrap_or((text.as_str(), ""));
    Item {
        id: m.id.to_string(),
        from: MailPath::of(&m.mail_from, &m.mail_params),
        to: m
            .recipients
            .iter()
            .map(|r| MailPath::of(&r.address, &r.params))
            .collect(),
        content: Content {
            headers: header_map(head),
            body: body.to_owned(),
            size: raw.len(),
            mime: None,
        },
        created: time(m.received_at),
        mime: mime(&raw),
        raw: Raw {
            from: m.mail_from.clone(),
            to: m.recipients.iter().map(|r| r.address.clone()).collect(),
            data: text.clone(),
            helo: m.helo.clone().unwrap_or_default(),
        },
    }
}

fn page(matching: &[std::sync::Arc<StoredMessage>], start: usize, limit: usize) -> Page {
    let items: Vec<Item> = matching
        .iter()
        .skip(start)
        .take(limit)
        .map(|m| item(m))
        .collect();
    Page {
        total: matching.len(),
        count: items.len(),
        start,
        items,
    }
}

#[derive(Deserialize)]
pub(super) struct Paging {
    start: Option<usize>,
    limit: Option<usize>,
}

type QueryResult<T> = Result<Query<T>, axum::extract::rejection::QueryRejection>;

pub(super) async fn messages(
    State(control): State<Control>,
    query: QueryResult<Paging>,
) -> Result<Json<Page>, ApiError> {
    let Query(p) = query.map_err(|e| rejected("use ?start=0&limit=50")(&e))?;
    let mut all = control.store().messages();
    all.reverse();
    Ok(Json(page(
        &all,
        p.start.unwrap_or(0),
        p.limit.unwrap_or(DEFAULT_LIMIT),
    )))
}

#[derive(Deserialize)]
pub(super) struct Search {
    kind: String,
    query: String,
    start: Option<usize>,
    limit: Option<usize>,
}

/// `kind=from` and `kind=to` look at the envelope, `containing` at the
/// whole message; all case-insensitive.
pub(super) async fn search(
    State(control): State<Control>,
    query: QueryResult<Search>,
) -> Result<Json<Page>, ApiError> {
    let Query(s) = query.map_err(|e| rejected("use ?kind=from|to|containing&query=TEXT")(&e))?;
    let needle = s.query.to_lowercase();
    let has = |h: &str| h.to_lowercase().contains(&needle);
    let test: Box<dyn Fn(&StoredMessage) -> bool> = match s.kind.as_str() {
        "from" => Box::new(|m| has(&m.mail_from)),
        "to" => Box::new(|m| m.recipients.iter().any(|r| has(&r.address))),
        "containing" => Box::new(|m| has(&String::from_utf8_lossy(&m.raw()))),
        other => {
            return Err(ApiError::bad_request(format!(
                "kind `{other}` is unknown; use from, to or containing"
            )));
        }
    };
    let mut found: Vec<_> = control
        .store()
        .messages()
        .into_iter()
        .filter(|m| test(m))
        .collect();
    found.reverse();
    Ok(Json(page(
        &found,
        s.start.unwrap_or(0),
        s.limit.unwrap_or(DEFAULT_LIMIT),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_keep_every_value_and_unfold() {
        let map = header_map("Subject: a\r\n long\r\nReceived: x\r\nReceived: y\r\n");
        assert_eq!(map["Subject"], ["a long"]);
        assert_eq!(map["Received"], ["x", "y"]);
    }

    #[test]
    fn paths_split_at_the_last_at() {
        let p = MailPath::of("a@b@c.test", "SIZE=1");
        assert_eq!((p.mailbox.as_str(), p.domain.as_str()), ("a@b", "c.test"));
    }
}
