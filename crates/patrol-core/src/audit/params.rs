//! A rule's `params` as the `audit` handler reads them. `patrol validate` checks their
//! types from the handler's declaration (`lambdas/audit/handler.toml`); this is the same
//! reading at run time and in `patrol test`, with its own errors for a manifest built by
//! hand.

use serde_json::{Map, Value};

use super::Check;

/// The default of `max_age_days` and `max_unused_days`: CIS AWS Foundations 1.12/1.14.
pub const DEFAULT_DAYS: u32 = 90;

/// What one audit rule asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditParams {
    /// `check`: which check runs.
    pub check: Check,
    /// `max_age_days`: an active access key rotated longer ago than this is a finding.
    pub max_age_days: u32,
    /// `max_unused_days`: an active access key unused for longer than this (never used:
    /// since it was created) is a finding.
    pub max_unused_days: u32,
    /// `accounts`: the accounts to audit; `None` = every ACTIVE account of the organization.
    pub accounts: Option<Vec<String>>,
    /// `regions`: the regions regional checks look at; `None` = the deploy regions.
    pub regions: Option<Vec<String>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParamsError {
    #[error("params.check is required; one of: {names}", names = Check::names().join(", "))]
    MissingCheck,
    #[error("params.check `{0}` is not a check; one of: {names}", names = Check::names().join(", "))]
    UnknownCheck(String),
    #[error("params.{name} must be {expected}, not `{value}`")]
    Type {
        name: &'static str,
        expected: &'static str,
        value: String,
    },
}

impl AuditParams {
    /// Defaults for everything but the check.
    pub fn new(check: Check) -> Self {
        Self {
            check,
            max_age_days: DEFAULT_DAYS,
            max_unused_days: DEFAULT_DAYS,
            accounts: None,
            regions: None,
        }
    }

    /// A rule's `params` table. Names this handler does not read are left to validation.
    pub fn from_map(params: &Map<String, Value>) -> Result<Self, ParamsError> {
        let check = match params.get("check") {
            None => return Err(ParamsError::MissingCheck),
            Some(Value::String(s)) => {
                Check::parse(s).ok_or_else(|| ParamsError::UnknownCheck(s.clone()))?
            }
            Some(other) => return Err(ParamsError::UnknownCheck(other.to_string())),
        };
        Ok(Self {
            check,
            max_age_days: days(params, "max_age_days")?,
            max_unused_days: days(params, "max_unused_days")?,
            accounts: strings(params, "accounts", "a list of 12-digit account ids", |s| {
                s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
            })?,
            regions: strings(params, "regions", "a list of region names", |s| {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            })?,
        })
    }
}

fn days(params: &Map<String, Value>, name: &'static str) -> Result<u32, ParamsError> {
    match params.get(name) {
        None => Ok(DEFAULT_DAYS),
        Some(v) => v
            .as_u64()
            .filter(|d| *d >= 1)
            .and_then(|d| u32::try_from(d).ok())
            .ok_or_else(|| ParamsError::Type {
                name,
                expected: "a positive integer (days)",
                value: v.to_string(),
            }),
    }
}

fn strings(
    params: &Map<String, Value>,
    name: &'static str,
    expected: &'static str,
    valid: impl Fn(&str) -> bool,
) -> Result<Option<Vec<String>>, ParamsError> {
    let Some(v) = params.get(name) else {
        return Ok(None);
    };
    let err = || ParamsError::Type {
        name,
        expected,
        value: v.to_string(),
    };
    let items = v.as_array().ok_or_else(err)?;
    items
        .iter()
        .map(|i| {
            i.as_str()
                .filter(|s| valid(s))
                .map(str::to_owned)
                .ok_or_else(err)
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn defaults_are_ninety_days_and_the_whole_organization() {
        let p = AuditParams::from_map(&map(json!({"check": "iam-credential-hygiene"})));
        assert_eq!(p, Ok(AuditParams::new(Check::IamCredentialHygiene)));
    }

    #[test]
    fn every_param_is_read() {
        let p = AuditParams::from_map(&map(json!({
            "check": "s3-block-public-access", "max_age_days": 30, "max_unused_days": 45,
            "accounts": ["111122223333"], "regions": ["eu-west-1", "us-east-1"],
        })));
        assert_eq!(
            p,
            Ok(AuditParams {
                check: Check::S3BlockPublicAccess,
                max_age_days: 30,
                max_unused_days: 45,
                accounts: Some(vec!["111122223333".into()]),
                regions: Some(vec!["eu-west-1".into(), "us-east-1".into()]),
            })
        );
    }

    #[test]
    fn wrong_params_say_what_is_wrong() {
        assert_eq!(
            AuditParams::from_map(&map(json!({}))),
            Err(ParamsError::MissingCheck)
        );
        let unknown = AuditParams::from_map(&map(json!({"check": "guardduty"})));
        assert!(
            matches!(&unknown, Err(e) if e.to_string().contains("iam-credential-hygiene")),
            "{unknown:?}"
        );
        for bad in [
            json!({"check": "cloudtrail-logging", "max_age_days": 0}),
            json!({"check": "cloudtrail-logging", "max_unused_days": "90"}),
            json!({"check": "cloudtrail-logging", "accounts": ["1234"]}),
            json!({"check": "cloudtrail-logging", "accounts": "111122223333"}),
            json!({"check": "cloudtrail-logging", "regions": ["EU WEST"]}),
        ] {
            let r = AuditParams::from_map(&map(bad.clone()));
            assert!(matches!(r, Err(ParamsError::Type { .. })), "{bad}: {r:?}");
        }
    }
}
