//! Property tests: for random rules (every operator, `$or`, nesting, arrays, read-only
//! flags, two handlers) and random events plus events built to match the rules, covers
//! partition the rules, keep every limit, and deliver every event a rule would get.

use std::collections::BTreeSet;

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::synthetic::{assert_partition, assert_sound, examples, rule, strings_in, variants};
use super::{Rule, Trigger, covers};

fn word() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("x")),
        Just(json!("xy")),
        Just(json!("Xy")),
        Just(json!("abc")),
        Just(json!("10.0.0.1")),
        Just(json!("010.0.0.1")),
        Just(json!("aws.iam")),
        Just(json!("aws.s3")),
        Just(json!("CreateKey")),
        Just(json!(1)),
        Just(json!(300)),
        Just(json!(true)),
        Just(Value::Null),
    ]
}

fn item() -> impl Strategy<Value = Value> {
    let s = || {
        prop_oneof![
            Just("x"),
            Just("X"),
            Just("Create"),
            Just("aws."),
            Just("10."),
            Just("y")
        ]
    };
    prop_oneof![
        6 => word(),
        1 => s().prop_map(|p| json!({"prefix": p})),
        1 => s().prop_map(|p| json!({"suffix": p})),
        1 => s().prop_map(|p| json!({"prefix": {"equals-ignore-case": p}})),
        1 => prop_oneof![Just("xy"), Just("ABC")].prop_map(|p| json!({"equals-ignore-case": p})),
        1 => prop_oneof![Just("x*"), Just("*y"), Just("Cre*Key"), Just("*b*"), Just("a\\*b")]
            .prop_map(|p| json!({"wildcard": p})),
        1 => prop_oneof![
            Just(json!({"anything-but": "x"})),
            Just(json!({"anything-but": [1, 300]})),
            Just(json!({"anything-but": {"prefix": "x"}})),
        ],
        1 => prop_oneof![
            Just(json!({"numeric": [">", 0]})),
            Just(json!({"numeric": [">=", 0, "<", 2]})),
            Just(json!({"numeric": ["=", 300]})),
        ],
        1 => any::<bool>().prop_map(|b| json!({"exists": b})),
        1 => Just(json!({"cidr": "10.0.0.0/8"})),
    ]
}

fn path() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("source"),
        Just("detail-type"),
        Just("detail.eventName"),
        Just("detail.eventSource"),
        Just("detail.errorCode"),
        Just("detail.a"),
        Just("detail.a.b"),
        Just("detail.items.x"),
        Just("detail.items.y"),
    ]
}

fn fields() -> impl Strategy<Value = Vec<(&'static str, Vec<Value>)>> {
    prop::collection::vec((path(), prop::collection::vec(item(), 1..4)), 1..4)
}

/// Dotted fields as nested objects (a later field wins where two clash).
fn nest(fields: &[(&str, Vec<Value>)]) -> Value {
    let mut root = Value::Object(Map::new());
    for (p, list) in fields {
        super::synthetic::set_path(&mut root, p, Value::Array(list.clone()));
    }
    root
}

fn pattern() -> impl Strategy<Value = Value> {
    (
        fields(),
        prop::option::of(prop::collection::vec(fields(), 2..4)),
    )
        .prop_map(|(f, or)| {
            let mut p = nest(&f);
            if let (Some(branches), Value::Object(m)) = (or, &mut p) {
                m.insert(
                    "$or".into(),
                    Value::Array(branches.iter().map(|b| nest(b)).collect()),
                );
            }
            p
        })
}

fn rules() -> impl Strategy<Value = Vec<Rule>> {
    prop::collection::vec((pattern(), any::<bool>(), any::<bool>()), 1..6).prop_map(|rs| {
        rs.into_iter()
            .enumerate()
            .filter_map(|(i, (p, ro, h))| {
                // Keep only patterns the engine accepts (e.g. not `$or` of reserved words).
                crate::pattern::Pattern::parse(&p).ok()?;
                let handler = if h { "notify" } else { "triage" };
                Some(rule(&format!("r{i}"), p, ro, handler))
            })
            .collect()
    })
}

fn leaf_value() -> impl Strategy<Value = Value> {
    word().prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::vec((prop_oneof![Just("b"), Just("x"), Just("y")], inner), 0..3)
                .prop_map(|kv| Value::Object(
                    kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )),
        ]
    })
}

fn event() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("eventName"),
        Just("eventSource"),
        Just("errorCode"),
        Just("a"),
        Just("items"),
        Just("readOnly"),
    ];
    (
        prop_oneof![Just("aws.iam"), Just("aws.s3"), Just("x")],
        prop_oneof![Just("AWS API Call via CloudTrail"), Just("Other")],
        prop::collection::vec((key, leaf_value()), 0..5),
        any::<bool>(),
    )
        .prop_map(|(source, detail_type, detail, ro)| {
            let mut d: Map<String, Value> =
                detail.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            d.entry("readOnly").or_insert(json!(ro));
            json!({"source": source, "detail-type": detail_type, "detail": d})
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn covers_are_sound_partitions_within_limits(
        rules in rules(),
        random in prop::collection::vec(event(), 0..12),
    ) {
        let all = covers(&rules).expect("covers");
        assert_partition(&rules, &all);
        let mut names = BTreeSet::new();
        for r in &rules {
            if let Trigger::Event { pattern, .. } = &r.trigger {
                strings_in(pattern, &mut names);
            }
        }
        let names: Vec<String> = names.into_iter().collect();
        let mut events = random;
        for (i, r) in rules.iter().enumerate() {
            if let Trigger::Event { pattern, .. } = &r.trigger {
                for pick in 0..2 {
                    for e in examples(pattern, pick, i % 2 == 0) {
                        events.extend(variants(&e, &names, i));
                        // Another spelling of the same IP address (matched by "10.0.0.1").
                        let respelled = e.to_string().replace("\"10.0.0.1\"", "\"010.0.0.1\"");
                        events.extend(serde_json::from_str::<Value>(&respelled).ok());
                        events.push(e);
                    }
                }
            }
        }
        assert_sound(&rules, &all, &events);
        for handler in ["notify", "triage"] {
            let mine: Vec<Rule> = rules.iter().filter(|r| r.handler == handler).cloned().collect();
            let feeds = covers(&mine).expect("covers");
            assert_partition(&mine, &feeds);
            assert_sound(&mine, &feeds, &events);
        }
    }
}
