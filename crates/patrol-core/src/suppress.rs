//! Suppressions compiled into the deployed event pattern, where the pattern can say
//! exactly what the suppression says, so suppressed events never invoke the rule's
//! function (no cost, no log noise). The others keep being evaluated after the pattern.
//!
//! A suppression compiles when its CEL condition is one of, on a field path under
//! `detail` (or `account`, `region`, `source`):
//!
//! - `PATH == "text"` (or `"text" == PATH`) and `PATH in ["a", "b"]`
//! - `PATH.startsWith("p")`, `PATH.endsWith("s")`
//! - several of one kind on one path joined with `||`
//!
//! It becomes `PATH: [{"anything-but": …}, {"exists": false}]` in the pattern: the
//! `exists: false` branch keeps events that lack the field, which the CEL suppression
//! would not suppress either (it fails open). Suppressions on different fields combine
//! (an event passes only when no suppression excludes it, the same "any suppression
//! hides the alert" rule as after the pattern). Not compiled, and so evaluated after the
//! pattern: anything else (other functions, `&&`, derived variables such as `actor`),
//! a path the pattern already constrains or reaches through `$or` or a dotted key, two
//! kinds on one path, text that reads as a number (EventBridge compares numbers by
//! value, CEL by type), and any result EventBridge would reject.
//!
//! One difference remains and is documented: on a field whose value is an *array*,
//! `anything-but` excludes the event when every element is excluded, while the CEL
//! comparison is false there. CloudTrail's identity, name and address fields are scalars.
//!
//! The deployed pattern stops suppressing only when Patrol is redeployed after the
//! suppression's `expires` date; `patrol validate` rejects expired suppressions, so the
//! next deploy after expiry fails until the entry is removed or extended.

use cel::common::ast::{Expr, IdedExpr, LiteralValue, operators};
use serde_json::{Map, Value, json};

use crate::manifest::Suppression;
use crate::pattern::Pattern;

/// The pattern to deploy and which suppressions (by index) it already applies.
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    pub pattern: Value,
    pub in_pattern: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Exact,
    Prefix,
    Suffix,
}

/// What one suppression excludes: values of one kind at one path.
#[derive(Debug, Clone, PartialEq)]
struct Exclusion {
    path: Vec<String>,
    kind: Kind,
    values: Vec<String>,
}

const ROOTS: &[&str] = &["detail", "account", "region", "source"];

/// Compiles what it can of `suppress` into `pattern`.
pub fn compile_into_pattern(pattern: &Value, suppress: &[Suppression]) -> Compiled {
    let mut groups: Vec<(Exclusion, Vec<usize>)> = Vec::new();
    for (i, s) in suppress.iter().enumerate() {
        let Some(ex) = exclusion(&s.condition) else {
            continue;
        };
        match groups.iter_mut().find(|(g, _)| g.path == ex.path) {
            Some((g, members)) if g.kind == ex.kind => {
                for v in ex.values {
                    if !g.values.contains(&v) {
                        g.values.push(v);
                    }
                }
                members.push(i);
            }
            Some(_) => {} // a second kind on one path: evaluated after the pattern
            None => groups.push((ex, vec![i])),
        }
    }
    let mut out = pattern.clone();
    let mut in_pattern = Vec::new();
    for (ex, members) in groups {
        let mut candidate = out.clone();
        if insert(&mut candidate, &ex) && Pattern::parse(&candidate).is_ok() {
            out = candidate;
            in_pattern.extend(members);
        }
    }
    in_pattern.sort_unstable();
    Compiled {
        pattern: out,
        in_pattern,
    }
}

/// Adds `path: [{"anything-but": …}, {"exists": false}]`, only where the path is free.
fn insert(pattern: &mut Value, ex: &Exclusion) -> bool {
    let Some((leaf, parents)) = ex.path.split_last() else {
        return false;
    };
    let mut node = pattern;
    for key in parents {
        let Value::Object(map) = node else {
            return false;
        };
        if !free_of_ambiguity(map, key) {
            return false;
        }
        node = map
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    let Value::Object(map) = node else {
        return false;
    };
    if !free_of_ambiguity(map, leaf) || map.contains_key(leaf) {
        return false;
    }
    let values: Vec<Value> = ex.values.iter().map(|v| json!(v)).collect();
    let one_or_list = |mut v: Vec<Value>| {
        if v.len() == 1 {
            v.remove(0)
        } else {
            Value::Array(v)
        }
    };
    let but = match ex.kind {
        Kind::Exact => Value::Array(values),
        Kind::Prefix => json!({ "prefix": one_or_list(values) }),
        Kind::Suffix => json!({ "suffix": one_or_list(values) }),
    };
    map.insert(
        leaf.clone(),
        json!([{ "anything-but": but }, { "exists": false }]),
    );
    true
}

/// No `$or` beside the key and no dotted key that could also spell it.
fn free_of_ambiguity(map: &Map<String, Value>, key: &str) -> bool {
    !map.contains_key("$or")
        && !map
            .keys()
            .any(|k| k.contains('.') && (k.starts_with(&format!("{key}.")) || k == key))
}

/// The exclusion a suppression condition spells, if it is one of the compilable forms.
fn exclusion(condition: &str) -> Option<Exclusion> {
    let ast = cel::parser::Parser::new().parse(condition).ok()?;
    let mut found: Option<Exclusion> = None;
    for term in disjuncts(&ast) {
        let ex = term_exclusion(term)?;
        match &mut found {
            None => found = Some(ex),
            Some(f) if f.path == ex.path && f.kind == ex.kind => f.values.extend(ex.values),
            Some(_) => return None,
        }
    }
    let mut ex = found?;
    ex.values.dedup();
    if ex.kind == Kind::Exact && ex.values.iter().any(|v| v.trim().parse::<f64>().is_ok()) {
        return None;
    }
    if ex.values.iter().any(String::is_empty) && ex.kind != Kind::Exact {
        return None; // startsWith("") suppresses every string
    }
    Some(ex)
}

fn disjuncts(e: &IdedExpr) -> Vec<&IdedExpr> {
    match &e.expr {
        Expr::Call(c) if c.func_name == operators::LOGICAL_OR && c.target.is_none() => {
            c.args.iter().flat_map(disjuncts).collect()
        }
        _ => vec![e],
    }
}

fn term_exclusion(e: &IdedExpr) -> Option<Exclusion> {
    let Expr::Call(call) = &e.expr else {
        return None;
    };
    match (call.func_name.as_str(), &call.target, call.args.as_slice()) {
        (operators::EQUALS, None, [a, b]) => {
            let (path, text) = match (path_of(a), string_of(b)) {
                (Some(p), Some(s)) => (p, s),
                _ => (path_of(b)?, string_of(a)?),
            };
            Some(Exclusion {
                path,
                kind: Kind::Exact,
                values: vec![text],
            })
        }
        (operators::IN, None, [a, list]) => {
            let Expr::List(l) = &list.expr else {
                return None;
            };
            let values = l
                .elements
                .iter()
                .map(string_of)
                .collect::<Option<Vec<_>>>()?;
            if values.is_empty() {
                return None;
            }
            Some(Exclusion {
                path: path_of(a)?,
                kind: Kind::Exact,
                values,
            })
        }
        (f @ ("startsWith" | "endsWith"), Some(target), [arg]) => Some(Exclusion {
            path: path_of(target)?,
            kind: if f == "startsWith" {
                Kind::Prefix
            } else {
                Kind::Suffix
            },
            values: vec![string_of(arg)?],
        }),
        _ => None,
    }
}

/// `detail.a.b` → `["detail", "a", "b"]`, for the roots a pattern can name.
fn path_of(e: &IdedExpr) -> Option<Vec<String>> {
    match &e.expr {
        Expr::Ident(name) if ROOTS.contains(&name.as_str()) => Some(vec![name.clone()]),
        Expr::Select(s) if !s.test => {
            let mut p = path_of(&s.operand)?;
            p.push(s.field.clone());
            Some(p)
        }
        _ => None,
    }
}

fn string_of(e: &IdedExpr) -> Option<String> {
    match &e.expr {
        Expr::Literal(LiteralValue::String(s)) => Some(s.inner().to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condition::Condition;
    use crate::template;

    fn s(condition: &str) -> Suppression {
        Suppression {
            condition: condition.into(),
            owner: "o".into(),
            reason: "r".into(),
            expires: "2099-01-01".into(),
        }
    }

    const BASE: &str = r#"{"source": ["aws.iam"], "detail": {"eventName": ["CreateAccessKey"]}}"#;

    fn compile(conditions: &[&str]) -> Compiled {
        let base: Value = serde_json::from_str(BASE).expect("json");
        let sup: Vec<Suppression> = conditions.iter().map(|c| s(c)).collect();
        compile_into_pattern(&base, &sup)
    }

    #[test]
    fn compiles_the_simple_forms() {
        let c = compile(&[
            r#"detail.userIdentity.arn == "arn:aws:iam::1:role/ci""#,
            r#"detail.userIdentity.arn in ["arn:aws:iam::1:role/deploy"]"#,
            r#"detail.sourceIPAddress.startsWith("10.") || detail.sourceIPAddress.startsWith("192.168.")"#,
            r#""123456789012" == account"#,
        ]);
        assert_eq!(c.in_pattern, vec![0, 1, 2]); // account is numeric text: not compiled
        assert_eq!(
            c.pattern,
            json!({
                "source": ["aws.iam"],
                "detail": {
                    "eventName": ["CreateAccessKey"],
                    "userIdentity": {"arn": [
                        {"anything-but": ["arn:aws:iam::1:role/ci", "arn:aws:iam::1:role/deploy"]},
                        {"exists": false}
                    ]},
                    "sourceIPAddress": [
                        {"anything-but": {"prefix": ["10.", "192.168."]}},
                        {"exists": false}
                    ]
                }
            })
        );
    }

    #[test]
    fn leaves_the_rest_to_run_after_the_pattern() {
        for c in [
            r#"actor == "ci""#,                         // derived variable
            r#"detail.eventName == "CreateAccessKey""#, // path already in the pattern
            r#"detail.a == "x" && detail.b == "y""#,    // a conjunction
            r#"detail.a == "x" || detail.b == "y""#,    // two paths
            r#"detail.a.contains("x")"#,                // other functions
            r#"detail.a.startsWith("""#,                // would hide every string
            r#"detail.a == 3"#,                         // not text
            r#"detail["a"] == "x""#,                    // index syntax
            r#"has(detail.a)"#,
        ] {
            assert!(compile(&[c]).in_pattern.is_empty(), "{c}");
        }
        // Two kinds on one path: the first compiles, the second runs after the pattern.
        let c = compile(&[r#"detail.a == "x""#, r#"detail.a.endsWith("y")"#]);
        assert_eq!(c.in_pattern, vec![0]);
        // A dotted key or $or beside the path.
        let base = json!({"detail": {"a.b": ["1"], "$or": [{"c": ["1"]}, {"d": ["2"]}]}});
        let sup = [s(r#"detail.a.b == "x""#), s(r#"detail.e == "x""#)];
        assert!(compile_into_pattern(&base, &sup).in_pattern.is_empty());
    }

    /// The deployed pattern decides exactly what pattern-then-suppressions decides, on
    /// every real test event in the repository, for suppressions drawn from those events.
    #[test]
    fn deployed_pattern_equals_pattern_then_suppressions_on_real_events() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/events");
        let mut events = Vec::new();
        let mut stack = vec![dir];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "json")
                    && let Ok(text) = std::fs::read_to_string(&p)
                    && let Ok(v) = serde_json::from_str::<Value>(&text)
                    && let Ok(ev) = crate::event::to_eventbridge(v)
                {
                    events.push(ev);
                }
            }
        }
        assert!(events.len() > 50, "found only {} test events", events.len());
        // Suppressions built from values that occur in the events, so many of them bite.
        let mut conds = Vec::new();
        for ev in events.iter().step_by(7) {
            if let Some(arn) = ev
                .pointer("/detail/userIdentity/arn")
                .and_then(Value::as_str)
            {
                conds.push(format!("detail.userIdentity.arn == {arn:?}"));
                let cut = arn.len().min(20);
                conds.push(format!(
                    "detail.userIdentity.arn.startsWith({:?})",
                    &arn[..cut]
                ));
            }
            if let Some(ip) = ev
                .pointer("/detail/sourceIPAddress")
                .and_then(Value::as_str)
            {
                conds.push(format!("detail.sourceIPAddress.endsWith({:?})", ip));
                conds.push(format!(
                    "detail.sourceIPAddress in [{ip:?}, \"198.51.100.7\"]"
                ));
            }
            if let Some(r) = ev.get("region").and_then(Value::as_str) {
                conds.push(format!("region == {r:?}"));
            }
        }
        let patterns = [
            json!({"source": [{"prefix": "aws."}]}),
            json!({"detail-type": ["AWS API Call via CloudTrail"]}),
            json!({"detail": {"userIdentity": {"type": ["IAMUser", "AssumedRole", "Root"]}}}),
        ];
        let mut checked = 0;
        let mut compiled_any = 0;
        for (pi, base) in patterns.iter().enumerate() {
            for window in conds.chunks(3) {
                let sup: Vec<Suppression> = window.iter().map(|c| s(c)).collect();
                let c = compile_into_pattern(base, &sup);
                if c.in_pattern.is_empty() {
                    continue;
                }
                compiled_any += 1;
                let original = Pattern::parse(base).expect("base pattern");
                let deployed = Pattern::parse(&c.pattern).expect("deployed pattern");
                let compiled: Vec<Condition> = c
                    .in_pattern
                    .iter()
                    .map(|&i| Condition::compile(&sup[i].condition).expect("condition"))
                    .collect();
                for ev in &events {
                    let ctx = template::context(ev, json!({}), &Map::new());
                    let suppressed = compiled.iter().any(|k| k.eval(&ctx) == Ok(true));
                    let expected = original.matches(ev) && !suppressed;
                    assert_eq!(
                        deployed.matches(ev),
                        expected,
                        "pattern {pi}, suppressions {window:?}, event {}",
                        ev.get("id").unwrap_or(&Value::Null)
                    );
                    checked += 1;
                }
            }
        }
        assert!(
            compiled_any > 10 && checked > 1000,
            "{compiled_any} sets, {checked} checks"
        );
    }
}
