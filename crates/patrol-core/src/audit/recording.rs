//! Recordings: one check's snapshot with where and when it was collected, as a JSON file
//! that `patrol test` evaluates offline for a scheduled audit rule:
//!
//! ```json
//! {"recording": {"check": "cloudtrail-logging", "now": "2026-12-03T00:00:00Z",
//!                "account": "111122223333", "region": "us-east-1",
//!                "snapshot": {"TrailList": []}}}
//! ```
//!
//! The rule's `params` decide the thresholds; each finding becomes its event at `now`
//! ([`Finding::to_event`]) and goes through the rule like any event.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{AuditError, AuditParams, Check, Scope, Snapshot, rfc3339, unix_seconds};
use crate::finding::Finding;

/// The key a recording file's object has, and by which `patrol test` tells it from an event.
pub const KEY: &str = "recording";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecording {
    check: Check,
    now: String,
    account: String,
    region: String,
    snapshot: Value,
}

/// A recording, read and checked: its snapshot has its check's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    pub scope: Scope,
    /// Unix seconds.
    pub now: i64,
    pub snapshot: Snapshot,
}

impl Recording {
    pub fn new(snapshot: Snapshot, scope: Scope, now: i64) -> Self {
        Self {
            scope,
            now,
            snapshot,
        }
    }

    /// Whether a JSON document is a recording (an object whose only key is `recording`).
    pub fn is_recording(value: &Value) -> bool {
        value
            .as_object()
            .is_some_and(|o| o.len() == 1 && o.contains_key(KEY))
    }

    /// A recording file's document.
    pub fn from_json(value: &Value) -> Result<Recording, AuditError> {
        let inner = value.get(KEY).cloned().unwrap_or(Value::Null);
        let raw: RawRecording =
            serde_json::from_value(inner).map_err(|e| AuditError::Recording(e.to_string()))?;
        let now = unix_seconds(&raw.now).ok_or_else(|| AuditError::Now(raw.now.clone()))?;
        Ok(Recording {
            scope: Scope::new(raw.account, raw.region),
            now,
            snapshot: Snapshot::from_json(raw.check, raw.snapshot)?,
        })
    }

    /// The recording file's document.
    pub fn to_json(&self) -> Value {
        json!({ KEY: {
            "check": self.snapshot.check(),
            "now": rfc3339(self.now),
            "account": self.scope.account,
            "region": self.scope.region,
            "snapshot": self.snapshot.to_json(),
        }})
    }

    pub fn findings(&self, params: &AuditParams) -> Result<Vec<Finding>, AuditError> {
        self.snapshot.evaluate(&self.scope, params, self.now)
    }

    /// The findings as the events a rule sees.
    pub fn events(&self, params: &AuditParams) -> Result<Vec<Value>, AuditError> {
        let time = rfc3339(self.now);
        Ok(self
            .findings(params)?
            .iter()
            .map(|f| f.to_event(&time))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recording() -> Value {
        json!({"recording": {
            "check": "cloudtrail-logging", "now": "2026-12-03T00:00:00Z",
            "account": "111122223333", "region": "us-east-1",
            "snapshot": {"TrailList": []},
        }})
    }

    #[test]
    fn a_recording_becomes_finding_events() {
        let v = recording();
        assert!(Recording::is_recording(&v));
        let r = Recording::from_json(&v).unwrap_or_else(|e| panic!("{e}"));
        let events = r
            .events(&AuditParams::new(Check::CloudtrailLogging))
            .unwrap_or_default();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["time"], "2026-12-03T00:00:00Z");
        assert_eq!(events[0]["detail"]["finding"], "no-multi-region-trail");
        assert_eq!(events[0]["account"], "111122223333");
        assert_eq!(r.to_json(), v, "writes back what it read");
    }

    #[test]
    fn a_recording_for_another_check_is_refused() {
        let r = Recording::from_json(&recording()).unwrap_or_else(|e| panic!("{e}"));
        let e = r.findings(&AuditParams::new(Check::S3BlockPublicAccess));
        assert_eq!(
            e,
            Err(AuditError::WrongCheck {
                snapshot: Check::CloudtrailLogging,
                rule: Check::S3BlockPublicAccess
            })
        );
    }

    #[test]
    fn a_broken_recording_says_what_is_wrong() {
        let mut v = recording();
        v["recording"]["snapshot"] = json!({"Trails": []});
        let e = Recording::from_json(&v);
        assert!(
            matches!(&e, Err(AuditError::Snapshot { check: Check::CloudtrailLogging, message }) if message.contains("Trails")),
            "{e:?}"
        );
        let mut v = recording();
        v["recording"]["now"] = json!("yesterday");
        assert_eq!(
            Recording::from_json(&v),
            Err(AuditError::Now("yesterday".into()))
        );
        let mut v = recording();
        v["recording"]["check"] = json!("guardduty");
        assert!(matches!(
            Recording::from_json(&v),
            Err(AuditError::Recording(_))
        ));
        assert!(!Recording::is_recording(&json!({"detail": {}})));
    }
}
