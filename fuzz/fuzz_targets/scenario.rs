//! The scenario loader on any text (as the HTTP API receives it): errors,
//! never a panic; every error has a message; a loaded scenario builds its
//! session settings and engine.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let yaml = String::from_utf8_lossy(data);
    match mailfault::fuzzing::load_scenario(&yaml) {
        Ok(_) => {}
        Err(errors) => {
            assert!(!errors.is_empty(), "failed without an error");
            assert!(errors.iter().all(|e| !e.is_empty()), "{errors:?}");
        }
    }
});
