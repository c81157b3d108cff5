//! Runs the data-driven corpus in `tests/fixtures/patterns/*.json` (see its README)
//! through the parser, the reference interpreter and the compiled matcher (from the
//! event's `Value` and from its bytes). Reports every failing case by name.

use super::{Matcher, Pattern, PatternError};
use serde_json::Value;
use std::path::PathBuf;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/patterns")
}

fn parse(p: &Value) -> Result<Pattern, PatternError> {
    match p {
        Value::String(s) => Pattern::parse_str(s),
        other => Pattern::parse(other),
    }
}

/// Checks one case; `Err` says what went wrong.
fn check(case: &Value) -> Result<(), String> {
    let pattern = case.get("pattern").ok_or("no `pattern`")?;
    if let Some(why) = case.get("error") {
        return match parse(pattern) {
            Ok(p) => Err(format!(
                "accepted, expected an error ({why}); parsed as {p}"
            )),
            Err(e) => match case.get("error_path").and_then(Value::as_str) {
                Some(want) if want != e.path => Err(format!(
                    "rejected at `{}` ({}: {}), expected at `{want}`",
                    e.path, e.code, e.message
                )),
                _ => Ok(()),
            },
        };
    }
    let want = case
        .get("matches")
        .and_then(Value::as_bool)
        .ok_or("no `matches` or `error`")?;
    let event = case.get("event").ok_or("no `event`")?;
    let p = parse(pattern)
        .map_err(|e| format!("rejected: {} at `{}`: {}", e.code, e.path, e.message))?;
    let mut problems = Vec::new();
    if p.matches(event) != want {
        problems.push(format!("reference says {}", !want));
    }
    let m = Matcher::new(std::slice::from_ref(&p));
    if m.matches(event).is_empty() == want {
        problems.push(format!("matcher (Value) says {}", !want));
    }
    let bytes = match event {
        // An event given as a string is the raw event text (e.g. numbers serde cannot hold).
        Value::String(s) => s.clone().into_bytes(),
        other => other.to_string().into_bytes(),
    };
    match m.matches_json(&bytes) {
        Ok(ids) if ids.is_empty() == want => {
            problems.push(format!("matcher (bytes) says {}", !want))
        }
        Ok(_) => {}
        Err(e) => problems.push(format!("matcher (bytes) error: {e}")),
    }
    match p.explain(event) {
        Ok(()) if !want => problems.push("explain says it matches".into()),
        Err(m) if want => problems.push(format!("explain says no: {} {}", m.path, m.reason)),
        _ => {}
    }
    // The normalized form must mean the same thing.
    match Pattern::parse(&p.to_json()) {
        Ok(again) if again.matches(event) != want => problems.push(format!(
            "to_json round trip changes the result: {}",
            p.to_json()
        )),
        Ok(_) => {}
        Err(e) => problems.push(format!("to_json is rejected: {e}")),
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

#[test]
fn corpus() {
    let dir = corpus_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("no corpus at {}, skipping", dir.display());
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let (mut total, mut failures) = (0, Vec::new());
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let cases: Vec<Value> = match serde_json::from_str(&text) {
            Ok(Value::Array(cases)) => cases,
            _ => {
                failures.push(format!("{}: not a JSON array of cases", file.display()));
                continue;
            }
        };
        for case in &cases {
            total += 1;
            let name = case
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("<unnamed>");
            if let Err(why) = check(case) {
                let file = file
                    .file_name()
                    .map(|f| f.to_string_lossy().to_string())
                    .unwrap_or_default();
                failures.push(format!("{file}: {name}: {why}"));
            }
        }
    }
    eprintln!("pattern corpus: {total} cases, {} failing", failures.len());
    assert!(
        failures.is_empty(),
        "{} of {total} corpus cases fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
