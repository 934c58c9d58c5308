//! The dialogues the differential test sends, generated from tables: every
//! verb, MAIL and RCPT parameter forms, address syntax cases (each in MAIL
//! and in RCPT), sequence errors, message content, BDAT, pipelining and
//! line-ending quirks.

use super::Dialogue;

/// Addresses for MAIL and RCPT, each sent in both.
const ADDRESSES: &[(&str, &str)] = &[
    ("plain", "<u@example.test>"),
    ("no-brackets", "u@example.test"),
    ("space-before", " <u@example.test>"),
    ("uppercase", "<U@EXAMPLE.TEST>"),
    ("dot-local", "<first.last@example.test>"),
    ("plus-local", "<u+tag@example.test>"),
    ("quoted-local", "<\"a b\"@example.test>"),
    ("quoted-escape", "<\"a\\\"b\"@example.test>"),
    ("ipv4-literal", "<u@[127.0.0.1]>"),
    ("ipv4-literal-bad-octet", "<u@[300.1.1.1]>"),
    ("empty-literal", "<u@[]>"),
    ("ipv6-literal", "<u@[IPv6:2001:db8::1]>"),
    ("general-literal", "<u@[x-foo:bar]>"),
    ("no-domain", "<u@>"),
    ("no-local", "<@example.test>"),
    ("no-at", "<u>"),
    ("double-dot-domain", "<u@example..test>"),
    ("leading-hyphen-domain", "<u@-example.test>"),
    ("trailing-dot-domain", "<u@example.test.>"),
    ("comma-local", "<a,b@example.test>"),
    ("leading-dot-local", "<.u@example.test>"),
    ("double-dot-local", "<a..b@example.test>"),
    ("two-ats", "<a@b@example.test>"),
    ("source-route", "<@relay.test:u@example.test>"),
    ("unclosed", "<u@example.test"),
    ("unopened", "u@example.test>"),
    ("utf8-local", "<üser@example.test>"),
    (
        "local-64",
        "<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.test>",
    ),
    (
        "local-65",
        "<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.test>",
    ),
    ("space-in-local", "<a b@example.test>"),
    ("single-label-domain", "<u@localhost>"),
    ("underscore-domain", "<u@ex_ample.test>"),
];

/// MAIL parameters (after `MAIL FROM:<a@example.test>`).
const MAIL_PARAMS: &[(&str, &str)] = &[
    ("size", "SIZE=1000"),
    ("size-zero", "SIZE=0"),
    ("size-limit", "SIZE=26214400"),
    ("size-over", "SIZE=26214401"),
    ("size-20-digits", "SIZE=99999999999999999999"),
    ("size-21-digits", "SIZE=999999999999999999999"),
    ("size-letters", "SIZE=abc"),
    ("size-empty", "SIZE="),
    ("size-bare", "SIZE"),
    ("size-negative", "SIZE=-1"),
    ("size-lowercase", "size=1000"),
    ("body-7bit", "BODY=7BIT"),
    ("body-8bitmime", "BODY=8BITMIME"),
    ("body-lowercase", "body=8bitmime"),
    ("body-binarymime", "BODY=BINARYMIME"),
    ("body-bogus", "BODY=FOO"),
    ("body-empty", "BODY="),
    ("smtputf8", "SMTPUTF8"),
    ("smtputf8-value", "SMTPUTF8=yes"),
    ("ret-full", "RET=FULL"),
    ("ret-hdrs", "RET=HDRS"),
    ("ret-bogus", "RET=FOO"),
    ("envid", "ENVID=abc123"),
    ("envid-xtext", "ENVID=a+2Bb"),
    ("envid-bad-xtext", "ENVID=a+zz"),
    ("envid-empty", "ENVID="),
    ("auth-null", "AUTH=<>"),
    ("unknown-param", "FOO=bar"),
    ("unknown-keyword", "XYZ"),
    ("notify-on-mail", "NOTIFY=NEVER"),
    ("two-params", "SIZE=10 BODY=8BITMIME"),
    ("double-space", " SIZE=10"),
    ("trailing-space", "SIZE=10 "),
    ("duplicate-size", "SIZE=10 SIZE=20"),
];

/// RCPT parameters (after `RCPT TO:<b@example.test>`).
const RCPT_PARAMS: &[(&str, &str)] = &[
    ("notify-success", "NOTIFY=SUCCESS"),
    ("notify-never", "NOTIFY=NEVER"),
    ("notify-list", "NOTIFY=SUCCESS,FAILURE,DELAY"),
    ("notify-never-and-success", "NOTIFY=NEVER,SUCCESS"),
    ("notify-empty-element", "NOTIFY=SUCCESS,,FAILURE"),
    ("notify-bogus", "NOTIFY=SOMETIMES"),
    ("notify-empty", "NOTIFY="),
    ("orcpt", "ORCPT=rfc822;b@example.test"),
    ("orcpt-xtext", "ORCPT=rfc822;b+40example.test"),
    ("orcpt-empty-address", "ORCPT=rfc822;"),
    ("orcpt-no-type", "ORCPT=b@example.test"),
    ("orcpt-bad-xtext", "ORCPT=rfc822;b+zz"),
    ("size-on-rcpt", "SIZE=10"),
    ("unknown", "FOO=bar"),
    (
        "notify-and-orcpt",
        "NOTIFY=FAILURE ORCPT=rfc822;b@example.test",
    ),
];

/// Commands after EHLO, each on its own, outside a transaction.
const SINGLE_COMMANDS: &[(&str, &str)] = &[
    ("noop", "NOOP"),
    ("noop-arg", "NOOP hello there"),
    ("rset", "RSET"),
    ("rset-arg", "RSET now"),
    ("quit", "QUIT"),
    ("quit-arg", "QUIT now"),
    ("vrfy-address", "VRFY u@example.test"),
    ("vrfy-name", "VRFY postmaster"),
    ("vrfy-bare", "VRFY"),
    ("expn-list", "EXPN staff"),
    ("expn-bare", "EXPN"),
    ("help", "HELP"),
    ("help-topic", "HELP MAIL"),
    ("starttls-no-tls", "STARTTLS"),
    ("auth-plain-no-auth", "AUTH PLAIN"),
    ("auth-bare", "AUTH"),
    ("etrn", "ETRN example.test"),
    ("turn", "TURN"),
    ("unknown-verb", "FOO"),
    ("unknown-verb-args", "FOO bar baz"),
    ("empty-line", ""),
    ("spaces-only", "   "),
    ("lowercase-noop", "noop"),
    ("mixed-case-noop", "NoOp"),
    ("leading-space", " NOOP"),
    ("noop-trailing-space", "NOOP "),
    ("noop-tab", "NOOP\t"),
    ("quit-tab", "QUIT\t"),
    ("helo-again", "HELO other.test"),
    ("ehlo-again", "EHLO other.test"),
    ("helo-bare", "HELO"),
    ("ehlo-bare", "EHLO"),
    ("ehlo-literal", "EHLO [127.0.0.1]"),
    ("ehlo-two-words", "EHLO a b"),
    ("mail-bare", "MAIL"),
    ("mail-from-only", "MAIL FROM"),
    ("mail-from-colon-nothing", "MAIL FROM:"),
    ("mail-to", "MAIL TO:<u@example.test>"),
    ("mail-null", "MAIL FROM:<>"),
    ("mail-null-space", "MAIL FROM: <>"),
    ("mail-lowercase", "mail from:<u@example.test>"),
    ("mail-no-colon", "MAIL FROM <u@example.test>"),
    ("mail-space-before-colon", "MAIL FROM :<u@example.test>"),
    ("rcpt-no-mail", "RCPT TO:<u@example.test>"),
    ("data-no-mail", "DATA"),
    ("data-arg", "DATA now"),
    ("bdat-no-mail", "BDAT 0 LAST"),
    ("verb-only-data-tab", "DATA\t"),
];

pub(super) fn dialogues() -> Vec<Dialogue> {
    let mut all = Vec::new();
    for (name, line) in SINGLE_COMMANDS {
        let mut d = Dialogue::new(format!("cmd/{name}")).cmd(line);
        if !line.to_ascii_uppercase().starts_with("QUIT") {
            d = d.cmd("QUIT");
        }
        all.push(d);
    }
    for (name, addr) in ADDRESSES {
        all.push(
            Dialogue::new(format!("mail-address/{name}"))
                .cmd(&format!("MAIL FROM:{addr}"))
                .cmd("QUIT"),
        );
        all.push(
            Dialogue::new(format!("rcpt-address/{name}"))
                .mail()
                .cmd(&format!("RCPT TO:{addr}"))
                .cmd("QUIT"),
        );
    }
    for (name, params) in MAIL_PARAMS {
        all.push(
            Dialogue::new(format!("mail-param/{name}"))
                .cmd(&format!("MAIL FROM:<a@example.test> {params}"))
                .cmd("QUIT"),
        );
    }
    for (name, params) in RCPT_PARAMS {
        all.push(
            Dialogue::new(format!("rcpt-param/{name}"))
                .mail()
                .cmd(&format!("RCPT TO:<b@example.test> {params}"))
                .cmd("QUIT"),
        );
    }
    all.extend(rcpt_specials());
    all.extend(sequences());
    all.extend(content());
    all.extend(bdat());
    all.extend(pipelining());
    all.extend(line_endings());
    all
}

fn rcpt_specials() -> Vec<Dialogue> {
    vec![
        Dialogue::new("rcpt-special/postmaster")
            .mail()
            .cmd("RCPT TO:<postmaster>")
            .cmd("QUIT"),
        Dialogue::new("rcpt-special/Postmaster-mixed-case")
            .mail()
            .cmd("RCPT TO:<PostMaster>")
            .cmd("QUIT"),
        Dialogue::new("rcpt-special/null")
            .mail()
            .cmd("RCPT TO:<>")
            .cmd("QUIT"),
        Dialogue::new("rcpt-special/bare")
            .mail()
            .cmd("RCPT")
            .cmd("QUIT"),
        Dialogue::new("rcpt-special/to-colon-nothing")
            .mail()
            .cmd("RCPT TO:")
            .cmd("QUIT"),
        Dialogue::new("rcpt-special/from")
            .mail()
            .cmd("RCPT FROM:<b@example.test>")
            .cmd("QUIT"),
        Dialogue::new("rcpt-special/lowercase")
            .mail()
            .cmd("rcpt to:<b@example.test>")
            .cmd("QUIT"),
        Dialogue::new("rcpt-special/null-sender-then-rcpt")
            .cmd("MAIL FROM:<>")
            .cmd("RCPT TO:<b@example.test>")
            .cmd("QUIT"),
        Dialogue::new("rcpt-special/utf8-with-smtputf8")
            .cmd("MAIL FROM:<a@example.test> SMTPUTF8")
            .cmd("RCPT TO:<üser@example.test>")
            .cmd("QUIT"),
        Dialogue::new("rcpt-special/duplicate-recipient")
            .mail_rcpt()
            .cmd("RCPT TO:<b@example.test>")
            .cmd("QUIT"),
        {
            let mut d = Dialogue::new("rcpt-special/101-recipients").mail();
            for i in 0..101 {
                d = d.cmd(&format!("RCPT TO:<r{i}@example.test>"));
            }
            d.cmd("QUIT")
        },
        {
            let mut d = Dialogue::new("rcpt-special/100-recipients-then-data").mail();
            for i in 0..100 {
                d = d.cmd(&format!("RCPT TO:<r{i}@example.test>"));
            }
            d.cmd("DATA")
                .raw(b"Subject: t\r\n\r\nx\r\n.\r\n", 1)
                .cmd("QUIT")
        },
    ]
}

fn sequences() -> Vec<Dialogue> {
    vec![
        Dialogue::bare("seq/mail-before-helo")
            .cmd("MAIL FROM:<a@example.test>")
            .cmd("QUIT"),
        Dialogue::bare("seq/rcpt-before-helo")
            .cmd("RCPT TO:<b@example.test>")
            .cmd("QUIT"),
        Dialogue::bare("seq/data-before-helo")
            .cmd("DATA")
            .cmd("QUIT"),
        Dialogue::bare("seq/noop-before-helo")
            .cmd("NOOP")
            .cmd("QUIT"),
        Dialogue::bare("seq/rset-before-helo")
            .cmd("RSET")
            .cmd("QUIT"),
        Dialogue::bare("seq/vrfy-before-helo")
            .cmd("VRFY u@example.test")
            .cmd("QUIT"),
        Dialogue::bare("seq/helo-then-mail")
            .cmd("HELO client.test")
            .mail_rcpt()
            .cmd("QUIT"),
        Dialogue::bare("seq/helo-then-esmtp-param")
            .cmd("HELO client.test")
            .cmd("MAIL FROM:<a@example.test> SIZE=10")
            .cmd("QUIT"),
        Dialogue::bare("seq/quit-first").cmd("QUIT"),
        Dialogue::new("seq/nested-mail").mail().mail().cmd("QUIT"),
        Dialogue::new("seq/data-before-rcpt")
            .mail()
            .cmd("DATA")
            .cmd("QUIT"),
        Dialogue::new("seq/rset-clears-mail")
            .mail()
            .cmd("RSET")
            .cmd("RCPT TO:<b@example.test>")
            .cmd("QUIT"),
        Dialogue::new("seq/ehlo-clears-mail")
            .mail()
            .cmd("EHLO again.test")
            .cmd("RCPT TO:<b@example.test>")
            .cmd("QUIT"),
        Dialogue::new("seq/helo-clears-mail")
            .mail()
            .cmd("HELO again.test")
            .cmd("RCPT TO:<b@example.test>")
            .cmd("QUIT"),
        Dialogue::new("seq/data-after-rejected-rcpts")
            .mail()
            .cmd("RCPT TO:<b@[300.1.1.1]>")
            .cmd("DATA")
            .cmd("QUIT"),
        Dialogue::new("seq/two-transactions")
            .mail_rcpt()
            .cmd("DATA")
            .raw(b"Subject: 1\r\n\r\none\r\n.\r\n", 1)
            .mail_rcpt()
            .cmd("DATA")
            .raw(b"Subject: 2\r\n\r\ntwo\r\n.\r\n", 1)
            .cmd("QUIT"),
        Dialogue::new("seq/rcpt-after-data")
            .mail_rcpt()
            .cmd("DATA")
            .raw(b"x\r\n.\r\n", 1)
            .cmd("RCPT TO:<b@example.test>")
            .cmd("QUIT"),
        Dialogue::new("seq/vrfy-in-transaction")
            .mail_rcpt()
            .cmd("VRFY b@example.test")
            .cmd("DATA")
            .raw(b"x\r\n.\r\n", 1)
            .cmd("QUIT"),
        Dialogue::new("seq/noop-in-transaction")
            .mail_rcpt()
            .cmd("NOOP")
            .cmd("DATA")
            .raw(b"x\r\n.\r\n", 1)
            .cmd("QUIT"),
        Dialogue::new("seq/starttls-in-transaction")
            .mail()
            .cmd("STARTTLS")
            .cmd("QUIT"),
        {
            let mut d = Dialogue::new("seq/21-unknown-commands");
            for _ in 0..21 {
                d = d.cmd("FOO");
            }
            d.cmd("NOOP")
        },
        {
            let mut d = Dialogue::new("seq/12-unknown-commands-then-mail");
            for _ in 0..12 {
                d = d.cmd("FOO");
            }
            d.mail_rcpt().cmd("QUIT")
        },
    ]
}

fn content() -> Vec<Dialogue> {
    let data = |name: &str, body: &[u8], replies: usize| {
        Dialogue::new(format!("data/{name}"))
            .mail_rcpt()
            .cmd("DATA")
            .raw(body, replies)
            .cmd("QUIT")
    };
    let long_line = format!("Subject: t\r\n\r\n{}\r\n.\r\n", "x".repeat(5000));
    let big = format!(
        "Subject: big\r\n\r\n{}.\r\n",
        format!("{}\r\n", "y".repeat(998)).repeat(27_000)
    );
    vec![
        data("simple", b"Subject: t\r\n\r\nhello\r\n.\r\n", 1),
        data("empty", b".\r\n", 1),
        data("dot-stuffed", b"Subject: t\r\n\r\n..x\r\n.\r\n", 1),
        data("headers-only", b"Subject: t\r\n.\r\n", 1),
        data("no-headers", b"just text\r\n.\r\n", 1),
        data("8bit", "Subject: t\r\n\r\nüber\r\n.\r\n".as_bytes(), 1),
        data("nul-byte", b"Subject: t\r\n\r\na\x00b\r\n.\r\n", 1),
        data("long-line", long_line.as_bytes(), 1),
        data("bare-lf-in-body", b"Subject: t\r\n\r\na\nb\r\n.\r\n", 1),
        data("bare-cr-in-body", b"Subject: t\r\n\r\na\rb\r\n.\r\n", 1),
        data(
            "lf-dot-lf-smuggling",
            b"Subject: t\r\n\r\na\n.\nMAIL FROM:<x@example.test>\r\n.\r\n",
            1,
        ),
        data("cr-dot-cr", b"Subject: t\r\n\r\na\r.\rb\r\n.\r\n", 1),
        data("over-size-limit", big.as_bytes(), 1),
        data("dot-space-line", b"Subject: t\r\n\r\n. \r\n.\r\n", 1),
        data("commands-after-dot", b"x\r\n.\r\nNOOP\r\n", 2),
    ]
}

fn bdat() -> Vec<Dialogue> {
    let b = |name: &str| Dialogue::new(format!("bdat/{name}")).mail_rcpt();
    vec![
        b("one-chunk-last")
            .raw(b"BDAT 5 LAST\r\nhello", 1)
            .cmd("QUIT"),
        b("two-chunks")
            .raw(b"BDAT 3\r\nabc", 1)
            .raw(b"BDAT 3 LAST\r\ndef", 1)
            .cmd("QUIT"),
        b("zero-last").raw(b"BDAT 0 LAST\r\n", 1).cmd("QUIT"),
        b("chunk-then-zero-last")
            .raw(b"BDAT 4\r\nabcd", 1)
            .raw(b"BDAT 0 LAST\r\n", 1)
            .cmd("QUIT"),
        b("lowercase-last").raw(b"BDAT 2 last\r\nab", 1).cmd("QUIT"),
        b("no-size").cmd("BDAT").cmd("QUIT"),
        b("letters-size").cmd("BDAT abc").cmd("QUIT"),
        b("bad-keyword").raw(b"BDAT 3 FOO\r\nabc", 1).cmd("QUIT"),
        b("then-data")
            .raw(b"BDAT 3\r\nabc", 1)
            .cmd("DATA")
            .cmd("QUIT"),
        b("then-rcpt")
            .raw(b"BDAT 3\r\nabc", 1)
            .cmd("RCPT TO:<c@example.test>")
            .cmd("QUIT"),
        b("crlf-dot-inside")
            .raw(b"BDAT 7 LAST\r\nx\r\n.\r\ny", 1)
            .cmd("QUIT"),
        Dialogue::new("bdat/no-rcpt")
            .mail()
            .raw(b"BDAT 3 LAST\r\nabc", 1)
            .cmd("QUIT"),
        b("binarymime")
            .cmd("RSET")
            .cmd("MAIL FROM:<a@example.test> BODY=BINARYMIME")
            .cmd("QUIT"),
    ]
}

fn pipelining() -> Vec<Dialogue> {
    vec![
        Dialogue::bare("pipe/ehlo-mail-rcpt-data")
            .raw(
                b"EHLO client.test\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n",
                4,
            )
            .raw(b"x\r\n.\r\nQUIT\r\n", 2),
        Dialogue::new("pipe/two-rcpts-one-bad")
            .raw(
                b"MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nRCPT TO:<c@>\r\nDATA\r\n",
                4,
            )
            .raw(b"x\r\n.\r\n", 1)
            .cmd("QUIT"),
        Dialogue::new("pipe/data-and-content-together")
            .mail_rcpt()
            .raw(b"DATA\r\nSubject: t\r\n\r\nx\r\n.\r\nQUIT\r\n", 3),
        Dialogue::new("pipe/rset-noop-quit").raw(b"RSET\r\nNOOP\r\nQUIT\r\n", 3),
        Dialogue::new("pipe/bad-mail-then-rcpt-data")
            .raw(
                b"MAIL FROM:<a@>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n",
                3,
            )
            .cmd("QUIT"),
        Dialogue::new("pipe/bdat-chunks-together")
            .mail_rcpt()
            .raw(b"BDAT 3\r\nabcBDAT 3 LAST\r\ndef", 2)
            .cmd("QUIT"),
        Dialogue::new("pipe/two-messages")
            .raw(
                b"MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nBDAT 1 LAST\r\nxMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nBDAT 1 LAST\r\ny",
                6,
            )
            .cmd("QUIT"),
        Dialogue::bare("pipe/before-greeting-reply")
            .raw(b"EHLO client.test\r\nNOOP\r\n", 2)
            .cmd("QUIT"),
        Dialogue::new("pipe/after-quit")
            .raw(b"QUIT\r\nNOOP\r\n", 1),
        Dialogue::new("pipe/commands-split-mid-line")
            .raw(b"NO", 0)
            .raw(b"OP\r\n", 1)
            .cmd("QUIT"),
    ]
}

fn line_endings() -> Vec<Dialogue> {
    let one = |name: &str, bytes: &[u8]| {
        Dialogue::new(format!("line/{name}"))
            .raw(bytes, 1)
            .cmd("QUIT")
    };
    vec![
        one("bare-lf-noop", b"NOOP\n"),
        one("cr-cr-lf", b"NOOP\r\r\n"),
        one("cr-inside-verb", b"NO\rOP\r\n"),
        one("nul-inside-verb", b"NO\x00OP\r\n"),
        one(
            "line-512",
            format!("NOOP {}\r\n", "x".repeat(505)).as_bytes(),
        ),
        one(
            "line-1000",
            format!("NOOP {}\r\n", "x".repeat(993)).as_bytes(),
        ),
        one(
            "line-2048",
            format!("NOOP {}\r\n", "x".repeat(2041)).as_bytes(),
        ),
        one(
            "line-5000",
            format!("NOOP {}\r\n", "x".repeat(4995)).as_bytes(),
        ),
        one("high-bit-verb", b"NO\xffOP\r\n"),
        one("utf8-in-ehlo", "EHLO ünïcode.test\r\n".as_bytes()),
        one("bare-lf-mail", b"MAIL FROM:<a@example.test>\n"),
        Dialogue::new("line/long-mail-line")
            .cmd(&format!("MAIL FROM:<{}@example.test>", "a".repeat(3000)))
            .cmd("QUIT"),
        Dialogue::new("line/crlf-only-lines")
            .raw(b"\r\n\r\n", 2)
            .cmd("QUIT"),
        Dialogue::new("line/tab-between-verb-and-arg")
            .cmd("MAIL\tFROM:<a@example.test>")
            .cmd("QUIT"),
        Dialogue::new("line/two-spaces-after-verb")
            .cmd("MAIL  FROM:<a@example.test>")
            .cmd("QUIT"),
    ]
}
