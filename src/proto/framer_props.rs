//! Property tests of the framer: whatever the read sizes, the same lines,
//! the same message content (dot-stuffing undone exactly) and the same
//! chunks come out.

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;

/// Feeds `input` cut at `cuts` (offsets, any order) the way the connection
/// does, switching to `mode` first; returns every frame, owned.
fn frames(input: &[u8], cuts: &[usize], max_line: usize, mode: Mode) -> Vec<Owned> {
    let mut f = Framer::new(max_line);
    f.set_mode(mode);
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    cuts.push(input.len());
    cuts.sort_unstable();
    let (mut buf, mut out, mut fed) = (Vec::new(), Vec::new(), 0);
    for cut in cuts {
        buf.extend_from_slice(&input[fed..cut]);
        fed = cut;
        while let Some((frame, used)) = f.next(&buf) {
            assert!(used <= buf.len());
            out.push(match frame {
                Frame::Line { line, ending, .. } => Owned::Line(line.to_vec(), ending),
                Frame::TooLong => Owned::TooLong,
                Frame::Discard => Owned::Discard,
                Frame::Data { bytes, flags } => Owned::Data(bytes.to_vec(), flags),
                Frame::DataEnd => Owned::DataEnd,
                Frame::Chunk(bytes) => Owned::Chunk(bytes.to_vec()),
                Frame::ChunkEnd => Owned::ChunkEnd,
            });
            buf.drain(..used);
        }
    }
    out.retain(|o| *o != Owned::Discard);
    out
}

#[derive(Debug, PartialEq)]
enum Owned {
    Line(Vec<u8>, Ending),
    TooLong,
    Discard,
    Data(Vec<u8>, DataFlags),
    DataEnd,
    Chunk(Vec<u8>),
    ChunkEnd,
}

/// A command line's text: any bytes but CR and LF.
fn line(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(
        any::<u8>().prop_filter("no line end", |b| *b != b'\r' && *b != b'\n'),
        0..=max,
    )
}

/// Frames with runs of content joined (flags OR-ed): what is left when
/// where the input was cut cannot show.
fn joined(frames: Vec<Owned>) -> Vec<Owned> {
    let mut out: Vec<Owned> = Vec::new();
    for f in frames {
        match (out.last_mut(), f) {
            (Some(Owned::Data(bytes, flags)), Owned::Data(more, fl)) => {
                bytes.extend_from_slice(&more);
                flags.bare_lf |= fl.bare_lf;
                flags.bare_cr |= fl.bare_cr;
                flags.smuggling |= fl.smuggling;
            }
            (_, f) => out.push(f),
        }
    }
    out
}

proptest! {
    /// Command lines within the limit come out whole and in order, however
    /// the bytes were cut.
    #[test]
    fn command_lines_survive_any_cuts(
        lines in vec(line(40), 0..12),
        cuts in vec(0usize..600, 0..20),
    ) {
        let mut input = Vec::new();
        for l in &lines {
            input.extend_from_slice(l);
            input.extend_from_slice(b"\r\n");
        }
        let got = frames(&input, &cuts, 40, Mode::Command);
        let want: Vec<Owned> = lines.into_iter().map(|l| Owned::Line(l, Ending::CrLf)).collect();
        prop_assert_eq!(got, want);
    }

    /// Over-long lines are reported once each and never passed on; the
    /// lines around them are intact.
    #[test]
    fn over_long_lines_are_reported_once(
        lines in vec(line(80), 0..10),
        cuts in vec(0usize..900, 0..20),
    ) {
        let mut input = Vec::new();
        for l in &lines {
            input.extend_from_slice(l);
            input.extend_from_slice(b"\r\n");
        }
        let got = frames(&input, &cuts, 32, Mode::Command);
        let want: Vec<Owned> = lines
            .into_iter()
            .map(|l| if l.len() > 32 { Owned::TooLong } else { Owned::Line(l, Ending::CrLf) })
            .collect();
        prop_assert_eq!(got, want);
    }

    /// Dot-stuffing round trip: content lines stuffed by the RFC 5321
    /// §4.5.2 rule and ended by `.<CRLF>` unstuff to exactly the original
    /// content, with no flag raised, whatever the cuts and line lengths
    /// (lines longer than the limit travel in pieces).
    #[test]
    fn dot_stuffing_round_trips(
        lines in vec(line(100), 0..10),
        cuts in vec(0usize..1200, 0..30),
    ) {
        let (mut original, mut stuffed) = (Vec::new(), Vec::new());
        for l in &lines {
            original.extend_from_slice(l);
            original.extend_from_slice(b"\r\n");
            if l.first() == Some(&b'.') {
                stuffed.push(b'.');
            }
            stuffed.extend_from_slice(l);
            stuffed.extend_from_slice(b"\r\n");
        }
        stuffed.extend_from_slice(b".\r\n");
        let got = joined(frames(&stuffed, &cuts, 32, Mode::Data));
        let mut want = Vec::new();
        if !original.is_empty() {
            want.push(Owned::Data(original, DataFlags::default()));
        }
        want.push(Owned::DataEnd);
        prop_assert_eq!(got, want);
    }

    /// Any DATA bytes (and the commands after its end), cut anywhere: the
    /// frames, content and flags do not depend on the cuts.
    #[test]
    fn data_framing_ignores_cuts(
        input in vec(prop::sample::select(b".\r\nab".to_vec()), 0..300),
        cuts in vec(0usize..300, 0..30),
    ) {
        let mut input = input;
        input.extend_from_slice(b"\r\n.\r\n");
        let whole = joined(frames(&input, &[], 16, Mode::Data));
        let split = joined(frames(&input, &cuts, 16, Mode::Data));
        prop_assert_eq!(whole, split);
    }

    /// A BDAT chunk of any bytes arrives whole, then the command after it.
    #[test]
    fn chunks_survive_any_cuts(
        payload in vec(any::<u8>(), 0..400),
        cuts in vec(0usize..420, 0..20),
    ) {
        let mut input = payload.clone();
        input.extend_from_slice(b"QUIT\r\n");
        let mode = Mode::Chunk { remaining: payload.len() as u64 };
        let got = frames(&input, &cuts, 32, mode);
        let mut chunk = Vec::new();
        let mut rest = Vec::new();
        for f in got {
            match f {
                Owned::Chunk(b) => chunk.extend_from_slice(&b),
                other => rest.push(other),
            }
        }
        prop_assert_eq!(chunk, payload);
        prop_assert_eq!(rest, vec![Owned::ChunkEnd, Owned::Line(b"QUIT".to_vec(), Ending::CrLf)]);
    }
}
