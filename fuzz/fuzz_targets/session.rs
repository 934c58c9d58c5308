//! The whole session, raw bytes in: byte 0 picks the scenario, byte 1 how
//! it ends, byte 2 the read size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailfault_fuzz::{check_session, cuts};

fuzz_target!(|data: &[u8]| {
    let [profile, end, piece, input @ ..] = data else {
        return;
    };
    let out = mailfault::fuzzing::session(*profile, input, &cuts(input.len(), *piece), *end)
        .unwrap_or_else(|e| panic!("{e}"));
    check_session(&out);
});
