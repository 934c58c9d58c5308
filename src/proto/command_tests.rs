//! Table-driven tests of every command and parameter form.

use super::*;

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
        (b"MAIL FROM:<a@b", Syntax("MAIL requires FROM:<address>")),
        (b"MAIL FROM:<a@b>x", Syntax("MAIL requires FROM:<address>")),
        (b"MAIL FROM:<a b@c>", Syntax("MAIL requires FROM:<address>")),
        (b"RCPT TO:<>", Syntax("RCPT requires a non-empty address")),
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
            BadParameter("BDAT takes only a size and LAST"),
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
        (
            b"MAIL FROM:<a@b> BODY=9BIT",
            BadParameter("BODY must be 7BIT, 8BITMIME or BINARYMIME"),
        ),
        (
            b"MAIL FROM:<a@b> SMTPUTF8=yes",
            BadParameter("SMTPUTF8 takes no value"),
        ),
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
            BadParameter("ORCPT must be addr-type;address"),
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
