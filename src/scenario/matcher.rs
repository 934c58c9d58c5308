//! Compiled conditions: globs, regexes, CIDRs, counters, sizes and time
//! windows, parsed once at load so that matching a rule does no parsing.

use std::net::IpAddr;
use std::time::Duration;

/// A case-insensitive whole-string glob with `*` and `?`.
#[derive(Debug, Clone)]
pub struct Glob(Vec<char>);

impl Glob {
    pub fn new(pattern: &str) -> Self {
        Self(pattern.to_lowercase().chars().collect())
    }

    /// Classic wildcard matching with one backtrack point; walks the text
    /// by byte offset so a large body is never expanded into a char vector.
    pub fn matches(&self, text: &str) -> bool {
        let text = text.to_lowercase();
        let p = &self.0;
        let next = |at: usize| text.get(at..).and_then(|t| t.chars().next());
        let (mut ti, mut pi) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while let Some(c) = next(ti) {
            if pi < p.len() && (p[pi] == '?' || p[pi] == c) {
                ti += c.len_utf8();
                pi += 1;
            } else if pi < p.len() && p[pi] == '*' {
                star = Some((pi, ti));
                pi += 1;
            } else if let Some((sp, st)) = star {
                let skipped = next(st).map_or(1, char::len_utf8);
                pi = sp + 1;
                ti = st + skipped;
                star = Some((sp, ti));
            } else {
                return false;
            }
        }
        p[pi..].iter().all(|&c| c == '*')
    }
}

/// A text condition: any of several globs, or a regex.
#[derive(Debug, Clone)]
pub enum TextMatcher {
    Globs(Vec<Glob>),
    Regex(regex::Regex),
}

impl TextMatcher {
    pub fn matches(&self, text: &str) -> bool {
        match self {
            TextMatcher::Globs(globs) => globs.iter().any(|g| g.matches(text)),
            TextMatcher::Regex(r) => r.is_match(text),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Option<Self> {
        let (ip, prefix) = match text.split_once('/') {
            Some((ip, p)) => (
                ip.trim().parse::<IpAddr>().ok()?,
                Some(p.trim().parse::<u8>().ok()?),
            ),
            None => (text.trim().parse::<IpAddr>().ok()?, None),
        };
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Self { net: ip, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// An inclusive range with open ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range<T> {
    pub low: Option<T>,
    pub high: Option<T>,
}

impl<T: PartialOrd + Copy> Range<T> {
    /// `a..b`, `a..`, `..b` with `parse` for each end.
    pub fn parse(text: &str, parse: impl Fn(&str) -> Option<T>) -> Option<Self> {
        let (low, high) = text.split_once("..")?;
        let end = |s: &str| -> Option<Option<T>> {
            let s = s.trim();
            if s.is_empty() {
                Some(None)
            } else {
                parse(s).map(Some)
            }
        };
        let r = Self {
            low: end(low)?,
            high: end(high)?,
        };
        match (r.low, r.high) {
            (Some(l), Some(h)) if l > h => None,
            _ => Some(r),
        }
    }

    pub fn contains(&self, v: T) -> bool {
        self.low.is_none_or(|l| v >= l) && self.high.is_none_or(|h| v <= h)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Counter {
    Any(Vec<u64>),
    Range(Range<u64>),
    Every(u64),
}

impl Counter {
    pub fn matches(&self, n: u64) -> bool {
        match self {
            Counter::Any(list) => list.contains(&n),
            Counter::Range(r) => r.contains(n),
            Counter::Every(k) => *k > 0 && n > 0 && n.is_multiple_of(*k),
        }
    }
}

/// `>1MiB`, `<=100`, `=5`, `1KiB..2KiB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeCmp {
    Gt(u64),
    Ge(u64),
    Lt(u64),
    Le(u64),
    Eq(u64),
    Within(Range<u64>),
}

impl SizeCmp {
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        if t.contains("..") {
            return Range::parse(t, parse_size).map(SizeCmp::Within);
        }
        for (prefix, make) in [
            (">=", SizeCmp::Ge as fn(u64) -> SizeCmp),
            ("<=", SizeCmp::Le),
            (">", SizeCmp::Gt),
            ("<", SizeCmp::Lt),
            ("=", SizeCmp::Eq),
        ] {
            if let Some(rest) = t.strip_prefix(prefix) {
                return parse_size(rest.trim()).map(make);
            }
        }
        parse_size(t).map(SizeCmp::Eq)
    }

    pub fn matches(&self, n: u64) -> bool {
        match *self {
            SizeCmp::Gt(v) => n > v,
            SizeCmp::Ge(v) => n >= v,
            SizeCmp::Lt(v) => n < v,
            SizeCmp::Le(v) => n <= v,
            SizeCmp::Eq(v) => n == v,
            SizeCmp::Within(r) => r.contains(n),
        }
    }
}

/// `25MiB`, `10KB`, `1024`, `1024B` (KB = 1000, KiB = 1024; case-insensitive).
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1000,
        "kib" => 1 << 10,
        "mb" | "m" => 1_000_000,
        "mib" => 1 << 20,
        "gb" | "g" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

pub fn parse_duration(text: &str) -> Option<Duration> {
    humantime::parse_duration(text.trim()).ok()
}

/// Every unfolded value of header `name` in the message's header block.
pub fn header_values(message: &[u8], name: &str) -> Vec<String> {
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

/// The body: everything after the first empty line.
pub fn body(message: &[u8]) -> &[u8] {
    memchr::memmem::find(message, b"\r\n\r\n").map_or(&[], |p| &message[p + 4..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let cases = [
            ("*@nowhere.test", "Bob@NOWHERE.test", true),
            ("*@nowhere.test", "bob@elsewhere.test", false),
            ("full@*", "full@x", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*", "", true),
            ("", "", true),
            ("*invoice*", "Your INVOICE 42", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("jörg@*", "JÖRG@x", true),
            ("*ö?ö*", "aöböx", true),
            ("a*ö", "aöbö", true),
            ("*öö", "aöbö", false),
        ];
        for (p, t, want) in cases {
            assert_eq!(Glob::new(p).matches(t), want, "{p} vs {t}");
        }
    }

    #[test]
    fn cidrs() {
        let cases = [
            ("127.0.0.0/8", "127.1.2.3", true),
            ("127.0.0.0/8", "10.0.0.1", false),
            ("10.0.0.1", "10.0.0.1", true),
            ("0.0.0.0/0", "8.8.8.8", true),
            ("::1", "::1", true),
            ("2001:db8::/32", "2001:db8::5", true),
            ("2001:db8::/32", "2001:db9::5", false),
            ("127.0.0.0/8", "::ffff:127.0.0.1", true),
        ];
        for (c, ip, want) in cases {
            assert_eq!(
                Cidr::parse(c).unwrap().contains(ip.parse().unwrap()),
                want,
                "{c} {ip}"
            );
        }
        for bad in ["10.0.0.0/33", "nope", "1.2.3.4/x", "::/129"] {
            assert_eq!(Cidr::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn counters_ranges_sizes() {
        assert!(Counter::Range(Range::parse("3..5", |s| s.parse().ok()).unwrap()).matches(4));
        assert!(!Counter::Range(Range::parse("3..", |s| s.parse().ok()).unwrap()).matches(2));
        assert!(Counter::Range(Range::parse("..2", |s| s.parse().ok()).unwrap()).matches(1));
        assert_eq!(Range::parse("5..3", |s| s.parse::<u64>().ok()), None);
        assert!(Counter::Every(3).matches(6) && !Counter::Every(3).matches(4));
        assert!(Counter::Any(vec![1, 2]).matches(2));
        assert_eq!(parse_size("25MiB"), Some(25 << 20));
        assert_eq!(parse_size("10KB"), Some(10_000));
        assert_eq!(parse_size("1024"), Some(1024));
        assert_eq!(parse_size("1 kib"), Some(1024));
        assert_eq!(parse_size("12XB"), None);
        assert!(SizeCmp::parse(">1MiB").unwrap().matches((1 << 20) + 1));
        assert!(!SizeCmp::parse(">1MiB").unwrap().matches(1 << 20));
        assert!(SizeCmp::parse("<=10").unwrap().matches(10));
        assert!(SizeCmp::parse("1KiB..2KiB").unwrap().matches(1500));
        assert_eq!(SizeCmp::parse(">lots"), None);
    }

    #[test]
    fn headers_unfold() {
        let m = b"Subject: Your\r\n  invoice\r\nX-A: 1\r\nsubject: second\r\n\r\nSubject: body\r\n";
        assert_eq!(header_values(m, "SUBJECT"), ["Your invoice", "second"]);
        assert_eq!(body(m), b"Subject: body\r\n");
        assert!(header_values(b"no headers", "x").is_empty());
    }
}
