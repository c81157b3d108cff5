//! Pattern JSON → validated AST (`Node`), and the AST → its `$or`-free branches.
//! Validation follows event-ruler's `JsonRuleCompiler`, which EventBridge runs, plus the
//! size limit of the `PutRule` API.

use super::PatternError;
use super::json::J;
use super::op::{OPERATORS, Op, Parsed};
use serde_json::Value;

/// The most characters an event pattern may have (`PutRule`'s hard limit; the default
/// account quota is 2,048 and can be raised to this).
pub const MAX_PATTERN_CHARS: usize = 4096;
/// The most `$or` combinations one pattern may expand to.
pub const MAX_COMBINATIONS: usize = 1000;

/// Words that may not be field names inside `$or` (event-ruler's reserved list).
pub(crate) const RESERVED_IN_OR: &[&str] = &[
    "exactly",
    "equals-ignore-case",
    "prefix",
    "suffix",
    "anything-but",
    "exists",
    "wildcard",
    "numeric",
    "cidr",
    "html",
    "=",
    "<",
    "<=",
    ">",
    ">=",
    "regex",
    "not-wildcard",
    "not-equals-ignore-case",
    "date-after",
    "date-on-or-after",
    "date-before",
    "date-on-or-before",
    "in-date-range",
    "ip-address-in-range",
    "ip-address-not-in-range",
];

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) entries: Vec<(String, Entry)>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Entry {
    Object(Node),
    List(Vec<Item>),
    Or(Vec<Node>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    Op(Op),
    Absent,
}

/// One field's condition in a branch: some leaf at `path` matches one of `ops`, or (when
/// `absent_ok`) no leaf at `path` goes with the other chosen leaves.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Constraint {
    pub(crate) path: String,
    pub(crate) ops: Vec<Op>,
    pub(crate) absent_ok: bool,
}

/// A conjunction of constraints; a pattern matches when any of its branches does.
pub(crate) type Branch = Vec<Constraint>;

fn err(code: &'static str, path: &str, message: impl Into<String>) -> PatternError {
    PatternError {
        code,
        path: path.to_string(),
        message: message.into(),
    }
}

fn join_field(prefix: Option<&str>, key: &str) -> String {
    match prefix {
        None => key.to_string(),
        Some(p) => format!("{p}.{key}"),
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

pub(crate) fn parse_root(value: &J) -> Result<Node, PatternError> {
    let J::Obj(map) = value else {
        return Err(err(
            "not-an-object",
            "",
            "an event pattern must be a JSON object, e.g. `{\"source\": [\"aws.ec2\"]}`",
        ));
    };
    parse_object(map, "", "", false)
}

/// `field` is the dotted field path (no `$or`), `shown` the path shown in errors.
fn parse_object(
    map: &[(String, J)],
    field: &str,
    shown: &str,
    in_or: bool,
) -> Result<Node, PatternError> {
    if map.is_empty() {
        return Err(err(
            "empty-object",
            shown,
            "empty objects are not allowed in a pattern; remove it or add a field",
        ));
    }
    let mut entries = Vec::with_capacity(map.len());
    for (key, value) in map {
        let key_shown = join(shown, key);
        if key == "$or" {
            let J::Arr(items) = value else {
                return Err(err(
                    "invalid-or",
                    &key_shown,
                    "`$or` takes a list of at least two objects",
                ));
            };
            let mut nodes = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let item_shown = format!("{key_shown}[{i}]");
                let J::Obj(m) = item else {
                    return Err(err(
                        "invalid-or",
                        &item_shown,
                        "each element of `$or` must be an object of fields",
                    ));
                };
                nodes.push(parse_object(m, field, &item_shown, true)?);
            }
            if nodes.len() < 2 {
                return Err(err(
                    "invalid-or",
                    &key_shown,
                    "`$or` needs at least two objects; with one, write its fields directly",
                ));
            }
            entries.push((key.clone(), Entry::Or(nodes)));
            continue;
        }
        if in_or && RESERVED_IN_OR.contains(&key.as_str()) {
            return Err(err(
                "reserved-word-in-or",
                &key_shown,
                format!(
                    "`{key}` is a reserved word and cannot be a field name inside `$or`; an operator belongs in a value list, e.g. `{{\"field\": [{{\"{key}\": ...}}]}}`"
                ),
            ));
        }
        let key_field = join(field, key);
        let entry = match value {
            J::Obj(m) => Entry::Object(parse_object(m, &key_field, &key_shown, in_or)?),
            J::Arr(items) => {
                if items.is_empty() {
                    return Err(err(
                        "empty-array",
                        &key_shown,
                        "empty lists are not allowed; list at least one value to match",
                    ));
                }
                let mut list = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let item_shown = format!("{key_shown}[{i}]");
                    match Op::parse(item) {
                        Ok(Parsed::Op(op)) => list.push(Item::Op(op)),
                        Ok(Parsed::Absent) => list.push(Item::Absent),
                        Err((code, message, sub)) => {
                            return Err(err(code, &format!("{item_shown}{sub}"), message));
                        }
                    }
                }
                Entry::List(list)
            }
            other => {
                let hint = if OPERATORS.contains(&key.as_str()) {
                    format!(
                        "`{key}` is an operator: put it in a list under a field, e.g. `{{\"field\": [{{\"{key}\": ...}}]}}`"
                    )
                } else {
                    format!(
                        "the value of `{key}` must be a list of values or an object; write `\"{key}\": [{}]`",
                        other.describe()
                    )
                };
                return Err(err("not-a-list", &key_shown, hint));
            }
        };
        entries.push((key.clone(), entry));
    }
    Ok(Node { entries })
}

/// Expands `$or`s into branches; errors when there would be more than [`MAX_COMBINATIONS`].
pub(crate) fn expand(root: &Node) -> Result<Vec<Branch>, PatternError> {
    let mut branches: Vec<Branch> = vec![Vec::new()];
    expand_node(root, None, "", &mut branches)?;
    Ok(branches)
}

/// `field` is the dotted path of `node` (`None` at the root: `Some("")` is a field whose
/// name is empty, and `{"": {"a": ..}}` is the path `.a`, as in event-ruler).
fn expand_node(
    node: &Node,
    field: Option<&str>,
    shown: &str,
    branches: &mut Vec<Branch>,
) -> Result<(), PatternError> {
    for (key, entry) in &node.entries {
        let key_shown = join(shown, key);
        match entry {
            Entry::Object(child) => {
                let path = join_field(field, key);
                expand_node(child, Some(&path), &key_shown, branches)?;
            }
            Entry::List(items) => {
                let path = join_field(field, key);
                let constraint = Constraint {
                    path: path.clone(),
                    ops: items
                        .iter()
                        .filter_map(|i| {
                            if let Item::Op(op) = i {
                                Some(op.clone())
                            } else {
                                None
                            }
                        })
                        .collect(),
                    absent_ok: items.iter().any(|i| matches!(i, Item::Absent)),
                };
                for branch in branches.iter_mut() {
                    // The same field twice (e.g. `a.b` and `a: {b}`): the later one wins,
                    // as in event-ruler.
                    branch.retain(|c| c.path != path);
                    branch.push(constraint.clone());
                }
            }
            Entry::Or(nodes) => {
                let mut out: Vec<Branch> = Vec::new();
                for (i, n) in nodes.iter().enumerate() {
                    let mut copy = branches.clone();
                    expand_node(n, field, &format!("{key_shown}[{i}]"), &mut copy)?;
                    out.extend(copy);
                    if out.len() > MAX_COMBINATIONS {
                        return Err(err(
                            "too-many-combinations",
                            &key_shown,
                            format!(
                                "this pattern's `$or`s expand to more than {MAX_COMBINATIONS} combinations; split it into several rules"
                            ),
                        ));
                    }
                }
                *branches = out;
            }
        }
    }
    Ok(())
}

/// The AST as pattern JSON, normalized: dotted keys become nested objects and repeated
/// keys are merged the way they were evaluated (objects merge, the last list wins). Where
/// a path is both a value list and a parent of other fields (`{"a": [1], "a.b": [2]}`),
/// the deeper one keeps its dotted key, since one JSON key cannot hold both.
pub(crate) fn node_to_json(node: &Node) -> Value {
    let mut map = serde_json::Map::new();
    merge_node(&mut map, node, "");
    Value::Object(map)
}

type JsonMap = serde_json::Map<String, Value>;

fn list_json(items: &[Item]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|i| match i {
                Item::Op(op) => op.to_json(),
                Item::Absent => serde_json::json!({"exists": false}),
            })
            .collect(),
    )
}

/// Merges `node`'s entries into `map`, their keys prefixed by `prefix` (dotted).
fn merge_node(map: &mut JsonMap, node: &Node, prefix: &str) {
    for (key, entry) in &node.entries {
        if let Entry::Or(nodes) = entry {
            let or = Value::Array(nodes.iter().map(node_to_json).collect());
            if prefix.is_empty() {
                map.insert(key.clone(), or);
            } else {
                // `$or` under a path that is also a value list: it needs its own object.
                let mut m = JsonMap::new();
                m.insert(key.clone(), or);
                place(map, prefix, Value::Object(m));
            }
            continue;
        }
        let full = join(prefix, key);
        let value = match entry {
            Entry::List(items) => list_json(items),
            Entry::Object(child) => {
                let mut m = JsonMap::new();
                merge_node(&mut m, child, "");
                Value::Object(m)
            }
            Entry::Or(_) => continue,
        };
        place(map, &full, value);
    }
}

/// Puts `value` at dotted `path` in `map`, nesting objects where no list is in the way.
/// A key with a segment that would mean something else as a key of its own (`$or`, a word
/// reserved inside `$or`) stays dotted.
fn place(map: &mut JsonMap, path: &str, value: Value) {
    let splittable = !path
        .split('.')
        .any(|seg| seg == "$or" || RESERVED_IN_OR.contains(&seg));
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) if splittable => (h, Some(r)),
        _ => (path, None),
    };
    match rest {
        Some(rest) => match map.get_mut(head) {
            Some(Value::Object(inner)) => place(inner, rest, value),
            Some(_) => {
                // `head` is a value list: keep the rest dotted at this level.
                insert_here(map, path, value);
            }
            None => {
                let mut inner = JsonMap::new();
                place(&mut inner, rest, value);
                map.insert(head.to_string(), Value::Object(inner));
            }
        },
        None => insert_here(map, head, value),
    }
}

fn insert_here(map: &mut JsonMap, key: &str, value: Value) {
    match (map.get_mut(key), value) {
        (Some(Value::Object(existing)), Value::Object(new)) => {
            for (k, v) in new {
                place(existing, &k, v);
            }
        }
        (Some(Value::Object(_)), list) => {
            // A list where an object of deeper fields sits: move those fields to dotted
            // keys beside it (a `$or` among them stays, under the dotted key's object).
            if let Some(Value::Object(existing)) = map.remove(key) {
                for (k, v) in existing {
                    if k == "$or" {
                        lift_or(map, key, v);
                    } else {
                        map.insert(format!("{key}.{k}"), v);
                    }
                }
            }
            map.insert(key.to_string(), list);
        }
        (Some(Value::Array(_)), Value::Object(new)) => {
            // Deeper fields under a path that is a value list: dotted keys beside it.
            for (k, v) in new {
                if k == "$or" {
                    lift_or(map, key, v);
                } else {
                    place(map, &format!("{key}.{k}"), v);
                }
            }
        }
        (_, value) => {
            map.insert(key.to_string(), value);
        }
    }
}

/// Moves a `$or` that sat under `key` up one level, prefixing its branches' keys with
/// `key.`. (If this level already has a `$or`, the two cannot share one key; the later
/// one is kept. Only contrived patterns get here.)
fn lift_or(map: &mut JsonMap, key: &str, or: Value) {
    let Value::Array(branches) = or else { return };
    let lifted = branches
        .into_iter()
        .map(|b| match b {
            Value::Object(m) => Value::Object(
                m.into_iter()
                    .map(|(k, v)| (format!("{key}.{k}"), v))
                    .collect(),
            ),
            other => other,
        })
        .collect();
    map.insert("$or".to_string(), Value::Array(lifted));
}

/// The expanded branches as a pattern: one object of dotted paths, or a `$or` of them.
pub(crate) fn branches_to_json(branches: &[Branch]) -> Value {
    let branch = |b: &Branch| -> Value {
        let mut m = JsonMap::new();
        for c in b {
            let mut list: Vec<Value> = c.ops.iter().map(Op::to_json).collect();
            if c.absent_ok {
                list.push(serde_json::json!({"exists": false}));
            }
            m.insert(c.path.clone(), Value::Array(list));
        }
        Value::Object(m)
    };
    match branches {
        [one] => branch(one),
        many => {
            let mut m = JsonMap::new();
            m.insert(
                "$or".into(),
                Value::Array(many.iter().map(branch).collect()),
            );
            Value::Object(m)
        }
    }
}
