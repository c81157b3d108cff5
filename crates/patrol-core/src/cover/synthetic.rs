//! Test material: rules built from patterns, events that match a pattern's branches (and
//! variants of them), a generated manifest of many rules, and the checks every list of
//! covers must pass (soundness, partition, limits).

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::{Cover, check};
use crate::event::is_read_only_management_event;
use crate::manifest::{Manifest, Rule, Trigger};
use crate::pattern::{Matcher, Pattern};

/// A normalized event rule (built through serde, so new optional fields need no change here).
pub(super) fn rule(id: &str, pattern: Value, include_read_only: bool, handler: &str) -> Rule {
    serde_json::from_value(json!({
        "id": id,
        "description": "generated",
        "severity": "low",
        "handler": handler,
        "trigger": {"type": "event", "pattern": pattern, "include_read_only": include_read_only},
        "message": "m",
        "notify": ["security"],
    }))
    .expect("a valid rule")
}

/// A manifest of these rules (through serde, like [`rule`]).
pub(super) fn manifest(rules: &[Rule]) -> Manifest {
    serde_json::from_value(json!({
        "format_version": 1, "source": "generated.toml", "routes": [], "rules": rules,
    }))
    .expect("a valid manifest")
}

fn pattern_of(rule: &Rule) -> Option<&Value> {
    match &rule.trigger {
        Trigger::Event { pattern, .. } => Some(pattern),
        _ => None,
    }
}

fn read_only_rule(rule: &Rule) -> bool {
    matches!(
        rule.trigger,
        Trigger::Event {
            include_read_only: true,
            ..
        }
    )
}

/// A CloudTrail API call as EventBridge delivers it, with nothing rule-specific yet.
pub(super) fn envelope(read_only: bool) -> Value {
    json!({
        "version": "0", "id": "e-1", "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.other", "account": "111122223333", "region": "us-east-1",
        "time": "2026-01-01T00:00:00Z", "resources": [],
        "detail": {"eventVersion": "1.08", "eventSource": "other.amazonaws.com",
            "eventName": "Other", "readOnly": read_only, "eventType": "AwsApiCall",
            "userIdentity": {"type": "IAMUser"}}
    })
}

/// A value the list element `op` (as pattern JSON) accepts.
fn value_for(op: &Value) -> Value {
    let text = |v: &Value, upper: bool| match v {
        Value::String(s) => s.clone(),
        Value::Object(m) => m
            .get("equals-ignore-case")
            .and_then(Value::as_str)
            .map(|s| {
                if upper {
                    s.to_uppercase()
                } else {
                    s.to_owned()
                }
            })
            .unwrap_or_default(),
        _ => String::new(),
    };
    let Value::Object(m) = op else {
        return op.clone();
    };
    let Some((name, arg)) = m.iter().next() else {
        return op.clone();
    };
    match name.as_str() {
        "prefix" => json!(format!("{}Tail", text(arg, true))),
        "suffix" => json!(format!("Head{}", text(arg, true))),
        "equals-ignore-case" => json!(arg.as_str().unwrap_or_default().to_uppercase()),
        "wildcard" => {
            let w = arg.as_str().unwrap_or_default();
            let mut out = String::new();
            let mut chars = w.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => out.extend(chars.next()),
                    '*' => out.push('Q'),
                    c => out.push(c),
                }
            }
            json!(out)
        }
        "anything-but" => {
            let numeric = arg.is_number()
                || arg
                    .as_array()
                    .is_some_and(|a| a.first().is_some_and(Value::is_number));
            if numeric {
                json!(987_654.25)
            } else {
                json!("zz-anything-else")
            }
        }
        "numeric" => json!(numeric_value(arg)),
        "cidr" => json!(
            arg.as_str()
                .unwrap_or_default()
                .split('/')
                .next()
                .unwrap_or_default()
        ),
        _ => json!("present"),
    }
}

fn numeric_value(arg: &Value) -> f64 {
    let items = arg.as_array().cloned().unwrap_or_default();
    // (bound, inclusive)
    type Bound = Option<(f64, bool)>;
    let (mut lo, mut hi): (Bound, Bound) = (None, None);
    for pair in items.chunks(2) {
        let (Some(op), Some(n)) = (pair[0].as_str(), pair.get(1).and_then(Value::as_f64)) else {
            continue;
        };
        match op {
            "=" => return n,
            ">" => lo = Some((n, false)),
            ">=" => lo = Some((n, true)),
            "<" => hi = Some((n, false)),
            "<=" => hi = Some((n, true)),
            _ => {}
        }
    }
    match (lo, hi) {
        (Some((a, true)), _) => a,
        (_, Some((b, true))) if lo.is_none() => b,
        (Some((a, false)), Some((b, _))) => (a + b) / 2.0,
        (Some((a, false)), None) => a + 0.5,
        (None, Some((b, _))) => b - 0.5,
        (None, None) => 0.0,
    }
}

/// Sets `value` at a dotted path, making objects on the way (replacing what is in the way).
pub(super) fn set_path(event: &mut Value, path: &str, value: Value) {
    let segs: Vec<&str> = path.split('.').collect();
    let mut at = event;
    for seg in &segs[..segs.len().saturating_sub(1)] {
        if !at.get(*seg).is_some_and(Value::is_object)
            && let Value::Object(m) = at
        {
            m.insert((*seg).to_owned(), Value::Object(Map::new()));
        }
        let Some(next) = at.get_mut(*seg) else { return };
        at = next;
    }
    if let (Value::Object(m), Some(last)) = (at, segs.last()) {
        m.insert((*last).to_owned(), value);
    }
}

pub(super) fn remove_path(event: &mut Value, path: &str) {
    let segs: Vec<&str> = path.split('.').collect();
    let mut at = event;
    for seg in &segs[..segs.len().saturating_sub(1)] {
        let Some(next) = at.get_mut(*seg) else { return };
        at = next;
    }
    if let (Value::Object(m), Some(last)) = (at, segs.last()) {
        m.remove(*last);
    }
}

/// Events meant to match `pattern`: for each branch, one per choice of list element
/// (`pick` rotates through them), read-only or not.
pub(super) fn examples(pattern: &Value, pick: usize, read_only: bool) -> Vec<Value> {
    let Ok(p) = Pattern::parse(pattern) else {
        return Vec::new();
    };
    p.branches()
        .iter()
        .map(|branch| {
            let mut e = envelope(read_only);
            for c in branch {
                let ops: Vec<Value> = c.ops.iter().map(|o| o.to_json()).collect();
                if ops.is_empty() || (c.absent_ok && pick.is_multiple_of(3)) {
                    remove_path(&mut e, &c.path);
                    continue;
                }
                set_path(&mut e, &c.path, value_for(&ops[pick % ops.len()]));
            }
            e
        })
        .collect()
}

/// The strings a pattern names (values of exact string matchers, anywhere).
pub(super) fn strings_in(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) => {
            out.insert(s.clone());
        }
        Value::Array(a) => a.iter().for_each(|x| strings_in(x, out)),
        Value::Object(m) => m.values().for_each(|x| strings_in(x, out)),
        _ => {}
    }
}

/// Variants of `event`: eventName / errorCode / source taken from `names`, a field
/// dropped, read-only flipped.
pub(super) fn variants(event: &Value, names: &[String], seed: usize) -> Vec<Value> {
    let mut out = Vec::new();
    if names.is_empty() {
        return out;
    }
    let name = |k: usize| names[(seed.wrapping_mul(31).wrapping_add(k)) % names.len()].clone();
    for (k, path) in [
        "detail.eventName",
        "detail.errorCode",
        "detail.eventSource",
        "source",
    ]
    .iter()
    .enumerate()
    {
        let mut e = event.clone();
        set_path(&mut e, path, json!(name(k)));
        out.push(e);
    }
    let mut flipped = event.clone();
    let ro = flipped.pointer("/detail/readOnly") == Some(&json!(true));
    set_path(&mut flipped, "detail.readOnly", json!(!ro));
    out.push(flipped);
    // Never without `source`: EventBridge events always have one.
    for path in [
        "detail.requestParameters",
        "detail.userIdentity",
        "detail-type",
    ] {
        let mut e = event.clone();
        remove_path(&mut e, path);
        out.push(e);
    }
    out
}

/// Deliveries checked: for every event and every rule EventBridge would deliver it to, the
/// rule's one cover matches it and would be delivered it. Returns how many were checked.
/// Events without a string `source` are skipped: EventBridge events always have one (and
/// a cover for rules that constrain nothing says `{"source": [{"exists": true}]}`).
pub(super) fn assert_sound(rules: &[Rule], covers: &[Cover], events: &[Value]) -> usize {
    let patterns = |ps: Vec<&Value>| -> Matcher {
        let parsed: Vec<Pattern> = ps
            .into_iter()
            .map(|p| Pattern::parse(p).expect("pattern parses"))
            .collect();
        Matcher::new(&parsed)
    };
    let event_rules: Vec<&Rule> = rules.iter().filter(|r| pattern_of(r).is_some()).collect();
    let rule_matcher = patterns(event_rules.iter().filter_map(|r| pattern_of(r)).collect());
    let cover_matcher = patterns(covers.iter().map(|c| &c.pattern).collect());
    let mut checked = 0;
    for e in events
        .iter()
        .filter(|e| e.get("source").is_some_and(Value::is_string))
    {
        let ro = is_read_only_management_event(e);
        let hit_covers = cover_matcher.matches(e);
        for i in rule_matcher.matches(e) {
            let r = event_rules[i];
            if ro && !read_only_rule(r) {
                continue;
            }
            let (at, c) = covers
                .iter()
                .enumerate()
                .find(|(_, c)| c.rules.contains(&r.id))
                .unwrap_or_else(|| panic!("rule `{}` is in no cover", r.id));
            assert!(
                hit_covers.contains(&at) && (!ro || c.include_read_only),
                "rule `{}` gets {e} but its cover `{}` does not: {}",
                r.id,
                c.id,
                c.pattern
            );
            checked += 1;
        }
    }
    checked
}

/// Every event rule in exactly one cover, read-only flags alike, limits kept, ids unique.
pub(super) fn assert_partition(rules: &[Rule], covers: &[Cover]) {
    let mut ids = BTreeSet::new();
    for c in covers {
        check(c).unwrap_or_else(|e| panic!("{e}"));
        assert!(ids.insert(c.id.clone()), "id `{}` twice", c.id);
        assert!(!c.rules.is_empty());
    }
    for r in rules {
        if pattern_of(r).is_none() {
            continue;
        }
        let holding: Vec<&Cover> = covers.iter().filter(|c| c.rules.contains(&r.id)).collect();
        assert_eq!(
            holding.len(),
            1,
            "rule `{}` is in {} covers",
            r.id,
            holding.len()
        );
        assert_eq!(
            holding[0].include_read_only,
            read_only_rule(r),
            "rule `{}`",
            r.id
        );
    }
    let total: usize = covers.iter().map(|c| c.rules.len()).sum();
    assert_eq!(
        total,
        rules.iter().filter(|r| pattern_of(r).is_some()).count()
    );
}

/// splitmix64: a seeded, dependency-free generator for the big manifest.
#[derive(Debug)]
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

pub(super) const SERVICES: [&str; 40] = [
    "ec2",
    "s3",
    "iam",
    "sts",
    "kms",
    "lambda",
    "rds",
    "dynamodb",
    "sns",
    "sqs",
    "logs",
    "monitoring",
    "events",
    "cloudtrail",
    "config",
    "guardduty",
    "securityhub",
    "organizations",
    "sso",
    "secretsmanager",
    "ssm",
    "ecr",
    "ecs",
    "eks",
    "elasticloadbalancing",
    "autoscaling",
    "cloudformation",
    "route53",
    "cloudfront",
    "apigateway",
    "cognito-idp",
    "glue",
    "athena",
    "redshift",
    "elasticache",
    "backup",
    "waf",
    "shield",
    "acm",
    "signin",
];

const VERBS: [&str; 8] = [
    "Create", "Delete", "Update", "Put", "Modify", "Attach", "Detach", "Disable",
];
const NOUNS: [&str; 8] = [
    "Bucket", "Policy", "Key", "Instance", "Snapshot", "Role", "Trail", "Group",
];

fn event_name(rng: &mut Rng) -> String {
    format!(
        "{}{}{}",
        VERBS[rng.below(VERBS.len())],
        NOUNS[rng.below(NOUNS.len())],
        ["", "Attribute", "Configuration", "Permission"][rng.below(4)]
    )
}

fn names(rng: &mut Rng) -> Vec<Value> {
    (0..1 + rng.below(3))
        .map(|_| json!(event_name(rng)))
        .collect()
}

/// A `requestParameters` constraint in one of many styles.
fn parameter(rng: &mut Rng) -> (String, Value) {
    let field = [
        "name",
        "policyArn",
        "enabled",
        "port",
        "principal",
        "authType",
    ][rng.below(6)];
    let list = match rng.below(10) {
        0 => json!([{"prefix": "Patrol"}]),
        1 => json!([{"suffix": "/AdministratorAccess"}]),
        2 => json!([{"wildcard": "arn:aws:*:Patrol*"}]),
        3 => json!([{"wildcard": "*Patrol*"}]),
        4 => json!([{"exists": true}]),
        5 => json!([{"numeric": [">=", 0, "<", 1024]}]),
        6 => json!([false]),
        7 => json!([{"anything-but": ["a", "b"]}]),
        8 => json!([{"equals-ignore-case": "none"}]),
        _ => json!(["*", "NONE"]),
    };
    (format!("requestParameters.{field}"), list)
}

/// `n` rules over [`SERVICES`] in the styles rules.toml uses (and a few odd ones): event
/// name lists, request parameters, wildcards, `$or`, `exists: false`, errorCode rules
/// without a source, read-only rules; two handlers.
pub(super) fn many_rules(n: usize, seed: u64) -> Vec<Rule> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            // Skewed: a few services have many rules.
            let service = SERVICES[rng.below(SERVICES.len()).min(rng.below(SERVICES.len()) + 5)];
            let read_only = rng.below(10) == 0;
            let mut detail = Map::new();
            detail.insert("eventSource".into(), json!([format!("{service}.amazonaws.com")]));
            detail.insert("eventName".into(), Value::Array(names(&mut rng)));
            let mut top = Map::new();
            let style = rng.below(20);
            if style != 0 {
                top.insert("source".into(), json!([format!("aws.{service}")]));
            }
            top.insert("detail-type".into(), json!(["AWS API Call via CloudTrail"]));
            match style {
                1..=6 => {
                    let (path, list) = parameter(&mut rng);
                    let mut d = Value::Object(detail);
                    set_path(&mut d, &path, list);
                    detail = d.as_object().cloned().unwrap_or_default();
                }
                7 | 8 => {
                    let branches: Vec<Value> = (0..2 + rng.below(2))
                        .map(|_| {
                            let (path, list) = parameter(&mut rng);
                            let mut b = json!({"eventName": names(&mut rng)});
                            set_path(&mut b, &path, list);
                            b
                        })
                        .collect();
                    detail.remove("eventName");
                    detail.insert("$or".into(), Value::Array(branches));
                }
                9 => {
                    detail.insert(
                        "userIdentity".into(),
                        json!({"invokedBy": [{"exists": false}], "type": [{"anything-but": "AWSService"}]}),
                    );
                }
                10 => {
                    detail.insert("eventName".into(), json!([{"prefix": event_name(&mut rng)}]));
                }
                11 if i % 3 == 0 => {
                    detail.clear();
                    detail.insert(
                        "errorCode".into(),
                        json!([{"prefix": "AccessDenied"}, "UnauthorizedOperation"]),
                    );
                    top.remove("source");
                }
                _ => {}
            }
            top.insert("detail".into(), Value::Object(detail));
            let handler = if rng.below(5) == 0 { "triage" } else { "notify" };
            rule(&format!("rule-{i:04}"), Value::Object(top), read_only, handler)
        })
        .collect()
}
