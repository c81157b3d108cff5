//! The positive shape covers are made of: a conjunction of fields, each "some leaf at this
//! path matches one of these values" ([`Values`]), with EventBridge's array rule (the
//! chosen leaves sit in the same array elements). No `exists: false`, no `anything-but`,
//! no `wildcard`, no `cidr`: only matchers EventBridge allows in any number.
//!
//! Why the operations here keep covers sound (a shape `C` built from `A` and `B` matches
//! every event `A` or `B` matches):
//! - dropping a field only removes a requirement (no field is ever negative here);
//! - widening a field's values only adds candidate leaves;
//! - so [`Shape::merge`] (the fields both have, each with the union of values) covers both,
//!   and when `A` and `B` differ in one field only it is exact ([`Shape::merge_exact`]).

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// One value matcher of a field's list (never `exists`: that is [`Values::Any`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Leaf {
    /// A string, number, boolean or null, matched exactly.
    Exact(Value),
    /// `prefix` (`written` as in the pattern; compared lowercased when `ignore_case`).
    Prefix {
        written: String,
        ignore_case: bool,
    },
    Suffix {
        written: String,
        ignore_case: bool,
    },
    EqualsIgnoreCase(String),
    /// `{"numeric": [...]}` as written.
    Numeric(Value),
}

impl Leaf {
    pub(crate) fn to_json(&self) -> Value {
        let text = |written: &str, ignore_case: bool| {
            if ignore_case {
                json!({ "equals-ignore-case": written })
            } else {
                json!(written)
            }
        };
        match self {
            Leaf::Exact(v) | Leaf::Numeric(v) => v.clone(),
            Leaf::Prefix {
                written,
                ignore_case,
            } => json!({ "prefix": text(written, *ignore_case) }),
            Leaf::Suffix {
                written,
                ignore_case,
            } => json!({ "suffix": text(written, *ignore_case) }),
            Leaf::EqualsIgnoreCase(s) => json!({ "equals-ignore-case": s }),
        }
    }

    /// Whether every value `other` matches, `self` matches too (checked only where it is
    /// plain: ASCII text, and never for a string that may be an IP address, which also
    /// matches other spellings of that address).
    fn covers(&self, other: &Leaf) -> bool {
        let (cmp_self, cmp_other) = match (self.text(), other.text()) {
            (Some(a), Some(b)) => (a, b),
            _ => return false,
        };
        let (kind, a, a_ci) = cmp_self;
        let (other_kind, b, b_ci) = cmp_other;
        if !a.is_ascii() || !b.is_ascii() {
            return false;
        }
        if matches!(other, Leaf::Exact(_)) && may_be_ip(b) {
            return false;
        }
        // What `other` guarantees about the value: its exact text, or its start, or end.
        let (b_low, a_low) = (b.to_ascii_lowercase(), a.to_ascii_lowercase());
        let starts = |ci: bool| {
            if ci {
                b_low.starts_with(&a_low)
            } else {
                !b_ci && b.starts_with(a)
            }
        };
        let ends = |ci: bool| {
            if ci {
                b_low.ends_with(&a_low)
            } else {
                !b_ci && b.ends_with(a)
            }
        };
        match (kind, other_kind) {
            (Kind::Prefix, Kind::Exact | Kind::Prefix) => starts(a_ci),
            (Kind::Suffix, Kind::Exact | Kind::Suffix) => ends(a_ci),
            (Kind::Exact, Kind::Exact) if a_ci => b_low == a_low,
            _ => false,
        }
    }

    /// (kind, text, ignore_case) for the string matchers.
    fn text(&self) -> Option<(Kind, &str, bool)> {
        match self {
            Leaf::Exact(Value::String(s)) => Some((Kind::Exact, s, false)),
            Leaf::EqualsIgnoreCase(s) => Some((Kind::Exact, s, true)),
            Leaf::Prefix {
                written,
                ignore_case,
            } => Some((Kind::Prefix, written, *ignore_case)),
            Leaf::Suffix {
                written,
                ignore_case,
            } => Some((Kind::Suffix, written, *ignore_case)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Exact,
    Prefix,
    Suffix,
}

/// Hex digits, dots and colons only: an address the pattern engine may read as an IP.
fn may_be_ip(s: &str) -> bool {
    s.bytes()
        .all(|c| c.is_ascii_hexdigit() || c == b'.' || c == b':')
}

/// A field's list: `exists: true`, or some leaf matches one of the values (kept sorted by
/// their JSON text, without duplicates or values another one covers).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Values {
    Any,
    List(BTreeMap<String, Leaf>),
}

impl Values {
    pub(crate) fn of(leaves: impl IntoIterator<Item = Leaf>) -> Values {
        let mut map = BTreeMap::new();
        for l in leaves {
            map.insert(l.to_json().to_string(), l);
        }
        if map.is_empty() {
            return Values::Any;
        }
        Values::List(map).simplified()
    }

    fn simplified(self) -> Values {
        let Values::List(map) = self else {
            return self;
        };
        let keys: Vec<&String> = map.keys().collect();
        let redundant: Vec<String> = keys
            .iter()
            .filter(|k| {
                let leaf = &map[k.as_str()];
                keys.iter().any(|o| {
                    o != *k && map[o.as_str()].covers(leaf) && !leaf.covers(&map[o.as_str()])
                })
            })
            .map(|k| (*k).clone())
            .collect();
        let mut map = map;
        for k in redundant {
            map.remove(&k);
        }
        Values::List(map)
    }

    pub(crate) fn union(&self, other: &Values) -> Values {
        match (self, other) {
            (Values::List(a), Values::List(b)) => Values::of(a.values().chain(b.values()).cloned()),
            _ => Values::Any,
        }
    }

    /// Whether every leaf `other` accepts, `self` accepts.
    pub(crate) fn covers(&self, other: &Values) -> bool {
        match (self, other) {
            (Values::Any, _) => true,
            (Values::List(_), Values::Any) => false,
            (Values::List(a), Values::List(b)) => b
                .iter()
                .all(|(k, leaf)| a.contains_key(k) || a.values().any(|x| x.covers(leaf))),
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        match self {
            Values::Any => json!([{ "exists": true }]),
            Values::List(map) => Value::Array(map.values().map(Leaf::to_json).collect()),
        }
    }

    /// Characters of the compact JSON list.
    pub(crate) fn chars(&self) -> usize {
        self.to_json().to_string().chars().count()
    }
}

/// Fields that say most about an event, and so cost most to drop.
fn base_weight(path: &str) -> f64 {
    match path {
        "source" | "detail.eventSource" => 10.0,
        "detail.eventName" => 8.0,
        "detail.errorCode" => 6.0,
        "detail-type" => 1.0,
        _ => 4.0,
    }
}

/// `exists: true` says less than a list of values.
fn weight(path: &str, values: &Values) -> f64 {
    match values {
        Values::Any => base_weight(path) * 0.3,
        Values::List(_) => base_weight(path),
    }
}

/// A conjunction of positive fields, by dotted path. No fields: every event.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Shape {
    pub(crate) fields: BTreeMap<String, Values>,
}

impl Shape {
    /// A shape of exact string values, for tests: `[("source", &["aws.iam"])]`.
    #[cfg(test)]
    pub(crate) fn exact(fields: &[(&str, &[&str])]) -> Shape {
        Shape {
            fields: fields
                .iter()
                .map(|(p, vs)| {
                    (
                        (*p).to_owned(),
                        Values::of(vs.iter().map(|v| Leaf::Exact(json!(v)))),
                    )
                })
                .collect(),
        }
    }

    /// The fields both have, each with the union of their values: covers both.
    pub(crate) fn merge(&self, other: &Shape) -> Shape {
        let fields = self
            .fields
            .iter()
            .filter_map(|(p, a)| other.fields.get(p).map(|b| (p.clone(), a.union(b))))
            .collect();
        Shape { fields }
    }

    /// [`Shape::merge`] when it is exact: the same fields, different values in one at most.
    pub(crate) fn merge_exact(&self, other: &Shape) -> Option<Shape> {
        if self.fields.len() != other.fields.len() || !self.fields.keys().eq(other.fields.keys()) {
            return None;
        }
        let differ = self
            .fields
            .iter()
            .filter(|(p, v)| other.fields.get(*p) != Some(*v))
            .count();
        (differ <= 1).then(|| self.merge(other))
    }

    /// Whether `self` matches every event `other` matches (a sufficient check).
    pub(crate) fn covers(&self, other: &Shape) -> bool {
        self.fields
            .iter()
            .all(|(p, a)| other.fields.get(p).is_some_and(|b| a.covers(b)))
    }

    /// What merging loses, roughly: the weight of the fields dropped, and a little for
    /// each field whose values widen.
    pub(crate) fn merge_loss(&self, other: &Shape) -> f64 {
        let dropped = |a: &Shape, b: &Shape| -> f64 {
            a.fields
                .iter()
                .filter(|(p, _)| !b.fields.contains_key(*p))
                .map(|(p, v)| weight(p, v))
                .sum()
        };
        let widened: f64 = self
            .fields
            .iter()
            .filter_map(|(p, a)| other.fields.get(p).map(|b| (p, a, b)))
            .map(|(p, a, b)| match (a, b) {
                _ if a == b => 0.0,
                (Values::Any, Values::List(_)) | (Values::List(_), Values::Any) => {
                    base_weight(p) * 0.7
                }
                _ => 0.25,
            })
            .sum();
        dropped(self, other) + dropped(other, self) + widened
    }

    /// The field to drop first when the shape is too large: the most characters saved per
    /// unit of weight lost.
    pub(crate) fn field_to_drop(&self) -> Option<String> {
        self.fields
            .iter()
            .map(|(p, v)| ((p.chars().count() + v.chars()) as f64 / weight(p, v), p))
            .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
            .map(|(_, p)| p.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Leaf {
        Leaf::Exact(json!(v))
    }
    fn prefix(v: &str, ignore_case: bool) -> Leaf {
        Leaf::Prefix {
            written: v.into(),
            ignore_case,
        }
    }

    #[test]
    fn values_drop_what_another_value_covers() {
        let v = Values::of([
            s("AddPermission20150331v2"),
            prefix("AddPermission", false),
            s("AddPermission"),
            s("Other"),
        ]);
        assert_eq!(v.to_json(), json!(["Other", {"prefix": "AddPermission"}]));
        let v = Values::of([s("GetObject"), prefix("get", true)]);
        assert_eq!(
            v.to_json(),
            json!([{"prefix": {"equals-ignore-case": "get"}}])
        );
        // A case-sensitive prefix never covers a case-insensitive one.
        let v = Values::of([prefix("Get", false), prefix("get", true)]);
        assert_eq!(
            v.to_json(),
            json!([{"prefix": {"equals-ignore-case": "get"}}])
        );
        let v = Values::of([prefix("Get", false), prefix("GetObj", true)]);
        assert_eq!(v.to_json().as_array().map(Vec::len), Some(2));
        // An IP address also matches its other spellings: no prefix covers it.
        let v = Values::of([s("10.0.0.1"), prefix("10.", false)]);
        assert_eq!(v.to_json().as_array().map(Vec::len), Some(2));
        let v = Values::of([s("ROOT"), Leaf::EqualsIgnoreCase("root".into())]);
        assert_eq!(v.to_json(), json!([{"equals-ignore-case": "root"}]));
        // Numbers, null and booleans are kept as they are.
        let v = Values::of([
            Leaf::Exact(json!(1)),
            Leaf::Exact(Value::Null),
            Leaf::Exact(json!(true)),
        ]);
        assert_eq!(v.to_json().as_array().map(Vec::len), Some(3));
    }

    #[test]
    fn union_with_exists_is_exists() {
        let a = Values::of([s("x")]);
        assert_eq!(a.union(&Values::Any), Values::Any);
        assert!(Values::Any.covers(&a));
        assert!(!a.covers(&Values::Any));
    }

    fn shape(fields: &[(&str, Values)]) -> Shape {
        Shape {
            fields: fields
                .iter()
                .map(|(p, v)| ((*p).to_owned(), v.clone()))
                .collect(),
        }
    }

    #[test]
    fn merges() {
        let a = shape(&[
            ("source", Values::of([s("aws.iam")])),
            ("detail.eventName", Values::of([s("A")])),
        ]);
        let b = shape(&[
            ("source", Values::of([s("aws.iam")])),
            ("detail.eventName", Values::of([s("B")])),
        ]);
        let c = shape(&[
            ("source", Values::of([s("aws.iam")])),
            ("detail.x", Values::Any),
        ]);
        let ab = a.merge_exact(&b).expect("differ in one field");
        assert!(ab.covers(&a) && ab.covers(&b));
        assert!(a.merge_exact(&c).is_none());
        let ac = a.merge(&c);
        assert_eq!(ac.fields.keys().collect::<Vec<_>>(), ["source"]);
        assert!(ac.covers(&a) && ac.covers(&c));
        assert!(a.merge_loss(&b) < a.merge_loss(&c));
        assert_eq!(a.field_to_drop().as_deref(), Some("detail.eventName"));
    }
}
