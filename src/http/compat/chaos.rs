//! Mailpit's chaos triggers (`GET`/`PUT /api/v1/chaos`) as scenario rules.
//!
//! Each trigger (Sender, Recipient, Authentication: an ErrorCode and a
//! Probability in percent) becomes a rule named `mailpit chaos: <trigger>`
//! at the top of the scenario in force, at stage mail, rcpt or auth, with a
//! seeded `probability` match and that reply. The scenario is the only
//! state: `GET /api/v1/scenario` shows the rules, `GET /api/v1/chaos` reads
//! them back, and a scenario swapped in later replaces them.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::http::error::ApiError;
use crate::scenario::Scenario;
use crate::transport::Control;

/// Mailpit's default code for a trigger that was never set.
const DEFAULT_CODE: u16 = 451;
const PREFIX: &str = "mailpit chaos: ";

/// The three triggers: name in the API, SMTP stage, what the reply says.
const TRIGGERS: [(&str, &str, &str); 3] = [
    ("Sender", "mail", "sender rejected"),
    ("Recipient", "rcpt", "recipient rejected"),
    ("Authentication", "auth", "authentication failed"),
];

/// Mailpit's `ChaosTrigger`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(super) struct Trigger {
    #[serde(rename = "ErrorCode", default = "default_code")]
    pub error_code: u16,
    #[serde(rename = "Probability", default)]
    pub probability: u8,
}

fn default_code() -> u16 {
    DEFAULT_CODE
}

impl Default for Trigger {
    fn default() -> Self {
        Self {
            error_code: DEFAULT_CODE,
            probability: 0,
        }
    }
}

/// Mailpit's `ChaosTriggers`; an omitted trigger is reset to 0 %.
#[derive(Serialize, Deserialize, Default, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(super) struct Triggers {
    #[serde(rename = "Sender", default)]
    pub sender: Trigger,
    #[serde(rename = "Recipient", default)]
    pub recipient: Trigger,
    #[serde(rename = "Authentication", default)]
    pub authentication: Trigger,
}

impl Triggers {
    fn get(&self, name: &str) -> Trigger {
        match name {
            "Sender" => self.sender,
            "Recipient" => self.recipient,
            _ => self.authentication,
        }
    }

    fn set(&mut self, name: &str, t: Trigger) {
        match name {
            "Sender" => self.sender = t,
            "Recipient" => self.recipient = t,
            _ => self.authentication = t,
        }
    }
}

/// The scenario's YAML as data; a scenario that is not a mapping cannot
/// have loaded, so this only fails on a YAML feature JSON cannot hold.
fn document(scenario: &Scenario) -> Result<Value, ApiError> {
    serde_saphyr::from_str::<Value>(&scenario.yaml).map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::CONFLICT,
            format!("the scenario in force cannot be edited as data ({e}); PUT a scenario with the rules you want to /api/v1/scenario instead"),
        )
    })
}

fn is_chaos(rule: &Value) -> bool {
    rule.get("name")
        .and_then(Value::as_str)
        .is_some_and(|n| n.starts_with(PREFIX))
}

/// The triggers the scenario in force carries.
pub(super) fn read(scenario: &Scenario) -> Triggers {
    let mut out = Triggers::default();
    let Ok(doc) = document(scenario) else {
        return out;
    };
    let rules = doc.get("rules").and_then(Value::as_array);
    for rule in rules.into_iter().flatten().filter(|r| is_chaos(r)) {
        let name = rule
            .get("name")
            .and_then(Value::as_str)
            .and_then(|n| n.strip_prefix(PREFIX))
            .unwrap_or_default();
        let code = rule
            .get("reply")
            .and_then(Value::as_str)
            .and_then(|r| r.get(..3))
            .and_then(|c| c.parse().ok())
            .unwrap_or(DEFAULT_CODE);
        let probability = rule
            .pointer("/match/probability")
            .and_then(Value::as_f64)
            .map_or(0, |p| (p * 100.0).round().clamp(0.0, 100.0) as u8);
        out.set(
            name,
            Trigger {
                error_code: code,
                probability,
            },
        );
    }
    out
}

fn check(name: &str, t: Trigger) -> Result<(), ApiError> {
    if !(400..=599).contains(&t.error_code) {
        return Err(ApiError::bad_request(format!(
            "{name}.ErrorCode {} is out of range; use a code from 400 to 599",
            t.error_code
        )));
    }
    if t.probability > 100 {
        return Err(ApiError::bad_request(format!(
            "{name}.Probability {} is out of range; use a percentage from 0 to 100",
            t.probability
        )));
    }
    Ok(())
}

/// The scenario in force with `triggers` as its chaos rules (first, so
/// they decide before the scenario's own rules, as Mailpit's do).
pub(super) fn apply(scenario: &Scenario, triggers: &Triggers) -> Result<Scenario, ApiError> {
    let mut doc = document(scenario)?;
    let map = doc
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the scenario in force is not a YAML mapping"))?;
    let mut rules: Vec<Value> = Vec::new();
    for (name, stage, what) in TRIGGERS {
        let t = triggers.get(name);
        check(name, t)?;
        if t.probability == 0 {
            continue;
        }
        let class = t.error_code / 100;
        rules.push(json!({
            "name": format!("{PREFIX}{name}"),
            "on": stage,
            "match": { "probability": f64::from(t.probability) / 100.0 },
            "reply": format!("{} {class}.0.0 Chaos: {what}", t.error_code),
        }));
    }
    let kept = map
        .get("rules")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter(|r| !is_chaos(r))
                .cloned()
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    rules.extend(kept);
    map.insert("rules".to_owned(), Value::Array(rules));
    let yaml = serde_saphyr::to_string(&doc).map_err(|e| {
        ApiError::bad_request(format!("cannot write the scenario with chaos rules: {e}"))
    })?;
    Scenario::from_str(&yaml, "<chaos triggers>").map_err(|e| {
        ApiError::bad_request(format!(
            "the scenario with chaos rules does not load ({e}); the running one is unchanged"
        ))
    })
}

pub(super) async fn get(State(control): State<Control>) -> Json<Triggers> {
    Json(read(&control.scenario()))
}

pub(super) async fn put(
    State(control): State<Control>,
    body: Bytes,
) -> Result<Json<Triggers>, ApiError> {
    let triggers: Triggers = if body.iter().all(u8::is_ascii_whitespace) {
        Triggers::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(format!(
                "{e}; send {{\"Sender\": {{\"ErrorCode\": 451, \"Probability\": 50}}}} (Sender, Recipient, Authentication)"
            ))
        })?
    };
    let scenario = apply(&control.scenario(), &triggers)?;
    let now = read(&scenario);
    control.set_scenario(Arc::new(scenario));
    tracing::info!(?now, "chaos triggers set over HTTP");
    Ok(Json(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_become_rules_and_read_back() {
        let base = Scenario::from_str(
            "version: 1\nname: mine\nseed: 3\nrules:\n  - name: unknown user\n    on: rcpt\n    match: { to: \"*@nowhere.test\" }\n    reply: 550 5.1.1 no such user\n",
            "<test>",
        )
        .unwrap();
        let t = Triggers {
            sender: Trigger {
                error_code: 451,
                probability: 100,
            },
            recipient: Trigger {
                error_code: 550,
                probability: 25,
            },
            ..Triggers::default()
        };
        let s = apply(&base, &t).unwrap();
        assert_eq!(s.rules.len(), 3);
        assert_eq!((s.name.as_str(), s.seed), ("mine", 3));
        assert!(s.yaml.contains("mailpit chaos: Sender"), "{}", s.yaml);
        assert_eq!(read(&s), t);
        let cleared = apply(&s, &Triggers::default()).unwrap();
        assert_eq!(cleared.rules.len(), 1);
        assert_eq!(read(&cleared), Triggers::default());
    }

    #[test]
    fn out_of_range_is_refused() {
        let t = Triggers {
            sender: Trigger {
                error_code: 250,
                probability: 10,
            },
            ..Triggers::default()
        };
        assert!(apply(&Scenario::accept_all(), &t).is_err());
    }
}
