//! Scheduled audits, the pure half: for each check, the API responses it needs (its
//! snapshot, serde, as close to the raw responses as practical) and `evaluate(snapshot,
//! scope, params, now) -> Vec<Finding>`. The `audit` handler (`lambdas/audit`) collects
//! snapshots with the AWS SDK in every account; `patrol test` evaluates recorded snapshots
//! ([`recording`]) with the same code, so a rule's offline tests exercise the real checks.
//!
//! - [`params`]: a rule's `params` for the `audit` handler (`check`, thresholds, scope).
//! - [`recording`]: a snapshot recorded with its account, region and time, for offline tests.
//! - [`credential_report`]: the IAM credential report's CSV, parsed.
//! - [`iam_credential_hygiene`], [`s3_block_public_access`], [`cloudtrail_logging`],
//!   [`guardduty_enabled`]: the checks.
//!
//! Fingerprints describe a state, never a measurement that grows by itself (a key is
//! `older-than-90-days`, not `age=123`), so a daily run of an unchanged account produces the
//! same findings and a rule deduplicating on [`crate::finding::ALERT_ONCE_KEY`] alerts once.
//!
//! Not here: the SDK calls, the organization walk, credentials (see `lambdas/audit`).

pub mod cloudtrail_logging;
pub mod credential_report;
pub mod guardduty_enabled;
pub mod iam_credential_hygiene;
pub mod params;
pub mod recording;
pub mod s3_block_public_access;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::finding::Finding;
pub use params::AuditParams;

/// Every check the `audit` handler runs: the `params.check` value. A closed set: a new
/// check is a variant, a snapshot type, an evaluator file and a collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    IamCredentialHygiene,
    S3BlockPublicAccess,
    CloudtrailLogging,
    GuarddutyEnabled,
}

impl Check {
    pub const ALL: [Check; 4] = [
        Check::IamCredentialHygiene,
        Check::S3BlockPublicAccess,
        Check::CloudtrailLogging,
        Check::GuarddutyEnabled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Check::IamCredentialHygiene => "iam-credential-hygiene",
            Check::S3BlockPublicAccess => "s3-block-public-access",
            Check::CloudtrailLogging => "cloudtrail-logging",
            Check::GuarddutyEnabled => "guardduty-enabled",
        }
    }

    pub fn parse(s: &str) -> Option<Check> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The names of every check, for hints.
    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|c| c.as_str()).collect()
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a snapshot was collected: the account, and the region the collector's clients
/// used (regional findings carry their own region; global ones use the partition's
/// global region, [`global_region`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    pub account: String,
    pub region: String,
}

impl Scope {
    pub fn new(account: impl Into<String>, region: impl Into<String>) -> Self {
        Self {
            account: account.into(),
            region: region.into(),
        }
    }

    /// The partition of the scope's region.
    pub fn partition(&self) -> &'static str {
        partition(&self.region)
    }
}

/// One check's snapshot: what its collector read from the APIs of one account.
/// Serialized untagged (the inner snapshot); read back with [`Snapshot::from_json`], which
/// knows the check.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Snapshot {
    IamCredentialHygiene(iam_credential_hygiene::Snapshot),
    S3BlockPublicAccess(s3_block_public_access::Snapshot),
    CloudtrailLogging(cloudtrail_logging::Snapshot),
    GuarddutyEnabled(guardduty_enabled::Snapshot),
}

/// A snapshot that is not what its check reads, or that a check cannot evaluate.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuditError {
    #[error("`{check}` snapshot: {message}")]
    Snapshot { check: Check, message: String },
    #[error("the snapshot is for `{snapshot}`, but the rule runs `{rule}`")]
    WrongCheck { snapshot: Check, rule: Check },
    #[error("{0}")]
    Params(#[from] params::ParamsError),
    #[error("not a recording: {0}")]
    Recording(String),
    #[error("`now` is not an RFC 3339 time: `{0}`")]
    Now(String),
}

impl Snapshot {
    /// `value` read as the snapshot of `check`, saying where it does not fit.
    pub fn from_json(check: Check, value: Value) -> Result<Snapshot, AuditError> {
        fn read<T: serde::de::DeserializeOwned>(
            check: Check,
            value: Value,
        ) -> Result<T, AuditError> {
            serde_json::from_value(value).map_err(|e| AuditError::Snapshot {
                check,
                message: e.to_string(),
            })
        }
        Ok(match check {
            Check::IamCredentialHygiene => Snapshot::IamCredentialHygiene(read(check, value)?),
            Check::S3BlockPublicAccess => Snapshot::S3BlockPublicAccess(read(check, value)?),
            Check::CloudtrailLogging => Snapshot::CloudtrailLogging(read(check, value)?),
            Check::GuarddutyEnabled => Snapshot::GuarddutyEnabled(read(check, value)?),
        })
    }

    pub fn check(&self) -> Check {
        match self {
            Snapshot::IamCredentialHygiene(_) => Check::IamCredentialHygiene,
            Snapshot::S3BlockPublicAccess(_) => Check::S3BlockPublicAccess,
            Snapshot::CloudtrailLogging(_) => Check::CloudtrailLogging,
            Snapshot::GuarddutyEnabled(_) => Check::GuarddutyEnabled,
        }
    }

    /// The snapshot as JSON (what a recording stores).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The findings of this snapshot for a rule's params at `now` (Unix seconds).
    pub fn evaluate(
        &self,
        scope: &Scope,
        params: &AuditParams,
        now: i64,
    ) -> Result<Vec<Finding>, AuditError> {
        if self.check() != params.check {
            return Err(AuditError::WrongCheck {
                snapshot: self.check(),
                rule: params.check,
            });
        }
        match self {
            Snapshot::IamCredentialHygiene(s) => {
                iam_credential_hygiene::evaluate(s, scope, params, now)
            }
            Snapshot::S3BlockPublicAccess(s) => Ok(s3_block_public_access::evaluate(s, scope)),
            Snapshot::CloudtrailLogging(s) => Ok(cloudtrail_logging::evaluate(s, scope)),
            Snapshot::GuarddutyEnabled(s) => Ok(guardduty_enabled::evaluate(s, scope)),
        }
    }
}

/// The finding for an account that could not be audited (AssumeRole denied, an API error,
/// a timeout): key = the account, fingerprint = what kind of failure (`assume-role/AccessDenied`),
/// so a rule alerts once per account and kind, and the other accounts are still audited.
pub fn audit_failed(check: Check, scope: &Scope, kind: &str, message: &str) -> Finding {
    let mut facts = Map::new();
    facts.insert("error_kind".into(), json!(kind));
    facts.insert("error".into(), json!(message));
    Finding {
        check: check.as_str().into(),
        finding: "audit-failed".into(),
        key: scope.account.clone(),
        fingerprint: kind.into(),
        account: scope.account.clone(),
        region: scope.region.clone(),
        resource: None,
        facts,
    }
}

/// The AWS partition of a region (`aws`, `aws-cn`, `aws-us-gov`).
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// Where a partition's global services (IAM, Organizations) live.
pub fn global_region(partition: &str) -> &'static str {
    match partition {
        "aws-cn" => "cn-north-1",
        "aws-us-gov" => "us-gov-west-1",
        _ => "us-east-1",
    }
}

/// Unix seconds of an ISO 8601 time as AWS writes it in reports and responses:
/// `2026-01-02T03:04:05Z`, `2026-01-02T03:04:05+00:00`, with optional fractional seconds
/// and any `±HH:MM` offset.
pub fn unix_seconds(time: &str) -> Option<i64> {
    if let Some(t) = crate::date::unix_seconds(time) {
        return Some(t);
    }
    let split = time.len().checked_sub(6)?;
    let (base, offset) = (time.get(..split)?, time.get(split..)?);
    let o = offset.as_bytes();
    if !(o[0] == b'+' || o[0] == b'-') || o[3] != b':' {
        return None;
    }
    let h: i64 = offset.get(1..3)?.parse().ok()?;
    let m: i64 = offset.get(4..6)?.parse().ok()?;
    let t = crate::date::unix_seconds(&format!("{base}Z"))?;
    let shift = h * 3600 + m * 60;
    Some(if o[0] == b'+' { t - shift } else { t + shift })
}

/// An RFC 3339 UTC time (`2026-12-03T00:00:00Z`) of Unix seconds, as finding events carry it.
pub fn rfc3339(unix_secs: i64) -> String {
    let day = crate::date::civil_date(unix_secs);
    let s = unix_secs.rem_euclid(86_400);
    format!("{day}T{:02}:{:02}:{:02}Z", s / 3600, s % 3600 / 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_with_offsets_are_read_as_utc() {
        let z = unix_seconds("2026-01-02T03:04:05Z");
        assert!(z.is_some());
        assert_eq!(unix_seconds("2026-01-02T03:04:05+00:00"), z);
        assert_eq!(unix_seconds("2026-01-02T04:04:05+01:00"), z);
        assert_eq!(unix_seconds("2026-01-02T01:34:05-01:30"), z);
        assert_eq!(unix_seconds("2026-01-02T03:04:05.123+00:00"), z);
        assert_eq!(unix_seconds("N/A"), None);
        assert_eq!(unix_seconds("no_information"), None);
        assert_eq!(unix_seconds("2026-01-02 03:04:05"), None);
    }

    #[test]
    fn rfc3339_round_trips() {
        let t = unix_seconds("2026-12-03T10:20:30Z").unwrap_or_default();
        assert_eq!(rfc3339(t), "2026-12-03T10:20:30Z");
    }

    #[test]
    fn checks_have_one_name_each() {
        for c in Check::ALL {
            assert_eq!(Check::parse(c.as_str()), Some(c));
            assert_eq!(
                serde_json::to_value(c).ok(),
                Some(Value::String(c.as_str().into()))
            );
        }
        assert_eq!(Check::parse("guardduty"), None);
        assert_eq!(
            Check::parse("guardduty-enabled"),
            Some(Check::GuarddutyEnabled)
        );
    }

    #[test]
    fn partitions_follow_the_region() {
        assert_eq!(partition("eu-west-1"), "aws");
        assert_eq!(partition("cn-northwest-1"), "aws-cn");
        assert_eq!(partition("us-gov-east-1"), "aws-us-gov");
        assert_eq!(global_region("aws-cn"), "cn-north-1");
    }

    #[test]
    fn a_failed_account_alerts_once_per_kind() {
        let scope = Scope::new("111122223333", "us-east-1");
        let f = audit_failed(
            Check::CloudtrailLogging,
            &scope,
            "assume-role/AccessDenied",
            "not authorized to perform sts:AssumeRole",
        );
        assert_eq!(f.key, "111122223333");
        assert_eq!(f.fingerprint, "assume-role/AccessDenied");
        assert_eq!(f.finding, "audit-failed");
        assert_eq!(f.facts["error_kind"], "assume-role/AccessDenied");
    }
}
