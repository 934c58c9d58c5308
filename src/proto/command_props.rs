//! Property tests of the command parser: it never panics, a rendered
//! command parses back to itself, generated valid addresses are accepted
//! and addresses with a control character refused with 501.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use super::*;

/// The reply code the session sends for a parse error.
fn code(e: ParseError) -> u16 {
    match e {
        ParseError::UnknownCommand => 500,
        _ => 501,
    }
}

/// `atext` of RFC 5322 §3.2.3.
const ATEXT: &[u8] = b"abcXYZ019!#$%&'*+-/=?^_`{|}~";

fn atom() -> impl Strategy<Value = String> {
    vec(select(ATEXT.to_vec()), 1..8).prop_map(|b| String::from_utf8(b).unwrap_or_default())
}

/// A Dot-string local part: atoms joined by single dots.
fn local_part() -> impl Strategy<Value = String> {
    vec(atom(), 1..4).prop_map(|a| a.join("."))
}

/// A domain of LDH labels (no hyphen at either end).
fn domain() -> impl Strategy<Value = String> {
    let label = "[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?";
    vec(label, 1..4).prop_map(|l| l.join("."))
}

fn mailbox() -> impl Strategy<Value = String> {
    (local_part(), domain()).prop_map(|(l, d)| format!("{l}@{d}"))
}

/// Characters `char::is_control` calls control: C0, DEL and C1.
fn control() -> impl Strategy<Value = char> {
    prop_oneof![
        (0u32..0x20).prop_map(|c| char::from_u32(c).unwrap_or('\0')),
        Just('\u{7f}'),
        (0x80u32..0xa0).prop_map(|c| char::from_u32(c).unwrap_or('\0')),
    ]
}

/// A command, rendered, and what parsing it must give.
#[derive(Clone, Debug)]
enum Cmd {
    Ehlo(String),
    Helo(String),
    Mail(String, Option<u64>, Option<Body>, bool),
    Rcpt(String, Option<Notify>),
    Bdat(u64, bool),
    Auth(String, Option<String>),
    Plain(Verb),
}

fn cmd() -> impl Strategy<Value = Cmd> {
    let body = prop_oneof![
        Just(None),
        Just(Some(Body::SevenBit)),
        Just(Some(Body::EightBitMime)),
        Just(Some(Body::BinaryMime))
    ];
    let notify = prop_oneof![
        Just(None),
        Just(Some(Notify::Never)),
        (any::<bool>(), any::<bool>(), any::<bool>())
            .prop_filter("one at least", |(s, f, d)| *s || *f || *d)
            .prop_map(|(success, failure, delay)| Some(Notify::On {
                success,
                failure,
                delay
            })),
    ];
    prop_oneof![
        domain().prop_map(Cmd::Ehlo),
        domain().prop_map(Cmd::Helo),
        (
            prop_oneof![Just(String::new()), mailbox()],
            proptest::option::of(any::<u64>()),
            body,
            any::<bool>()
        )
            .prop_map(|(f, s, b, u)| Cmd::Mail(f, s, b, u)),
        (mailbox(), notify).prop_map(|(t, n)| Cmd::Rcpt(t, n)),
        (any::<u64>(), any::<bool>()).prop_map(|(n, l)| Cmd::Bdat(n, l)),
        (
            select(vec!["PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"]),
            proptest::option::of("[A-Za-z0-9+/]{1,40}={0,2}")
        )
            .prop_map(|(m, i)| Cmd::Auth(m.to_owned(), i)),
        select(vec![
            Verb::Data,
            Verb::Rset,
            Verb::Noop,
            Verb::Quit,
            Verb::StartTls
        ])
        .prop_map(Cmd::Plain),
    ]
}

fn render(c: &Cmd) -> String {
    match c {
        Cmd::Ehlo(d) => format!("EHLO {d}"),
        Cmd::Helo(d) => format!("HELO {d}"),
        Cmd::Mail(from, size, body, utf8) => {
            let mut s = format!("MAIL FROM:<{from}>");
            if let Some(n) = size {
                s += &format!(" SIZE={n}");
            }
            match body {
                Some(Body::SevenBit) => s += " BODY=7BIT",
                Some(Body::EightBitMime) => s += " BODY=8BITMIME",
                Some(Body::BinaryMime) => s += " BODY=BINARYMIME",
                None => {}
            }
            if *utf8 {
                s += " SMTPUTF8";
            }
            s
        }
        Cmd::Rcpt(to, notify) => {
            let mut s = format!("RCPT TO:<{to}>");
            match notify {
                Some(Notify::Never) => s += " NOTIFY=NEVER",
                Some(Notify::On {
                    success,
                    failure,
                    delay,
                }) => {
                    let on: Vec<&str> =
                        [(success, "SUCCESS"), (failure, "FAILURE"), (delay, "DELAY")]
                            .into_iter()
                            .filter(|(b, _)| **b)
                            .map(|(_, n)| n)
                            .collect();
                    s += &format!(" NOTIFY={}", on.join(","));
                }
                None => {}
            }
            s
        }
        Cmd::Bdat(n, last) => format!("BDAT {n}{}", if *last { " LAST" } else { "" }),
        Cmd::Auth(m, i) => match i {
            Some(i) => format!("AUTH {m} {i}"),
            None => format!("AUTH {m}"),
        },
        Cmd::Plain(v) => v.name().to_owned(),
    }
}

/// Whether `parsed` is what `c` rendered.
fn matches(c: &Cmd, parsed: &Command<'_>) -> bool {
    match (c, parsed) {
        (Cmd::Ehlo(d), Command::Ehlo(p)) | (Cmd::Helo(d), Command::Helo(p)) => d == p,
        (Cmd::Mail(f, s, b, u), Command::Mail { from, params }) => {
            f == from && *s == params.size && *b == params.body && *u == params.smtputf8
        }
        (Cmd::Rcpt(t, n), Command::Rcpt { to, params }) => t == to && *n == params.notify,
        (Cmd::Bdat(n, l), Command::Bdat { size, last }) => n == size && l == last,
        (Cmd::Auth(m, i), Command::Auth { mechanism, initial }) => {
            m == mechanism && i.as_deref() == *initial
        }
        (Cmd::Plain(v), p) => *v == p.verb(),
        _ => false,
    }
}

proptest! {
    /// Any bytes: a command or an error, never a panic; errors are the
    /// 500/501 the session sends.
    #[test]
    fn parse_never_panics(line in vec(any::<u8>(), 0..300)) {
        if let Err(e) = parse(&line) {
            prop_assert!(matches!(code(e), 500 | 501));
        }
    }

    /// A command rendered in RFC 5321 syntax parses back to itself, with no
    /// deviation noted.
    #[test]
    fn rendered_commands_parse_back(c in cmd()) {
        let line = render(&c);
        let parsed = parse(line.as_bytes());
        prop_assert!(parsed.is_ok(), "{} -> {:?}", line, parsed);
        if let Ok(p) = parsed {
            prop_assert!(matches(&c, &p.command), "{} -> {:?}", line, p.command);
            prop_assert_eq!(p.deviations, Deviations::default());
        }
    }

    /// Generated valid mailboxes are accepted in MAIL and RCPT.
    #[test]
    fn valid_addresses_are_accepted(m in mailbox()) {
        prop_assert_eq!(address::check_mailbox(&m), Ok(()));
        let mail = format!("MAIL FROM:<{m}>");
        let from = match parse(mail.as_bytes()).map(|p| p.command) {
            Ok(Command::Mail { from, .. }) => Some(from),
            _ => None,
        };
        prop_assert_eq!(from, Some(m.as_str()));
        let rcpt = format!("RCPT TO:<{m}>");
        let to = match parse(rcpt.as_bytes()).map(|p| p.command) {
            Ok(Command::Rcpt { to, .. }) => Some(to),
            _ => None,
        };
        prop_assert_eq!(to, Some(m.as_str()));
    }

    /// A control character anywhere in an address: refused with 501.
    #[test]
    fn control_characters_in_addresses_get_501(
        m in mailbox(),
        c in control().prop_filter("LF cannot be in a line", |c| *c != '\n'),
        at in any::<prop::sample::Index>(),
    ) {
        let mut chars: Vec<char> = m.chars().collect();
        chars.insert(at.index(chars.len() + 1), c);
        let bad: String = chars.into_iter().collect();
        prop_assert!(address::check_mailbox(&bad).is_err());
        for verb in ["MAIL FROM:", "RCPT TO:"] {
            let line = format!("{verb}<{bad}>");
            match parse(line.as_bytes()) {
                Ok(p) => prop_assert!(false, "{:?} accepted: {:?}", line, p),
                Err(e) => prop_assert_eq!(code(e), 501, "{:?}: {:?}", line, e),
            }
        }
    }
}
