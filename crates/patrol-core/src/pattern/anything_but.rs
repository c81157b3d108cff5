//! `anything-but`: a string, a number, a list of strings or of numbers, or
//! `{prefix|suffix|equals-ignore-case|wildcard: value or list}`. It matches a present value
//! that is not excluded; exclusions are typed (a string exclusion never excludes a number
//! and vice versa), so `null`, booleans and values of the other type always match.

use super::json::J;
use super::value::Scalar;
use super::wildcard::Wildcard;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AnythingBut {
    Strings(Vec<String>),
    Numbers(Vec<f64>),
    Prefix(Vec<String>),
    Suffix(Vec<String>),
    /// Case-folded (see `fold`), plus the original text for `to_json`.
    IgnoreCase(Vec<(String, String)>),
    Wildcard(Vec<Wildcard>),
}

/// (code, message, sub-path under `anything-but`, e.g. `[1]` or empty).
type Err = (&'static str, String, String);

impl AnythingBut {
    pub(crate) fn parse(v: &J) -> Result<(AnythingBut, bool), Err> {
        match v {
            J::Str(s) => Ok((AnythingBut::Strings(vec![s.clone()]), true)),
            J::Num(n) => Ok((AnythingBut::Numbers(vec![exact(n)?]), true)),
            J::Arr(items) => {
                if items.is_empty() {
                    return Err(("empty-array", "`anything-but` needs at least one value".into(), String::new()));
                }
                if items.iter().all(J::is_string) {
                    Ok((AnythingBut::Strings(items.iter().filter_map(|i| i.as_str().map(String::from)).collect()), false))
                } else if items.iter().all(J::is_number) {
                    let mut nums = Vec::new();
                    for i in items {
                        if let J::Num(n) = i {
                            nums.push(exact(n)?);
                        }
                    }
                    Ok((AnythingBut::Numbers(nums), false))
                } else {
                    // Point at the first element that is neither a string nor a number.
                    let at = items.iter().position(|i| !i.is_string() && !i.is_number()).map(|i| format!("[{i}]"));
                    Err((
                        "invalid-anything-but",
                        "an `anything-but` list must hold only strings or only numbers (no mix, no null, booleans or objects)".into(),
                        at.unwrap_or_default(),
                    ))
                }
            }
            J::Obj(map) => {
                if map.len() != 1 {
                    return Err((
                        "invalid-anything-but",
                        "`anything-but` takes one of `prefix`, `suffix`, `equals-ignore-case` or `wildcard`".into(),
                        String::new(),
                    ));
                }
                let Some((op, inner)) = map.first() else {
                    return Err(("empty-object", "`anything-but` object is empty".into(), String::new()));
                };
                let (strings, single) = strings_of(op, inner)?;
                let ab = match op.as_str() {
                    "prefix" | "suffix" => {
                        if strings.iter().any(String::is_empty) {
                            return Err(("invalid-anything-but", format!("an empty `{op}` is not allowed inside `anything-but`"), String::new()));
                        }
                        if op == "prefix" { AnythingBut::Prefix(strings) } else { AnythingBut::Suffix(strings) }
                    }
                    "equals-ignore-case" => {
                        AnythingBut::IgnoreCase(strings.into_iter().map(|s| (super::fold::fold(&s).into_owned(), s)).collect())
                    }
                    "wildcard" => {
                        let mut ws = Vec::new();
                        for s in &strings {
                            ws.push(Wildcard::parse(s).map_err(|m| ("invalid-wildcard", m, String::new()))?);
                        }
                        AnythingBut::Wildcard(ws)
                    }
                    other => {
                        return Err((
                            "unknown-operator",
                            format!("`anything-but` does not support `{other}`; use `prefix`, `suffix`, `equals-ignore-case` or `wildcard`"),
                            String::new(),
                        ));
                    }
                };
                Ok((ab, single))
            }
            _ => Err((
                "invalid-anything-but",
                "`anything-but` takes a string, a number, a list of strings or numbers, or an object".into(),
                String::new(),
            )),
        }
    }

    pub(crate) fn matches(&self, v: &Scalar<'_>) -> bool {
        match (self, v) {
            (AnythingBut::Numbers(ns), Scalar::Num(Some(x))) => !ns.contains(x),
            (AnythingBut::Numbers(_), _) => true,
            (_, Scalar::Str(s)) => !self.excludes_str(s),
            _ => true,
        }
    }

    fn excludes_str(&self, s: &str) -> bool {
        match self {
            AnythingBut::Strings(xs) => xs.iter().any(|x| x == s),
            AnythingBut::Numbers(_) => false,
            AnythingBut::Prefix(xs) => xs.iter().any(|x| s.starts_with(x.as_str())),
            AnythingBut::Suffix(xs) => xs.iter().any(|x| s.ends_with(x.as_str())),
            AnythingBut::IgnoreCase(xs) => {
                let folded = super::fold::fold(s);
                xs.iter().any(|(x, _)| *x == folded)
            }
            AnythingBut::Wildcard(ws) => ws.iter().any(|w| w.matches(s)),
        }
    }

    pub(crate) fn to_json(&self, single: bool) -> Value {
        let list = |xs: Vec<Value>| -> Value {
            if single && xs.len() == 1 {
                xs.into_iter().next().unwrap_or(Value::Null)
            } else {
                Value::Array(xs)
            }
        };
        let strs = |xs: &[String]| list(xs.iter().map(|s| Value::from(s.as_str())).collect());
        let obj = |k: &str, v: Value| {
            let mut m = serde_json::Map::new();
            m.insert(k.to_string(), v);
            Value::Object(m)
        };
        match self {
            AnythingBut::Strings(xs) => strs(xs),
            AnythingBut::Numbers(ns) => list(
                ns.iter()
                    .map(|n| super::number::to_json_number(*n))
                    .collect(),
            ),
            AnythingBut::Prefix(xs) => obj("prefix", strs(xs)),
            AnythingBut::Suffix(xs) => obj("suffix", strs(xs)),
            AnythingBut::IgnoreCase(xs) => obj(
                "equals-ignore-case",
                list(xs.iter().map(|(_, o)| Value::from(o.as_str())).collect()),
            ),
            AnythingBut::Wildcard(ws) => obj(
                "wildcard",
                list(ws.iter().map(|w| Value::from(w.source.as_str())).collect()),
            ),
        }
    }
}

fn exact(n: &str) -> Result<f64, Err> {
    super::number::exact_value(n).ok_or_else(|| {
        (
            "inexact-number",
            format!(
                "{n} cannot be held exactly by a double; EventBridge compares numbers as doubles"
            ),
            String::new(),
        )
    })
}

fn strings_of(op: &str, v: &J) -> Result<(Vec<String>, bool), Err> {
    let bad = || {
        (
            "invalid-anything-but",
            format!("`anything-but` / `{op}` takes a string or a list of strings"),
            String::new(),
        )
    };
    match v {
        J::Str(s) => Ok((vec![s.clone()], true)),
        J::Arr(items) if !items.is_empty() => items
            .iter()
            .map(|i| i.as_str().map(String::from).ok_or_else(bad))
            .collect::<Result<Vec<_>, _>>()
            .map(|v| (v, false)),
        J::Arr(_) => Err((
            "empty-array",
            format!("`anything-but` / `{op}` needs at least one value"),
            String::new(),
        )),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::borrow::Cow;

    fn s(x: &str) -> Scalar<'_> {
        Scalar::Str(Cow::Borrowed(x))
    }

    #[test]
    fn typed_exclusions() {
        let (ab, _) = AnythingBut::parse(&J::from_value(&json!(["a", "b"]))).expect("valid");
        assert!(!ab.matches(&s("a")));
        assert!(ab.matches(&s("c")));
        assert!(ab.matches(&Scalar::Num(Some(1.0))));
        assert!(ab.matches(&Scalar::Null));
        let (ab, _) = AnythingBut::parse(&J::from_value(&json!([1, 2.0]))).expect("valid");
        assert!(!ab.matches(&Scalar::Num(Some(2.0))));
        assert!(ab.matches(&s("2")));
        let (ab, _) = AnythingBut::parse(&J::from_value(&json!({"prefix": "ab"}))).expect("valid");
        assert!(!ab.matches(&s("abc")));
        assert!(ab.matches(&s("xabc")));
        let (ab, _) = AnythingBut::parse(&J::from_value(&json!({"equals-ignore-case": ["AB"]})))
            .expect("valid");
        assert!(!ab.matches(&s("aB")));
    }

    #[test]
    fn rejected() {
        for bad in [
            json!([]),
            json!(["a", 1]),
            json!([null]),
            json!(true),
            json!(null),
            json!({"prefix": ""}),
            json!({"numeric": [">", 1]}),
            json!({"prefix": 1}),
            json!({"wildcard": "a**"}),
        ] {
            assert!(AnythingBut::parse(&J::from_value(&bad)).is_err(), "{bad}");
        }
    }
}
