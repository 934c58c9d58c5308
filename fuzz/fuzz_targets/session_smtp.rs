//! The whole session in the SMTP alphabet: fuzz bytes map onto verbs,
//! parameters, addresses and line ends, so coverage reaches the
//! transaction, DATA, BDAT, AUTH and STARTTLS states.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailfault_fuzz::{check_session, cuts, smtp_expand};

fuzz_target!(|data: &[u8]| {
    let [profile, end, piece, input @ ..] = data else {
        return;
    };
    let input = smtp_expand(input);
    let out = mailfault::fuzzing::session(*profile, &input, &cuts(input.len(), *piece), *end)
        .unwrap_or_else(|e| panic!("{e}"));
    check_session(&out);
});
