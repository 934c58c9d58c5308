//! Table-driven tests of every command and parameter form.

use super::*;
use ParseError::BadBdat;

fn ok(line: &str) -> Command<'_> {
    match parse(line.as_bytes()) {
        Ok(p) => p.command,
        Err(e) => panic!("{line:?}: {e:?}"),
    }
}

#[test]
fn verbs_in_any_case() {
    let cases: &[(&str, Verb)] = &[
        ("EHLO a.test", Verb::Ehlo),
        ("ehlo a.test", Verb::Ehlo),
        ("HeLo [127.0.0.1]", Verb::Helo),
        ("MAIL FROM:<a@b>", Verb::Mail),
        ("rcpt to:<a@b>", Verb::Rcpt),
        ("DATA", Verb::Data),
        ("data", Verb::Data),
        ("BDAT 0 LAST", Verb::Bdat),
        ("RSET", Verb::Rset),
        ("NOOP", Verb::Noop),
        ("noop anything", Verb::Noop),
        ("QUIT", Verb::Quit),
        ("VRFY bob", Verb::Vrfy),
        ("EXPN list", Verb::Expn),
        ("HELP", Verb::Help),
        ("help MAIL", Verb::Help),
        ("STARTTLS", Verb::StartTls),
        ("starttls", Verb::StartTls),
        ("AUTH PLAIN", Verb::Auth),
    ];
    for (line, verb) in cases {
        assert_eq!(ok(line).verb(), *verb, "{line}");
    }
}

#[test]
fn errors_table() {
    let cases: &[(&[u8], ParseError)] = &[
        (b"", ParseError::UnknownCommand),
        (b"XYZZY", ParseError::UnknownCommand),
        (b"MAILFROM:<a@b>", ParseError::UnknownCommand),
        (b"HE\0LO x", ParseError::UnknownCommand),
        (b"\xff\xfe", ParseError::UnknownCommand),
        (
            b"EHLO",
            Syntax("EHLO/HELO requires a domain or address literal"),
        ),
        (
            b"HELO   ",
            Syntax("EHLO/HELO requires a domain or address literal"),
        ),
        (
            b"EHLO \xff",
            Syntax("command arguments are not valid UTF-8"),
        ),
        (b"EHLO a\0b", Syntax("NUL byte in command")),
        (b"MAIL", Syntax("MAIL requires FROM:<address>")),
        (b"MAIL TO:<a@b>", Syntax("MAIL requires FROM:<address>")),
        (b"MAIL FROM:<a@b", BadSender("unterminated <address>")),
        (
            b"MAIL FROM:<a@b>x",
            BadSender("text after the address's closing >"),
        ),
        (b"MAIL FROM:<a b@c>", BadSender("malformed address")),
        (
            b"RCPT TO:<>",
            BadRecipient("RCPT requires a non-empty address"),
        ),
        (b"RCPT FROM:<a@b>", Syntax("RCPT requires TO:<address>")),
        (b"DATA x", Syntax("this command takes no arguments")),
        (b"QUIT now", Syntax("this command takes no arguments")),
        (b"RSET x", Syntax("this command takes no arguments")),
        (b"STARTTLS x", Syntax("this command takes no arguments")),
        (b"VRFY", Syntax("VRFY/EXPN requires an argument")),
        (b"AUTH", Syntax("AUTH requires a mechanism")),
        (
            b"AUTH PLAIN a b",
            Syntax("AUTH takes a mechanism and an optional initial response"),
        ),
        (
            b"BDAT",
            BadParameter("BDAT requires a chunk size in octets"),
        ),
        (
            b"BDAT x",
            BadParameter("BDAT requires a chunk size in octets"),
        ),
        (
            b"BDAT -1",
            BadParameter("BDAT requires a chunk size in octets"),
        ),
        (
            b"BDAT 99999999999999999999999",
            BadParameter("BDAT requires a chunk size in octets"),
        ),
        (
            b"BDAT 1 FIRST",
            BadBdat {
                size: 1,
                why: "BDAT takes only a size and LAST",
            },
        ),
        (
            b"MAIL FROM:<a@b> SIZE=abc",
            BadParameter("SIZE must be a number of octets"),
        ),
        (
            b"MAIL FROM:<a@b> SIZE=",
            BadParameter("SIZE must be a number of octets"),
        ),
        (
            b"MAIL FROM:<a@b> SIZE=99999999999999999999999",
            BadParameter("SIZE must be a number of octets"),
        ),
        (
            b"MAIL FROM:<a@b> SIZE=1 SIZE=2",
            BadParameter("parameter given twice"),
        ),
        (b"MAIL FROM:<a@b> BODY=9BIT", Unsupported("BODY")),
        (b"MAIL FROM:<a@b> SMTPUTF8=yes", Unsupported("SMTPUTF8")),
        (
            b"MAIL FROM:<a@b> RET=ALL",
            BadParameter("RET must be FULL or HDRS"),
        ),
        (
            b"MAIL FROM:<a@b> ENVID=",
            BadParameter("ENVID needs a value"),
        ),
        (
            b"RCPT TO:<a@b> NOTIFY=NEVER,SUCCESS",
            BadParameter("NOTIFY must be NEVER or SUCCESS,FAILURE,DELAY"),
        ),
        (
            b"RCPT TO:<a@b> NOTIFY=SOMETIMES",
            BadParameter("NOTIFY must be NEVER or SUCCESS,FAILURE,DELAY"),
        ),
        (
            b"RCPT TO:<a@b> ORCPT=rfc822",
            BadParameter("ORCPT must be addr-type;xtext"),
        ),
    ];
    for (line, want) in cases {
        assert_eq!(
            parse(line).err(),
            Some(*want),
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn mail_forms() {
    let cases: &[(&str, &str, &str, u8)] = &[
        ("MAIL FROM:<a@b.test>", "a@b.test", "", 0),
        ("mail from:<A@B.test>", "A@B.test", "", 0),
        ("MAIL FROM:<>", "", "", 0),
        ("MAIL FROM: <a@b>", "a@b", "", Deviations::SPACE_AFTER_COLON),
        ("MAIL FROM:a@b", "a@b", "", Deviations::NO_ANGLE_BRACKETS),
        (
            "MAIL FROM:a@b SIZE=5",
            "a@b",
            "SIZE=5",
            Deviations::NO_ANGLE_BRACKETS,
        ),
        (
            "MAIL FROM:<a@b> ",
            "a@b",
            "",
            Deviations::TRAILING_WHITESPACE,
        ),
        ("MAIL FROM:<@r1,@r2:u@d.test>", "u@d.test", "", 0),
        (
            "MAIL FROM:<\"john doe\"@x.test>",
            "\"john doe\"@x.test",
            "",
            0,
        ),
        (
            "MAIL FROM:<\"a>b\"@x.test> SIZE=1",
            "\"a>b\"@x.test",
            "SIZE=1",
            0,
        ),
        (
            "MAIL FROM:<jörg@bücher.test> SMTPUTF8",
            "jörg@bücher.test",
            "SMTPUTF8",
            0,
        ),
        (
            "MAIL FROM:<a@b>  SIZE=1   BODY=8BITMIME",
            "a@b",
            "SIZE=1   BODY=8BITMIME",
            0,
        ),
    ];
    for (line, from_want, raw_want, dev) in cases {
        let p = parse(line.as_bytes()).unwrap();
        let Command::Mail { from, params } = p.command else {
            panic!("{line}")
        };
        assert_eq!(from, *from_want, "{line}");
        assert_eq!(params.raw, *raw_want, "{line}");
        assert_eq!(p.deviations.0, *dev, "{line}");
    }
}

#[test]
fn mail_parameters() {
    let Command::Mail { params, .. } = ok(
        "MAIL FROM:<a@b> size=1024 body=8bitmime SMTPUTF8 RET=HDRS ENVID=QQ314 AUTH=<> X-FOO=1 Y",
    ) else {
        panic!()
    };
    assert_eq!(params.size, Some(1024));
    assert_eq!(params.body, Some(Body::EightBitMime));
    assert!(params.smtputf8);
    assert_eq!(params.ret, Some(Ret::Hdrs));
    assert_eq!(params.envid, Some("QQ314"));
    assert_eq!(params.auth, Some("<>"));
    assert_eq!(params.unknown, Some("X-FOO"));
    let Command::Mail { params, .. } = ok("MAIL FROM:<a@b> SIZE=18446744073709551615 BODY=7BIT")
    else {
        panic!()
    };
    assert_eq!(params.size, Some(u64::MAX));
    assert_eq!(params.body, Some(Body::SevenBit));
    let Command::Mail { params, .. } = ok("MAIL FROM:<a@b> BODY=BINARYMIME") else {
        panic!()
    };
    assert_eq!(params.body, Some(Body::BinaryMime));
}

#[test]
fn rcpt_forms_and_parameters() {
    let Command::Rcpt { to, params } = ok("RCPT TO:<Postmaster>") else {
        panic!()
    };
    assert_eq!((to, params.raw), ("Postmaster", ""));
    let Command::Rcpt { to, params } = ok("RCPT TO:<u@d> NOTIFY=SUCCESS,delay ORCPT=rfc822;u@d")
    else {
        panic!()
    };
    assert_eq!(to, "u@d");
    assert_eq!(
        params.notify,
        Some(Notify::On {
            success: true,
            failure: false,
            delay: true
        })
    );
    assert_eq!(params.orcpt, Some("rfc822;u@d"));
    let Command::Rcpt { params, .. } = ok("RCPT TO:<u@d> NOTIFY=never XYZ") else {
        panic!()
    };
    assert_eq!(params.notify, Some(Notify::Never));
    assert_eq!(params.unknown, Some("XYZ"));
    let p = parse(b"RCPT TO: u@d").unwrap();
    assert!(p.deviations.contains(Deviations::SPACE_AFTER_COLON));
    assert!(p.deviations.contains(Deviations::NO_ANGLE_BRACKETS));
    assert_eq!(p.deviations.iter().count(), 2);
}

#[test]
fn other_arguments() {
    assert_eq!(
        ok("BDAT 1000"),
        Command::Bdat {
            size: 1000,
            last: false
        }
    );
    assert_eq!(
        ok("bdat 0 last"),
        Command::Bdat {
            size: 0,
            last: true
        }
    );
    assert_eq!(
        ok("AUTH PLAIN dGVzdA=="),
        Command::Auth {
            mechanism: "PLAIN",
            initial: Some("dGVzdA==")
        }
    );
    assert_eq!(
        ok("AUTH LOGIN"),
        Command::Auth {
            mechanism: "LOGIN",
            initial: None
        }
    );
    assert_eq!(ok("EHLO  x.test "), Command::Ehlo("x.test"));
    assert_eq!(ok("HELP"), Command::Help(None));
    assert_eq!(ok("VRFY <bob@x>"), Command::Vrfy("<bob@x>"));
}

#[test]
fn random_bytes_never_panic() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let alphabet = b"MAILFROM:RCPTTO<>@ .=\"\\,;SIZEBODYNOTIFY0123456789\x00\xff\t";
    for _ in 0..50_000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % 40) as usize;
        let mut line = Vec::with_capacity(len);
        let prefixes: [&[u8]; 4] = [b"MAIL FROM:", b"RCPT TO:", b"BDAT ", b""];
        line.extend_from_slice(prefixes[(seed >> 8) as usize % 4]);
        let mut s = seed;
        for _ in 0..len {
            s = s.rotate_left(7).wrapping_mul(0x2545_f491_4f6c_dd1d);
            line.push(alphabet[(s >> 32) as usize % alphabet.len()]);
        }
        let _ = parse(&line);
    }
}

/// Syntax errors found by comparing raw dialogues with Postfix, one row per
/// case: the line and the error it must give.
#[test]
fn strict_syntax_errors_table() {
    const NULL: &str = "MAIL requires a reverse-path (<> for the null sender)";
    const CTL: &str = "control character in address";
    const LIT: &str = "bad address literal";
    const DOM: &str = "bad domain in address";
    const LOCAL: &str = "bad local part";
    const NO_DOMAIN: &str = "address has no domain";
    const NOTIFY: &str = "NOTIFY must be NEVER or SUCCESS,FAILURE,DELAY";
    const ORCPT: &str = "ORCPT must be addr-type;xtext";
    const ENVID: &str = "ENVID must be xtext (RFC 3461 §4)";
    const BDAT: &str = "BDAT takes only a size and LAST";
    let cases: &[(&[u8], ParseError)] = &[
        // 3: control characters inside an address
        (b"MAIL FROM:<a\x01b@c.test>", BadSender(CTL)),
        (b"MAIL FROM:<ab@c\x7f.test>", BadSender(CTL)),
        (b"RCPT TO:<a\rb@c.test>", BadRecipient(CTL)),
        (b"RCPT TO:<a\x01b@c.test>", BadRecipient(CTL)),
        (b"RCPT TO:<a@c.test\x7f>", BadRecipient(CTL)),
        (b"RCPT TO:<\"a\x01\"@c.test>", BadRecipient(CTL)),
        (b"RCPT TO:<@r\x01.test:a@c.test>", BadRecipient(CTL)),
        (b"RCPT TO:<a\xc2\x85b@c.test>", BadRecipient(CTL)),
        (
            b"MAIL FROM:<@r.test:>",
            BadSender("source route without a mailbox"),
        ),
        // 4: more than 20 digits is not a size-value at all
        (
            b"MAIL FROM:<a@b> SIZE=999999999999999999999",
            BadParameter("SIZE must be a number of octets"),
        ),
        // 5: nothing after the colon is no reverse-path
        (b"MAIL FROM:", BadSender(NULL)),
        (b"MAIL FROM: ", BadSender(NULL)),
        (b"mail from:\t", BadSender(NULL)),
        // 6: a readable size with bad arguments still owes its chunk
        (
            b"BDAT 10 LASTX",
            BadBdat {
                size: 10,
                why: BDAT,
            },
        ),
        (
            b"BDAT 10 LAST extra",
            BadBdat {
                size: 10,
                why: BDAT,
            },
        ),
        (b"BDAT 0 FIRST", BadBdat { size: 0, why: BDAT }),
        // 7: mailbox syntax, RFC 5321 §4.1.2
        (b"RCPT TO:<b@[300.1.1.1]>", BadRecipient(LIT)),
        (b"RCPT TO:<b@[]>", BadRecipient(LIT)),
        (b"RCPT TO:<b@[1.2.3]>", BadRecipient(LIT)),
        (b"RCPT TO:<b@[1.2.3.4.5]>", BadRecipient(LIT)),
        (b"RCPT TO:<b@[1.2.3.0004]>", BadRecipient(LIT)),
        (b"RCPT TO:<b@[IPv6:1::2::3]>", BadRecipient(LIT)),
        (b"RCPT TO:<b@[IPv6:1.2.3.4]>", BadRecipient(LIT)),
        (b"RCPT TO:<b@[tag-:x]>", BadRecipient(LIT)),
        (b"RCPT TO:<b@[tag:]>", BadRecipient(LIT)),
        (b"RCPT TO:<b@[tag:a[b]>", BadRecipient(LIT)),
        (b"RCPT TO:<b@[1.2.3.4>", BadRecipient(LIT)),
        (b"RCPT TO:<b@>", BadRecipient(NO_DOMAIN)),
        (b"RCPT TO:<a@example..net>", BadRecipient(DOM)),
        (b"RCPT TO:<a@-example.net>", BadRecipient(DOM)),
        (b"RCPT TO:<a@example-.net>", BadRecipient(DOM)),
        (b"RCPT TO:<a@example.net.>", BadRecipient(DOM)),
        (b"RCPT TO:<a@.example.net>", BadRecipient(DOM)),
        (b"RCPT TO:<a@exa_mple.net>", BadRecipient(DOM)),
        (b"RCPT TO:<a@b@example.net>", BadRecipient(LOCAL)),
        (b"RCPT TO:<a,b@example.net>", BadRecipient(LOCAL)),
        (b"RCPT TO:<.a@example.net>", BadRecipient(LOCAL)),
        (b"RCPT TO:<a.@example.net>", BadRecipient(LOCAL)),
        (b"RCPT TO:<a..b@example.net>", BadRecipient(LOCAL)),
        (b"RCPT TO:<(a)@example.net>", BadRecipient(LOCAL)),
        (b"RCPT TO:<@example.net>", BadRecipient("bad source route")),
        (
            b"RCPT TO:<\"a\"b@example.net>",
            BadRecipient("address must be local-part@domain"),
        ),
        (
            b"RCPT TO:<\"a@example.net>",
            BadRecipient("unterminated <address>"),
        ),
        (
            b"RCPT TO:<bob>",
            BadRecipient("address must be local-part@domain"),
        ),
        (
            b"RCPT TO:<@bad_route:a@example.net>",
            BadRecipient("bad source route"),
        ),
        (
            b"RCPT TO:<@a.test,b.test:a@example.net>",
            BadRecipient("bad source route"),
        ),
        (b"MAIL FROM:<b@[300.1.1.1]>", BadSender(LIT)),
        (b"MAIL FROM:<a@example..net>", BadSender(DOM)),
        (b"MAIL FROM:<a,b@example.net>", BadSender(LOCAL)),
        (b"MAIL FROM:<b@>", BadSender(NO_DOMAIN)),
        (
            b"MAIL FROM:<postmaster>",
            BadSender("address must be local-part@domain"),
        ),
        (b"MAIL FROM:a@-b.test SIZE=1", BadSender(DOM)),
        // ESMTP parameter syntax (RFC 5321 §4.1.2 esmtp-param)
        (
            b"MAIL FROM:<a@b> =x",
            BadParameter("malformed parameter keyword"),
        ),
        (
            b"MAIL FROM:<a@b> -X=1",
            BadParameter("malformed parameter keyword"),
        ),
        (
            b"RCPT TO:<a@b> X_Y=1",
            BadParameter("malformed parameter keyword"),
        ),
        (
            b"RCPT TO:<a@b> X=a\x01b",
            BadParameter("control character in parameter value"),
        ),
        // 8: xtext and the NOTIFY list
        (b"MAIL FROM:<a@b> ENVID=a=b", BadParameter(ENVID)),
        (b"MAIL FROM:<a@b> ENVID=a+zz", BadParameter(ENVID)),
        (b"MAIL FROM:<a@b> ENVID=a+2f", BadParameter(ENVID)),
        (b"MAIL FROM:<a@b> ENVID=a+2", BadParameter(ENVID)),
        (b"MAIL FROM:<a@b> ENVID=\xc3\xa9", BadParameter(ENVID)),
        (b"RCPT TO:<a@b> ORCPT=rfc822;a+zz", BadParameter(ORCPT)),
        (b"RCPT TO:<a@b> ORCPT=rfc822;a=b", BadParameter(ORCPT)),
        (b"RCPT TO:<a@b> ORCPT=;a@b", BadParameter(ORCPT)),
        (b"RCPT TO:<a@b> ORCPT=rf(c;a@b", BadParameter(ORCPT)),
        (b"RCPT TO:<a@b> ORCPT=", BadParameter(ORCPT)),
        (b"RCPT TO:<a@b> NOTIFY=", BadParameter(NOTIFY)),
        (b"RCPT TO:<a@b> NOTIFY=,", BadParameter(NOTIFY)),
        (b"RCPT TO:<a@b> NOTIFY=,,", BadParameter(NOTIFY)),
        (b"RCPT TO:<a@b> NOTIFY=NEVER,", BadParameter(NOTIFY)),
        (b"RCPT TO:<a@b> NOTIFY=SUCCESS,,BOGUS", BadParameter(NOTIFY)),
    ];
    for (line, want) in cases {
        assert_eq!(
            parse(line).err(),
            Some(*want),
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
}

/// Lines that are valid grammar and must parse: the address they carry.
#[test]
fn valid_mailboxes_table() {
    let cases: &[&str] = &[
        "b@[1.2.3.4]",
        "b@[255.255.255.255]",
        "b@[0.0.0.0]",
        "b@[010.1.1.1]",
        "b@[IPv6:::1]",
        "b@[ipv6:2001:db8::1]",
        "b@[IPv6:::ffff:192.0.2.1]",
        "b@[x-tag:any!thing]",
        "a.b+c@sub-domain.example.net",
        "a@1.2.3.4",
        "a@x",
        "a@xn--bcher-kva.example",
        "!#$%&'*+-/=?^_`{|}~@x.test",
        "\"a b\"@x.test",
        "\"a\\\"b\"@x.test",
        "\"a,b@c\"@x.test",
        "\"\"@x.test",
        "jörg@bücher.test",
    ];
    for mailbox in cases {
        for line in [
            format!("MAIL FROM:<{mailbox}>"),
            format!("RCPT TO:<{mailbox}>"),
        ] {
            match ok(&line) {
                Command::Mail { from: got, .. } | Command::Rcpt { to: got, .. } => {
                    assert_eq!(got, *mailbox, "{line}");
                }
                other => panic!("{line}: {other:?}"),
            }
        }
    }
    for (line, want) in [
        ("RCPT TO:<postmaster>", "postmaster"),
        ("RCPT TO:<POSTMASTER>", "POSTMASTER"),
        ("RCPT TO:<@a.test,@b-1.test:u@c.test>", "u@c.test"),
        ("MAIL FROM:<>", ""),
        ("MAIL FROM: <>", ""),
    ] {
        match ok(line) {
            Command::Mail { from: got, .. } | Command::Rcpt { to: got, .. } => {
                assert_eq!(got, want, "{line}");
            }
            other => panic!("{line}: {other:?}"),
        }
    }
}

/// Unknown or misplaced parameters parse, and are named for the 555 reply.
#[test]
fn unknown_parameters_table() {
    let cases: &[(&str, &str)] = &[
        ("MAIL FROM:<a@b> FOO=bar", "FOO"),
        ("MAIL FROM:<a@b> NOTIFY=", "NOTIFY"),
        ("MAIL FROM:<a@b> ORCPT=rfc822;a@b", "ORCPT"),
        ("MAIL FROM:<a@b> X-1", "X-1"),
        ("RCPT TO:<a@b> SIZE=", "SIZE"),
        ("RCPT TO:<a@b> BODY=8BITMIME", "BODY"),
        ("RCPT TO:<a@b> FOO=", "FOO"),
    ];
    for (line, want) in cases {
        let unknown = match ok(line) {
            Command::Mail { params, .. } => params.unknown,
            Command::Rcpt { params, .. } => params.unknown,
            other => panic!("{line}: {other:?}"),
        };
        assert_eq!(unknown, Some(*want), "{line}");
    }
}

/// Parameter values the grammar allows, one row each.
#[test]
fn valid_parameter_values_table() {
    let on = |success, failure, delay| Notify::On {
        success,
        failure,
        delay,
    };
    let notify: &[(&str, Notify)] = &[
        ("SUCCESS,FAILURE", on(true, true, false)),
        ("SUCCESS,,FAILURE", on(true, true, false)),
        (",DELAY", on(false, false, true)),
        ("FAILURE,", on(false, true, false)),
        ("failure,failure", on(false, true, false)),
        ("NEVER", Notify::Never),
    ];
    for (value, want) in notify {
        let line = format!("RCPT TO:<a@b> NOTIFY={value}");
        let Command::Rcpt { params, .. } = ok(&line) else {
            panic!("{line}")
        };
        assert_eq!(params.notify, Some(*want), "{line}");
    }
    for value in ["rfc822;", "rfc822;a@b", "rfc822;a+2Bb+3Dc@d", "x-type;!~"] {
        let line = format!("RCPT TO:<a@b> ORCPT={value}");
        let Command::Rcpt { params, .. } = ok(&line) else {
            panic!("{line}")
        };
        assert_eq!(params.orcpt, Some(value), "{line}");
    }
    for value in ["QQ314", "a+2Bb", "+20", "!~"] {
        let line = format!("MAIL FROM:<a@b> ENVID={value}");
        let Command::Mail { params, .. } = ok(&line) else {
            panic!("{line}")
        };
        assert_eq!(params.envid, Some(value), "{line}");
    }
    let sizes: &[(&str, u64)] = &[
        ("0", 0),
        ("00000000000000000001", 1),
        ("18446744073709551615", u64::MAX),
        // 1*20DIGIT past u64: too big, never a syntax error (RFC 1870)
        ("18446744073709551616", u64::MAX),
        ("99999999999999999999", u64::MAX),
    ];
    for (value, want) in sizes {
        let line = format!("MAIL FROM:<a@b> SIZE={value}");
        let Command::Mail { params, .. } = ok(&line) else {
            panic!("{line}")
        };
        assert_eq!(params.size, Some(*want), "{line}");
    }
}

/// Trailing white space, TAB included, after a verb (RFC 5321 §4.1.1).
#[test]
fn tabs_after_the_verb_table() {
    let cases: &[(&[u8], Verb, u8)] = &[
        (b"QUIT\t", Verb::Quit, Deviations::TRAILING_WHITESPACE),
        (b"DATA\t", Verb::Data, Deviations::TRAILING_WHITESPACE),
        (b"RSET\t \t", Verb::Rset, Deviations::TRAILING_WHITESPACE),
        (
            b"STARTTLS\t",
            Verb::StartTls,
            Deviations::TRAILING_WHITESPACE,
        ),
        (b"NOOP\t", Verb::Noop, Deviations::TRAILING_WHITESPACE),
        (b"QUIT ", Verb::Quit, Deviations::TRAILING_WHITESPACE),
        (b"EHLO\tc.test", Verb::Ehlo, Deviations::TAB_SEPARATOR),
        (b"MAIL\tFROM:<a@b>", Verb::Mail, Deviations::TAB_SEPARATOR),
        (
            b"RCPT\tTO:<a@b>\t",
            Verb::Rcpt,
            Deviations::TAB_SEPARATOR | Deviations::TRAILING_WHITESPACE,
        ),
    ];
    for (line, verb, dev) in cases {
        let p = parse(line).unwrap_or_else(|e| panic!("{line:?}: {e:?}"));
        assert_eq!(p.command.verb(), *verb, "{line:?}");
        assert_eq!(p.deviations.0, *dev, "{line:?}");
    }
    assert_eq!(
        parse(b"QUIT\tnow").err(),
        Some(Syntax("this command takes no arguments"))
    );
    assert_eq!(parse(b"\tQUIT").err(), Some(ParseError::UnknownCommand));
}

/// Fuzz finding (command target): CR, LF or FF between parameters was
/// taken for a separator, so `NOTIFY=NEVER<CR>ORCPT=...` passed although a
/// control character anywhere in the parameters is a syntax error.
#[test]
fn control_characters_do_not_separate_parameters() {
    for line in [
        &b"RCPT TO:<a@b.test> NOTIFY=NEVER\rORCPT=rfc822;a@b.test"[..],
        b"rcpt to:<a@b.test> H H PT TA\r\r\r\r\r\r\rrcp",
        b"MAIL FROM:<a@b.test> SIZE=10\x0cBODY=8BITMIME",
        b"MAIL FROM:<a@b.test>\t\x0cSMTPUTF8",
        b"BDAT 5\rLAST",
    ] {
        assert!(
            matches!(
                parse(line),
                Err(ParseError::BadParameter(_)
                    | ParseError::BadBdat { .. }
                    | ParseError::Syntax(_))
            ),
            "{:?} parsed: {:?}",
            String::from_utf8_lossy(line),
            parse(line)
        );
    }
    assert!(!matches!(
        parse(b"AUTH PLAIN\x0cAGFsaWNlAHNlY3JldA=="),
        Ok(Parsed {
            command: Command::Auth {
                mechanism: "PLAIN",
                ..
            },
            ..
        })
    ));
    // SP and TAB still separate.
    assert!(parse(b"MAIL FROM:<a@b.test> SIZE=10\tBODY=8BITMIME").is_ok());
}
