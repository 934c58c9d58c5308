//! `extends:` builds a scenario on another one: a built-in provider profile
//! (`extends: gmail`) or a file (`extends: ../base.yaml`, relative to the
//! extending file). The base is loaded and validated on its own, so its
//! errors name its own file, line and column.

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

/// Chains longer than this are taken for a cycle.
const MAX_DEPTH: usize = 8;

/// Loads the scenario `ext` names; problems are recorded at `ext`.
pub(super) fn parent(
    ext: &Spanned<String>,
    dir: Option<&Path>,
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
    let loaded = if is_path {
        let path = dir.map_or_else(|| PathBuf::from(name), |d| d.join(name));
        match std::fs::read_to_string(&path) {
            Ok(text) => load_source(
                Source {
                    text: &text,
                    file: &path.display().to_string(),
                    stem: None,
                    dir: path.parent(),
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
            let known: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
            errors.at(
                loc(ext),
                format!(
                    "unknown profile `{name}`; built-in profiles are {}, or give a path such as ./base.yaml",
                    known.join(", ")
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
