//! `mailfault check`: validate scenario files without starting a server.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::exit;
use crate::codes::{known_enhanced, registry_class_warning};
use crate::proto::policy::ReplyChoice;
use crate::scenario::Scenario;

/// Checks every file, reports each result, and returns the exit code:
/// 0 when all are valid, 2 when any is not (a configuration error).
/// Warnings (enhanced codes the catalog does not know, or used with a reply
/// class the IANA registry does not list for them) go to `err` but do not
/// fail the check: a scenario may imitate a receiver's private code.
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
                warn_unknown_codes(file, &s, err);
            }
            Err(errors) => {
                let _ = writeln!(err, "{errors}");
                code = exit::USAGE;
            }
        }
    }
    code
}

/// A typo such as `5.1.11` for `5.1.1` passes every syntax check, so the
/// catalog is the only thing that can catch it.
fn warn_unknown_codes(file: &Path, scenario: &Scenario, err: &mut dyn Write) {
    for rule in &scenario.rules {
        let ReplyChoice::Custom(reply) = &rule.reply else {
            continue;
        };
        let Some(enhanced) = reply.enhanced else {
            continue;
        };
        if known_enhanced(enhanced).is_none() {
            let _ = writeln!(
                err,
                "warning: {}: rule \"{}\": enhanced code {enhanced} is not in the catalog (see `mailfault codes`)",
                file.display(),
                rule.name
            );
        }
        let text = reply.to_string();
        let last = text.lines().last().unwrap_or("");
        if let Some(warning) = registry_class_warning(last) {
            let _ = writeln!(
                err,
                "warning: {}: rule \"{}\": reply {} with {enhanced}: {warning} (IANA registry)",
                file.display(),
                rule.name,
                reply.code
            );
        }
    }
}
