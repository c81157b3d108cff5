//! Shapes → an EventBridge pattern: dotted paths nested into objects; several shapes as
//! the fields they share plus one `$or` of the rest, placed in the deepest object all the
//! rest sits under (`"detail": {"$or": [...]}`), which keeps the pattern short.
//!
//! A shape without fields matches every event; a pattern cannot be empty, so it becomes
//! `{"source": [{"exists": true}]}` (every EventBridge event has a `source`).

use serde_json::{Map, Value, json};

use super::shape::{Shape, Values};

/// The pattern of a cover made of `shapes` (which must not be empty).
pub(crate) fn pattern(shapes: &[Shape]) -> Value {
    if shapes.is_empty() || shapes.iter().any(|s| s.fields.is_empty()) {
        return universal();
    }
    if let [one] = shapes {
        return object(one.fields.iter());
    }
    let first = &shapes[0];
    let common: Vec<(&String, &Values)> = first
        .fields
        .iter()
        .filter(|(p, v)| shapes.iter().all(|s| s.fields.get(*p) == Some(*v)))
        .collect();
    let rests: Vec<Vec<(&String, &Values)>> = shapes
        .iter()
        .map(|s| {
            s.fields
                .iter()
                .filter(|(p, _)| !common.iter().any(|(c, _)| c == p))
                .collect()
        })
        .collect();
    if rests.iter().any(Vec::is_empty) {
        // One shape is the common part alone, which covers all the others.
        return object(common.into_iter());
    }
    let mut root = Map::new();
    for (p, v) in &common {
        insert(&mut root, &segments(p), v.to_json());
    }
    let prefix = or_prefix(&root, &rests);
    let branches: Vec<Value> = rests
        .iter()
        .map(|rest| {
            let mut m = Map::new();
            for (p, v) in rest {
                insert(&mut m, &segments(p)[prefix.len()..], v.to_json());
            }
            Value::Object(m)
        })
        .collect();
    let mut at = &mut root;
    for seg in &prefix {
        let Value::Object(inner) = at
            .entry((*seg).to_owned())
            .or_insert_with(|| Value::Object(Map::new()))
        else {
            // `or_prefix` only walks through objects.
            return object(common.into_iter());
        };
        at = inner;
    }
    at.insert("$or".to_owned(), Value::Array(branches));
    Value::Object(root)
}

/// Characters of the compact JSON of [`pattern`].
pub(crate) fn chars(shapes: &[Shape]) -> usize {
    pattern(shapes).to_string().chars().count()
}

fn universal() -> Value {
    json!({"source": [{"exists": true}]})
}

fn segments(path: &str) -> Vec<&str> {
    path.split('.').collect()
}

fn object<'a>(fields: impl Iterator<Item = (&'a String, &'a Values)>) -> Value {
    let mut root = Map::new();
    for (p, v) in fields {
        insert(&mut root, &segments(p), v.to_json());
    }
    if root.is_empty() {
        return universal();
    }
    Value::Object(root)
}

/// Puts `value` at `segs` (nesting objects); a path that would clash with one already
/// there is left out, which only widens the pattern.
fn insert(map: &mut Map<String, Value>, segs: &[&str], value: Value) {
    match segs {
        [] => {}
        [last] => {
            if !map.contains_key(*last) {
                map.insert((*last).to_owned(), value);
            }
        }
        [first, rest @ ..] => {
            if let Value::Object(inner) = map
                .entry((*first).to_owned())
                .or_insert_with(|| Value::Object(Map::new()))
            {
                insert(inner, rest, value);
            }
        }
    }
}

/// The deepest path that every field of every branch lies strictly below, walking only
/// through objects of `root` (or absent keys).
fn or_prefix<'a>(
    root: &Map<String, Value>,
    rests: &[Vec<(&'a String, &'a Values)>],
) -> Vec<&'a str> {
    let paths: Vec<Vec<&str>> = rests.iter().flatten().map(|(p, _)| segments(p)).collect();
    let mut prefix: Vec<&str> = Vec::new();
    let mut at = Some(root);
    loop {
        let depth = prefix.len();
        let Some(seg) = paths.first().and_then(|p| p.get(depth)).copied() else {
            return prefix;
        };
        if !paths.iter().all(|p| p.len() > depth + 1 && p[depth] == seg) {
            return prefix;
        }
        match at.and_then(|m| m.get(seg)) {
            None => at = None,
            Some(Value::Object(inner)) => at = Some(inner),
            Some(_) => return prefix,
        }
        prefix.push(seg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(fields: &[(&str, &[&str])]) -> Shape {
        Shape::exact(fields)
    }

    #[test]
    fn one_shape_nests() {
        let s = shape(&[
            ("source", &["aws.iam"]),
            ("detail.eventName", &["A", "B"]),
            ("detail.x.y", &["1"]),
        ]);
        assert_eq!(
            pattern(&[s]),
            json!({"source": ["aws.iam"], "detail": {"eventName": ["A", "B"], "x": {"y": ["1"]}}})
        );
    }

    #[test]
    fn shapes_share_their_common_fields_and_or_the_rest_as_deep_as_possible() {
        let a = shape(&[
            ("source", &["aws.s3"]),
            ("detail.eventName", &["A"]),
            ("detail.requestParameters.x", &["1"]),
        ]);
        let b = shape(&[
            ("source", &["aws.s3"]),
            ("detail.eventName", &["B"]),
            ("detail.requestParameters.y", &["2"]),
        ]);
        assert_eq!(
            pattern(&[a, b]),
            json!({"source": ["aws.s3"], "detail": {"$or": [
                {"eventName": ["A"], "requestParameters": {"x": ["1"]}},
                {"eventName": ["B"], "requestParameters": {"y": ["2"]}}
            ]}})
        );
        let a = shape(&[("source", &["aws.s3"]), ("x", &["1"])]);
        let b = shape(&[("source", &["aws.iam"]), ("x", &["1"])]);
        assert_eq!(
            pattern(&[a, b]),
            json!({"x": ["1"], "$or": [{"source": ["aws.s3"]}, {"source": ["aws.iam"]}]})
        );
    }

    #[test]
    fn no_fields_is_every_event() {
        assert_eq!(pattern(&[Shape::default()]), universal());
        let a = shape(&[("x", &["1"])]);
        assert_eq!(pattern(&[a, Shape::default()]), universal());
    }
}
