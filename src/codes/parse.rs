//! Finding the reply inside whatever line a user pastes: a bare reply, a
//! continuation line (`550-5.1.1 ...`), or a reply quoted by a bounce message
//! or an MTA log (`host mx said: 550 ...`, `Remote server returned '550 ...'`).
//! Liberal on purpose; it works on bytes and cannot panic on any input.

use crate::proto::reply::EnhancedCode;

/// The reply parts found in a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Located<'a> {
    pub code: u16,
    pub enhanced: Option<EnhancedCode>,
    /// The text after the code(s), without a closing quote that belonged to
    /// the surrounding message.
    pub text: &'a str,
}

/// A three-digit code at `i` whose first digit passes `first_ok`, followed
/// by a space, a dash, a tab or the end (so `2525` or `192.0.2.1` are not
/// codes).
fn code_at(b: &[u8], i: usize, first_ok: fn(u8) -> bool) -> Option<u16> {
    let digits = b.get(i..i + 3)?;
    if !digits.iter().all(u8::is_ascii_digit) || !first_ok(digits[0]) {
        return None;
    }
    if !matches!(b.get(i + 3), None | Some(b' ' | b'-' | b'\t')) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0u16, |n, d| n * 10 + u16::from(d - b'0')),
    )
}

/// A line that starts with its code may be any class; inside a longer line
/// only 2xx, 4xx and 5xx count, because that is what logs and bounces quote
/// and a stray `300` ("after 300 seconds") is not a reply.
fn find_code(b: &[u8]) -> Option<(usize, u16)> {
    if let Some(code) = code_at(b, 0, |d| (b'2'..=b'5').contains(&d)) {
        return Some((0, code));
    }
    (1..b.len()).find_map(|i| {
        let prev = b[i - 1];
        let glued = prev.is_ascii_alphanumeric()
            || matches!(
                prev,
                b'.' | b'-' | b'_' | b'/' | b'#' | b'+' | b'@' | b'%' | b'$'
            );
        if glued {
            return None;
        }
        code_at(b, i, |d| matches!(d, b'2' | b'4' | b'5')).map(|code| (i, code))
    })
}

const TRAILING: [char; 5] = [')', ',', ';', ':', '.'];

/// An enhanced code right after the reply code (`5.1.1`, `#5.1.1`,
/// `(5.1.1)`), or else a qmail-style `(#5.7.1)` anywhere in the text.
fn split_enhanced(rest: &str) -> (Option<EnhancedCode>, &str) {
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let (token, after) = rest.split_at(end);
    let core = token
        .trim_start_matches(['#', '('])
        .trim_end_matches(TRAILING);
    if let Some(e) = EnhancedCode::parse(core) {
        return (Some(e), after.trim_start());
    }
    let trailer = rest.split_whitespace().find_map(|t| {
        let inner = t.strip_prefix("(#").or_else(|| t.strip_prefix('#'))?;
        EnhancedCode::parse(inner.trim_end_matches(TRAILING))
    });
    (trailer, rest)
}

/// The reply in `line`, or `None` when it holds no reply code.
pub(super) fn locate(line: &str) -> Option<Located<'_>> {
    let trimmed = line.trim();
    let bytes = trimmed.as_bytes();
    let (start, code) = find_code(bytes)?;
    let mut rest = trimmed.get(start + 4..).unwrap_or("");
    let opener = start.checked_sub(1).and_then(|p| bytes.get(p));
    let closer = match opener {
        Some(b'\'') => Some('\''),
        Some(b'"') => Some('"'),
        Some(b'(') => Some(')'),
        Some(b'[') => Some(']'),
        _ => None,
    };
    if let Some(c) = closer {
        let end = rest.trim_end();
        rest = end.strip_suffix(c).unwrap_or(end);
    }
    let (enhanced, text) = split_enhanced(rest.trim_start());
    Some(Located {
        code,
        enhanced,
        text: text.trim_end(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(line: &str) -> Option<(u16, Option<String>, &str)> {
        locate(line).map(|l| (l.code, l.enhanced.map(|e| e.to_string()), l.text))
    }

    #[test]
    fn finds_the_reply_in_its_usual_wrappings() {
        type Want = Option<(u16, Option<&'static str>, &'static str)>;
        let cases: &[(&str, Want)] = &[
            (
                "550 5.1.1 No such user",
                Some((550, Some("5.1.1"), "No such user")),
            ),
            (
                "  550-5.1.1 The email account  ",
                Some((550, Some("5.1.1"), "The email account")),
            ),
            ("250 OK", Some((250, None, "OK"))),
            ("421", Some((421, None, ""))),
            (
                "354 End data with <CR><LF>.<CR><LF>",
                Some((354, None, "End data with <CR><LF>.<CR><LF>")),
            ),
            (
                "Remote server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; not found'",
                Some((
                    550,
                    Some("5.1.10"),
                    "RESOLVER.ADR.RecipientNotFound; not found",
                )),
            ),
            (
                "SMTP error from remote mail server after RCPT TO:<x@example.com>: 550 5.1.1 <x@example.com>: Recipient address rejected",
                Some((
                    550,
                    Some("5.1.1"),
                    "<x@example.com>: Recipient address rejected",
                )),
            ),
            (
                "host mx.example.com[192.0.2.1] said: 452 4.2.2 Mailbox full (in reply to RCPT TO command)",
                Some((
                    452,
                    Some("4.2.2"),
                    "Mailbox full (in reply to RCPT TO command)",
                )),
            ),
            (
                "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)",
                Some((
                    553,
                    Some("5.7.1"),
                    "sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)",
                )),
            ),
            (
                "550 #5.1.0 Address rejected.",
                Some((550, Some("5.1.0"), "Address rejected.")),
            ),
            ("connect to 192.0.2.1:2525: Connection refused", None),
            ("after 300 seconds the host said nothing", None),
            ("mta1234.mail.yahoo.com", None),
            ("", None),
            ("5500 x", None),
        ];
        for (line, want) in cases {
            let want = want.map(|(c, e, t)| (c, e.map(str::to_owned), t));
            assert_eq!(parts(line), want, "{line:?}");
        }
    }
}
