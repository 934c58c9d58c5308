//! The scenario's YAML as the API shows it: every `password:` of
//! `server: auth: users:` replaced by `"****"`, everything else (comments,
//! order, layout) as written.

use serde::Deserialize;
use serde_saphyr::Spanned;

/// What is shown in place of a password.
const MASK: &str = "\"****\"";

/// Only the path to the passwords; every other key is ignored.
#[derive(Deserialize)]
struct File {
    server: Option<Server>,
}

#[derive(Deserialize)]
struct Server {
    auth: Option<Auth>,
}

#[derive(Deserialize)]
struct Auth {
    #[serde(default)]
    users: Vec<User>,
}

#[derive(Deserialize)]
struct User {
    password: Option<Spanned<String>>,
}

/// `yaml` with its passwords masked. Should the text not parse (it did when
/// it was loaded, so it should), every line naming a password is masked
/// from the key on instead: better too much hidden than a password shown.
pub(crate) fn redacted(yaml: &str) -> String {
    match ranges(yaml) {
        Some(ranges) => replace(yaml, ranges),
        None => yaml
            .lines()
            .map(|line| match line.find("password") {
                Some(at) => format!("{}password: {MASK}", &line[..at]),
                None => line.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// Byte ranges of the password values, where an alias and its anchor both
/// count, and a block scalar runs from its `|` or `>` to its last line.
fn ranges(yaml: &str) -> Option<Vec<(usize, usize)>> {
    let file: File = serde_saphyr::from_str(yaml).ok()?;
    let users = file.server.and_then(|s| s.auth).map(|a| a.users);
    let mut ranges = Vec::new();
    for password in users.into_iter().flatten().filter_map(|u| u.password) {
        for at in [password.referenced, password.defined] {
            let span = at.span();
            let start = usize::try_from(span.byte_offset()?).ok()?;
            let len = usize::try_from(span.byte_len()?).ok()?;
            let value = yaml.get(start..start.checked_add(len)?)?;
            let end = start + value.trim_end().len();
            let before = yaml[..start].trim_end();
            let token = before.rsplit([' ', '\t', '\n']).next().unwrap_or("");
            let start = if value.contains('\n') && token.starts_with(['|', '>']) {
                before.len() - token.len()
            } else {
                start
            };
            ranges.push((start, end));
        }
    }
    ranges.sort_unstable();
    ranges.dedup();
    Some(ranges)
}

fn replace(yaml: &str, ranges: Vec<(usize, usize)>) -> String {
    let mut out = String::with_capacity(yaml.len());
    let mut at = 0;
    for (start, end) in ranges {
        if start < at {
            continue;
        }
        out.push_str(&yaml[at..start]);
        out.push_str(MASK);
        at = end;
    }
    out.push_str(&yaml[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_password_form_and_keeps_the_rest() {
        let yaml = "version: 1 # top\nserver:\n  auth:\n    users:\n      - username: a\n        password: \"s e\\\"c\" # note\n      - username: b\n        password: 'x''y'\n      - { username: c, password: &pw plain1 }\n      - username: d\n        password: *pw\n      - username: e\n        password: |\n          multi\n          line\n      - username: f\n        password: 12345\nrules: []\n";
        let shown = redacted(yaml);
        for secret in ["s e", "x''y", "plain1", "*pw", "multi", "12345"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("username: a"), "{shown}");
        assert!(shown.contains("# note"), "{shown}");
        assert!(shown.contains("version: 1 # top"), "{shown}");
        assert_eq!(shown.matches(MASK).count(), 6, "{shown}");
        // Still a valid scenario with the same users.
        let again = crate::Scenario::from_str(&shown, "<redacted>").unwrap();
        assert_eq!(again.server.auth.users.len(), 6);
        assert_eq!(again.server.auth.users[5].password, "****");
    }

    #[test]
    fn a_scenario_without_users_is_unchanged() {
        let yaml = "version: 1\nname: password-reset mails\n";
        assert_eq!(redacted(yaml), yaml);
    }
}
