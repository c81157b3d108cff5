//! A statement's `Principal` (or `NotPrincipal`): `"*"` or an object of principal types
//! (`AWS`, `Service`, `Federated`, `CanonicalUser`), each a string or an array.

use serde_json::Value;

use super::{PolicyError, strings, type_name};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// `"*"`.
    Everyone,
    Parties {
        /// Account ids, ARNs, unique ids, or `*`.
        aws: Vec<String>,
        service: Vec<String>,
        federated: Vec<String>,
        canonical_user: Vec<String>,
    },
}

impl Principal {
    pub(crate) fn parse(value: &Value, path: &str) -> Result<Principal, PolicyError> {
        let map = match value {
            Value::String(s) if s == "*" => return Ok(Principal::Everyone),
            Value::Object(map) => map,
            Value::String(s) => {
                return Err(PolicyError::invalid(
                    path,
                    format!("must be \"*\" or an object like {{\"AWS\": ...}}, got \"{s}\""),
                ));
            }
            other => {
                return Err(PolicyError::invalid(
                    path,
                    format!("must be \"*\" or an object, got {}", type_name(other)),
                ));
            }
        };
        let (mut aws, mut service, mut federated, mut canonical_user) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (kind, v) in map {
            let path = format!("{path}.{kind}");
            let list = match kind.as_str() {
                "AWS" => &mut aws,
                "Service" => &mut service,
                "Federated" => &mut federated,
                "CanonicalUser" => &mut canonical_user,
                _ => {
                    return Err(PolicyError::invalid(
                        path,
                        "unknown principal type (known: AWS, Service, Federated, CanonicalUser)",
                    ));
                }
            };
            list.extend(strings(v, &path)?.into_iter().map(|s| s.trim().to_owned()));
        }
        Ok(Principal::Parties {
            aws,
            service,
            federated,
            canonical_user,
        })
    }

    /// `"*"` or an `AWS` principal `*`: any AWS account, signed or anonymous.
    pub fn is_everyone(&self) -> bool {
        match self {
            Principal::Everyone => true,
            Principal::Parties { aws, .. } => aws.iter().any(|a| a == "*"),
        }
    }

    /// Whether it names an AWS service (`{"Service": "sns.amazonaws.com"}`).
    pub fn has_service(&self) -> bool {
        match self {
            Principal::Everyone => false,
            Principal::Parties { service, .. } => !service.is_empty(),
        }
    }

    /// The account ids the `AWS` principals name (a bare id or an ARN's account field).
    pub fn accounts(&self) -> Vec<String> {
        match self {
            Principal::Everyone => Vec::new(),
            Principal::Parties { aws, .. } => aws.iter().filter_map(|a| account_of(a)).collect(),
        }
    }
}

/// The account of `123456789012` or of an ARN such as `arn:aws:iam::123456789012:root`.
pub fn account_of(principal: &str) -> Option<String> {
    let candidate = if principal.starts_with("arn:") {
        principal.split(':').nth(4)?
    } else {
        principal
    };
    is_account_id(candidate).then(|| candidate.to_owned())
}

pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn everyone_forms() {
        for p in [
            json!("*"),
            json!({"AWS": "*"}),
            json!({"AWS": ["111122223333", "*"]}),
        ] {
            let p = Principal::parse(&p, "P").expect("parses");
            assert!(p.is_everyone(), "{p:?}");
        }
        let service =
            Principal::parse(&json!({"Service": "cloudfront.amazonaws.com"}), "P").expect("parses");
        assert!(!service.is_everyone());
    }

    #[test]
    fn accounts_from_ids_and_arns() {
        let p = Principal::parse(
            &json!({"AWS": ["111122223333", "arn:aws:iam::444455556666:root",
                "arn:aws:iam::777788889999:role/x", "arn:aws:sts::123456789012:assumed-role/r/s",
                "AROAEXAMPLEID", "arn:aws:iam::notanaccount:root"],
                "CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}),
            "P",
        )
        .expect("parses");
        assert_eq!(
            p.accounts(),
            [
                "111122223333",
                "444455556666",
                "777788889999",
                "123456789012"
            ]
        );
    }

    #[test]
    fn bad_principals_are_errors() {
        let err = |v: Value| Principal::parse(&v, "Statement[0].Principal").err();
        assert_eq!(
            err(json!({"Aws": "*"})).map(|e| e.to_string()),
            Some("policy document: Statement[0].Principal.Aws: unknown principal type (known: AWS, Service, Federated, CanonicalUser)".to_owned())
        );
        assert!(err(json!("111122223333")).is_some());
        assert!(err(json!(42)).is_some());
        assert!(err(json!({"AWS": [1]})).is_some());
    }
}
