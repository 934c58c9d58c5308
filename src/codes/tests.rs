//! Catalog invariants (sorted, unique, class rules), round trips of every
//! entry through `explain`, contradiction warnings, and `explain` on
//! arbitrary input.

use std::collections::HashSet;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::kinds::{Bounce, Category, Class};
use super::*;

fn code(text: &str) -> EnhancedCode {
    EnhancedCode::parse(text).unwrap()
}

#[test]
fn reply_codes_are_sorted_unique_and_in_range() {
    for pair in REPLY_CODES.windows(2) {
        assert!(
            pair[0].code < pair[1].code,
            "{} then {}",
            pair[0].code,
            pair[1].code
        );
    }
    for e in REPLY_CODES {
        assert!((200..=599).contains(&e.code), "{}", e.code);
        assert!(e.class().is_some());
        assert!(!e.title.is_empty() && !e.meaning.is_empty() && !e.rfc.is_empty());
        assert_eq!(
            e.standard,
            e.rfc.starts_with("RFC"),
            "{}: rfc {}",
            e.code,
            e.rfc
        );
    }
}

#[test]
fn every_standard_reply_code_is_there() {
    let standard = [
        211, 214, 220, 221, 235, 250, 251, 252, 334, 354, 421, 432, 450, 451, 452, 454, 455, 500,
        501, 502, 503, 504, 521, 530, 534, 535, 538, 550, 551, 552, 553, 554, 555, 556,
    ];
    for c in standard {
        assert!(reply_code(c).is_some_and(|e| e.standard), "{c}");
    }
    for c in [
        420, 422, 431, 442, 447, 449, 471, 510, 512, 523, 525, 541, 571,
    ] {
        assert!(reply_code(c).is_some_and(|e| !e.standard), "{c}");
    }
    assert_eq!(reply_code(599), None);
}

#[test]
fn enhanced_registry_is_complete_sorted_and_follows_class_rules() {
    for pair in ENHANCED_CODES.windows(2) {
        assert!(
            (pair[0].subject, pair[0].detail) < (pair[1].subject, pair[1].detail),
            "{} then {}",
            pair[0].pattern(),
            pair[1].pattern()
        );
    }
    // The registry's extent per subject: X.0.0, X.1.0-10, X.2.0-4, ...
    let last_detail = [
        (0, 0),
        (1, 10),
        (2, 4),
        (3, 6),
        (4, 7),
        (5, 6),
        (6, 10),
        (7, 30),
    ];
    let mut expected = Vec::new();
    for (subject, last) in last_detail {
        expected.extend((0..=last).map(|d| (subject, d)));
    }
    let got: Vec<_> = ENHANCED_CODES
        .iter()
        .map(|e| (e.subject, e.detail))
        .collect();
    assert_eq!(got, expected);
    for e in ENHANCED_CODES {
        assert!(!e.classes.is_empty(), "{}", e.pattern());
        assert!(e.classes.windows(2).all(|w| w[0] < w[1]), "{}", e.pattern());
        assert!(
            e.classes.iter().all(|c| matches!(c, 2 | 4 | 5)),
            "{}",
            e.pattern()
        );
        // X.6.10 alone has no title: the registry keeps it only as a
        // deprecated duplicate of X.6.8.
        assert_eq!(
            e.title.is_empty(),
            (e.subject, e.detail) == (6, 10),
            "{}",
            e.pattern()
        );
        assert!(!e.meaning.is_empty() && !e.rfc.is_empty() && !e.source().is_empty());
        if e.detail == 0 {
            assert_eq!(
                e.classes,
                &[2, 4, 5],
                "{}: X.N.0 exists in every class",
                e.pattern()
            );
        }
        let success_only = e.classes == [2];
        assert_eq!(
            success_only,
            matches!((e.subject, e.detail), (1, 5) | (3, 6)),
            "{}: only 'address valid' and 'priority changed' are reports of success",
            e.pattern()
        );
    }
    for s in 0..=7 {
        assert!(subject(s).is_some(), "subject {s}");
    }
    assert_eq!(
        enhanced(code("5.7.26")).map(|e| e.title),
        Some("Multiple authentication checks failed")
    );
    assert_eq!(enhanced(code("4.7.26")), enhanced(code("5.7.26")));
    assert_eq!(enhanced(code("5.7.31")), None);
}

#[test]
fn every_reply_code_round_trips() {
    for e in REPLY_CODES {
        let x = explain(&format!("{} {}", e.code, e.title));
        assert_eq!(x.code, Some(e.code));
        assert_eq!(x.reply, Some(e), "{}", e.code);
        assert_eq!(x.class, e.class(), "{}", e.code);
        assert!(
            !x.warnings.iter().any(|w| w.contains("not in the catalog")),
            "{}: {:?}",
            e.code,
            x.warnings
        );
    }
}

#[test]
fn every_enhanced_code_round_trips_in_each_of_its_classes() {
    for e in ENHANCED_CODES {
        for &class in e.classes {
            let basic = match class {
                2 => 250,
                4 => 450,
                _ => 550,
            };
            let line = format!("{basic} {class}.{}.{} {}", e.subject, e.detail, e.title);
            let x = explain(&line);
            assert_eq!(x.detail, Some(e), "{line}");
            assert_eq!(
                x.enhanced,
                Some(EnhancedCode::new(class, e.subject, e.detail))
            );
            assert_eq!(x.class.map(Class::digit), Some(class), "{line}");
            assert_eq!(x.subject.map(|s| s.subject), Some(e.subject));
            assert!(
                !x.warnings
                    .iter()
                    .any(|w| w.contains("enhanced code") || w.contains("defined for")),
                "{line}: {:?}",
                x.warnings
            );
        }
    }
}

#[test]
fn every_provider_text_explains_its_own_example() {
    let mut ids = HashSet::new();
    for p in provider_texts() {
        assert!(ids.insert(p.id), "duplicate id {}", p.id);
        let x = explain(p.example);
        assert_eq!(x.field_text.map(|f| f.id), Some(p.id), "{}", p.example);
        assert_eq!(x.category, p.category, "{}", p.id);
        if let Some(provider) = p.source.provider() {
            assert_eq!(x.provider, Some(provider), "{}", p.id);
        }
        if let Some(range) = p.enhanced {
            assert!(x.enhanced.is_some_and(|e| range.contains(e)), "{}", p.id);
        }
        assert!(
            !x.warnings.iter().any(|w| w.contains("not in the IANA")),
            "{}: {:?}",
            p.id,
            x.warnings
        );
        assert!(!p.meaning.is_empty() && !p.advice.is_empty());
    }
    assert!(ids.len() >= 40, "{} provider texts", ids.len());
}

#[test]
fn provider_codes_are_known_but_not_standard() {
    for c in [
        "5.7.708", "5.7.606", "5.7.649", "4.7.500", "4.7.650", "4.7.699", "5.7.750",
    ] {
        let known = known_enhanced(code(c));
        assert!(known.is_some_and(|k| !k.standard()), "{c}: {known:?}");
    }
    assert!(known_enhanced(code("5.7.26")).is_some_and(KnownEnhanced::standard));
    assert_eq!(known_enhanced(code("5.7.650")), None);
    assert_eq!(known_enhanced(code("5.9.99")), None);
    assert_eq!(provider_code(code("5.7.605")), None);
}

fn warnings(line: &str) -> Vec<String> {
    explain(line).warnings
}

#[test]
fn contradictions_are_warned_about() {
    let x = explain("550 4.1.1 <a@example.com>... User unknown");
    assert_eq!(
        (x.class, x.bounce, x.retry),
        (Some(Class::Permanent), Bounce::Hard, false)
    );
    assert!(
        x.warnings
            .iter()
            .any(|w| w.contains("enhanced code 4.1.1 is transient")),
        "{:?}",
        x.warnings
    );

    let x = explain("450 5.7.1 Client host rejected");
    assert_eq!(
        (x.class, x.bounce, x.retry),
        (Some(Class::Transient), Bounce::Soft, true)
    );
    assert!(
        x.warnings.iter().any(|w| w.contains("5.7.1 is permanent")),
        "{:?}",
        x.warnings
    );

    let x = explain("550 5.1.1 Mailbox busy, try again later");
    assert_eq!(x.category, Category::UnknownRecipient);
    assert!(
        x.warnings.iter().any(|w| w.contains("\"try again later\"")),
        "{:?}",
        x.warnings
    );

    let x = explain("550 5.9.99 Something odd");
    assert_eq!(x.detail, None);
    assert_eq!(x.subject, None);
    assert!(
        x.warnings
            .iter()
            .any(|w| w.contains("5.9.99 is not in the IANA registry")),
        "{:?}",
        x.warnings
    );

    assert!(
        warnings("450 4.1.1 The account does not exist")
            .iter()
            .any(|w| w.contains("does not exist"))
    );
    assert!(
        warnings("554 5.7.1 Greylisted")
            .iter()
            .any(|w| w.contains("greylist"))
    );
    assert!(
        warnings("354 2.0.0 Go ahead")
            .iter()
            .any(|w| w.contains("3xx"))
    );
    assert!(
        warnings("550 2.1.5 Recipient OK")
            .iter()
            .any(|w| w.contains("enhanced code 2.1.5 is success"))
    );
    assert!(
        warnings("550 5.1.5 Odd")
            .iter()
            .any(|w| w.contains("defined for 2.x.x only"))
    );
    assert!(
        warnings("599 Unheard of")
            .iter()
            .any(|w| w.contains("599 is not in the catalog"))
    );
    for clean in [
        "250 2.1.5 Ok",
        "550 5.1.1 No such user",
        "450 4.2.0 Greylisted, please try again later",
        "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.",
    ] {
        assert_eq!(warnings(clean), Vec::<String>::new(), "{clean}");
    }
}

#[test]
fn lines_without_a_reply_are_reported_not_rejected() {
    for line in [
        "",
        "   ",
        "hello world",
        "Connection timed out",
        "connect to 192.0.2.1:25: refused",
    ] {
        let x = explain(line);
        assert_eq!(
            (x.code, x.class, x.bounce, x.retry),
            (None, None, Bounce::None, false),
            "{line:?}"
        );
        assert_eq!(x.warnings.len(), 1, "{line:?}");
        assert!(x.warnings[0].contains("no reply code"));
    }
}

fn check_invariants(line: &str) {
    let x = explain(line);
    assert_eq!(x.line, line);
    match x.code {
        None => assert!(x.class.is_none() && !x.warnings.is_empty()),
        Some(c) => {
            assert!((200..=599).contains(&c), "{line:?}");
            assert_eq!(x.class.map(|k| u16::from(k.digit())), Some(c / 100));
            assert_eq!(x.bounce == Bounce::None, c < 400, "{line:?}");
        }
    }
    assert!(!x.advice.is_empty());
    let json = serde_json::to_string(&x);
    assert!(json.is_ok(), "{line:?}");
}

#[test]
fn explain_never_panics_on_arbitrary_input() {
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let pieces = [
        "5", "4", "2", "3", "0", "1", "9", ".", "-", " ", "\t", "'", "\"", "#", "(", ")", "[", ":",
        "é", "漢", "\u{0}", "\r", "\n", "550", "5.7.", "4.2.2", "greylist", "spamhaus", "[TS03]",
    ];
    for _ in 0..20_000 {
        let len = rng.random_range(0..24);
        let line: String = (0..len)
            .map(|_| pieces[rng.random_range(0..pieces.len())])
            .collect();
        check_invariants(&line);
    }
    for _ in 0..5_000 {
        let len = rng.random_range(0..64);
        let bytes: Vec<u8> = (0..len).map(|_| rng.random::<u8>()).collect();
        check_invariants(&String::from_utf8_lossy(&bytes));
    }
}

/// The profiles and the code catalog agree: every reply a profile sends is
/// explained without a warning (known enhanced code, class matching the
/// reply code, no text contradicting it, an enhanced code in a class the
/// registry lists).
#[test]
fn explain_understands_every_profile_reply() {
    for name in ["gmail", "microsoft365", "yahoo"] {
        let s = crate::scenario::Scenario::from_file(&std::path::PathBuf::from(format!(
            "{}/scenarios/providers/{name}.yaml",
            env!("CARGO_MANIFEST_DIR")
        )))
        .unwrap();
        for rule in &s.rules {
            let crate::proto::policy::ReplyChoice::Custom(reply) = &rule.reply else {
                panic!("{name}: rule {} has no reply of its own", rule.name);
            };
            let last = reply.to_string();
            let e = super::explain(last.lines().last().unwrap_or(""));
            assert_eq!(e.code, Some(reply.code), "{name}: {last}");
            assert!(e.warnings.is_empty(), "{name}: {last}: {:?}", e.warnings);
        }
    }
}

/// The IANA registry's class restrictions, code by code: `explain` warns on
/// a combination the registry does not list, and only then.
#[test]
fn registry_class_restrictions_table() {
    // (line, warns about the class)
    let cases = [
        ("450 4.3.4 Message too big for system", true),
        ("552 5.3.4 Message too big for system", false),
        ("451 4.5.2 Syntax error", true),
        ("501 5.5.2 Syntax error", false),
        ("451 4.6.7 Non-ASCII addresses not permitted", true),
        ("451 4.6.9 UTF-8 header cannot be transferred", true),
        ("450 4.7.2 Mailing list expansion prohibited", true),
        ("450 4.7.4 Security features not supported", true),
        ("450 4.7.20 No passing DKIM signature found", true),
        ("421 4.7.26 Multiple authentication checks failed", true),
        ("550 5.7.26 Multiple authentication checks failed", false),
        ("550 5.4.2 Bad connection", true),
        ("451 4.4.2 Bad connection", false),
        ("554 5.4.6 Routing loop detected", true),
        ("550 5.4.1 No answer from host", true),
        ("451 4.6.8 UTF-8 reply required", true),
        ("553 5.6.8 UTF-8 reply required", false),
        ("250 2.6.8 UTF-8 reply required", false),
    ];
    for (line, warns) in cases {
        let x = explain(line);
        let got = x.warnings.iter().any(|w| w.contains("is defined for"));
        assert_eq!(got, warns, "{line}: {:?}", x.warnings);
        assert_eq!(registry_class_warning(line).is_some(), warns, "{line}");
    }
    // A provider's text explains its own combination (Microsoft's 5.4.1).
    assert_eq!(
        registry_class_warning("550 5.4.1 Recipient address rejected: Access denied."),
        None
    );
}

#[test]
fn x_6_10_is_a_deprecated_duplicate_of_x_6_8() {
    let e = enhanced(code("5.6.10")).unwrap();
    assert!(e.deprecated() && e.title.is_empty());
    assert_eq!(e.classes, enhanced(code("5.6.8")).unwrap().classes);
    let x = explain("553 5.6.10 UTF-8 needed");
    assert!(
        x.warnings.iter().any(|w| w.contains("deprecated")),
        "{:?}",
        x.warnings
    );
}

/// Every catalog entry says where it comes from, and `codes --json` shows it.
#[test]
fn every_catalog_entry_names_its_source() {
    for e in REPLY_CODES {
        assert!(!e.source.is_empty(), "{}", e.code);
        if e.standard {
            assert!(e.source.starts_with("RFC "), "{}: {}", e.code, e.source);
        } else {
            assert_eq!(e.source, "observed in bounces", "{}", e.code);
        }
    }
    assert_eq!(
        reply_code(555).unwrap().source,
        "RFC 5321 §4.1.1.11, §4.2.3"
    );
    assert!(
        enhanced(code("5.1.1"))
            .unwrap()
            .source()
            .starts_with("RFC 3463 §3.2")
    );
    for p in provider_texts() {
        let r = p.reference();
        assert!(
            r.starts_with("https://") || r == "observed in bounces",
            "{}: {r}",
            p.id
        );
    }
    let json = serde_json::to_value(provider_texts().collect::<Vec<_>>()).unwrap();
    for t in json.as_array().unwrap() {
        assert!(t["source"].as_str().is_some_and(|s| !s.is_empty()), "{t}");
        assert!(t["provider"].is_string(), "{t}");
    }
}

#[test]
fn corrected_provider_texts_table() {
    // (line, catalog id)
    let cases = [
        (
            "553 5.7.2 [TSS09] All messages from 192.0.2.1 will be permanently deferred; Retrying will NOT succeed",
            "yahoo-tss09-refused",
        ),
        (
            "553 5.7.2 [TSS11] All messages from 192.0.2.1 will be permanently deferred; Retrying will NOT succeed",
            "yahoo-tss09-refused",
        ),
        (
            "554 Message not allowed - [PH01] Email not accepted for policy reasons",
            "yahoo-policy-ph01",
        ),
        (
            "552 1 Requested mail action aborted, mailbox not found",
            "yahoo-mailbox-not-found",
        ),
        (
            "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)",
            "microsoft-recipient-access-denied",
        ),
        (
            "550 5.7.1 Message rejected as spam by Content Filtering.",
            "exchange-content-filter",
        ),
        (
            "421 4.7.28 Gmail has detected an unusual rate of mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited.",
            "gmail-unusual-rate-deferred",
        ),
        (
            "550 5.7.26 The sender does not have authentication information or fails to pass authentication checks",
            "gmail-auth-checks",
        ),
        (
            "550 5.2.1 The email account that you tried to reach is inactive.",
            "gmail-account-disabled",
        ),
        (
            "550 5.7.1 Messages missing a valid address in the From: header, or having no From: header, are not accepted.",
            "gmail-missing-from",
        ),
        (
            "450 4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered. Please resend your message at a later time. If the user is able to receive mail at that time, your message will be delivered.",
            "gmail-recipient-rate",
        ),
    ];
    for (line, id) in cases {
        let x = explain(line);
        assert_eq!(x.field_text.map(|f| f.id), Some(id), "{line}");
        assert!(x.warnings.is_empty(), "{line}: {:?}", x.warnings);
    }
    let tss09 = explain(cases[0].0);
    assert!(!tss09.retry && tss09.bounce == Bounce::Hard);
    let barracuda = provider_texts().find(|p| p.id == "barracuda").unwrap();
    assert!(
        !barracuda.example.contains("5.7.1"),
        "{}",
        barracuda.example
    );
    assert!(
        reply_code(471)
            .unwrap()
            .meaning
            .contains("sender's own mail server")
    );
}

/// Each profile reply names its source, and the replies the catalog knows
/// are recognised as the catalog's own entry (the profile and the catalog
/// quote the same text).
#[test]
fn profile_replies_have_sources_and_match_their_catalog_entries() {
    let expected = [
        ("gmail", "gmail: unknown user", "gmail-no-such-account"),
        ("gmail", "gmail: recipient rate", "gmail-recipient-rate"),
        ("gmail", "gmail: spam", "gmail-likely-spam"),
        (
            "gmail",
            "gmail: unauthenticated sender",
            "gmail-unauthenticated-sender",
        ),
        (
            "microsoft365",
            "microsoft365: unknown user",
            "microsoft-recipient-access-denied",
        ),
        (
            "microsoft365",
            "microsoft365: banned IP",
            "microsoft-banned-ip",
        ),
        ("yahoo", "yahoo: unknown user", "yahoo-mailbox-not-found"),
        (
            "yahoo",
            "yahoo: TSS09 permanently deferred",
            "yahoo-tss09-refused",
        ),
        ("yahoo", "yahoo: PH01 policy", "yahoo-policy-ph01"),
        ("yahoo", "yahoo: BL21 blocklist", "yahoo-spamhaus"),
    ];
    let mut checked = 0;
    for name in ["gmail", "microsoft365", "yahoo"] {
        let s = crate::scenario::Scenario::built_in(name).unwrap();
        for rule in &s.rules {
            let source = rule.source.as_deref().unwrap_or("");
            assert!(
                source.starts_with("https://") || source == "observed in bounces",
                "{name}: {}: source {source:?}",
                rule.name
            );
            let crate::proto::policy::ReplyChoice::Custom(reply) = &rule.reply else {
                continue;
            };
            let whole = format!(
                "{} {}{}",
                reply.code,
                reply.enhanced.map(|e| format!("{e} ")).unwrap_or_default(),
                reply.text.replace('\n', " ")
            );
            let x = explain(&whole);
            if let Some((_, _, id)) = expected
                .iter()
                .find(|(p, r, _)| *p == name && **r == *rule.name)
            {
                assert_eq!(x.field_text.map(|f| f.id), Some(*id), "{whole}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, expected.len(), "every expected rule exists");
    // Microsoft 365 has no spam@ rule: that text is on-premises Exchange's.
    let m365 = crate::scenario::Scenario::built_in("microsoft365").unwrap();
    assert!(!m365.rules.iter().any(|r| r.name.contains("spam")));
}
