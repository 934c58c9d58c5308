//! `extends:` builds a scenario on another one: a built-in provider profile
//! (`extends: gmail`) or a file (`extends: ../base.yaml`, relative to the
//! extending file). The base is loaded and validated on its own, so its
//! errors name its own file, line and column. Files are read only for a
//! scenario that came from a file itself, and only regular files of at most
//! [`MAX_FILE`] bytes; a scenario sent over the HTTP API may extend the
//! built-in profiles alone.

use std::path::{Path, PathBuf};

use serde_saphyr::Spanned;

use super::Scenario;
use super::load::{Errors, Source, load_source, loc};

/// Provider profiles compiled into the binary, by the name `extends` uses.
pub(super) const BUILT_IN: &[(&str, &str)] = &[
    (
        "gmail",
        include_str!("../../scenarios/providers/gmail.yaml"),
    ),
    (
        "microsoft365",
        include_str!("../../scenarios/providers/microsoft365.yaml"),
    ),
    (
        "yahoo",
        include_str!("../../scenarios/providers/yahoo.yaml"),
    ),
];

/// The largest scenario file read: scenarios are a few kilobytes, and a
/// mistaken path (a log, an image) should fail fast, not fill memory.
pub(super) const MAX_FILE: u64 = 1024 * 1024;

/// Reads a scenario file: a regular file (not a FIFO or device, which could
/// block or never end) of at most [`MAX_FILE`] bytes, as UTF-8.
pub(super) fn read_file(path: &Path) -> Result<String, String> {
    use std::io::Read as _;
    let not_regular = || "not a regular file; give the path of a YAML file".to_owned();
    // stat first: opening a FIFO for reading would block.
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err(not_regular());
    }
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    // And again on what was opened, in case the path changed in between.
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err(not_regular());
    }
    let too_big = || {
        format!(
            "larger than {} KiB; is this really a scenario?",
            MAX_FILE / 1024
        )
    };
    if meta.len() > MAX_FILE {
        return Err(too_big());
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(too_big());
    }
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned())
}

/// Chains longer than this are taken for a cycle.
const MAX_DEPTH: usize = 8;

/// Loads the scenario `ext` names; problems are recorded at `ext`.
pub(super) fn parent(
    ext: &Spanned<String>,
    dir: Option<&Path>,
    files: bool,
    depth: usize,
    errors: &mut Errors<'_>,
) -> Option<Scenario> {
    if depth >= MAX_DEPTH {
        errors.at(
            loc(ext),
            format!("`extends` goes more than {MAX_DEPTH} levels deep; do two scenarios extend each other?"),
        );
        return None;
    }
    let name = ext.value.trim();
    let is_path = name.contains(['/', '\\']) || name.ends_with(".yaml") || name.ends_with(".yml");
    let known = || {
        BUILT_IN
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let loaded = if is_path && !files {
        // Nothing is read, and nothing is said about the path: whether it
        // exists is none of an API client's business.
        errors.at(
            loc(ext),
            format!(
                "a scenario sent over the HTTP API may extend only a built-in profile ({}), not a file; send the whole scenario, or start the server with --scenario FILE",
                known()
            ),
        );
        return None;
    } else if is_path {
        let path = dir.map_or_else(|| PathBuf::from(name), |d| d.join(name));
        match read_file(&path) {
            Ok(text) => load_source(
                Source {
                    text: &text,
                    file: &path.display().to_string(),
                    stem: None,
                    dir: path.parent(),
                    files,
                },
                depth + 1,
            ),
            Err(e) => {
                errors.at(
                    loc(ext),
                    format!("cannot read `{}` to extend it: {e}", path.display()),
                );
                return None;
            }
        }
    } else {
        let Some((_, text)) = BUILT_IN.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) else {
            errors.at(
                loc(ext),
                format!(
                    "unknown profile `{name}`; built-in profiles are {}{}",
                    known(),
                    if files {
                        ", or give a path such as ./base.yaml"
                    } else {
                        ""
                    }
                ),
            );
            return None;
        };
        load_source(
            Source {
                text,
                file: &format!("<built-in {name}>"),
                stem: Some(name.to_owned()),
                dir: None,
                files,
            },
            depth + 1,
        )
    };
    match loaded {
        Ok(s) => Some(s),
        Err(inner) => {
            errors.at(
                loc(ext),
                format!("the scenario extended here (`{name}`) is invalid:"),
            );
            errors.extend(inner.0);
            None
        }
    }
}
