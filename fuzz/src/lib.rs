//! Helpers shared by the fuzz targets: input layout and the invariants
//! checked on the server's output.

use mailfault::fuzzing::{FrameOut, SessionOut};

/// Cut offsets for a piece length: `0` means one piece.
pub fn cuts(len: usize, piece: u8) -> Vec<usize> {
    match piece {
        0 => Vec::new(),
        p => (1..len.div_ceil(usize::from(p)))
            .map(|i| i * usize::from(p))
            .collect(),
    }
}

/// Panics unless `wire` is one well-formed SMTP reply: lines of three
/// digits (all the same code), `-` on every line but the last, CRLF-ended,
/// no CR or LF inside a line.
pub fn check_reply(wire: &[u8]) {
    assert!(
        wire.ends_with(b"\r\n"),
        "reply not CRLF-terminated: {wire:?}"
    );
    let body = &wire[..wire.len() - 2];
    let lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
    let mut code: Option<&[u8]> = None;
    for (i, line) in lines.iter().enumerate() {
        let line = if i + 1 < lines.len() {
            line.strip_suffix(b"\r")
                .unwrap_or_else(|| panic!("bare LF in reply: {wire:?}"))
        } else {
            line
        };
        assert!(!line.contains(&b'\r'), "bare CR in reply: {wire:?}");
        assert!(line.len() >= 3, "short reply line: {wire:?}");
        assert!(
            line[..3].iter().all(u8::is_ascii_digit),
            "reply code not 3 digits: {wire:?}"
        );
        assert!((b'2'..=b'5').contains(&line[0]), "reply class: {wire:?}");
        assert!(
            *code.get_or_insert(&line[..3]) == &line[..3],
            "codes differ within a reply: {wire:?}"
        );
        let last = i + 1 == lines.len();
        match line.get(3) {
            None => assert!(last, "bare code on a continuation line: {wire:?}"),
            Some(b'-') => assert!(!last, "last line is a continuation: {wire:?}"),
            Some(b' ') => assert!(last, "a middle line ends the reply: {wire:?}"),
            Some(_) => panic!("no separator after the code: {wire:?}"),
        }
    }
}

/// Panics unless the session's output is sound: well-formed replies,
/// exactly one close at the very end and nothing at all after it.
pub fn check_session(out: &[SessionOut]) {
    let close = out.iter().position(|o| *o == SessionOut::Close);
    let Some(close) = close else {
        panic!("session neither closed on time-out nor on shutdown: {out:?}");
    };
    assert_eq!(close + 1, out.len(), "output after close: {out:?}");
    for o in out {
        if let SessionOut::Reply {
            wire,
            checked: true,
        } = o
        {
            check_reply(wire);
        }
    }
}

/// Frames merged so that where the input was cut cannot show: content
/// runs joined (flags OR-ed), discarded bytes dropped.
pub fn normalized(frames: Vec<FrameOut>) -> Vec<FrameOut> {
    let mut out: Vec<FrameOut> = Vec::new();
    for f in frames {
        match (out.last_mut(), f) {
            (_, FrameOut::Discard) => {}
            (Some(FrameOut::Data(bytes, flags)), FrameOut::Data(more, more_flags)) => {
                bytes.extend_from_slice(&more);
                for (a, b) in flags.iter_mut().zip(more_flags) {
                    *a |= b;
                }
            }
            (Some(FrameOut::Chunk(bytes)), FrameOut::Chunk(more)) => {
                bytes.extend_from_slice(&more);
            }
            (_, f) => out.push(f),
        }
    }
    out
}

/// Whether two normalized framings agree, allowing the unterminated tail
/// of content (the last frame) to have been passed on in part.
pub fn same_framing(a: &[FrameOut], b: &[FrameOut]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let n = a.len();
    if n == 0 || a[..n - 1] != b[..n - 1] {
        return n == 0;
    }
    match (&a[n - 1], &b[n - 1]) {
        (FrameOut::Data(x, _), FrameOut::Data(y, _)) => x.starts_with(y) || y.starts_with(x),
        (FrameOut::Chunk(x), FrameOut::Chunk(y)) => x.starts_with(y) || y.starts_with(x),
        (x, y) => x == y,
    }
}

/// Tokens of the SMTP alphabet: a fuzz byte below the table's length picks
/// one, any other byte stands for itself.
pub const SMTP_TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"EHLO ",
    b"HELO ",
    b"MAIL FROM:",
    b"RCPT TO:",
    b"DATA",
    b"BDAT ",
    b"RSET",
    b"NOOP",
    b"QUIT",
    b"VRFY ",
    b"EXPN ",
    b"HELP",
    b"STARTTLS",
    b"AUTH ",
    b"PLAIN",
    b"LOGIN",
    b"CRAM-MD5",
    b"XOAUTH2",
    b"<a@b.test>",
    b"<>",
    b"<postmaster>",
    b"<\"q u\"@[192.0.2.1]>",
    b"<@r.test:u@d.test>",
    b" SIZE=",
    b" BODY=8BITMIME",
    b" BODY=BINARYMIME",
    b" SMTPUTF8",
    b" RET=HDRS",
    b" ENVID=x+2B",
    b" AUTH=<>",
    b" NOTIFY=SUCCESS,FAILURE",
    b" NOTIFY=NEVER",
    b" ORCPT=rfc822;a@b.test",
    b" LAST",
    b"\n",
    b"\r",
    b".",
    b"\r\n.\r\n",
    b"\r\n..x\r\n",
    b"Subject: x\r\n\r\nbody",
    b"0",
    b"1",
    b"9",
    b"10",
    b"100",
    b"65536",
    b"AGFsaWNlAHNlY3JldA==",
    b"YWxpY2U=",
    b"c2VjcmV0",
    b"*",
    b"=",
    b" ",
    b"\t",
    b"\0",
    b"mx.test",
    b"[IPv6:::1]",
    b"\xc3\xa9",
    b"reject@fault.mailfault.test",
    b"spam",
];

/// Expands fuzz bytes over [`SMTP_TOKENS`].
pub fn smtp_expand(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() * 4);
    for &b in data {
        match SMTP_TOKENS.get(usize::from(b)) {
            Some(t) => out.extend_from_slice(t),
            None => out.push(b),
        }
    }
    out
}
