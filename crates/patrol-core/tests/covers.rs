//! Covers of the shipped rules.toml over real CloudTrail: the shared corpus
//! (`/work/shared/corpus/cloudtrail-records.jsonl`, wrapped as EventBridge delivers it), the
//! rules' test events, and variants of both (event names the rules name, errorCode set or
//! gone, other services, fields dropped, read-only flipped). For every event and every rule
//! EventBridge would deliver it to, the rule's forwarding cover and its feed get it too;
//! and the covers forward at most twice the share of events the rules get.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use patrol_core::cover::{CoverMatcher, Covers, check, manifest_covers};
use patrol_core::engine::Engine;
use patrol_core::event::to_eventbridge;
use patrol_core::manifest::{Manifest, Trigger, ValidateOptions, validate_str};
use serde_json::{Value, json};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shipped() -> Manifest {
    let path = workspace().join("rules.toml");
    let text = std::fs::read_to_string(&path).expect("rules.toml is readable");
    validate_str(&text, "rules.toml", &ValidateOptions::default())
        .unwrap_or_else(|d| panic!("rules.toml is invalid: {d:?}"))
}

fn corpus() -> Option<Vec<Value>> {
    let path = workspace().join("../shared/corpus/cloudtrail-records.jsonl");
    let text = std::fs::read_to_string(&path).ok()?;
    Some(
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let record: Value = serde_json::from_str(l).expect("corpus lines are JSON");
                to_eventbridge(record).expect("corpus records wrap")
            })
            .collect(),
    )
}

fn test_events() -> Vec<Value> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("tests/events is readable")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&workspace().join("tests/events"), &mut files);
    files
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).expect("readable");
            let v: Value = serde_json::from_str(&text).expect("test events are JSON");
            to_eventbridge(v).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        })
        .collect()
}

/// Every exact string the rules' patterns name (event names, sources, error codes, ...).
fn named_strings(m: &Manifest) -> Vec<String> {
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::String(s) => {
                out.insert(s.clone());
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    for r in &m.rules {
        if let Trigger::Event { pattern, .. } = &r.trigger {
            walk(pattern, &mut out);
        }
    }
    out.into_iter().collect()
}

fn set(e: &mut Value, pointer: &str, v: Value) {
    let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
    if let Some(Value::Object(o)) = e.pointer_mut(parent) {
        o.insert(key.to_owned(), v);
    }
}

fn remove(e: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
    if let Some(Value::Object(o)) = e.pointer_mut(parent) {
        o.remove(key);
    }
}

/// Variants of `e`: `k` of the rules' names as eventName (rotating with `seed`), an
/// errorCode a rule looks for and none, another service, fields a rule reads dropped or
/// changed, read-only flipped.
fn variants(e: &Value, names: &[String], k: usize, seed: usize) -> Vec<Value> {
    let mut out = Vec::new();
    for i in 0..k {
        let mut v = e.clone();
        set(
            &mut v,
            "/detail/eventName",
            json!(names[(seed * 7 + i * 13) % names.len()]),
        );
        out.push(v);
    }
    let mut denied = e.clone();
    set(&mut denied, "/detail/errorCode", json!("AccessDenied"));
    out.push(denied);
    let mut ok = e.clone();
    remove(&mut ok, "/detail/errorCode");
    out.push(ok);
    let service = [
        "iam",
        "s3",
        "ec2",
        "lambda",
        "sns",
        "events",
        "logs",
        "monitoring",
        "sqs",
    ][seed % 9];
    let mut moved = e.clone();
    set(&mut moved, "/source", json!(format!("aws.{service}")));
    set(
        &mut moved,
        "/detail/eventSource",
        json!(format!("{service}.amazonaws.com")),
    );
    out.push(moved);
    let mut root = e.clone();
    set(&mut root, "/detail/userIdentity", json!({"type": "Root"}));
    out.push(root);
    let mut bare = e.clone();
    remove(&mut bare, "/detail/requestParameters");
    out.push(bare);
    let mut flipped = e.clone();
    let ro = e.pointer("/detail/readOnly") == Some(&json!(true));
    set(&mut flipped, "/detail/readOnly", json!(!ro));
    out.push(flipped);
    out
}

/// Checks every delivery of `events`; returns (events some rule gets, events forwarded,
/// deliveries checked).
fn check_events(m: &Manifest, covers: &Covers, events: &[Value]) -> (usize, usize, usize) {
    let engine = Engine::new(m).expect("engine");
    let forwarding = CoverMatcher::new(&covers.forwarding).expect("forwarding compiles");
    let feeds: Vec<(&String, &Vec<_>, CoverMatcher)> = covers
        .feeds
        .iter()
        .map(|(h, cs)| (h, cs, CoverMatcher::new(cs).expect("feeds compile")))
        .collect();
    let (mut matched, mut forwarded, mut checked) = (0, 0, 0);
    for e in events {
        let rules: Vec<_> = engine
            .matching_rules(e)
            .into_iter()
            .filter(|r| matches!(r.trigger, Trigger::Event { .. }))
            .collect();
        let hits = forwarding.delivered(e);
        matched += usize::from(!rules.is_empty());
        forwarded += usize::from(!hits.is_empty());
        for r in rules {
            let at = covers
                .forwarding
                .iter()
                .position(|c| c.rules.contains(&r.id))
                .unwrap_or_else(|| panic!("rule `{}` has no forwarding cover", r.id));
            assert!(
                hits.contains(&at),
                "rule `{}` gets {e} but forwarding cover `{}` does not",
                r.id,
                covers.forwarding[at].id
            );
            let (_, cs, matcher) = feeds
                .iter()
                .find(|(h, _, _)| **h == r.handler)
                .unwrap_or_else(|| panic!("no feeds for handler `{}`", r.handler));
            let at = cs
                .iter()
                .position(|c| c.rules.contains(&r.id))
                .unwrap_or_else(|| panic!("rule `{}` has no feed", r.id));
            assert!(
                matcher.delivered(e).contains(&at),
                "rule `{}` gets {e} but feed `{}` does not",
                r.id,
                cs[at].id
            );
            checked += 1;
        }
    }
    (matched, forwarded, checked)
}

#[test]
fn shipped_covers_keep_every_limit() {
    let m = shipped();
    let covers = manifest_covers(&m).expect("covers");
    for c in covers
        .forwarding
        .iter()
        .chain(covers.feeds.values().flatten())
    {
        check(c).unwrap_or_else(|e| panic!("{e}"));
    }
    let events = m
        .rules
        .iter()
        .filter(|r| matches!(r.trigger, Trigger::Event { .. }))
        .count();
    let listed: usize = covers.forwarding.iter().map(|c| c.rules.len()).sum();
    assert_eq!(listed, events);
}

#[test]
fn shipped_covers_deliver_what_the_rules_get_from_test_events_and_variants() {
    let m = shipped();
    let covers = manifest_covers(&m).expect("covers");
    let names = named_strings(&m);
    let base = test_events();
    let mut events = base.clone();
    for (seed, e) in base.iter().enumerate() {
        events.extend(variants(e, &names, names.len(), seed));
    }
    let (matched, _, checked) = check_events(&m, &covers, &events);
    assert!(
        matched > 100 && checked > 100,
        "{matched} events, {checked} deliveries"
    );
}

#[test]
fn shipped_covers_deliver_what_the_rules_get_from_the_corpus() {
    let Some(corpus) = corpus() else {
        eprintln!("skipped: ../shared/corpus/cloudtrail-records.jsonl is not there");
        return;
    };
    let m = shipped();
    let covers = manifest_covers(&m).expect("covers");
    let names = named_strings(&m);
    let mut events = corpus.clone();
    events.extend(test_events());
    let total = events.len();
    let (matched, forwarded, _) = check_events(&m, &covers, &events);
    let share = |n: usize| n as f64 / total as f64;
    eprintln!(
        "{total} events: rules get {matched} ({:.2}%), covers forward {forwarded} ({:.2}%)",
        100.0 * share(matched),
        100.0 * share(forwarded)
    );
    assert!(
        forwarded <= 2 * matched,
        "covers forward {forwarded} of {total} events, rules get {matched}"
    );
    let mut varied = Vec::new();
    for (seed, e) in corpus.iter().enumerate() {
        varied.extend(variants(e, &names, 2, seed));
    }
    let (_, _, checked) = check_events(&m, &covers, &varied);
    assert!(checked > 1000, "only {checked} deliveries checked");
}
