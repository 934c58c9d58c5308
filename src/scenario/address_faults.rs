//! Faults by address, with no scenario to write: a recipient such as
//! `550-5.1.1@fault.mailfault.test` or `421-4.7.0-close@fault.mailfault.test`
//! is answered with that reply at RCPT (the forms the README lists). On by
//! default; `server: { address_faults: false }` turns it off. Rules come
//! first: an address fault answers only what no rule did.

use std::borrow::Cow;
use std::sync::Arc;

use crate::proto::policy::{Decision, Disconnect, ReplyChoice, Wire};
use crate::proto::reply::{EnhancedCode, Reply};

/// The domain whose local parts name faults.
pub(crate) const DOMAIN: &str = "fault.mailfault.test";

/// The reply a fault address asks for: `CODE[-X.Y.Z][-close]@DOMAIN`, with
/// CODE a 4xx or 5xx and the enhanced code, when given, of the same class.
/// `None` for any other address, or a malformed fault address (which the
/// server then accepts like any other).
pub(crate) fn fault_for(address: &str) -> Option<Decision> {
    let (local, domain) = address.rsplit_once('@')?;
    if !domain.eq_ignore_ascii_case(DOMAIN) {
        return None;
    }
    let (spec, close) = match local.strip_suffix("-close") {
        Some(spec) => (spec, true),
        None => (local, false),
    };
    let (code, enhanced) = match spec.split_once('-') {
        Some((code, enhanced)) => (code, Some(enhanced)),
        None => (spec, None),
    };
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let code: u16 = code.parse().ok()?;
    if !(400..600).contains(&code) {
        return None;
    }
    let enhanced = match enhanced {
        Some(text) => {
            let e = EnhancedCode::parse(text)?;
            (u16::from(e.class) == code / 100).then_some(e)?;
            Some(e)
        }
        None => None,
    };
    let enhanced = enhanced.or(Some(EnhancedCode::new((code / 100) as u8, 0, 0)));
    Some(Decision {
        rule: Arc::from("address fault"),
        reply: ReplyChoice::Custom(Reply {
            code,
            enhanced,
            text: Cow::Owned(format!("Fault requested by the address {address}")),
        }),
        delay: None,
        disconnect: close.then_some(Disconnect::AfterReply),
        store: true,
        wire: Wire::Normal,
        cut_after: None,
        note: None,
        tls_fault: None,
        followup: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(address: &str) -> Option<(u16, Option<String>, bool)> {
        fault_for(address).map(|d| match d.reply {
            ReplyChoice::Custom(r) => (
                r.code,
                r.enhanced.map(|e| e.to_string()),
                d.disconnect == Some(Disconnect::AfterReply),
            ),
            _ => panic!("not a custom reply"),
        })
    }

    /// Code, enhanced code and whether the connection closes after it.
    type Expected = Option<(u16, Option<&'static str>, bool)>;

    #[test]
    fn forms() {
        let cases: &[(&str, Expected)] = &[
            (
                "550-5.1.1@fault.mailfault.test",
                Some((550, Some("5.1.1"), false)),
            ),
            (
                "421-4.7.0-close@fault.mailfault.test",
                Some((421, Some("4.7.0"), true)),
            ),
            (
                "451@FAULT.mailfault.test",
                Some((451, Some("4.0.0"), false)),
            ),
            (
                "552-5.2.2-close@fault.mailfault.test",
                Some((552, Some("5.2.2"), true)),
            ),
            ("554-4.7.1@fault.mailfault.test", None),
            ("250@fault.mailfault.test", None),
            ("600@fault.mailfault.test", None),
            ("55@fault.mailfault.test", None),
            ("abc@fault.mailfault.test", None),
            ("550-5.1@fault.mailfault.test", None),
            ("550-5.1.1@example.test", None),
            ("fault.mailfault.test", None),
            ("", None),
        ];
        for (address, want) in cases {
            let want = want.map(|(c, e, close)| (c, e.map(str::to_owned), close));
            assert_eq!(reply(address), want, "{address}");
        }
    }
}
