//! The MIME view rules match against: any message bytes; the body text is
//! the same whether the headers-only parse came first or the full one.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (full_has, full_body, head_has, head_body) = mailfault::fuzzing::mime_view(data, "subject");
    assert_eq!(full_has, head_has, "header presence depends on the parse");
    assert_eq!(full_body, head_body, "body depends on the parse");
});
