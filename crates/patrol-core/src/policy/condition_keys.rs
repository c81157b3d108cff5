//! A statement's `Condition` block, and whether it restricts an open statement to known
//! parties: `"Principal": "*"` with `StringEquals aws:SourceAccount 111122223333` is not
//! public, with `Bool aws:SecureTransport true` it is.
//!
//! A clause restricts when all of these hold:
//! - its key is one of [`RESTRICTING_KEYS`] (case-insensitive): keys whose value names the
//!   caller's account, organization, ARN, network or unique id;
//! - its operator is `StringEquals`, `StringEqualsIgnoreCase`, `StringLike`, `ArnEquals` or
//!   `ArnLike` (for `aws:SourceIp` only `IpAddress`), alone or with `ForAnyValue:`;
//!   `…IfExists` and `ForAllValues:` never restrict (both hold when the key is absent),
//!   nor do negated operators, `Null`, `Bool` and the rest;
//! - it has values, none empty or a bare `*`, and, for the `…Like` operators, the part of
//!   each value that identifies the party has no wildcard (`arn:aws:iam::*:role/x` and
//!   `o-*` restrict nothing); for `aws:SourceIp`, no `/0` range.
//!
//! Conditions are ANDed, so one restricting clause restricts the statement.
//!
//! Separately, [`source_accounts`] reads which account a service principal acts for
//! (`aws:SourceAccount`, `aws:SourceOwner`, `aws:SourceArn`), for
//! [`super::PolicyDocument::external_accounts`].

use serde_json::Value;

use super::arn_glob::has_wildcard;
use super::principal::{account_of, is_account_id};
use super::{PolicyError, type_name};

/// Condition keys that tie a request to a known account, organization or network.
///
/// Left out on purpose: `aws:PrincipalServiceName` (any customer's use of that service
/// matches, the confused-deputy case), `aws:VpcSourceIp` (private ranges repeat across
/// accounts), `aws:ResourceAccount`/`aws:ResourceOrgID` (restrict the resource, not the
/// caller), `aws:username` (not unique across accounts), `kms:ViaService`,
/// `lambda:EventSourceToken` (a shared secret, not an identity) and
/// `s3:DataAccessPointAccount` (defers to the access point's own policy).
pub const RESTRICTING_KEYS: &[&str] = &[
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceowner",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourcevpcarn",
    "aws:sourceip",
    "aws:userid",
    "kms:calleraccount",
];

/// Keys whose values are account ids (used to list the accounts a restricted grant names).
const ACCOUNT_KEYS: &[&str] = &[
    "aws:sourceaccount",
    "aws:sourceowner",
    "aws:principalaccount",
    "kms:calleraccount",
];
const ARN_KEYS: &[&str] = &["aws:sourcearn", "aws:principalarn", "aws:sourcevpcarn"];

/// Keys that name the resource, and so the account, on whose behalf a service principal
/// acts: `sns.amazonaws.com` publishing for a bucket, `events.amazonaws.com` sending for
/// a rule. Account-valued first, then ARN-valued.
const SOURCE_ACCOUNT_KEYS: &[&str] = &["aws:sourceaccount", "aws:sourceowner"];
const SOURCE_ARN_KEYS: &[&str] = &["aws:sourcearn"];

/// One `operator: {key: values}` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionClause {
    pub operator: String,
    pub key: String,
    /// Values as strings (`true`, `42` become `"true"`, `"42"`).
    pub values: Vec<String>,
}

pub(crate) fn parse(value: &Value, path: &str) -> Result<Vec<ConditionClause>, PolicyError> {
    let Value::Object(operators) = value else {
        return Err(PolicyError::invalid(
            path,
            format!("must be an object, got {}", type_name(value)),
        ));
    };
    let mut out = Vec::new();
    for (operator, keys) in operators {
        let path = format!("{path}.{operator}");
        let Value::Object(keys) = keys else {
            return Err(PolicyError::invalid(
                path,
                format!(
                    "must be an object of condition keys, got {}",
                    type_name(keys)
                ),
            ));
        };
        for (key, values) in keys {
            let path = format!("{path}.{key}");
            let scalar = |v: &Value, path: String| match v {
                Value::String(s) => Ok(s.clone()),
                Value::Bool(b) => Ok(b.to_string()),
                Value::Number(n) => Ok(n.to_string()),
                other => Err(PolicyError::invalid(
                    path,
                    format!(
                        "must be a string, number or boolean, got {}",
                        type_name(other)
                    ),
                )),
            };
            let values = match values {
                Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| scalar(v, format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
                other => vec![scalar(other, path)?],
            };
            out.push(ConditionClause {
                operator: operator.clone(),
                key: key.clone(),
                values,
            });
        }
    }
    Ok(out)
}

/// Whether one of the clauses restricts the statement to known parties.
pub fn restricts(clauses: &[ConditionClause]) -> bool {
    clauses.iter().any(ConditionClause::restricts)
}

/// Account ids named by the restricting clauses (`aws:SourceAccount`, account fields of
/// `aws:SourceArn`, …): who an open-but-restricted statement actually grants to.
pub fn restricted_accounts(clauses: &[ConditionClause]) -> Vec<String> {
    let mut out = Vec::new();
    for clause in clauses.iter().filter(|c| c.restricts()) {
        let key = clause.key.to_ascii_lowercase();
        if ACCOUNT_KEYS.contains(&key.as_str()) {
            out.extend(clause.values.iter().filter(|v| is_account_id(v)).cloned());
        } else if ARN_KEYS.contains(&key.as_str()) {
            out.extend(clause.values.iter().filter_map(|v| account_of(v)));
        }
    }
    out
}

/// Account ids that `aws:SourceAccount`, `aws:SourceOwner` or the account field of
/// `aws:SourceArn` name in a statement whose principal is a service: the accounts whose
/// resources the service may act for (the confused-deputy shape). Unlike
/// [`restricted_accounts`], an `…IfExists` or `ForAllValues:` clause counts too: it does
/// not keep others out, but the account it names is let in all the same. Negated
/// operators name accounts that are kept out, and an ARN without an account field
/// (`arn:aws:s3:::bucket`) or with a wildcard in it names none.
pub fn source_accounts(clauses: &[ConditionClause]) -> Vec<String> {
    let mut out = Vec::new();
    for clause in clauses.iter().filter(|c| c.matches_values()) {
        let key = clause.key.to_ascii_lowercase();
        if SOURCE_ACCOUNT_KEYS.contains(&key.as_str()) {
            out.extend(
                clause
                    .values
                    .iter()
                    .map(|v| v.trim())
                    .filter(|v| is_account_id(v))
                    .map(str::to_owned),
            );
        } else if SOURCE_ARN_KEYS.contains(&key.as_str()) {
            out.extend(clause.values.iter().filter_map(|v| account_of(v.trim())));
        }
    }
    out
}

impl ConditionClause {
    /// Whether the operator lets in requests whose key equals or matches one of the
    /// values (`StringEquals`, `StringLike`, `ArnEquals`, `ArnLike`, …), with any set
    /// prefix and `IfExists`; not the negated operators, `Null`, `Bool` and the rest.
    fn matches_values(&self) -> bool {
        let operator = self.operator.to_ascii_lowercase();
        let operator = operator
            .split_once(':')
            .map_or(operator.as_str(), |(_, rest)| rest);
        let operator = operator.strip_suffix("ifexists").unwrap_or(operator);
        matches!(
            operator,
            "stringequals" | "stringequalsignorecase" | "stringlike" | "arnequals" | "arnlike"
        )
    }

    fn restricts(&self) -> bool {
        let operator = self.operator.to_ascii_lowercase();
        let key = self.key.to_ascii_lowercase();
        let operator = match operator.split_once(':') {
            None => operator.as_str(),
            Some(("foranyvalue", rest)) => rest,
            // `ForAllValues` holds vacuously when the key is absent.
            Some(_) => return false,
        };
        if !RESTRICTING_KEYS.contains(&key.as_str()) || self.values.is_empty() {
            return false;
        }
        if self
            .values
            .iter()
            .any(|v| v.trim().is_empty() || v.trim() == "*")
        {
            return false;
        }
        if key == "aws:sourceip" {
            return operator == "ipaddress"
                && !self.values.iter().any(|v| v.trim().ends_with("/0"));
        }
        match operator {
            "stringequals" | "stringequalsignorecase" | "arnequals" => true,
            "stringlike" | "arnlike" => self.values.iter().all(|v| names_a_party(&key, v)),
            _ => false,
        }
    }
}

/// For a `…Like` value: whether the part that identifies the party is wildcard-free.
fn names_a_party(key: &str, value: &str) -> bool {
    match key {
        _ if ARN_KEYS.contains(&key) => {
            // arn:partition:service:region:account:resource
            let parts: Vec<&str> = value.splitn(6, ':').collect();
            match parts.as_slice() {
                [_, _, _, _, "", resource] => {
                    // Global names (S3 buckets) have no account: the name must be fixed.
                    !resource.is_empty() && !resource.starts_with(['*', '?'])
                }
                [_, _, _, _, account, _] => !has_wildcard(account),
                _ => false,
            }
        }
        // `o-abc/r-x/ou-y/*`: the organization must be fixed.
        "aws:principalorgpaths" | "aws:sourceorgpaths" => value
            .split('/')
            .next()
            .is_some_and(|org| !org.is_empty() && !has_wildcard(org)),
        // `AROAEXAMPLEID:*`: the role's unique id must be fixed.
        "aws:userid" => value
            .split(':')
            .next()
            .is_some_and(|id| !id.is_empty() && !has_wildcard(id)),
        _ => !has_wildcard(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn clause(operator: &str, key: &str, values: &[&str]) -> ConditionClause {
        ConditionClause {
            operator: operator.to_owned(),
            key: key.to_owned(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        }
    }

    #[test]
    fn restricting_table() {
        let cases: &[(&str, &str, &[&str], bool)] = &[
            ("StringEquals", "aws:SourceAccount", &["111122223333"], true),
            ("stringequals", "AWS:SOURCEACCOUNT", &["111122223333"], true),
            (
                "StringEqualsIfExists",
                "aws:SourceAccount",
                &["111122223333"],
                false,
            ),
            (
                "StringNotEquals",
                "aws:SourceAccount",
                &["111122223333"],
                false,
            ),
            ("StringEquals", "aws:SourceAccount", &["*"], false),
            ("StringEquals", "aws:SourceAccount", &[], false),
            ("StringLike", "aws:SourceAccount", &["1111*"], false),
            ("StringLike", "aws:SourceAccount", &["111122223333"], true),
            (
                "ArnLike",
                "aws:SourceArn",
                &["arn:aws:sns:us-east-1:111122223333:*"],
                true,
            ),
            (
                "ArnLike",
                "aws:SourceArn",
                &["arn:aws:sns:*:*:topic"],
                false,
            ),
            (
                "ArnLike",
                "aws:SourceArn",
                &["arn:aws:s3:::my-bucket"],
                true,
            ),
            ("ArnLike", "aws:SourceArn", &["arn:aws:s3:::*"], false),
            ("ArnLike", "aws:SourceArn", &["not-an-arn"], false),
            ("StringLike", "aws:PrincipalArn", &["arn:aws:iam::*"], false),
            (
                "ArnEquals",
                "aws:PrincipalArn",
                &["arn:aws:iam::111122223333:role/x"],
                true,
            ),
            (
                "ForAnyValue:StringLike",
                "aws:PrincipalOrgPaths",
                &["o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*"],
                true,
            ),
            (
                "ForAnyValue:StringLike",
                "aws:PrincipalOrgPaths",
                &["o-*/*"],
                false,
            ),
            (
                "ForAllValues:StringEquals",
                "aws:PrincipalOrgPaths",
                &["o-a1b2c3d4e5/r-ab12/"],
                false,
            ),
            ("StringLike", "aws:PrincipalOrgID", &["o-*"], false),
            ("StringLike", "aws:userid", &["AROAEXAMPLEID:*"], true),
            ("StringLike", "aws:userid", &["*:alice"], false),
            ("IpAddress", "aws:SourceIp", &["203.0.113.0/24"], true),
            (
                "IpAddress",
                "aws:SourceIp",
                &["203.0.113.0/24", "0.0.0.0/0"],
                false,
            ),
            ("IpAddress", "aws:SourceIp", &["::/0"], false),
            ("NotIpAddress", "aws:SourceIp", &["203.0.113.0/24"], false),
            ("StringEquals", "aws:SourceIp", &["203.0.113.7"], false),
            (
                "StringEquals",
                "aws:PrincipalServiceName",
                &["cloudtrail.amazonaws.com"],
                false,
            ),
            ("Bool", "aws:SecureTransport", &["true"], false),
            ("Null", "aws:SourceAccount", &["false"], false),
            ("StringEquals", "kms:CallerAccount", &["111122223333"], true),
        ];
        for (op, key, values, want) in cases {
            assert_eq!(
                clause(op, key, values).restricts(),
                *want,
                "{op} {key} {values:?}"
            );
        }
    }

    #[test]
    fn parses_scalars_and_lists() {
        let parsed = parse(
            &json!({"Bool": {"aws:SecureTransport": false},
                    "NumericLessThan": {"s3:max-keys": [10, 20]}}),
            "C",
        )
        .expect("parses");
        assert_eq!(
            parsed,
            vec![
                clause("Bool", "aws:SecureTransport", &["false"]),
                clause("NumericLessThan", "s3:max-keys", &["10", "20"]),
            ]
        );
    }

    #[test]
    fn bad_blocks_are_errors() {
        let msg = |v: Value| parse(&v, "S.Condition").err().map(|e| e.to_string());
        assert_eq!(
            msg(json!(["x"])),
            Some("policy document: S.Condition: must be an object, got an array".to_owned())
        );
        assert_eq!(
            msg(json!({"StringEquals": "x"})),
            Some("policy document: S.Condition.StringEquals: must be an object of condition keys, got a string".to_owned())
        );
        assert!(msg(json!({"StringEquals": {"k": {"nested": 1}}})).is_some());
        assert!(msg(json!({"StringEquals": {"k": [null]}})).is_some());
    }

    #[test]
    fn accounts_a_service_acts_for() {
        let clauses = [
            clause("StringEquals", "aws:SourceAccount", &["111122223333"]),
            clause("StringEquals", "AWS:SourceOwner", &[" 222233334444 "]),
            clause(
                "ArnLike",
                "aws:SourceArn",
                &["arn:aws:events:us-east-1:333344445555:rule/*"],
            ),
            clause(
                "StringEqualsIfExists",
                "aws:SourceAccount",
                &["444455556666"],
            ),
            // Names no account: kept out, wildcarded, or a global bucket ARN.
            clause("StringNotEquals", "aws:SourceAccount", &["555566667777"]),
            clause("ArnLike", "aws:SourceArn", &["arn:aws:sns:*:*:topic"]),
            clause(
                "ArnLike",
                "aws:SourceArn",
                &["arn:aws:s3:::amzn-s3-demo-bucket"],
            ),
            clause("Null", "aws:SourceAccount", &["false"]),
            // Not a source key.
            clause("StringEquals", "aws:PrincipalAccount", &["666677778888"]),
        ];
        assert_eq!(
            source_accounts(&clauses),
            [
                "111122223333",
                "222233334444",
                "333344445555",
                "444455556666"
            ]
        );
    }

    #[test]
    fn accounts_named_by_restricting_clauses() {
        let clauses = [
            clause("StringEquals", "aws:SourceAccount", &["111122223333"]),
            clause(
                "ArnLike",
                "aws:SourceArn",
                &["arn:aws:cloudfront::444455556666:distribution/E1"],
            ),
            clause(
                "StringEqualsIfExists",
                "aws:PrincipalAccount",
                &["777788889999"],
            ),
        ];
        assert_eq!(
            restricted_accounts(&clauses),
            ["111122223333", "444455556666"]
        );
    }
}
