//! A parameter's value against its [`ParamType`]: the shapes of strings, integers, lists,
//! ARN globs, account ids and regions, each problem with how to fix it. Shared by a rule's
//! `params` and a handler declaration's defaults.

use serde_json::Value;

use super::aws_ids::{Bad, check_account, check_region};
use crate::manifest::params::ParamType;
use crate::manifest::parse::closest;

/// TOML → JSON for params; `None` for a non-finite float.
pub(super) fn toml_to_json(v: &toml::Value) -> Option<Value> {
    Some(match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => Value::Number(serde_json::Number::from_f64(*f)?),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect::<Option<_>>()?),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| Some((k.clone(), toml_to_json(v)?)))
                .collect::<Option<_>>()?,
        ),
    })
}

/// TOML's name for a value's type, as diagnostics say it.
fn kind(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

fn bad(message: impl Into<String>, help: impl Into<String>) -> Bad {
    Bad {
        message: message.into(),
        help: help.into(),
    }
}

/// Every problem of `value` as a `ty`: `None` for the value itself, `Some(i)` for a list's
/// element.
pub(crate) fn check_value(ty: ParamType, value: &toml::Value) -> Vec<(Option<usize>, Bad)> {
    let wrong = |what: &str| {
        vec![(
            None,
            bad(
                format!("must be {what}, not {}", kind(value)),
                format!("write e.g. `{}`", ty.example()),
            ),
        )]
    };
    match ty {
        ParamType::String => match value {
            toml::Value::String(_) => vec![],
            _ => wrong("a string (in quotes)"),
        },
        ParamType::Boolean => match value {
            toml::Value::Boolean(_) => vec![],
            _ => wrong("`true` or `false`"),
        },
        ParamType::Integer => match value {
            toml::Value::Integer(_) => vec![],
            _ => wrong("an integer"),
        },
        ParamType::PositiveInteger => match value {
            toml::Value::Integer(i) if *i >= 1 => vec![],
            toml::Value::Integer(i) => vec![(
                None,
                bad(
                    format!("must be at least 1, not {i}"),
                    format!("write a positive integer, e.g. `{}`", ty.example()),
                ),
            )],
            _ => wrong("a positive integer (no quotes)"),
        },
        ParamType::StringList
        | ParamType::ArnGlobs
        | ParamType::AccountIds
        | ParamType::Regions => {
            let toml::Value::Array(items) = value else {
                let help = match value {
                    toml::Value::String(s) => format!("write a list, even of one: `[\"{s}\"]`"),
                    _ => format!("write a list, e.g. `{}`", ty.example()),
                };
                return vec![(
                    None,
                    bad(format!("must be a list, not {}", kind(value)), help),
                )];
            };
            if ty == ParamType::ArnGlobs && items.is_empty() {
                return vec![(
                    None,
                    bad(
                        "is empty",
                        "list at least one ARN glob: `policy_grants` reads an empty list as \"any resource\"",
                    ),
                )];
            }
            items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| check_item(ty, item).err().map(|b| (Some(i), b)))
                .collect()
        }
    }
}

fn check_item(ty: ParamType, item: &toml::Value) -> Result<(), Bad> {
    let s = match item {
        toml::Value::String(s) => s,
        toml::Value::Integer(i) if ty == ParamType::AccountIds => {
            return Err(bad(
                format!("`{i}` is a number"),
                format!(
                    "write account ids as strings, in quotes: `\"{i:012}\"` (account ids are not numbers: some start with 0)"
                ),
            ));
        }
        other => {
            return Err(bad(
                format!("must be a string, not {}", kind(other)),
                format!("write e.g. `{}`", ty.example()),
            ));
        }
    };
    match ty {
        ParamType::ArnGlobs => check_arn_glob(s),
        ParamType::AccountIds => check_account(s),
        ParamType::Regions => check_region(s),
        _ => Ok(()),
    }
}

/// AWS's partitions.
const PARTITIONS: &[&str] = &[
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// `arn:<partition>:<service>:<region>:<account>:<resource>`, any part a glob.
pub(super) fn check_arn_glob(s: &str) -> Result<(), Bad> {
    const SHAPE: &str = "an ARN glob is `arn:<partition>:<service>:<region>:<account>:<resource>`, where `*` and `?` match within the ARN, e.g. `arn:aws:iam::*:role/admin*` or `arn:aws:s3:::payroll-*`";
    if let Some(c) = s.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(format!("`{s}` contains {c:?}"), SHAPE));
    }
    if !s.starts_with("arn:") {
        if s.to_ascii_lowercase().starts_with("arn:") {
            return Err(bad(
                format!("`{s}` does not start with `arn:`"),
                format!("write `arn:` in lowercase: `arn:{}`", &s[4..]),
            ));
        }
        return Err(bad(format!("`{s}` is not an ARN glob"), SHAPE));
    }
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let [_, partition, service, region, account, resource] = parts.as_slice() else {
        return Err(bad(
            format!("`{s}` has {} of an ARN's 6 parts", parts.len()),
            format!(
                "{SHAPE}; global services leave the region empty (`arn:aws:iam::<account>:...`)"
            ),
        ));
    };
    if !(PARTITIONS.contains(partition)
        || (has_glob(partition)
            && partition
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'*' || b == b'?')))
    {
        let near = closest(partition, PARTITIONS)
            .map(|p| format!("did you mean `{p}`? "))
            .unwrap_or_default();
        return Err(bad(
            format!("`{s}`: `{partition}` is not an AWS partition"),
            format!("{near}partitions: {}, or `*`", PARTITIONS.join(", ")),
        ));
    }
    if service.is_empty()
        || !service
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-*?".contains(&b))
    {
        return Err(bad(
            format!("`{s}`: `{service}` is not a service name"),
            format!(
                "the service is the ARN's third part, lowercase (`iam`, `s3`, `secretsmanager`) or `*`; {SHAPE}"
            ),
        ));
    }
    if !region
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-*?".contains(&b))
    {
        return Err(bad(
            format!("`{s}`: `{region}` is not a region"),
            "the region is the ARN's fourth part (`eu-west-1`, `*`, or empty for global services such as IAM and S3)",
        ));
    }
    let account_ok = account.is_empty()
        || *account == "aws"
        || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))
        || (has_glob(account)
            && account
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'*' || b == b'?'));
    if !account_ok {
        return Err(bad(
            format!("`{s}`: `{account}` is not an account id"),
            "the account is the ARN's fifth part: 12 digits, `*`, or empty (S3 buckets)",
        ));
    }
    if resource.is_empty() {
        return Err(bad(
            format!("`{s}` names no resource"),
            "end the ARN with the resource, or `*` for every resource of the service",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_globs() {
        for good in [
            "arn:aws:iam::*:role/admin*",
            "arn:aws:s3:::payroll-*",
            "arn:*:iam::111122223333:user/*",
            "arn:aws:iam::aws:policy/AdministratorAccess",
            "arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/*",
            "arn:aws:secretsmanager:*:*:secret:prod/*",
            "arn:*:*:*:*:*",
        ] {
            assert_eq!(check_arn_glob(good), Ok(()), "{good}");
        }
        for (bad, help) in [
            ("arn:aws:iam:*:role/admin", "6 parts"),
            ("*", "an ARN glob is"),
            ("role/admin", "an ARN glob is"),
            ("ARN:aws:iam::*:role/x", "lowercase"),
            ("arn:amazon:iam::*:role/x", "partitions"),
            ("arn:aws:IAM::*:role/x", "service"),
            ("arn:aws:iam::1111:role/x", "12 digits"),
            ("arn:aws:s3:::", "names no resource"),
            ("arn:aws:iam::* :role/x", "an ARN glob is"),
        ] {
            let e = check_arn_glob(bad).expect_err(bad);
            assert!(
                e.message.contains(help) || e.help.contains(help),
                "{bad}: {e:?}"
            );
        }
    }

    #[test]
    fn values_are_checked_against_their_type() {
        let v = |s: &str| -> toml::Value {
            let t: toml::Table = toml::from_str(&format!("v = {s}")).expect("toml");
            t["v"].clone()
        };
        let at = |ty, s: &str| -> Vec<Option<usize>> {
            check_value(ty, &v(s)).into_iter().map(|(i, _)| i).collect()
        };
        assert_eq!(at(ParamType::AccountIds, r#"["111122223333"]"#), vec![]);
        assert_eq!(
            at(
                ParamType::AccountIds,
                r#"["111122223333", 444455556666, "12"]"#
            ),
            vec![Some(1), Some(2)]
        );
        assert_eq!(at(ParamType::AccountIds, r#""111122223333""#), vec![None]);
        assert_eq!(at(ParamType::ArnGlobs, "[]"), vec![None]);
        assert_eq!(at(ParamType::PositiveInteger, "0"), vec![None]);
        assert_eq!(at(ParamType::PositiveInteger, "90"), vec![]);
        assert_eq!(at(ParamType::Integer, "-3"), vec![]);
        assert_eq!(at(ParamType::String, "3"), vec![None]);
        assert_eq!(at(ParamType::Boolean, "true"), vec![]);
        assert_eq!(at(ParamType::StringList, r#"["a", 1]"#), vec![Some(1)]);
        assert_eq!(
            at(ParamType::Regions, r#"["eu-west-1", "eu-west-1a"]"#),
            vec![Some(1)]
        );
        let help = &check_value(ParamType::AccountIds, &v("[11112222333]"))[0]
            .1
            .help;
        assert!(help.contains("\"011112222333\""), "{help}");
    }
}
