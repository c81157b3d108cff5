//! `iam-credential-hygiene`: from the IAM credential report,
//! - `access-key-too-old`: an active access key last rotated more than `max_age_days` ago;
//! - `access-key-unused`: an active access key not used for more than `max_unused_days`
//!   (a key never used counts from its creation);
//! - `console-user-without-mfa`: a user with a console password and no MFA device;
//! - `root-access-key`: the root user has an active access key;
//! - `root-mfa-off`: the root user has no MFA device.
//!
//! The report names key slots (1, 2), not key ids: a key's `key` is its user, slot and
//! rotation time, so a rotated key is a new finding and the old one's alerts stop. Dates
//! the report does not have (`N/A`, `no_information`) never make a finding by themselves.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::credential_report::{self, ReportKey, ReportUser};
use super::{AuditError, AuditParams, Check, Scope, global_region, unix_seconds};
use crate::finding::Finding;

const DAY: i64 = 86_400;

/// GetCredentialReport's response, with `Content` base64-decoded to its CSV text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Snapshot {
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated_time: Option<String>,
}

pub fn evaluate(
    snapshot: &Snapshot,
    scope: &Scope,
    params: &AuditParams,
    now: i64,
) -> Result<Vec<Finding>, AuditError> {
    let users = credential_report::parse(&snapshot.content).map_err(|e| AuditError::Snapshot {
        check: Check::IamCredentialHygiene,
        message: e.to_string(),
    })?;
    let mut out = Vec::new();
    for u in &users {
        let f = Found { scope, user: u };
        if u.is_root() {
            for k in u.access_keys.iter().filter(|k| k.active) {
                out.push(f.finding(
                    "root-access-key",
                    format!("root/access-key-{}/{}", k.slot, k.last_rotated),
                    "active".into(),
                    key_facts(k),
                ));
            }
            if u.mfa_active != "true" {
                out.push(f.finding("root-mfa-off", "root".into(), "mfa-off".into(), Map::new()));
            }
            continue;
        }
        for k in u.access_keys.iter().filter(|k| k.active) {
            let key = format!(
                "iam-user/{}/access-key-{}/{}",
                u.user, k.slot, k.last_rotated
            );
            let Some(rotated) = unix_seconds(&k.last_rotated) else {
                continue;
            };
            let age_days = (now - rotated).div_euclid(DAY);
            if now - rotated > i64::from(params.max_age_days) * DAY {
                let mut facts = key_facts(k);
                facts.insert("age_days".into(), json!(age_days));
                facts.insert("max_age_days".into(), json!(params.max_age_days));
                out.push(f.finding(
                    "access-key-too-old",
                    key.clone(),
                    format!("older-than-{}-days", params.max_age_days),
                    facts,
                ));
            }
            let used = unix_seconds(&k.last_used_date);
            let idle_since = used.unwrap_or(rotated);
            if now - idle_since > i64::from(params.max_unused_days) * DAY {
                let mut facts = key_facts(k);
                facts.insert(
                    "unused_days".into(),
                    json!((now - idle_since).div_euclid(DAY)),
                );
                facts.insert("never_used".into(), json!(used.is_none()));
                facts.insert("max_unused_days".into(), json!(params.max_unused_days));
                let state = if used.is_none() {
                    "never-used"
                } else {
                    "unused"
                };
                out.push(f.finding(
                    "access-key-unused",
                    key,
                    format!("{state}-for-{}-days", params.max_unused_days),
                    facts,
                ));
            }
        }
        if u.password_enabled == "true" && u.mfa_active != "true" {
            out.push(f.finding(
                "console-user-without-mfa",
                format!("iam-user/{}/console", u.user),
                "mfa-off".into(),
                Map::new(),
            ));
        }
    }
    Ok(out)
}

struct Found<'a> {
    scope: &'a Scope,
    user: &'a ReportUser,
}

impl Found<'_> {
    fn finding(
        &self,
        finding: &str,
        key: String,
        fingerprint: String,
        mut facts: Map<String, Value>,
    ) -> Finding {
        facts.insert("user".into(), json!(self.user.user));
        facts.insert("arn".into(), json!(self.user.arn));
        Finding {
            check: Check::IamCredentialHygiene.as_str().into(),
            finding: finding.into(),
            key,
            fingerprint,
            account: self.scope.account.clone(),
            region: global_region(self.scope.partition()).into(),
            resource: Some(self.user.arn.clone()).filter(|a| !a.is_empty()),
            facts,
        }
    }
}

fn key_facts(k: &ReportKey) -> Map<String, Value> {
    let mut facts = Map::new();
    facts.insert("key_slot".into(), json!(k.slot));
    facts.insert("last_rotated".into(), json!(k.last_rotated));
    let used = (k.last_used_date != "N/A").then_some(&k.last_used_date);
    facts.insert("last_used".into(), json!(used));
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

    /// A report line: user, password, mfa, key 1 (active, rotated, used), key 2 off.
    fn line(user: &str, password: &str, mfa: &str, key1: (&str, &str, &str)) -> String {
        let arn = if user == "<root_account>" {
            "arn:aws:iam::111122223333:root".to_owned()
        } else {
            format!("arn:aws:iam::111122223333:user/{user}")
        };
        format!(
            "{user},{arn},2024-01-01T00:00:00+00:00,{password},N/A,N/A,N/A,{mfa},{},{},{},N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
            key1.0, key1.1, key1.2
        )
    }

    fn report(lines: &[String]) -> Snapshot {
        Snapshot {
            content: format!("{HEADER}\n{}\n", lines.join("\n")),
            report_format: Some("text/csv".into()),
            generated_time: None,
        }
    }

    fn now() -> i64 {
        unix_seconds("2026-12-03T00:00:00Z").unwrap_or_default()
    }

    fn run(s: &Snapshot, params: &AuditParams) -> Vec<Finding> {
        let scope = Scope::new("111122223333", "eu-west-1");
        evaluate(s, &scope, params, now()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn kinds(fs: &[Finding]) -> Vec<(&str, &str, &str)> {
        fs.iter()
            .map(|f| (f.finding.as_str(), f.key.as_str(), f.fingerprint.as_str()))
            .collect()
    }

    #[test]
    fn an_old_key_used_yesterday_is_too_old_but_not_unused() {
        let s = report(&[line(
            "ci",
            "false",
            "false",
            (
                "true",
                "2026-06-01T00:00:00+00:00",
                "2026-12-02T00:00:00+00:00",
            ),
        )]);
        let fs = run(&s, &AuditParams::new(Check::IamCredentialHygiene));
        assert_eq!(
            kinds(&fs),
            [(
                "access-key-too-old",
                "iam-user/ci/access-key-1/2026-06-01T00:00:00+00:00",
                "older-than-90-days"
            )]
        );
        assert_eq!(fs[0].facts["age_days"], 185);
        assert_eq!(fs[0].facts["user"], "ci");
        assert_eq!(fs[0].region, "us-east-1", "IAM is global");
        assert_eq!(
            fs[0].resource.as_deref(),
            Some("arn:aws:iam::111122223333:user/ci")
        );
    }

    #[test]
    fn a_key_never_used_counts_from_its_rotation() {
        let s = report(&[line(
            "bob",
            "false",
            "false",
            ("true", "2026-10-01T00:00:00+00:00", "N/A"),
        )]);
        let p = AuditParams {
            max_unused_days: 30,
            ..AuditParams::new(Check::IamCredentialHygiene)
        };
        let fs = run(&s, &p);
        assert_eq!(
            kinds(&fs),
            [(
                "access-key-unused",
                "iam-user/bob/access-key-1/2026-10-01T00:00:00+00:00",
                "never-used-for-30-days"
            )]
        );
        assert_eq!(fs[0].facts["never_used"], true);
        assert_eq!(fs[0].facts["last_used"], Value::Null);
        // Under the default 90 days, the same key is fine.
        assert!(run(&s, &AuditParams::new(Check::IamCredentialHygiene)).is_empty());
    }

    #[test]
    fn a_key_used_long_ago_is_unused() {
        let s = report(&[line(
            "old",
            "false",
            "false",
            (
                "true",
                "2026-10-01T00:00:00+00:00",
                "2026-10-02T00:00:00+00:00",
            ),
        )]);
        let p = AuditParams {
            max_unused_days: 7,
            ..AuditParams::new(Check::IamCredentialHygiene)
        };
        let fs = run(&s, &p);
        assert_eq!(fs.len(), 1);
        assert_eq!(fs[0].fingerprint, "unused-for-7-days");
        assert_eq!(fs[0].facts["unused_days"], 62);
    }

    #[test]
    fn inactive_keys_and_fresh_keys_are_fine() {
        let s = report(&[
            line(
                "a",
                "false",
                "false",
                ("false", "2020-01-01T00:00:00+00:00", "N/A"),
            ),
            line(
                "b",
                "false",
                "false",
                (
                    "true",
                    "2026-11-01T00:00:00+00:00",
                    "2026-12-01T00:00:00+00:00",
                ),
            ),
        ]);
        assert!(run(&s, &AuditParams::new(Check::IamCredentialHygiene)).is_empty());
    }

    #[test]
    fn console_users_need_mfa() {
        let s = report(&[
            line("alice", "true", "false", ("false", "N/A", "N/A")),
            line("carol", "true", "true", ("false", "N/A", "N/A")),
            line("svc", "false", "false", ("false", "N/A", "N/A")),
        ]);
        let fs = run(&s, &AuditParams::new(Check::IamCredentialHygiene));
        assert_eq!(
            kinds(&fs),
            [(
                "console-user-without-mfa",
                "iam-user/alice/console",
                "mfa-off"
            )]
        );
    }

    #[test]
    fn root_keys_and_root_without_mfa_are_findings() {
        let s = report(&[line(
            "<root_account>",
            "not_supported",
            "false",
            ("true", "2026-11-30T00:00:00+00:00", "N/A"),
        )]);
        let fs = run(&s, &AuditParams::new(Check::IamCredentialHygiene));
        assert_eq!(
            kinds(&fs),
            [
                (
                    "root-access-key",
                    "root/access-key-1/2026-11-30T00:00:00+00:00",
                    "active"
                ),
                ("root-mfa-off", "root", "mfa-off"),
            ]
        );
        let ok = report(&[line(
            "<root_account>",
            "not_supported",
            "true",
            ("false", "N/A", "N/A"),
        )]);
        assert!(run(&ok, &AuditParams::new(Check::IamCredentialHygiene)).is_empty());
    }

    #[test]
    fn a_daily_run_keeps_the_same_fingerprints() {
        let s = report(&[line(
            "ci",
            "true",
            "false",
            ("true", "2025-01-01T00:00:00+00:00", "N/A"),
        )]);
        let scope = Scope::new("111122223333", "us-east-1");
        let p = AuditParams::new(Check::IamCredentialHygiene);
        let today = evaluate(&s, &scope, &p, now()).unwrap_or_default();
        let tomorrow = evaluate(&s, &scope, &p, now() + DAY).unwrap_or_default();
        assert_eq!(today.len(), 3);
        let ids = |fs: &[Finding]| fs.iter().map(Finding::id).collect::<Vec<_>>();
        assert_eq!(ids(&today), ids(&tomorrow));
        assert_ne!(today[0].facts["age_days"], tomorrow[0].facts["age_days"]);
    }

    #[test]
    fn a_snapshot_that_is_not_a_report_is_an_error() {
        let s = Snapshot {
            content: "not,a,report\n".into(),
            report_format: None,
            generated_time: None,
        };
        let r = evaluate(
            &s,
            &Scope::new("1", "us-east-1"),
            &AuditParams::new(Check::IamCredentialHygiene),
            now(),
        );
        assert!(
            matches!(&r, Err(AuditError::Snapshot { message, .. }) if message.contains("`user`")),
            "{r:?}"
        );
    }
}
