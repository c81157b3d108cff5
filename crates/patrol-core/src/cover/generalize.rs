//! A rule's pattern → the positive [`Shape`]s that cover it: one per `$or` branch, each
//! field's list kept only where EventBridge allows it freely, otherwise widened or dropped.
//!
//! Per field (the pattern engine's expanded branches: dotted paths, `$or` expanded):
//! - exact strings, numbers, booleans, `null`, `prefix`, `suffix`, `equals-ignore-case`,
//!   `numeric`, `exists: true`: kept;
//! - `wildcard`: its literal text when it has no star, else its literal prefix, else its
//!   literal suffix, else `exists: true` (a wildcard only matches a string, which exists);
//! - `anything-but`, `cidr`: `exists: true` (both match only a value that is there);
//! - a list that also accepts an absent field (`exists: false`): the field is dropped;
//! - a path with a segment EventBridge reads as an operator (`$or`, `prefix`, ...): dropped;
//! - a path below another constrained path (`a` and `a.b`): the deeper one is dropped, so
//!   the shape nests into JSON objects.
//!
//! A rule with more than [`RULE_SHAPES`] branches is merged down to that many (the fields
//! its branches disagree on are dropped), and a rule whose merged shape is still larger
//! than a cover may be loses fields ([`fit`]).

use std::collections::BTreeMap;

use serde_json::Value;

use super::merge;
use super::render;
use super::shape::{Leaf, Shape, Values};
use crate::pattern::{Branch, Op, Pattern, PatternError, RESERVED_IN_OR};

/// The most alternatives one rule keeps.
pub(crate) const RULE_SHAPES: usize = 8;

/// A rule's shapes, simplified, at most [`RULE_SHAPES`], and each small enough that their
/// merge fits in one cover.
pub(crate) fn rule_shapes(pattern: &Value, max_chars: usize) -> Result<Vec<Shape>, PatternError> {
    let parsed = Pattern::parse(pattern)?;
    let shapes = parsed.branches().iter().map(branch_shape).collect();
    let shapes = merge::reduce(shapes, RULE_SHAPES, &|_| true);
    Ok(fit(shapes, max_chars))
}

/// Drops fields (those of the merged shape that save most for what they say, from every
/// shape) until the
/// rule's shapes merged into one render within `max_chars`.
pub(crate) fn fit(mut shapes: Vec<Shape>, max_chars: usize) -> Vec<Shape> {
    loop {
        let merged = merge::merge_all(&shapes);
        if render::chars(std::slice::from_ref(&merged)) <= max_chars {
            return shapes;
        }
        let Some(field) = merged.field_to_drop() else {
            // Nothing left to drop: the universal shape.
            return vec![Shape::default()];
        };
        for s in &mut shapes {
            s.fields.remove(&field);
        }
        shapes = merge::simplify(shapes);
    }
}

/// One `$or`-free branch of a pattern → its shape.
pub(crate) fn branch_shape(branch: &Branch) -> Shape {
    let mut fields = BTreeMap::new();
    for c in branch {
        if c.absent_ok || !plain_path(&c.path) {
            continue;
        }
        fields.insert(c.path.clone(), values(&c.ops));
    }
    drop_nested(&mut fields);
    Shape { fields }
}

/// A path whose every segment can be a field name anywhere in a pattern, `$or` included.
fn plain_path(path: &str) -> bool {
    path.split('.')
        .all(|seg| seg != "$or" && !RESERVED_IN_OR.contains(&seg))
}

/// Removes every field below another field (`a.b` when `a` is constrained too).
fn drop_nested(fields: &mut BTreeMap<String, Values>) {
    let paths: Vec<String> = fields.keys().cloned().collect();
    for q in &paths {
        if paths
            .iter()
            .any(|p| p != q && q.starts_with(p.as_str()) && q[p.len()..].starts_with('.'))
        {
            fields.remove(q);
        }
    }
}

/// A field's value list → the positive values covering it (`Any` for `exists: true`).
fn values(ops: &[Op]) -> Values {
    let mut leaves = Vec::with_capacity(ops.len());
    for op in ops {
        match leaf(op) {
            Some(l) => leaves.push(l),
            None => return Values::Any,
        }
    }
    Values::of(leaves)
}

/// `None`: only `exists: true` covers it.
fn leaf(op: &Op) -> Option<Leaf> {
    Some(match op {
        Op::Str { value, .. } => Leaf::Exact(Value::String(value.clone())),
        Op::Num { .. } | Op::Bool(_) | Op::Null => Leaf::Exact(op.to_json()),
        Op::Prefix {
            written,
            ignore_case,
            ..
        } => Leaf::Prefix {
            written: written.clone(),
            ignore_case: *ignore_case,
        },
        Op::Suffix {
            written,
            ignore_case,
            ..
        } => Leaf::Suffix {
            written: written.clone(),
            ignore_case: *ignore_case,
        },
        Op::EqualsIgnoreCase { written, .. } => Leaf::EqualsIgnoreCase(written.clone()),
        Op::Numeric(_) => Leaf::Numeric(op.to_json()),
        Op::Wildcard(w) => match w.pieces() {
            [literal] => Leaf::Exact(Value::String(literal.clone())),
            [first, ..] if !first.is_empty() => Leaf::Prefix {
                written: first.clone(),
                ignore_case: false,
            },
            [.., last] if !last.is_empty() => Leaf::Suffix {
                written: last.clone(),
                ignore_case: false,
            },
            _ => return None,
        },
        Op::Exists | Op::AnythingBut { .. } | Op::Cidr { .. } => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shapes(p: Value) -> Vec<Value> {
        rule_shapes(&p, 2048)
            .expect("valid pattern")
            .iter()
            .map(|s| render::pattern(std::slice::from_ref(s)))
            .collect()
    }

    #[test]
    fn keeps_what_eventbridge_allows_freely() {
        let p = json!({"source": ["aws.iam"], "detail": {
            "eventName": ["A", {"prefix": "Get"}, {"suffix": {"equals-ignore-case": "X"}}],
            "n": [{"numeric": [">", 1]}, 5, null, true],
            "u": [{"equals-ignore-case": "Root"}],
            "e": [{"exists": true}]}});
        // Values come out sorted by their JSON text.
        let mut want = p.clone();
        want["detail"]["n"] = json!([5, null, true, {"numeric": [">", 1]}]);
        assert_eq!(shapes(p), [want]);
    }

    #[test]
    fn wildcards_become_prefix_suffix_literal_or_exists() {
        let p = json!({"a": [{"wildcard": "abc*def"}], "b": [{"wildcard": "*x"}],
            "c": [{"wildcard": "lit\\*eral"}], "d": [{"wildcard": "*mid*"}]});
        assert_eq!(
            shapes(p),
            [
                json!({"a": [{"prefix": "abc"}], "b": [{"suffix": "x"}], "c": ["lit*eral"], "d": [{"exists": true}]})
            ]
        );
    }

    #[test]
    fn negative_matchers_become_exists_or_are_dropped() {
        let p = json!({"source": ["aws.s3"], "detail": {
            "a": [{"anything-but": "x"}],
            "ip": [{"cidr": "10.0.0.0/24"}],
            "gone": [{"exists": false}],
            "maybe": ["x", {"exists": false}],
            "mixed": ["x", {"exists": true}]}});
        assert_eq!(
            shapes(p),
            [
                json!({"source": ["aws.s3"], "detail": {"a": [{"exists": true}], "ip": [{"exists": true}], "mixed": [{"exists": true}]}})
            ]
        );
    }

    #[test]
    fn or_becomes_alternatives() {
        let p = json!({"source": ["aws.s3"], "$or": [{"a": [1]}, {"b": [2]}, {"a": [3]}]});
        // `a: 1` and `a: 3` differ in one field only: merged exactly.
        assert_eq!(
            shapes(p),
            [
                json!({"a": [1, 3], "source": ["aws.s3"]}),
                json!({"b": [2], "source": ["aws.s3"]})
            ]
        );
    }

    #[test]
    fn many_or_branches_are_merged_down() {
        let ors: Vec<Value> = (0..20).map(|i| json!({format!("f{i}"): [i]})).collect();
        let p = json!({"source": ["aws.s3"], "$or": ors});
        let got = shapes(p);
        assert!(got.len() <= RULE_SHAPES, "{got:?}");
    }

    #[test]
    fn reserved_and_nested_paths_are_dropped() {
        let p = json!({"source": ["aws.s3"], "detail": {"requestParameters": {"prefix": ["logs/"]}},
            "a": [1], "a.b": [2]});
        assert_eq!(shapes(p), [json!({"a": [1], "source": ["aws.s3"]})]);
    }

    #[test]
    fn a_rule_too_large_for_a_cover_loses_fields() {
        let names: Vec<String> = (0..200).map(|i| format!("EventName{i:04}")).collect();
        let p = json!({"source": ["aws.ec2"], "detail": {"eventName": names, "x": ["y"]}});
        assert_eq!(
            shapes(p),
            [json!({"source": ["aws.ec2"], "detail": {"x": ["y"]}})]
        );
        let sources: Vec<String> = (0..120).map(|i| format!("aws.service{i:04}")).collect();
        let p = json!({"source": sources});
        assert_eq!(shapes(p), [json!({"source": [{"exists": true}]})]);
    }
}
