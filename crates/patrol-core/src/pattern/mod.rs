//! EventBridge event patterns, exactly as EventBridge evaluates them.
//!
//! Parse → validate → compile → match:
//! - [`Pattern::parse`] / [`Pattern::parse_str`]: pattern JSON → validated AST
//!   (`parse`), every EventBridge validation rule, errors naming the path inside the
//!   pattern (`detail.userIdentity.type[1]`, `x[0].numeric[1]`, `$or[1].b`). One file per
//!   operator: `wildcard`, `cidr`, `numeric`, `anything_but`, the rest in `op`; exact
//!   numbers in `number`; the pattern's own JSON reader in `json`.
//! - [`Pattern::matches`] / [`Pattern::explain`]: the plain reference interpreter
//!   (`interpret`, over the leaves that `flatten` produces).
//! - [`Matcher`]: many patterns compiled into one index (`matcher`), matched in one pass
//!   over raw JSON bytes (`scan`) that reads only the fields some pattern names.
//!
//! Decisions where EventBridge's documentation is silent (event-ruler, which EventBridge
//! runs, decides; the corpus in `tests/fixtures/patterns` pins each one):
//! - Numbers are compared as doubles. A pattern number a double cannot hold exactly
//!   (`9007199254740993`, `1e400`) is rejected (`inexact-number`); an event number a double
//!   cannot hold exactly matches no numeric or exact-number pattern. `matches_json` sees
//!   each literal's text and checks it exactly; from a `serde_json::Value` only integers
//!   can be checked (serde_json has already rounded other literals, and we do not enable
//!   `arbitrary_precision`, which would change serde_json for the whole workspace).
//! - `parse_str` reads the text itself, so duplicate keys behave as in event-ruler: a
//!   repeated object merges, a repeated value list replaces the earlier one (which must
//!   still be valid). `parse` gets a `Value`, where serde_json already kept the last.
//! - `cidr`: the range runs from the address as written to that address with the host bits
//!   set (event-ruler does not mask host bits); `/32` and `/128` are rejected. A plain
//!   string that is an IP address also matches other spellings of that address.
//! - `exists: false` and arrays: a field counts as present only if some leaf at its path
//!   sits in the same array elements as the other fields the match uses.
//! - An event that repeats a key: the last value counts, from bytes as from a
//!   `serde_json::Value` (`{"a": 1, "a": 2}` is `{"a": 2}`; `"a.b"` and `"a": {"b"}` are
//!   different keys and both count).
//! - Size: at most [`MAX_PATTERN_CHARS`] characters (the API's limit; the default account
//!   quota is 2,048).
//! - Wildcards: at most [`MAX_COMPLEXITY`] wildcard prefixes matched at once per field,
//!   EventBridge's "Rule is too complex" check (`complexity`).
//! - `equals-ignore-case` (also in `prefix`, `suffix`, `anything-but`) compares Unicode's
//!   full case folding of both sides (`fold`): `ß` = `SS`, `ς` = `σ` = `Σ`.

mod anything_but;
mod cidr;
mod complexity;
#[cfg(test)]
mod corpus;
mod flatten;
mod fold;
mod head;
mod interpret;
mod json;
mod matcher;
mod number;
mod numeric;
mod op;
mod parse;
#[cfg(test)]
mod proptests;
mod scan;
mod structure;
mod value;
mod wildcard;

pub use complexity::{MAX_COMPLEXITY, TOO_COMPLEX};
pub use head::{HeadIndex, HeadValue};
pub use matcher::Matcher;
/// The AST's parts that `crate::cover` generalizes.
pub(crate) use op::Op;
pub(crate) use parse::{Branch, RESERVED_IN_OR};
pub use parse::{MAX_COMBINATIONS, MAX_PATTERN_CHARS};

/// A validated EventBridge event pattern (the AST).
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    root: parse::Node,
    /// The pattern with its `$or`s expanded: it matches when any branch does.
    branches: Vec<parse::Branch>,
}

/// Why a pattern is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at `{path}`)")]
pub struct PatternError {
    /// Stable kebab-case code, e.g. `empty-array`, `unknown-operator`.
    pub code: &'static str,
    /// Where in the pattern, e.g. `detail.userIdentity.type[1]`; `""` for the root.
    pub path: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// The first field that made a pattern not match an event, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub path: String,
    pub reason: String,
}

/// An event the matcher could not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("the event is not a JSON object")]
    NotAnObject,
    #[error("invalid JSON at byte {offset}: {message}")]
    Syntax { offset: usize, message: String },
}

impl Pattern {
    /// Validates a pattern given as JSON.
    pub fn parse(value: &serde_json::Value) -> Result<Pattern, PatternError> {
        let size = value.to_string().chars().count();
        Self::parse_sized(&json::J::from_value(value), size)
    }

    /// Validates a pattern given as a JSON string, as the AWS API takes it.
    pub fn parse_str(json: &str) -> Result<Pattern, PatternError> {
        let value = json::J::parse(json).map_err(|e| PatternError {
            code: "invalid-json",
            path: String::new(),
            message: format!("the pattern is not valid JSON: {e}"),
        })?;
        Self::parse_sized(&value, json.chars().count())
    }

    fn parse_sized(value: &json::J, size: usize) -> Result<Pattern, PatternError> {
        let root = parse::parse_root(value)?;
        if size > MAX_PATTERN_CHARS {
            return Err(PatternError {
                code: "pattern-too-large",
                path: String::new(),
                message: format!(
                    "the pattern has {size} characters; EventBridge allows at most {MAX_PATTERN_CHARS} (2,048 by default): split it into several rules"
                ),
            });
        }
        let branches = parse::expand(&root)?;
        complexity::check(&branches)?;
        Ok(Pattern { root, branches })
    }

    /// The plain reference interpreter over the AST.
    pub fn matches(&self, event: &serde_json::Value) -> bool {
        interpret::matches(self, event)
    }

    /// `Ok(())` when it matches, else the first field that failed and why.
    pub fn explain(&self, event: &serde_json::Value) -> Result<(), Mismatch> {
        interpret::explain(self, event)
    }

    /// The pattern as EventBridge JSON again.
    pub fn to_json(&self) -> serde_json::Value {
        let tree = parse::node_to_json(&self.root);
        // The tree form keeps the author's structure, but when the pattern names one path
        // twice (`"a.b"` and `"a": {"b"}`, or a field beside a `$or` that also sets it),
        // which one wins depends on key order that a JSON object cannot keep. Then write
        // the expanded branches instead, which mean exactly the same.
        match Pattern::parse(&tree) {
            Ok(again) if same_branches(&again.branches, &self.branches) => tree,
            _ => parse::branches_to_json(&self.branches),
        }
    }

    pub(crate) fn branches(&self) -> &[parse::Branch] {
        &self.branches
    }
}

fn same_branches(a: &[parse::Branch], b: &[parse::Branch]) -> bool {
    let norm = |bs: &[parse::Branch]| -> Vec<Vec<String>> {
        let mut out: Vec<Vec<String>> = bs
            .iter()
            .map(|b| {
                let mut cs: Vec<String> = b.iter().map(|c| format!("{c:?}")).collect();
                cs.sort();
                cs
            })
            .collect();
        out.sort();
        out
    };
    norm(a) == norm(b)
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.to_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(p: serde_json::Value, e: serde_json::Value) -> bool {
        let pat = Pattern::parse(&p).expect("valid pattern");
        let fast = Matcher::new(std::slice::from_ref(&pat));
        let r = pat.matches(&e);
        assert_eq!(fast.matches(&e).len() == 1, r, "matcher disagrees: {p} {e}");
        let bytes = fast
            .matches_json(e.to_string().as_bytes())
            .expect("valid event");
        assert_eq!(bytes.len() == 1, r, "matches_json disagrees: {p} {e}");
        r
    }

    fn code(p: serde_json::Value) -> (&'static str, String) {
        let e = Pattern::parse(&p).expect_err("invalid pattern");
        (e.code, e.path)
    }

    #[test]
    fn basics() {
        assert!(m(
            json!({"source": ["aws.ec2"]}),
            json!({"source": "aws.ec2"})
        ));
        assert!(!m(
            json!({"source": ["aws.ec2"]}),
            json!({"source": "aws.s3"})
        ));
        assert!(m(json!({"n": [300]}), json!({"n": 3e2})));
        assert!(!m(json!({"n": [300]}), json!({"n": "300"})));
        assert!(!m(json!({"n": [null]}), json!({"n": ""})));
        assert!(m(json!({"n": [null]}), json!({"n": null})));
        assert!(!m(json!({"n": [true]}), json!({"n": 1})));
        assert!(m(json!({"a.b": [1]}), json!({"a": {"b": 1}})));
        assert!(m(json!({"a": {"b": [1]}}), json!({"a.b": 1})));
    }

    #[test]
    fn arrays_never_combine_elements() {
        let p = json!({"r": {"type": ["bucket"], "name": ["x"]}});
        assert!(m(
            p.clone(),
            json!({"r": [{"type": "bucket", "name": "x"}]})
        ));
        assert!(!m(
            p.clone(),
            json!({"r": [{"type": "bucket", "name": "y"}, {"type": "key", "name": "x"}]})
        ));
        assert!(m(json!({"a": [2]}), json!({"a": [[1], [2, 3]]})));
    }

    #[test]
    fn exists_and_anything_but() {
        assert!(m(json!({"a": [{"exists": false}]}), json!({"b": 1})));
        assert!(m(json!({"a": [{"exists": false}]}), json!({"a": {"x": 1}})));
        assert!(m(json!({"a": [{"exists": false}]}), json!({"a": []})));
        assert!(m(json!({"a": [{"exists": true}]}), json!({"a": null})));
        assert!(!m(json!({"a": [{"anything-but": "x"}]}), json!({"b": 1})));
        assert!(!m(json!({"a": [{"anything-but": "x"}]}), json!({"a": []})));
        assert!(m(json!({"a": [{"anything-but": "x"}]}), json!({"a": null})));
        assert!(m(
            json!({"a": [{"anything-but": "x"}]}),
            json!({"a": ["x", "y"]})
        ));
        assert!(m(json!({"a": [{"anything-but": "x"}]}), json!({"a": 5})));
        assert!(m(json!({"a": ["x", {"exists": false}]}), json!({"b": 5})));
    }

    #[test]
    fn empty_keys_are_real_path_segments() {
        assert!(!m(json!({"": {"a": [1]}}), json!({"a": 1})));
        assert!(m(json!({"": {"a": [1]}}), json!({"": {"a": 1}})));
        assert!(m(json!({".a": [1]}), json!({"": {"a": 1}})));
        assert!(m(json!({"a.": [1]}), json!({"a": {"": 1}})));
    }

    #[test]
    fn to_json_keeps_keys_that_would_change_meaning() {
        // Found by fuzzing: splitting `x.$or` into nested objects made a real `$or`.
        for p in [
            json!({"r": {"x.$or.y": ["b"]}}),
            json!({"$or": [{"a.prefix": [1]}, {"b": [2]}]}),
            json!({"a": [1], "a.b": [2]}),
        ] {
            let pat = Pattern::parse(&p).expect("valid");
            let again = Pattern::parse(&pat.to_json()).expect("to_json is valid");
            assert_eq!(again.branches(), pat.branches(), "{p} -> {}", pat.to_json());
        }
    }

    /// Regression (issue #16): lowercasing missed `ß` against `SS` and a final sigma.
    #[test]
    fn equals_ignore_case_folds_sharp_s_and_final_sigma() {
        let eic = |p: &str| json!({"f": [{"equals-ignore-case": p}]});
        assert!(m(eic("straße"), json!({"f": "STRASSE"})));
        assert!(m(eic("STRASSE"), json!({"f": "straße"})));
        assert!(m(eic("σοφιασ"), json!({"f": "ΣΟΦΙΑΣ"})));
        assert!(m(eic("ς"), json!({"f": "Σ"})));
        assert!(!m(eic("ı"), json!({"f": "I"})));
        let prefix = json!({"f": [{"prefix": {"equals-ignore-case": "STRASS"}}]});
        assert!(m(prefix, json!({"f": "Straße 1"})));
        let not = json!({"f": [{"anything-but": {"equals-ignore-case": "STRASSE"}}]});
        assert!(!m(not, json!({"f": "straße"})));
    }

    #[test]
    fn or_branches() {
        let p = json!({"source": ["aws.ec2"], "$or": [{"a": [1]}, {"b": [{"numeric": [">", 2]}]}]});
        assert!(m(p.clone(), json!({"source": "aws.ec2", "b": 3})));
        assert!(!m(p, json!({"source": "aws.ec2", "b": 2})));
    }

    #[test]
    fn validation_codes_and_paths() {
        assert_eq!(code(json!([])), ("not-an-object", String::new()));
        assert_eq!(code(json!({})), ("empty-object", String::new()));
        assert_eq!(code(json!({"a": []})), ("empty-array", "a".into()));
        assert_eq!(code(json!({"a": "x"})), ("not-a-list", "a".into()));
        assert_eq!(
            code(json!({"detail": {"userIdentity": {"type": ["Root", {"nope": 1}]}}})),
            ("unknown-operator", "detail.userIdentity.type[1]".into())
        );
        assert_eq!(code(json!({"a": [[1]]})), ("invalid-value", "a[0]".into()));
        assert_eq!(
            code(json!({"$or": [{"a": [1]}]})),
            ("invalid-or", "$or".into())
        );
        assert_eq!(
            code(json!({"$or": [{"prefix": [1]}, {"b": [1]}]})),
            ("reserved-word-in-or", "$or[0].prefix".into())
        );
        assert_eq!(
            code(json!({"a": [{"prefix": "x", "suffix": "y"}]})),
            ("too-many-keys", "a[0]".into())
        );
        assert_eq!(
            code(json!({"a": [9007199254740993u64]})).0,
            "inexact-number"
        );
        let big = json!({"a": ["x".repeat(5000)]});
        assert_eq!(code(big).0, "pattern-too-large");
        let ors: Vec<serde_json::Value> = (0..11).map(|i| json!({"x": [i]})).collect();
        let p = json!({"a": {"$or": ors.clone()}, "b": {"$or": ors.clone()}, "c": {"$or": ors}});
        assert_eq!(code(p).0, "too-many-combinations");
    }

    #[test]
    fn round_trip_and_explain() {
        let p = json!({"detail": {"eventName": ["A", {"prefix": {"equals-ignore-case": "Get"}}], "n": [{"numeric": [">", 1, "<=", 2.5]}]}});
        let pat = Pattern::parse(&p).expect("valid");
        assert_eq!(pat.to_json(), p);
        assert_eq!(Pattern::parse(&pat.to_json()).expect("valid"), pat);
        let miss = pat
            .explain(&json!({"detail": {"eventName": "B", "n": 2}}))
            .expect_err("no match");
        assert_eq!(miss.path, "detail.eventName");
        assert!(
            pat.explain(&json!({"detail": {"eventName": "getX", "n": 2}}))
                .is_ok()
        );
    }
}
