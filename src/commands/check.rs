//! `mailfault check`: validate scenario files without starting a server.

use std::io::Write;
use std::path::PathBuf;

use super::exit;
use crate::scenario::Scenario;

/// Checks every file, reports each result, and returns the exit code:
/// 0 when all are valid, 2 when any is not (a configuration error).
pub fn run(files: &[PathBuf], out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let mut code = exit::OK;
    for file in files {
        match Scenario::from_file(file) {
            Ok(s) => {
                let _ = writeln!(
                    out,
                    "ok: {} ({}, {} rule{})",
                    file.display(),
                    s.name,
                    s.rules.len(),
                    if s.rules.len() == 1 { "" } else { "s" }
                );
            }
            Err(errors) => {
                let _ = writeln!(err, "{errors}");
                code = exit::USAGE;
            }
        }
    }
    code
}
