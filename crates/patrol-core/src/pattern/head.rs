//! A cheap necessary condition for a set of patterns, on a few fields whose values an
//! event reader knows without reading the whole event (for CloudTrail records:
//! `detail.eventName`, `source`, `detail.errorCode`, `detail.userIdentity.type`): an
//! event that no pattern branch accepts on those fields matches no pattern, so it need not
//! be scanned at all. Most of a CloudTrail archive is calls that no security rule names,
//! and this answers for them with a few hash lookups.
//!
//! A branch's list for a field is checked only when it is exact strings (no IP address)
//! and case-sensitive prefixes, maybe with `exists: false`; any other operator counts as
//! accepting every value, so the index may say "maybe" too often, never "no" wrongly
//! (a property test holds it to the reference interpreter).

use std::collections::{HashMap, HashSet};

use super::Pattern;
use super::op::Op;

/// What an event has at one of the index's paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadValue<'a> {
    /// Exactly one value there, this string.
    Str(&'a str),
    /// Nothing there.
    Absent,
    /// Anything else, or not known: every branch may accept it.
    Unknown,
}

/// A branch's condition on one path, when it is one the index can check: exact strings
/// and (case-sensitive) prefixes, maybe `exists: false`.
#[derive(Debug, Clone)]
struct Check {
    path: usize,
    exact: HashSet<String>,
    prefixes: Vec<String>,
    absent_ok: bool,
}

impl Check {
    fn accepts(&self, v: HeadValue<'_>) -> bool {
        match v {
            HeadValue::Str(s) => {
                self.exact.contains(s) || self.prefixes.iter().any(|p| s.starts_with(p.as_str()))
            }
            HeadValue::Absent => self.absent_ok,
            HeadValue::Unknown => true,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct HeadIndex {
    paths: Vec<String>,
    /// Each branch's checks.
    branches: Vec<Vec<Check>>,
    /// A branch that checks none of the paths: every event may match.
    always: bool,
    /// Per path: branches whose first exact-only check is on it, by value.
    by_value: Vec<HashMap<String, Vec<usize>>>,
    /// Per path: those branches again, for an event without one string there.
    keyed: Vec<Vec<usize>>,
    /// Branches with no exact-only check (prefixes): tried on every event.
    unkeyed: Vec<usize>,
}

impl HeadIndex {
    /// The index of `patterns` on the fields at `paths` (dotted, as patterns name them:
    /// `detail.eventName`), the more selective first.
    pub fn new(patterns: &[Pattern], paths: &[&str]) -> HeadIndex {
        let mut index = HeadIndex {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            by_value: vec![HashMap::new(); paths.len()],
            keyed: vec![Vec::new(); paths.len()],
            ..HeadIndex::default()
        };
        for branch in patterns.iter().flat_map(Pattern::branches) {
            let checks: Vec<Check> = paths
                .iter()
                .enumerate()
                .filter_map(|(i, path)| {
                    let c = branch.iter().find(|c| c.path == *path)?;
                    let mut check = Check {
                        path: i,
                        exact: HashSet::new(),
                        prefixes: Vec::new(),
                        absent_ok: c.absent_ok,
                    };
                    for op in &c.ops {
                        match op {
                            Op::Str { value, ip: None } => {
                                check.exact.insert(value.clone());
                            }
                            Op::Prefix {
                                value,
                                ignore_case: false,
                                ..
                            } => check.prefixes.push(value.clone()),
                            // Anything else accepts values this cannot tell.
                            _ => return None,
                        }
                    }
                    Some(check)
                })
                .collect();
            let id = index.branches.len();
            match checks.iter().find(|c| c.prefixes.is_empty()) {
                _ if checks.is_empty() => index.always = true,
                Some(key) => {
                    for v in &key.exact {
                        index.by_value[key.path]
                            .entry(v.clone())
                            .or_default()
                            .push(id);
                    }
                    index.keyed[key.path].push(id);
                }
                None => index.unkeyed.push(id),
            }
            index.branches.push(checks);
        }
        index
    }

    /// The paths, in the order [`HeadIndex::may_match`] takes their values.
    pub fn paths(&self) -> &[String] {
        &self.paths
    }

    /// Whether some pattern may match an event with these values at the paths;
    /// `false` means no pattern matches it.
    pub fn may_match(&self, values: &[HeadValue<'_>]) -> bool {
        if self.always {
            return true;
        }
        let value = |i: usize| values.get(i).copied().unwrap_or(HeadValue::Unknown);
        let passes = |b: &usize| {
            self.branches
                .get(*b)
                .is_some_and(|checks| checks.iter().all(|c| c.accepts(value(c.path))))
        };
        if self.unkeyed.iter().any(passes) {
            return true;
        }
        (0..self.paths.len()).any(|i| match value(i) {
            HeadValue::Str(s) => self
                .by_value
                .get(i)
                .and_then(|m| m.get(s))
                .is_some_and(|bs| bs.iter().any(passes)),
            HeadValue::Absent | HeadValue::Unknown => {
                self.keyed.get(i).is_some_and(|bs| bs.iter().any(passes))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn index(patterns: &[serde_json::Value]) -> HeadIndex {
        let ps: Vec<Pattern> = patterns
            .iter()
            .map(|p| Pattern::parse(p).expect("pattern"))
            .collect();
        HeadIndex::new(&ps, &["detail.eventName", "source", "detail.errorCode"])
    }

    fn may(i: &HeadIndex, source: &str, name: Option<&str>) -> bool {
        i.may_match(&[
            name.map_or(HeadValue::Unknown, HeadValue::Str),
            HeadValue::Str(source),
            HeadValue::Absent,
        ])
    }

    #[test]
    fn exact_lists_and_prefixes_narrow_and_anything_else_does_not() {
        let i = index(&[
            json!({"source": ["aws.iam"], "detail": {"eventName": ["CreateUser", "DeleteUser"]}}),
            json!({"source": ["aws.s3"]}),
            json!({"source": ["aws.ec2"], "detail": {"eventName": [{"prefix": "Run"}]}}),
        ]);
        assert!(may(&i, "aws.iam", Some("CreateUser")));
        assert!(!may(&i, "aws.iam", Some("ListUsers")));
        assert!(may(&i, "aws.iam", None));
        assert!(may(&i, "aws.s3", Some("GetObject")));
        assert!(may(&i, "aws.ec2", Some("RunInstances")));
        assert!(!may(&i, "aws.ec2", Some("Anything")));
        assert!(!may(&i, "aws.kms", Some("Decrypt")));
        assert!(!may(&i, "aws.kms", None));
    }

    #[test]
    fn prefixes_and_absence_are_checked_too() {
        let i = index(&[
            json!({"detail": {"errorCode": [{"prefix": "AccessDenied"}, "UnauthorizedOperation"]}}),
        ]);
        let code = |c: HeadValue<'_>| {
            i.may_match(&[HeadValue::Str("GetObject"), HeadValue::Str("aws.s3"), c])
        };
        assert!(code(HeadValue::Str("AccessDeniedException")));
        assert!(code(HeadValue::Str("UnauthorizedOperation")));
        assert!(!code(HeadValue::Str("NoSuchKey")));
        assert!(!code(HeadValue::Absent));
        assert!(code(HeadValue::Unknown));
        let i =
            index(&[json!({"source": ["aws.iam"], "detail": {"errorCode": [{"exists": false}]}})]);
        assert!(i.may_match(&[
            HeadValue::Unknown,
            HeadValue::Str("aws.iam"),
            HeadValue::Absent
        ]));
        assert!(!i.may_match(&[
            HeadValue::Unknown,
            HeadValue::Str("aws.iam"),
            HeadValue::Str("AccessDenied")
        ]));
        // Case-insensitive prefixes are not checked: every value may match.
        let i =
            index(&[json!({"detail": {"errorCode": [{"prefix": {"equals-ignore-case": "x"}}]}})]);
        assert!(i.may_match(&[
            HeadValue::Unknown,
            HeadValue::Str("aws.s3"),
            HeadValue::Absent
        ]));
    }

    #[test]
    fn a_branch_without_a_source_list_keeps_every_source() {
        let i = index(&[
            json!({"source": ["aws.iam"], "detail": {"eventName": ["CreateUser"]}}),
            json!({"detail": {"eventName": ["StopLogging"]}}),
        ]);
        assert!(may(&i, "aws.cloudtrail", Some("StopLogging")));
        assert!(!may(&i, "aws.cloudtrail", Some("StartLogging")));
        let i = index(&[json!({"$or": [{"source": ["aws.iam"]}, {"detail": {"x": ["1"]}}]})]);
        assert!(may(&i, "aws.kms", Some("Decrypt")));
        let i = index(&[json!({"source": [{"prefix": "aws."}]})]);
        assert!(may(&i, "aws.kms", Some("Decrypt")));
        // An IP address also matches its other spellings: not an exact list.
        let i = index(&[json!({"source": ["10.0.0.1"]})]);
        assert!(may(&i, "010.0.0.1", None));
        assert!(!may(&index(&[]), "aws.iam", None));
    }
}
