//! Mailbox syntax of RFC 5321 §4.1.2, with RFC 6531's UTF-8 extension.
//!
//! UTF-8 is accepted here wherever RFC 6531 allows it (atext, qtext,
//! U-labels); whether the client asked for SMTPUTF8 is the session's
//! business (it answers `553 5.6.7`). No length limits are enforced:
//! RFC 5321 §4.5.3.1 asks servers to impose none where they can.

/// Checks `Mailbox = Local-part "@" ( Domain / address-literal )`; the
/// error says what is wrong, for the reply text.
pub(crate) fn check_mailbox(mailbox: &str) -> Result<(), &'static str> {
    // C0, DEL and C1 (RFC 6531 admits no control characters either).
    if mailbox.chars().any(|c| c.is_control()) {
        return Err("control character in address");
    }
    let at = local_part_end(mailbox).ok_or("bad local part")?;
    let domain = mailbox[at..]
        .strip_prefix('@')
        .ok_or("address must be local-part@domain")?;
    if domain.starts_with('[') {
        check_address_literal(domain)
    } else {
        check_domain(domain)
    }
}

/// Checks an `A-d-l` source route (`@a,@b`), without its closing colon.
pub(crate) fn check_route(route: &str) -> Result<(), &'static str> {
    if route.chars().any(|c| c.is_control()) {
        return Err("control character in address");
    }
    for hop in route.split(',') {
        let domain = hop.strip_prefix('@').ok_or("bad source route")?;
        check_domain(domain).map_err(|_| "bad source route")?;
    }
    Ok(())
}

/// Length of the `Local-part` (Dot-string or Quoted-string) at the start.
fn local_part_end(s: &str) -> Option<usize> {
    if let Some(quoted) = s.strip_prefix('"') {
        let mut escaped = false;
        for (i, c) in quoted.char_indices() {
            if escaped {
                // quoted-pairSMTP = %d92 %d32-126
                if !(' '..='~').contains(&c) {
                    return None;
                }
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                // An empty Quoted-string ("") is valid grammar.
                return Some(i + 2);
            } else if !(c == ' ' || c == '!' || ('#'..='~').contains(&c) || !c.is_ascii()) {
                return None;
            }
        }
        return None;
    }
    let end = s.rfind('@').unwrap_or(s.len());
    let local = &s[..end];
    local.split('.').all(is_atom).then_some(end)
}

fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

fn is_atom(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_atext)
}

fn is_let_dig(c: char) -> bool {
    c.is_ascii_alphanumeric() || !c.is_ascii()
}

/// `sub-domain = Let-dig [Ldh-str]` (a U-label counts, RFC 6531).
fn is_sub_domain(s: &str) -> bool {
    s.starts_with(is_let_dig)
        && s.ends_with(is_let_dig)
        && s.chars().all(|c| is_let_dig(c) || c == '-')
}

fn check_domain(d: &str) -> Result<(), &'static str> {
    if d.is_empty() {
        return Err("address has no domain");
    }
    if d.split('.').all(is_sub_domain) {
        Ok(())
    } else {
        Err("bad domain in address")
    }
}

/// `"[" ( IPv4 / "IPv6:" IPv6 / Standardized-tag ":" 1*dcontent ) "]"`.
fn check_address_literal(d: &str) -> Result<(), &'static str> {
    let bad = "bad address literal";
    let inner = d
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .ok_or(bad)?;
    if is_ipv4(inner) {
        return Ok(());
    }
    let (tag, content) = inner.split_once(':').ok_or(bad)?;
    if tag.eq_ignore_ascii_case("IPv6") {
        return content
            .parse::<std::net::Ipv6Addr>()
            .map(|_| ())
            .map_err(|_| bad);
    }
    // General-address-literal: Standardized-tag is an Ldh-str;
    // dcontent = %d33-90 / %d94-126.
    let tag_ok = tag.starts_with(|c: char| c.is_ascii_alphanumeric())
        && tag.ends_with(|c: char| c.is_ascii_alphanumeric())
        && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    let content_ok =
        !content.is_empty() && content.bytes().all(|b| matches!(b, 33..=90 | 94..=126));
    if tag_ok && content_ok {
        Ok(())
    } else {
        Err(bad)
    }
}

/// `Snum 3("." Snum)`, `Snum = 1*3DIGIT` worth 0 to 255.
fn is_ipv4(s: &str) -> bool {
    let mut n = 0;
    for part in s.split('.') {
        n += 1;
        let ok = (1..=3).contains(&part.len())
            && part.bytes().all(|b| b.is_ascii_digit())
            && part.parse::<u16>().is_ok_and(|v| v <= 255);
        if !ok {
            return false;
        }
    }
    n == 4
}
