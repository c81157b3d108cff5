//! Findings: what a handler's check reports (a key older than 90 days, a bucket without
//! Block Public Access), as an EventBridge-shaped event, so that everything Patrol does
//! with events (suppressions, conditions, templates, dedup, tests, `patrol explain`)
//! works on findings unchanged.
//!
//! A finding has a stable `key` (what it is about: `iam-user/alice/access-key/AKIA…`) and
//! a `fingerprint` of its state (what is wrong with it now). The event's `id` is derived
//! from both, and a rule that wants "alert once, again when it changes" deduplicates on
//! `{{ detail.key }}#{{ detail.fingerprint }}` ([`ALERT_ONCE_KEY`]).
//!
//! ```json
//! {"version": "0", "id": "<sha-256 of check, account, region, key, fingerprint>",
//!  "source": "patrol.finding", "detail-type": "Patrol Finding",
//!  "account": "111122223333", "region": "us-east-1", "time": "2026-12-03T00:00:00Z",
//!  "resources": ["arn:aws:iam::111122223333:user/alice"],
//!  "detail": {"check": "iam-credential-hygiene", "finding": "access-key-too-old",
//!             "key": "...", "fingerprint": "...", "resource": "arn:...", "facts": {...}}}
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

/// `source` of every finding event.
pub const SOURCE: &str = "patrol.finding";
/// `detail-type` of every finding event.
pub const DETAIL_TYPE: &str = "Patrol Finding";
/// The dedup key that alerts once per finding and again when its state changes.
pub const ALERT_ONCE_KEY: &str = "{{ detail.account }}#{{ detail.key }}#{{ detail.fingerprint }}";

/// One thing a check found wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The check that found it (`iam-credential-hygiene`).
    pub check: String,
    /// What kind of problem (`access-key-too-old`, `root-mfa-off`).
    pub finding: String,
    /// What it is about, stable across runs (`iam-user/alice/access-key/AKIA…`).
    pub key: String,
    /// The state that makes it a finding (`age>=90`, `ports=22`); a change re-alerts.
    pub fingerprint: String,
    /// The account it is in.
    pub account: String,
    /// The region it is in (`us-east-1` for global services).
    pub region: String,
    /// The resource's ARN, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Whatever the message template should be able to say (`user`, `age_days`, …).
    #[serde(default)]
    pub facts: Map<String, Value>,
}

impl Finding {
    /// The finding's stable id: the SHA-256 of what identifies it and its state.
    pub fn id(&self) -> String {
        let mut h = Sha256::new();
        for part in [
            &self.check,
            &self.account,
            &self.region,
            &self.key,
            &self.fingerprint,
        ] {
            h.update(part.as_bytes());
            h.update([0u8]);
        }
        hex::encode(h.finalize())
    }

    /// The finding as an EventBridge-shaped event at `time` (RFC 3339, UTC).
    pub fn to_event(&self, time: &str) -> Value {
        let mut detail = Map::new();
        detail.insert("check".into(), json!(self.check));
        detail.insert("finding".into(), json!(self.finding));
        detail.insert("key".into(), json!(self.key));
        detail.insert("fingerprint".into(), json!(self.fingerprint));
        detail.insert("account".into(), json!(self.account));
        detail.insert("region".into(), json!(self.region));
        if let Some(r) = &self.resource {
            detail.insert("resource".into(), json!(r));
        }
        detail.insert("facts".into(), Value::Object(self.facts.clone()));
        json!({
            "version": "0",
            "id": self.id(),
            "source": SOURCE,
            "detail-type": DETAIL_TYPE,
            "account": self.account,
            "region": self.region,
            "time": time,
            "resources": self.resource.iter().collect::<Vec<_>>(),
            "detail": detail,
        })
    }

    /// A finding back from its event (what `to_event` wrote), for tests and replay.
    pub fn from_event(event: &Value) -> Option<Finding> {
        let detail = event.get("detail")?;
        serde_json::from_value(detail.clone()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding() -> Finding {
        let mut facts = Map::new();
        facts.insert("user".into(), json!("alice"));
        Finding {
            check: "iam-credential-hygiene".into(),
            finding: "access-key-too-old".into(),
            key: "iam-user/alice/access-key/1".into(),
            fingerprint: "older-than-90-days".into(),
            account: "111122223333".into(),
            region: "us-east-1".into(),
            resource: Some("arn:aws:iam::111122223333:user/alice".into()),
            facts,
        }
    }

    #[test]
    fn a_finding_is_an_eventbridge_event_and_comes_back() {
        let f = finding();
        let event = f.to_event("2026-12-03T00:00:00Z");
        assert!(crate::event::is_eventbridge_event(&event), "{event}");
        assert_eq!(event["source"], SOURCE);
        assert_eq!(event["detail"]["facts"]["user"], "alice");
        assert_eq!(
            event["resources"][0],
            "arn:aws:iam::111122223333:user/alice"
        );
        assert_eq!(Finding::from_event(&event), Some(f));
    }

    #[test]
    fn the_id_changes_with_the_state_and_not_with_the_facts() {
        let a = finding();
        let mut b = finding();
        b.facts.insert("age_days".into(), json!(120));
        assert_eq!(a.id(), b.id());
        b.fingerprint = "older-than-180-days".into();
        assert_ne!(a.id(), b.id());
        let mut c = finding();
        c.account = "444455556666".into();
        assert_ne!(a.id(), c.id());
    }
}
