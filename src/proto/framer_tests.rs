//! Framer tests: each form, and the same results for input split anywhere.

use super::*;

/// What a whole run of frames amounts to.
#[derive(Debug, Default, PartialEq)]
struct Summary {
    lines: Vec<(Vec<u8>, Ending, bool)>,
    too_long: usize,
    content: Vec<u8>,
    flags: DataFlags,
    ends: usize,
    chunks: Vec<u8>,
    chunk_ends: usize,
}

/// Frames `input` fed in pieces; after a line `DATA` switches to Data mode,
/// after `BDAT n` to Chunk mode, as the session would.
fn frame(input: &[u8], piece: usize) -> Summary {
    let mut f = Framer::new(32);
    let mut s = Summary::default();
    let mut buf = Vec::new();
    for part in input.chunks(piece.max(1)) {
        buf.extend_from_slice(part);
        while let Some((frame, used)) = f.next(&buf) {
            match frame {
                Frame::Line {
                    line,
                    ending,
                    bare_cr,
                } => {
                    s.lines.push((line.to_vec(), ending, bare_cr));
                    if line == b"DATA" {
                        f.set_mode(Mode::Data);
                    } else if let Some(n) = line.strip_prefix(b"BDAT ") {
                        let n = std::str::from_utf8(n).unwrap().parse().unwrap();
                        f.set_mode(Mode::Chunk { remaining: n });
                    }
                }
                Frame::TooLong => s.too_long += 1,
                Frame::Discard => {}
                Frame::Data { bytes, flags } => {
                    s.content.extend_from_slice(bytes);
                    s.flags.bare_lf |= flags.bare_lf;
                    s.flags.bare_cr |= flags.bare_cr;
                    s.flags.smuggling |= flags.smuggling;
                }
                Frame::DataEnd => s.ends += 1,
                Frame::Chunk(b) => s.chunks.extend_from_slice(b),
                Frame::ChunkEnd => s.chunk_ends += 1,
            }
            buf.drain(..used);
        }
    }
    s
}

fn line(l: &[u8]) -> (Vec<u8>, Ending, bool) {
    (l.to_vec(), Ending::CrLf, false)
}

#[test]
fn command_lines() {
    let s = frame(b"EHLO a\r\nNOOP\nNO\rOP\r\n\r\n", usize::MAX);
    assert_eq!(
        s.lines,
        [
            line(b"EHLO a"),
            (b"NOOP".to_vec(), Ending::BareLf, false),
            (b"NO\rOP".to_vec(), Ending::CrLf, true),
            line(b""),
        ]
    );
}

#[test]
fn too_long_lines_are_skipped_and_recovered_from() {
    let exact = [b'x'; 32];
    let mut input = exact.to_vec();
    input.extend_from_slice(b"\r\n");
    input.extend_from_slice(&[b'y'; 100]);
    input.extend_from_slice(b"\r\nNOOP\r\n");
    for piece in [1, 5, 33, 1000] {
        let s = frame(&input, piece);
        assert_eq!(s.lines, [line(&exact), line(b"NOOP")], "piece {piece}");
        assert_eq!(s.too_long, 1, "piece {piece}");
    }
}

#[test]
fn data_unstuffing_and_end() {
    let s = frame(
        b"DATA\r\nSubject: x\r\n\r\n..one dot\r\n...\r\n.\r\nNOOP\r\n",
        usize::MAX,
    );
    assert_eq!(s.content, b"Subject: x\r\n\r\n.one dot\r\n..\r\n");
    assert_eq!(s.ends, 1);
    assert_eq!(s.lines.last(), Some(&line(b"NOOP")));
    assert_eq!(s.flags, DataFlags::default());
}

#[test]
fn smuggling_variants_are_content_and_flagged() {
    let variants: &[&[u8]] = &[
        b"a\n.\nMAIL FROM:<x@y>\r\n",
        b"a\n.\r\nMAIL FROM:<x@y>\r\n",
        b"a\r\n.\nMAIL FROM:<x@y>\r\n",
        b"a\r\n.\r.\r\n",
    ];
    for v in variants {
        let mut input = b"DATA\r\n".to_vec();
        input.extend_from_slice(v);
        input.extend_from_slice(b".\r\n");
        let s = frame(&input, usize::MAX);
        assert_eq!(s.ends, 1, "{:?}", String::from_utf8_lossy(v));
        assert!(
            s.flags.smuggling || s.flags.bare_cr,
            "{:?}",
            String::from_utf8_lossy(v)
        );
        assert_eq!(s.lines.len(), 1, "nothing after the dot became a command");
    }
}

#[test]
fn long_content_lines_pass_in_pieces() {
    let mut input = b"DATA\r\n".to_vec();
    input.extend_from_slice(&[b'z'; 500]);
    input.extend_from_slice(b"\r\n.\r\n");
    let s = frame(&input, 64);
    assert_eq!(s.content.len(), 502);
    assert_eq!(s.ends, 1);
}

#[test]
fn chunks_then_commands() {
    let s = frame(b"BDAT 5\r\nhelloBDAT 0\r\nNOOP\r\n", usize::MAX);
    assert_eq!(s.chunks, b"hello");
    assert_eq!(s.chunk_ends, 2);
    assert_eq!(s.lines.last(), Some(&line(b"NOOP")));
}

#[test]
fn every_split_gives_the_same_result() {
    let mut input = b"EHLO x\r\nDATA\r\n.lead\r\n..\r\nbare\nlf\r\ncr\rx\r\n".to_vec();
    input.extend_from_slice(&[b'q'; 70]);
    input.extend_from_slice(b"\r\n.\n.\r\n.\r\nBDAT 4\r\n\r\n.\r\nNOOP\r\n");
    input.extend_from_slice(&[b'w'; 40]);
    input.extend_from_slice(b"\r\nQUIT\r\n");
    let whole = frame(&input, usize::MAX);
    assert_eq!(whole.ends, 1);
    assert!(whole.flags.smuggling && whole.flags.bare_lf && whole.flags.bare_cr);
    for piece in 1..input.len() {
        assert_eq!(frame(&input, piece), whole, "piece {piece}");
    }
}

#[test]
fn random_bytes_never_panic_or_stall() {
    let mut seed = 0x1234_5678_9abc_def1u64;
    let alphabet = b".\r\nDATA BDAT 3x";
    for _ in 0..2000 {
        let mut input = Vec::new();
        for _ in 0..200 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            input.push(alphabet[(seed % alphabet.len() as u64) as usize]);
        }
        let mut f = Framer::new(16);
        let mut rest: &[u8] = &input;
        let mut steps = 0;
        while let Some((_, used)) = f.next(rest) {
            rest = &rest[used..];
            steps += 1;
            assert!(steps < 10_000, "framer stalled");
            if steps % 3 == 0 {
                f.set_mode(Mode::Data);
            }
        }
    }
}

/// Ordinary lines travel together; a dot line, a bare LF or a stray CR
/// starts a frame of its own, so unstuffing and flags stay per line.
#[test]
fn plain_lines_travel_as_one_frame() {
    let mut f = Framer::new(100);
    f.set_mode(Mode::Data);
    let input: &[u8] = b"a\r\nb\r\n..x\r\nc\r\nd\nq\r\n e\rf\r\n.\r\n";
    let mut rest = input;
    let mut frames = Vec::new();
    while let Some((frame, used)) = f.next(rest) {
        frames.push(match frame {
            Frame::Data { bytes, flags } => format!(
                "{:?} {}",
                String::from_utf8_lossy(bytes),
                flags.bare_lf as u8 + 2 * flags.bare_cr as u8
            ),
            Frame::DataEnd => "end".to_owned(),
            other => format!("{other:?}"),
        });
        rest = &rest[used..];
    }
    assert_eq!(
        frames,
        [
            "\"a\\r\\nb\\r\\n\" 0",
            "\".x\\r\\n\" 0",
            "\"c\\r\\n\" 0",
            "\"d\\n\" 1",
            "\"q\\r\\n\" 0",
            "\" e\\rf\\r\\n\" 2",
            "end",
        ]
    );
    assert!(rest.is_empty());
}

/// Fuzz finding (framer target): a `.<CR>...<LF>` DATA line longer than
/// the line limit, arriving in small reads, is passed on in pieces; the
/// smuggling flag must not depend on how the bytes were cut.
#[test]
fn smuggling_flag_survives_a_line_passed_on_in_pieces() {
    let input: &[u8] = b".\rxxx\xbaxxxxx;xxxx\n\r\n.\r\n";
    for piece in [1, 2, 5, input.len()] {
        let mut f = Framer::new(16);
        f.set_mode(Mode::Data);
        let mut buf = Vec::new();
        let mut smuggling = false;
        let mut ended = false;
        for chunk in input.chunks(piece) {
            buf.extend_from_slice(chunk);
            while let Some((frame, used)) = f.next(&buf) {
                match frame {
                    Frame::Data { flags, .. } => smuggling |= flags.smuggling,
                    Frame::DataEnd => ended = true,
                    _ => {}
                }
                buf.drain(..used);
            }
        }
        assert!(ended, "piece {piece}");
        assert!(
            smuggling,
            "piece {piece}: dot line next to a bare LF not flagged"
        );
    }
}
