//! Does a document allow any of these actions on any of these resources? `Action` and
//! `Resource` globs are compared with the asked globs ([`arn_glob::overlaps`]);
//! `NotAction`/`NotResource` admit an asked glob unless one exclusion covers it all
//! ([`arn_glob::covers`]).

use super::{Globs, PolicyDocument, arn_glob};

impl PolicyDocument {
    /// Whether some `Allow` statement allows one of `actions` (case-insensitive globs;
    /// empty means any action) on one of `resources` (ARN globs; empty means any
    /// resource). Conditions are not evaluated: a conditional grant is still a grant.
    pub fn grants(&self, actions: &[String], resources: &[String]) -> bool {
        self.allows().any(|s| {
            globs_meet(&s.actions, actions, true)
                && s.resources
                    .as_ref()
                    .is_none_or(|r| globs_meet(r, resources, false))
        })
    }
}

/// Whether a statement's `Action`/`NotAction` (or resource) globs admit one of `asked`.
fn globs_meet(statement: &Globs, asked: &[String], ignore_case: bool) -> bool {
    let any = ["*".to_owned()];
    let asked = if asked.is_empty() { &any[..] } else { asked };
    match statement {
        Globs::Only(globs) => globs
            .iter()
            .any(|g| asked.iter().any(|a| arn_glob::overlaps(g, a, ignore_case))),
        Globs::AllBut(excluded) => asked
            .iter()
            .any(|a| !excluded.iter().any(|e| arn_glob::covers(e, a, ignore_case))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// `(name, policy, actions, resources, grants)`.
    type Case = (&'static str, Value, Vec<String>, Vec<String>, bool);

    #[test]
    fn grants_corpus() {
        let payroll = ["arn:aws:s3:::payroll-*".to_owned()];
        let get = ["s3:GetObject".to_owned()];
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        let cases: Vec<Case> = vec![
            (
                "exact action on matching bucket",
                json!({"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::payroll-2024/*"}}),
                get.to_vec(),
                payroll.to_vec(),
                true,
            ),
            (
                "other bucket",
                json!({"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::public-site/*"}}),
                get.to_vec(),
                payroll.to_vec(),
                false,
            ),
            (
                "s3:* on *",
                json!({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}),
                get.to_vec(),
                payroll.to_vec(),
                true,
            ),
            (
                "action case-insensitive",
                json!({"Statement": {"Effect": "Allow", "Action": "S3:getobject", "Resource": "*"}}),
                get.to_vec(),
                payroll.to_vec(),
                true,
            ),
            (
                "glob vs glob action",
                json!({"Statement": {"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}}),
                s(&["s3:*Object"]),
                payroll.to_vec(),
                true,
            ),
            (
                "different action",
                json!({"Statement": {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}}),
                get.to_vec(),
                payroll.to_vec(),
                false,
            ),
            (
                "empty actions means any",
                json!({"Statement": {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::payroll-x"}}),
                vec![],
                payroll.to_vec(),
                true,
            ),
            (
                "empty resources means any",
                json!({"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::x"}}),
                get.to_vec(),
                vec![],
                true,
            ),
            (
                "Deny only",
                json!({"Statement": {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}}),
                get.to_vec(),
                payroll.to_vec(),
                false,
            ),
            (
                "NotAction excluding the action",
                json!({"Statement": {"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}}),
                get.to_vec(),
                payroll.to_vec(),
                false,
            ),
            (
                "NotAction excluding another service",
                json!({"Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}}),
                get.to_vec(),
                payroll.to_vec(),
                true,
            ),
            (
                "NotAction narrower than the asked glob",
                json!({"Statement": {"Effect": "Allow", "NotAction": "s3:GetObject", "Resource": "*"}}),
                s(&["s3:*"]),
                payroll.to_vec(),
                true,
            ),
            (
                "NotResource excluding payroll",
                json!({"Statement": {"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::payroll-*"}}),
                get.to_vec(),
                payroll.to_vec(),
                false,
            ),
            (
                "NotResource excluding something else",
                json!({"Statement": {"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::public-*"}}),
                get.to_vec(),
                payroll.to_vec(),
                true,
            ),
            (
                "no Resource (resource policy on the target)",
                json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}}),
                get.to_vec(),
                payroll.to_vec(),
                true,
            ),
            (
                "any of several asked",
                json!({"Statement": {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}}),
                s(&["s3:GetObject", "kms:*"]),
                s(&["arn:aws:s3:::payroll-*", "arn:aws:kms:*:*:key/*"]),
                true,
            ),
        ];
        for (name, policy, actions, resources, want) in cases {
            let doc = PolicyDocument::parse(&policy).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(doc.grants(&actions, &resources), want, "{name}");
        }
    }
}
