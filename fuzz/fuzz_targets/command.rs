//! The command parser: any line in, a command or a 500/501 out; the parsed
//! fields are pieces of the line, the verb is its first word, and a
//! MAIL or RCPT accepted holds no control character.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    match mailfault::fuzzing::parse_command(line) {
        Ok(parsed) => {
            let text = String::from_utf8_lossy(line);
            let word = text.split([' ', '\t']).next().unwrap_or_default();
            assert!(
                word.eq_ignore_ascii_case(parsed.verb),
                "{word} parsed as {}",
                parsed.verb
            );
            for field in &parsed.fields {
                assert!(text.contains(field.as_str()), "{field:?} not in {text:?}");
                // Paths and parameters carry no control character (TAB
                // aside, which separates parameters).
                if matches!(parsed.verb, "MAIL" | "RCPT") {
                    assert!(
                        !field.chars().any(|c| c.is_control() && c != '\t'),
                        "{field:?}"
                    );
                }
            }
        }
        Err(code) => assert!(code == 500 || code == 501, "{code}"),
    }
});
