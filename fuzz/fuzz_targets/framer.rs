//! The framer, fed whole and in pieces: its contract holds (lines within
//! the limit, progress, no over-consumption) and the cuts never change
//! what it frames. Byte 0 picks the line limit, byte 1 the piece length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailfault::fuzzing::frame;
use mailfault_fuzz::{cuts, normalized, same_framing};

fuzz_target!(|data: &[u8]| {
    let [limit, piece, input @ ..] = data else {
        return;
    };
    let max_line = usize::from(*limit);
    let whole = frame(input, &[], max_line).unwrap_or_else(|e| panic!("{e}"));
    let split =
        frame(input, &cuts(input.len(), *piece), max_line).unwrap_or_else(|e| panic!("{e}"));
    let (whole, split) = (normalized(whole), normalized(split));
    assert!(
        same_framing(&whole, &split),
        "cuts changed the framing:\n{whole:?}\n{split:?}"
    );
});
