//! Compiled conditions: globs, regexes, CIDRs, counters, sizes and time
//! windows, parsed once at load so that matching a rule does no parsing.

use std::net::IpAddr;
use std::time::Duration;

/// A case-insensitive whole-string glob with `*` (any run of characters,
/// newlines included) and `?` (any one character), compiled once at load
/// into a regex: the `regex` crate matches in time linear in the text, and
/// case-insensitivity costs no lower-cased copy of a large body per check.
#[derive(Debug, Clone)]
pub(crate) struct Glob(regex::Regex);

/// Why a glob could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GlobError(pub String);

impl std::fmt::Display for GlobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest glob or regex a rule may hold, in characters: an address or
/// subject pattern needs a few dozen; past this a pattern is a mistake or
/// an attempt to make matching slow.
pub(crate) const MAX_PATTERN: usize = 1_000;

/// Compiled size allowed per pattern (the regex crate's default is 10 MiB).
pub(crate) const COMPILED_LIMIT: usize = 1 << 20;

/// Refuses a pattern longer than [`MAX_PATTERN`], naming it.
pub(crate) fn check_length(kind: &str, pattern: &str) -> Result<(), GlobError> {
    let n = pattern.chars().count();
    if n > MAX_PATTERN {
        return Err(GlobError(format!(
            "the {kind} `{}` is {n} characters long; patterns may have at most {MAX_PATTERN}",
            preview(pattern)
        )));
    }
    Ok(())
}

impl Glob {
    pub(crate) fn new(pattern: &str) -> Result<Self, GlobError> {
        check_length("glob", pattern)?;
        regex::RegexBuilder::new(&glob_regex(pattern))
            .size_limit(COMPILED_LIMIT)
            .build()
            .map(Self)
            .map_err(|e| GlobError(glob_error(pattern, &e)))
    }

    pub(crate) fn matches(&self, text: &str) -> bool {
        self.0.is_match(text)
    }
}

/// The regex of a glob. A leading or trailing `*` becomes a missing anchor
/// rather than `.*`: the same language for a whole-string match, and a
/// search that may stop at the first hit instead of running to the end of
/// a large body.
fn glob_regex(pattern: &str) -> String {
    let core = pattern.trim_start_matches('*');
    let open_start = core.len() < pattern.len();
    let trimmed = core.trim_end_matches('*');
    let open_end = trimmed.len() < core.len();
    let mut re = String::with_capacity(pattern.len() * 2 + 12);
    re.push_str("(?is)");
    if !open_start {
        re.push_str(r"\A");
    }
    let mut literal = String::new();
    let mut chars = trimmed.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' | '?' => {
                re.push_str(&regex::escape(&literal));
                literal.clear();
                if c == '?' {
                    re.push('.');
                } else {
                    while chars.next_if_eq(&'*').is_some() {}
                    re.push_str(".*");
                }
            }
            c => literal.push(c),
        }
    }
    re.push_str(&regex::escape(&literal));
    if !open_end {
        re.push_str(r"\z");
    }
    re
}

fn glob_error(pattern: &str, e: &regex::Error) -> String {
    match e {
        regex::Error::CompiledTooBig(limit) => format!(
            "the glob `{}` ({} characters) is too big: compiled, it exceeds the {limit}-byte limit; shorten it (one `*` stands for any run of characters)",
            preview(pattern),
            pattern.chars().count()
        ),
        other => format!(
            "the glob `{}` cannot be compiled: {other}",
            preview(pattern)
        ),
    }
}

/// The start of a long pattern, for an error message that stays readable.
fn preview(pattern: &str) -> String {
    const MAX: usize = 40;
    if pattern.chars().count() <= MAX {
        return pattern.to_owned();
    }
    let head: String = pattern.chars().take(MAX).collect();
    format!("{head}...")
}

/// A text condition: any of several globs, or a regex.
#[derive(Debug, Clone)]
pub(crate) enum TextMatcher {
    Globs(Vec<Glob>),
    Regex(regex::Regex),
}

impl TextMatcher {
    pub(crate) fn matches(&self, text: &str) -> bool {
        match self {
            TextMatcher::Globs(globs) => globs.iter().any(|g| g.matches(text)),
            TextMatcher::Regex(r) => r.is_match(text),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub(crate) fn parse(text: &str) -> Option<Self> {
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

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
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
pub(crate) struct Range<T> {
    pub low: Option<T>,
    pub high: Option<T>,
}

impl<T: PartialOrd + Copy> Range<T> {
    /// `a..b`, `a..`, `..b` with `parse` for each end.
    pub(crate) fn parse(text: &str, parse: impl Fn(&str) -> Option<T>) -> Option<Self> {
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

    pub(crate) fn contains(&self, v: T) -> bool {
        self.low.is_none_or(|l| v >= l) && self.high.is_none_or(|h| v <= h)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Counter {
    Any(Vec<u64>),
    Range(Range<u64>),
    Every(u64),
}

impl Counter {
    pub(crate) fn matches(&self, n: u64) -> bool {
        match self {
            Counter::Any(list) => list.contains(&n),
            Counter::Range(r) => r.contains(n),
            Counter::Every(k) => *k > 0 && n > 0 && n.is_multiple_of(*k),
        }
    }
}

/// `>1MiB`, `<=100`, `=5`, `1KiB..2KiB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SizeCmp {
    Gt(u64),
    Ge(u64),
    Lt(u64),
    Le(u64),
    Eq(u64),
    Within(Range<u64>),
}

impl SizeCmp {
    pub(crate) fn parse(text: &str) -> Option<Self> {
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

    pub(crate) fn matches(&self, n: u64) -> bool {
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
pub(crate) fn parse_size(text: &str) -> Option<u64> {
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

pub(super) fn parse_duration(text: &str) -> Option<Duration> {
    humantime::parse_duration(text.trim()).ok()
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
            ("full@*", "xfull@x", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a?c", "abbc", false),
            ("*", "", true),
            ("*", "anything\nat all", true),
            ("**", "x", true),
            ("", "", true),
            ("", "x", false),
            ("?", "", false),
            ("?", "ö", true),
            ("??", "ö", false),
            ("*invoice*", "Your INVOICE 42", true),
            ("*invoice*", "Your invoic", false),
            ("invoice", "Your invoice", false),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("a*b*c", "abcx", false),
            ("a**b", "ab", true),
            ("*a*a*a*", "banana", true),
            ("*a*a*a*a*", "banana", false),
            // Unicode: case folds beyond ASCII, `?` is one character.
            ("jörg@*", "JÖRG@x", true),
            ("*ö?ö*", "aöböx", true),
            ("a*ö", "aöbö", true),
            ("*öö", "aöbö", false),
            ("ΣΊΣΥΦΟΣ", "σίσυφος", true),
            ("*日本*", "こんにちは日本語", true),
            ("?本", "日本", true),
            // Regex syntax in a glob is literal text.
            ("a.c", "abc", false),
            ("a.c", "a.c", true),
            ("(x)+[y]{2}|z\\d$^", "(X)+[Y]{2}|Z\\d$^", true),
            ("*.example.test", "mx.example.test", true),
            ("*.example.test", "mxexample.test", false),
            // `*` and `?` span lines in a body.
            ("*line one*line two*", "x\r\nline one\r\nline two\r\n", true),
            ("a?b", "a\nb", true),
            ("*unsubscribe", "click\nto UNSUBSCRIBE\n", false),
            ("*unsubscribe*", "click\nto UNSUBSCRIBE\n", true),
        ];
        for (p, t, want) in cases {
            assert_eq!(Glob::new(p).unwrap().matches(t), want, "{p:?} vs {t:?}");
        }
    }

    #[test]
    fn glob_too_long_is_an_error_not_a_panic() {
        let huge = "?".repeat(20_000);
        let err = Glob::new(&huge).unwrap_err().to_string();
        assert!(err.contains("20000 characters long"), "{err}");
        assert!(err.contains("at most 1000"), "{err}");
        assert!(
            err.len() < 300,
            "the message quotes a preview, not the pattern"
        );
        assert!(Glob::new(&"?".repeat(MAX_PATTERN)).is_ok());
    }

    #[test]
    fn a_short_pattern_that_compiles_too_big_is_refused() {
        // Counted repetition multiplies: 1,000 characters can compile to
        // far more than the 1 MiB allowed.
        let err = check_length("regex", "x{1000}")
            .and_then(|()| {
                regex::RegexBuilder::new("(?:\\w{100}){100}")
                    .size_limit(COMPILED_LIMIT)
                    .build()
                    .map(|_| ())
                    .map_err(|e| GlobError(e.to_string()))
            })
            .unwrap_err();
        assert!(err.0.contains("exceeds size limit"), "{err}");
    }

    /// A message at the default 25 MiB size limit: a glob either finds its
    /// text or rejects the body in one linear pass. Run with `--nocapture`
    /// to see the timings.
    #[test]
    fn globs_on_a_25_mib_body() {
        let line = "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n";
        let mut body = line.repeat((25 << 20) / line.len());
        body.push_str("To unsubscribe, click HERE.\r\n");
        let cases = [
            ("*unsubscribe*", true),
            ("*UNSUBSCRIBE, click here*", true),
            ("*unsubscribe*click*here.\r\n", true),
            ("*not in there*", false),
            ("lorem*amet*here?\r\n", true),
            ("lorem*amet*there*", false),
            ("*a*b*c*d*e*f*g*h*zz*", false),
            ("*d?l?r*", true),
        ];
        for (pattern, want) in cases {
            let glob = Glob::new(pattern).unwrap();
            let start = std::time::Instant::now();
            assert_eq!(glob.matches(&body), want, "{pattern:?}");
            eprintln!("{pattern:?} on {} bytes: {:?}", body.len(), start.elapsed());
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
}
