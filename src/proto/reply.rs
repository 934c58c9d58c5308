//! SMTP replies: a code, an optional enhanced status code (RFC 3463) and one or
//! more lines of text, written out as RFC 5321 §4.2 multiline replies.
//!
//! Standard replies are `const` so the hot path sends them without allocating;
//! scenario replies carry owned text.

use std::borrow::Cow;
use std::fmt;

/// An RFC 3463 enhanced status code such as `5.1.1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct EnhancedCode {
    /// 2, 4 or 5.
    pub class: u8,
    /// The subject (`X.1.X` addressing, `X.7.X` policy, ...).
    pub subject: u16,
    /// The detail within the subject.
    pub detail: u16,
}

impl EnhancedCode {
    /// `class.subject.detail`.
    pub const fn new(class: u8, subject: u16, detail: u16) -> Self {
        Self {
            class,
            subject,
            detail,
        }
    }

    /// Parses `class.subject.detail`; class must be 2, 4 or 5 and the other
    /// parts at most three digits, as RFC 3463 requires.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('.');
        let class = parts.next()?;
        let subject = parts.next()?;
        let detail = parts.next()?;
        if parts.next().is_some() {
            return None;
        }
        let digits = |s: &str, max: usize| {
            !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
        };
        if !digits(class, 1) || !digits(subject, 3) || !digits(detail, 3) {
            return None;
        }
        let class: u8 = class.parse().ok()?;
        if !matches!(class, 2 | 4 | 5) {
            return None;
        }
        Some(Self {
            class,
            subject: subject.parse().ok()?,
            detail: detail.parse().ok()?,
        })
    }
}

impl EnhancedCode {
    /// `class.subject.detail` in digits, without the formatting machinery:
    /// it goes into nearly every reply.
    pub fn write_to(self, out: &mut Vec<u8>) {
        let mut buf = [0u8; 20];
        out.extend_from_slice(decimal(u64::from(self.class), &mut buf).as_bytes());
        out.push(b'.');
        out.extend_from_slice(decimal(u64::from(self.subject), &mut buf).as_bytes());
        out.push(b'.');
        out.extend_from_slice(decimal(u64::from(self.detail), &mut buf).as_bytes());
    }
}

/// The decimal digits of `n`, written into `buf`: numbers that go into
/// every reply and every message header skip the formatting machinery.
pub(crate) fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("0")
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// One SMTP reply. `text` holds the lines separated by `\n`; an empty text
/// still produces one line holding only the code.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Reply {
    /// The three-digit reply code.
    pub code: u16,
    /// The RFC 3463 code, written when the server advertises ENHANCEDSTATUSCODES.
    pub enhanced: Option<EnhancedCode>,
    /// The text; `\n` separates the lines of a multiline reply.
    pub text: Cow<'static, str>,
}

/// Why a reply line written in a scenario could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("a reply must start with a three-digit code, e.g. `550 5.1.1 No such user`")]
    MissingCode,
    #[error("reply code {0} is outside 200-599")]
    CodeOutOfRange(u16),
    #[error("enhanced code {enhanced} has class {}, but reply code {code} is class {}; make them agree (e.g. 550 with 5.x.x)", enhanced.class, code / 100)]
    ClassMismatch { code: u16, enhanced: EnhancedCode },
    #[error("enhanced status codes only go with 2xx, 4xx and 5xx replies, not {0}")]
    EnhancedOnIntermediate(u16),
    #[error("reply text must not contain CR or LF bytes inside a line")]
    BadText,
}

impl Reply {
    /// A reply with fixed text.
    pub const fn new(code: u16, enhanced: Option<EnhancedCode>, text: &'static str) -> Self {
        Self {
            code,
            enhanced,
            text: Cow::Borrowed(text),
        }
    }

    /// Builds a reply with owned text, checking what a scenario author can get
    /// wrong: code range, class agreement, stray CR.
    pub fn checked(
        code: u16,
        enhanced: Option<EnhancedCode>,
        lines: &[impl AsRef<str>],
    ) -> Result<Self, ReplyError> {
        if !(200..=599).contains(&code) {
            return Err(ReplyError::CodeOutOfRange(code));
        }
        if let Some(e) = enhanced {
            if code / 100 == 3 {
                return Err(ReplyError::EnhancedOnIntermediate(code));
            }
            if u16::from(e.class) != code / 100 {
                return Err(ReplyError::ClassMismatch { code, enhanced: e });
            }
        }
        let mut text = String::new();
        for (i, line) in lines.iter().enumerate() {
            let line = line.as_ref();
            if line.contains(['\r', '\n']) {
                return Err(ReplyError::BadText);
            }
            if i > 0 {
                text.push('\n');
            }
            text.push_str(line);
        }
        Ok(Self {
            code,
            enhanced,
            text: Cow::Owned(text),
        })
    }

    /// Parses a one-line scenario reply: `550 5.1.1 The account does not exist`,
    /// `250 OK`, `421`.
    pub fn parse_line(line: &str) -> Result<Self, ReplyError> {
        let line = line.trim();
        let (code, rest) = match line.split_once(' ') {
            Some((c, r)) => (c, r.trim_start()),
            None => (line, ""),
        };
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ReplyError::MissingCode);
        }
        let code: u16 = code.parse().map_err(|_| ReplyError::MissingCode)?;
        let (enhanced, text) = match rest.split_once(' ') {
            Some((first, tail)) => match EnhancedCode::parse(first) {
                Some(e) => (Some(e), tail.trim_start()),
                None => (None, rest),
            },
            None => match EnhancedCode::parse(rest) {
                Some(e) => (Some(e), ""),
                None => (None, rest),
            },
        };
        Self::checked(code, enhanced, &[text])
    }

    /// The first digit: 2, 3, 4 or 5.
    pub fn class(&self) -> u16 {
        self.code / 100
    }

    /// 2xx or 3xx.
    pub fn is_positive(&self) -> bool {
        self.code < 400
    }

    /// The text's lines.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.text.split('\n')
    }

    /// Appends the wire form. `enhanced` says whether the session may send
    /// enhanced codes (ENHANCEDSTATUSCODES advertised); when it may not, the
    /// code is left out even if the reply has one.
    pub fn write_to(&self, out: &mut Vec<u8>, enhanced: bool) {
        let mut lines = self.text.split('\n').peekable();
        let mut code = [0u8; 3];
        code[0] = b'0' + (self.code / 100 % 10) as u8;
        code[1] = b'0' + (self.code / 10 % 10) as u8;
        code[2] = b'0' + (self.code % 10) as u8;
        while let Some(line) = lines.next() {
            out.extend_from_slice(&code);
            out.push(if lines.peek().is_some() { b'-' } else { b' ' });
            let mut wrote_enhanced = false;
            if enhanced && let Some(e) = self.enhanced {
                e.write_to(out);
                wrote_enhanced = true;
            }
            if !line.is_empty() {
                if wrote_enhanced {
                    out.push(b' ');
                }
                out.extend_from_slice(line.as_bytes());
            } else if !wrote_enhanced && self.code != 334 {
                // An empty AUTH challenge keeps its space: RFC 4954's
                // continue-req is "334" SP [base64] CRLF.
                out.pop();
            }
            out.extend_from_slice(b"\r\n");
        }
    }

    /// Appends the reply broken the way `kind` says. `Split` keeps the
    /// bytes intact: splitting them up in time is the connection's job.
    pub fn write_malformed(&self, out: &mut Vec<u8>, enhanced: bool, kind: Malformed) {
        let start = out.len();
        self.write_to(out, enhanced);
        match kind {
            Malformed::Split => {}
            Malformed::BareLf => {
                let wire = out.split_off(start);
                let crlf =
                    |i: usize| wire.get(i) == Some(&b'\r') && wire.get(i + 1) == Some(&b'\n');
                out.extend(
                    wire.iter()
                        .enumerate()
                        .filter(|&(i, _)| !crlf(i))
                        .map(|(_, &b)| b),
                );
            }
            Malformed::TruncatedMultiline => {
                let first_end = out[start..]
                    .windows(2)
                    .position(|w| w == b"\r\n")
                    .map_or(out.len(), |p| start + p + 2);
                out.truncate(first_end);
                if let Some(sep) = out.get_mut(start + 3) {
                    *sep = b'-';
                }
            }
            Malformed::BadCode => {
                let mut line = start;
                while line + 3 <= out.len() {
                    for b in &mut out[line + 1..line + 3] {
                        *b = b'x';
                    }
                    match out[line..].windows(2).position(|w| w == b"\r\n") {
                        Some(p) => line += p + 2,
                        None => break,
                    }
                }
            }
        }
    }

    /// The reply as written on the wire.
    pub fn to_wire(&self, enhanced: bool) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out, enhanced);
        out
    }
}

/// How a reply goes onto the wire: normally, or broken on purpose so a
/// client's reply parser and time-outs get tested.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Wire {
    #[default]
    /// Written whole and at once.
    Normal,
    /// Dripped out at this many bytes per second (`bandwidth: 50B/s`).
    Drip {
        /// The pace.
        bytes_per_sec: u64,
    },
    /// Broken on purpose.
    Malformed(Malformed),
}

/// The broken reply forms of `malformed:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Malformed {
    /// Lines end in LF instead of CRLF.
    BareLf,
    /// The first line of the reply as a continuation line (`250-...`), and
    /// then nothing: the client waits for a last line that never comes.
    TruncatedMultiline,
    /// The digits of the code replaced by letters (`2xx Ok`).
    BadCode,
    /// The right bytes, written a few at a time with pauses in between.
    Split,
}

impl Malformed {
    /// The name a scenario uses for it.
    pub fn name(self) -> &'static str {
        match self {
            Malformed::BareLf => "bare_lf",
            Malformed::TruncatedMultiline => "truncated_multiline",
            Malformed::BadCode => "bad_code",
            Malformed::Split => "split",
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let wire = self.to_wire(true);
        f.write_str(String::from_utf8_lossy(&wire).trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enhanced_codes_write_as_they_display() {
        for (class, subject, detail) in [
            (2, 0, 0),
            (4, 7, 26),
            (5, 10, 999),
            (5, 100, 1000),
            (2, 65535, 9),
        ] {
            let e = EnhancedCode::new(class, subject, detail);
            let mut out = Vec::new();
            e.write_to(&mut out);
            assert_eq!(String::from_utf8(out).unwrap(), e.to_string());
        }
    }

    #[test]
    fn single_line_with_enhanced() {
        let r = Reply::new(250, Some(EnhancedCode::new(2, 1, 0)), "Sender OK");
        assert_eq!(r.to_wire(true), b"250 2.1.0 Sender OK\r\n");
        assert_eq!(r.to_wire(false), b"250 Sender OK\r\n");
    }

    #[test]
    fn malformed_forms_byte_for_byte() {
        let r = Reply::checked(250, Some(EnhancedCode::new(2, 0, 0)), &["one", "two"]).unwrap();
        let wire = |kind| {
            let mut out = b"X".to_vec();
            r.write_malformed(&mut out, true, kind);
            out
        };
        assert_eq!(wire(Malformed::BareLf), b"X250-2.0.0 one\n250 2.0.0 two\n");
        assert_eq!(wire(Malformed::TruncatedMultiline), b"X250-2.0.0 one\r\n");
        assert_eq!(
            wire(Malformed::BadCode),
            b"X2xx-2.0.0 one\r\n2xx 2.0.0 two\r\n"
        );
        assert_eq!(
            wire(Malformed::Split),
            b"X250-2.0.0 one\r\n250 2.0.0 two\r\n"
        );
        let single = Reply::new(451, None, "later");
        let mut out = Vec::new();
        single.write_malformed(&mut out, false, Malformed::TruncatedMultiline);
        assert_eq!(out, b"451-later\r\n");
    }

    #[test]
    fn multiline_puts_dash_on_all_but_last() {
        let r = Reply::checked(250, None, &["mx.test", "PIPELINING", "SIZE 100"]).unwrap();
        assert_eq!(
            r.to_wire(true),
            b"250-mx.test\r\n250-PIPELINING\r\n250 SIZE 100\r\n"
        );
    }

    #[test]
    fn empty_text_is_code_only() {
        let r = Reply::new(421, None, "");
        assert_eq!(r.to_wire(true), b"421\r\n");
        let r = Reply::new(421, Some(EnhancedCode::new(4, 7, 0)), "");
        assert_eq!(r.to_wire(true), b"421 4.7.0\r\n");
    }

    #[test]
    fn parse_line_table() {
        type Want = Result<(u16, Option<&'static str>, &'static str), ReplyError>;
        let cases: &[(&str, Want)] = &[
            (
                "550 5.1.1 No such user",
                Ok((550, Some("5.1.1"), "No such user")),
            ),
            ("250 OK", Ok((250, None, "OK"))),
            ("421", Ok((421, None, ""))),
            ("450 4.2.0", Ok((450, Some("4.2.0"), ""))),
            ("  554   5.7.1  spam ", Ok((554, Some("5.7.1"), "spam"))),
            ("250 2.0.0.1 text", Ok((250, None, "2.0.0.1 text"))),
            (
                "550 4.1.1 x",
                Err(ReplyError::ClassMismatch {
                    code: 550,
                    enhanced: EnhancedCode::new(4, 1, 1),
                }),
            ),
            ("199 hi", Err(ReplyError::CodeOutOfRange(199))),
            ("600 hi", Err(ReplyError::CodeOutOfRange(600))),
            ("354 2.0.0 go", Err(ReplyError::EnhancedOnIntermediate(354))),
            ("abc", Err(ReplyError::MissingCode)),
            ("", Err(ReplyError::MissingCode)),
            ("5500 x", Err(ReplyError::MissingCode)),
        ];
        for (input, want) in cases {
            let got = Reply::parse_line(input).map(|r| {
                (
                    r.code,
                    r.enhanced.map(|e| e.to_string()),
                    r.text.into_owned(),
                )
            });
            let want = want
                .clone()
                .map(|(c, e, t)| (c, e.map(str::to_owned), t.to_owned()));
            assert_eq!(got, want, "input {input:?}");
        }
    }

    #[test]
    fn enhanced_code_parse_rejects_garbage() {
        for bad in [
            "", "5", "5.1", "5.1.1.1", "3.1.1", "5.1234.1", "x.1.1", "5..1",
        ] {
            assert_eq!(EnhancedCode::parse(bad), None, "{bad}");
        }
        assert_eq!(
            EnhancedCode::parse("5.7.26"),
            Some(EnhancedCode::new(5, 7, 26))
        );
    }
}
