//! Event patterns as written (a TOML table, a JSON string, the `cloudtrail` shorthand)
//! into EventBridge JSON, checked by Patrol's pattern engine.

use std::ops::Range;

use serde_json::{Map, Value, json};

use super::Cx;
use crate::diagnostic::Diagnostic;
use crate::manifest::Trigger;
use crate::pattern::Pattern;

impl Cx<'_> {
    pub(super) fn event_pattern(
        &mut self,
        rid: &str,
        json: Value,
        at: Range<usize>,
        include_read_only: bool,
        shorthand: bool,
    ) -> Option<Trigger> {
        match Pattern::parse(&json) {
            Ok(_) => Some(Trigger::Event {
                pattern: json,
                include_read_only,
            }),
            Err(e) => {
                let place = if e.path.is_empty() {
                    "the pattern".to_owned()
                } else {
                    format!("`{}`", e.path)
                };
                self.err(
                    Diagnostic::new(
                        "invalid-pattern",
                        format!(
                            "rule `{rid}`: invalid event pattern at {place}: {}",
                            e.message
                        ),
                    )
                    .at(pattern_span(self.text, at, &e.path, shorthand))
                    .help(format!(
                        "see the README's \"Event patterns\" section for supported operators ({})",
                        e.code
                    )),
                );
                None
            }
        }
    }
}

/// Where `path` (`detail.userIdentity.type[1]`) is inside a pattern written as an inline
/// TOML table at `at`, so the caret points at the bad value; `at` when it can't be found
/// (a JSON string, a `[...trigger.pattern]` section). For the `cloudtrail` shorthand the
/// pattern's `detail.` is the table itself.
fn pattern_span(text: &str, at: Range<usize>, path: &str, shorthand: bool) -> Range<usize> {
    let Some(Ok(root)) = text.get(at.clone()).map(toml::de::DeValue::parse) else {
        return at;
    };
    let mut steps: Vec<Result<&str, usize>> = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut pieces = part.split('[');
        if let Some(key) = pieces.next().filter(|k| !k.is_empty()) {
            steps.push(Ok(key));
        }
        for index in pieces {
            match index.trim_end_matches(']').parse() {
                Ok(i) => steps.push(Err(i)),
                Err(_) => break,
            }
        }
    }
    if shorthand {
        match steps.first() {
            Some(Ok("detail")) => {
                let _ = steps.remove(0);
            }
            _ => return at,
        }
    }
    let mut node = &root;
    for step in steps {
        let next = match (step, node.get_ref()) {
            (Ok(key), toml::de::DeValue::Table(t)) => t
                .iter()
                .find(|(k, _)| k.get_ref().as_ref() == key)
                .map(|(_, v)| v),
            (Err(i), toml::de::DeValue::Array(a)) => a.get(i),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => break,
        }
    }
    let inner = node.span();
    (at.start + inner.start)..(at.start + inner.end)
}

/// TOML → JSON; dates become strings (EventBridge patterns have no date type).
pub fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => json!(i),
        toml::Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

/// Expands the `cloudtrail` shorthand into a full EventBridge pattern. Scalars become
/// one-element lists, tables nest into `detail`, lists are kept as written (so operators go
/// inside lists: `sourceIPAddress = [{ cidr = "10.0.0.0/8" }]`).
pub(super) fn cloudtrail_pattern(table: &toml::Table) -> Result<Value, String> {
    fn expand(v: &toml::Value) -> Value {
        match v {
            toml::Value::Table(t) => {
                Value::Object(t.iter().map(|(k, v)| (k.clone(), expand(v))).collect())
            }
            toml::Value::Array(_) => toml_to_json(v),
            scalar => Value::Array(vec![toml_to_json(scalar)]),
        }
    }
    let sources: Vec<String> = match table.get("eventSource") {
        Some(toml::Value::String(s)) => vec![s.clone()],
        Some(toml::Value::Array(a)) if !a.is_empty() => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_owned)
                    .ok_or("`eventSource` must list strings")
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("`eventSource` must be a string or a list of strings".into()),
        None => return Err("the cloudtrail shorthand needs `eventSource`".into()),
    };
    for s in &sources {
        if !s.ends_with(".amazonaws.com") {
            return Err(format!(
                "`eventSource` `{s}` is not a CloudTrail event source (e.g. `iam.amazonaws.com`)"
            ));
        }
    }
    let mut eb_sources: Vec<String> = sources
        .iter()
        .map(|s| crate::event::source_for(s))
        .collect();
    eb_sources.dedup();
    let signin = sources.iter().any(|s| s == "signin.amazonaws.com");
    let api = sources.iter().any(|s| s != "signin.amazonaws.com");
    let mut detail_types = Vec::new();
    if api {
        detail_types.push("AWS API Call via CloudTrail");
    }
    if signin {
        detail_types.push("AWS Console Sign In via CloudTrail");
    }
    let mut detail = Map::new();
    for (k, v) in table {
        detail.insert(k.clone(), expand(v));
    }
    Ok(json!({
        "source": eb_sources,
        "detail-type": detail_types,
        "detail": detail,
    }))
}
