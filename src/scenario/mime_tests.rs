//! The message as rules read it: decoded headers, the text body, the raw
//! fallback, one parse per decision.

use super::*;

fn headers(raw: &[u8], name: &str) -> Vec<String> {
    let parser = parser();
    MessageView::with(raw, &parser, true, |view| {
        let found = std::cell::RefCell::new(Vec::new());
        view.any_header(name, |v| {
            found.borrow_mut().push(v.to_owned());
            false
        });
        found.into_inner()
    })
}

fn body(raw: &[u8]) -> String {
    let parser = parser();
    MessageView::with(raw, &parser, true, |view| view.body().to_owned())
}

#[test]
fn header_values_are_decoded_and_unfolded() {
    let raw = b"From: =?UTF-8?Q?J=C3=B6rg?= <j@example.test>\r\n\
        Subject: =?UTF-8?B?WW91ciBpbnZvaWNlIDQy?=\r\n\
        X-Folded: one\r\n  two\r\n\
        subject: =?iso-8859-1?q?caf=E9?= second\r\n\
        Content-Type: text/plain;\r\n charset=utf-8\r\n\
        \r\n\
        Subject: not a header\r\n";
    assert_eq!(headers(raw, "SUBJECT"), ["Your invoice 42", "café second"]);
    assert_eq!(headers(raw, "from"), ["Jörg <j@example.test>"]);
    assert_eq!(headers(raw, "x-folded"), ["one two"]);
    assert_eq!(headers(raw, "Content-Type"), ["text/plain; charset=utf-8"]);
    assert!(headers(raw, "X-Missing").is_empty());
}

#[test]
fn body_is_the_decoded_text() {
    let qp = b"Content-Type: text/plain; charset=utf-8\r\n\
        Content-Transfer-Encoding: quoted-printable\r\n\r\n\
        To unsub=\r\nscribe: Gr=C3=BC=C3=9Fe\r\n";
    assert!(body(qp).contains("To unsubscribe: Grüße"), "{}", body(qp));
    let b64 = b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n\
        dW5zdWJzY3JpYmUgaGVyZQ==\r\n";
    assert_eq!(body(b64).trim(), "unsubscribe here");
    let plain = b"Subject: x\r\n\r\nline one\r\nline two\r\n";
    assert_eq!(body(plain), "line one\r\nline two\r\n");
}

#[test]
fn html_only_bodies_are_read_as_text() {
    let raw = b"Content-Type: text/html\r\n\r\n<p>Click <a href=\"https://x.test/u\">unsub<b>scribe</b></a> now</p>\r\n";
    let text = body(raw);
    assert!(text.contains("Click unsubscribe now"), "{text}");
    assert!(!text.contains("<a"), "{text}");
}

#[test]
fn alternatives_read_the_text_part_and_skip_attachments() {
    let raw = b"Content-Type: multipart/mixed; boundary=b1\r\n\r\n\
        --b1\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n\
        --b2\r\nContent-Type: text/plain\r\n\r\nplain words\r\n\
        --b2\r\nContent-Type: text/html\r\n\r\n<p>html words</p>\r\n\
        --b2--\r\n\
        --b1\r\nContent-Type: text/plain\r\n\r\nsecond inline part\r\n\
        --b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n\
        Content-Transfer-Encoding: base64\r\n\r\ndW5zdWJzY3JpYmU=\r\n\
        --b1--\r\n";
    let text = body(raw);
    assert!(text.contains("plain words"), "{text}");
    assert!(text.contains("second inline part"), "{text}");
    assert!(!text.contains("html words"), "{text}");
    assert!(!text.contains("unsubscribe"), "{text}");
    assert!(!text.contains("dW5z"), "{text}");
}

#[test]
fn unparsable_messages_fall_back_to_raw_bytes() {
    // No header section: everything is body, read as lossy UTF-8.
    let raw = b"\xff\xfe no headers at all, unsubscribe\r\n";
    assert!(body(raw).contains("no headers at all, unsubscribe"));
    assert!(body(raw).starts_with('\u{fffd}'));
    assert!(headers(raw, "Subject").is_empty());
    assert_eq!(body(b""), "");
    assert!(headers(b"", "Subject").is_empty());
}

#[test]
fn the_raw_scan_unfolds_headers() {
    let m = b"Subject: Your\r\n  invoice\r\nX-A: 1\r\nsubject: second\r\n\r\nSubject: body\r\n";
    assert_eq!(raw_header_values(m, "SUBJECT"), ["Your invoice", "second"]);
    assert_eq!(raw_body(m), b"Subject: body\r\n");
    assert!(raw_header_values(b"no headers", "x").is_empty());
    assert_eq!(raw_body(b"no headers"), b"no headers");
}

#[test]
fn broken_mime_never_panics() {
    let inputs: &[&[u8]] = &[
        b"Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n--\r\n",
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x",
        b"Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\nSubject: =?x?B?====?=\r\n",
        b"Subject: =?UTF-8?B?\xff\xff?=\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!\r\n",
        b"Content-Type: text/html; charset=nonsense\r\n\r\n<<<<>>>>&#xffffffff;&amp",
        b":\r\n:\r\n\r\n",
        b"\r\n\r\n\r\n",
        b"Subject:",
    ];
    for raw in inputs {
        let parser = parser();
        for with_body in [true, false] {
            MessageView::with(raw, &parser, with_body, |view| {
                let _ = view.any_header("subject", |_| true);
                let _ = view.body().len();
            });
        }
    }
}

#[test]
fn a_header_only_view_still_reads_the_body_when_asked() {
    let raw = b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\ndW5zdWJzY3JpYmU=\r\n";
    let parser = parser();
    let text = MessageView::with(raw, &parser, false, |view| view.body().to_owned());
    assert_eq!(text.trim(), "unsubscribe");
}

#[test]
fn one_parse_per_view() {
    let raw = b"Subject: a\r\n\r\nbody\r\n";
    let parser = parser();
    let before = parses();
    MessageView::with(raw, &parser, true, |view| {
        for _ in 0..5 {
            view.any_header("subject", |_| false);
            let _ = view.body();
        }
    });
    assert_eq!(parses() - before, 1);
}

/// Fuzz finding (mime target): a message whose header section alone did
/// not parse, but whose whole did, read as raw bytes when only the headers
/// had been parsed: the body depended on whether a rule was expected to
/// read it.
#[test]
fn body_does_not_depend_on_which_parse_came_first() {
    let raw: &[u8] = b"Subje\xa9\xaa\xaa\xaa\xaa\xaa\xaa\xaa\x02n\r \n\r\nJum.\rtext.\r\n";
    let parser = parser();
    let full = MessageView::with(raw, &parser, true, |view| view.body().to_owned());
    let head = MessageView::with(raw, &parser, false, |view| view.body().to_owned());
    assert_eq!(full, head);
}

/// Fuzz finding (mime target): a header section with a leading empty line
/// did not parse alone but did within the whole message, so `header:`
/// conditions saw `Subject` or not depending on the parse.
#[test]
fn header_presence_does_not_depend_on_which_parse_came_first() {
    let raw: &[u8] = b"\nSubject:";
    let parser = parser();
    let has = |with_body| {
        MessageView::with(raw, &parser, with_body, |view| {
            view.any_header("subject", |_| true)
        })
    };
    assert_eq!(has(true), has(false));
}

/// Fuzz finding (mime target): this multipart trips a `debug_assert!` in
/// mail-parser 0.11; a debug build must read it as unparsable, not panic.
#[test]
fn a_multipart_tripping_the_parser_assertion_does_not_panic() {
    let raw: &[u8] =
        b"Content-Type: multipart/; boundary=x\n\r\n--xContent-Type:message/rFc822\n\r\n\
        Content-Type:message/rfc822\n\n\n--x--\r";
    let parser = parser();
    for with_body in [true, false] {
        MessageView::with(raw, &parser, with_body, |view| {
            view.any_header("subject", |_| true);
            let _ = view.body();
        });
    }
}
