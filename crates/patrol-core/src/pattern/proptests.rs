//! Property tests: the compiled [`Matcher`] (from a `Value` and from bytes) agrees with
//! the reference interpreter on random patterns and events drawn from a small vocabulary
//! (so that values collide often), and `to_json` round-trips.

use super::head::HeadValue;
use super::{HeadIndex, Matcher, Pattern};
use proptest::prelude::*;
use serde_json::{Value, json};

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a"),
        Just("b"),
        Just("c"),
        Just("a.b"),
        Just("b.c"),
        Just(""),
        Just(".a")
    ]
    .prop_map(String::from)
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop_oneof![
            Just(""),
            Just("x"),
            Just("xy"),
            Just("Xy"),
            Just("abc"),
            Just("10.0.0.1"),
            Just("010.0.0.1"),
            Just("a*b")
        ]
        .prop_map(|s| json!(s)),
        prop_oneof![
            Just(json!(0)),
            Just(json!(1)),
            Just(json!(1.5)),
            Just(json!(-3)),
            Just(json!(300)),
            Just(json!(3e2))
        ],
        Just(json!(true)),
        Just(json!(false)),
        Just(Value::Null),
    ]
}

fn event_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn event() -> impl Strategy<Value = Value> {
    prop::collection::vec((key(), event_value()), 0..5)
        .prop_map(|kv| Value::Object(kv.into_iter().collect()))
}

fn matcher_item() -> impl Strategy<Value = Value> {
    let s = || prop_oneof![Just(""), Just("x"), Just("X"), Just("a"), Just("y")];
    prop_oneof![
        scalar(),
        s().prop_filter("prefix", |_| true)
            .prop_map(|p| json!({"prefix": p})),
        s().prop_map(|p| json!({"suffix": p})),
        s().prop_map(|p| json!({"prefix": {"equals-ignore-case": p}})),
        s().prop_map(|p| json!({"suffix": {"equals-ignore-case": p}})),
        prop_oneof![Just("xy"), Just("XY"), Just("abc")]
            .prop_map(|p| json!({"equals-ignore-case": p})),
        prop_oneof![
            Just("*"),
            Just("x*"),
            Just("*y"),
            Just("a\\*b"),
            Just("*b*")
        ]
        .prop_map(|p| json!({"wildcard": p})),
        prop_oneof![
            Just(json!({"anything-but": "x"})),
            Just(json!({"anything-but": ["x", "xy"]})),
            Just(json!({"anything-but": [1, 300]})),
            Just(json!({"anything-but": {"prefix": "x"}})),
            Just(json!({"anything-but": {"suffix": "y"}})),
            Just(json!({"anything-but": {"equals-ignore-case": "XY"}})),
            Just(json!({"anything-but": {"wildcard": "*b*"}})),
        ],
        prop_oneof![
            Just(json!({"numeric": [">", 0]})),
            Just(json!({"numeric": [">=", 0, "<", 2]})),
            Just(json!({"numeric": ["=", 300]})),
            Just(json!({"numeric": ["<=", -3]})),
        ],
        any::<bool>().prop_map(|b| json!({"exists": b})),
        Just(json!({"cidr": "10.0.0.0/8"})),
    ]
}

/// Patterns on `a` and `b` from a tiny vocabulary: mostly exact lists, sometimes another
/// operator, an IP address, `exists`, or an `$or`.
fn head_pattern() -> impl Strategy<Value = Value> {
    let word =
        || prop_oneof![Just("x"), Just("xy"), Just("y"), Just("10.0.0.1")].prop_map(|w| json!(w));
    let list = move || {
        prop::collection::vec(
            prop_oneof![
                6 => word(),
                1 => Just(json!({"prefix": "x"})),
                1 => Just(json!({"exists": false})),
                1 => Just(json!({"anything-but": "x"})),
            ],
            1..3,
        )
        .prop_map(Value::Array)
    };
    (
        prop::option::of(list()),
        prop::option::of(list()),
        prop::option::of(list()),
        any::<bool>(),
    )
        .prop_map(|(a, b, c, or)| {
            let mut m = serde_json::Map::new();
            if let Some(a) = a {
                m.insert("a".into(), a);
            }
            if let Some(b) = b {
                m.insert("b".into(), b);
            }
            match (c, or) {
                (Some(c), true) => {
                    m.insert("$or".into(), json!([{"a": c.clone()}, {"c": c}]));
                }
                (Some(c), false) => {
                    m.insert("c".into(), c);
                }
                (None, _) => {}
            }
            if m.is_empty() {
                m.insert("a".into(), json!(["x"]));
            }
            Value::Object(m)
        })
}

/// Events with `a` and (mostly) `b` from the same vocabulary, and sometimes `c`.
fn head_event() -> impl Strategy<Value = Value> {
    let word = || {
        prop_oneof![
            Just("x"),
            Just("xy"),
            Just("y"),
            Just("z"),
            Just("010.0.0.1")
        ]
    };
    (word(), prop::option::of(word()), prop::option::of(word())).prop_map(|(a, b, c)| {
        let mut m = serde_json::Map::new();
        m.insert("a".into(), json!(a));
        if let Some(b) = b {
            m.insert("b".into(), json!(b));
        }
        if let Some(c) = c {
            m.insert("c".into(), json!(c));
        }
        Value::Object(m)
    })
}

/// No event the index turns away is matched by any pattern.
fn head_index_holds(patterns: &[Pattern], events: &[Value]) -> Result<(), TestCaseError> {
    let index = HeadIndex::new(patterns, &["b", "a", "c"]);
    fn head<'e>(e: &'e Value, k: &str) -> HeadValue<'e> {
        match e.get(k) {
            Some(Value::String(s)) => HeadValue::Str(s.as_str()),
            None => HeadValue::Absent,
            Some(_) => HeadValue::Unknown,
        }
    }
    for e in events {
        let values = [head(e, "b"), head(e, "a"), head(e, "c")];
        if !index.may_match(&values) {
            for p in patterns {
                prop_assert!(
                    !p.matches(e),
                    "index said no, but {} matches {}",
                    p.to_json(),
                    e
                );
            }
        }
    }
    Ok(())
}

fn pattern_object() -> impl Strategy<Value = Value> {
    let leaf = prop::collection::vec(matcher_item(), 1..4).prop_map(Value::Array);
    let field = leaf.prop_recursive(2, 8, 3, |inner| {
        prop::collection::vec((key(), inner), 1..3)
            .prop_map(|kv| Value::Object(kv.into_iter().collect()))
    });
    let fields = prop::collection::vec((key(), field), 1..4);
    (
        fields,
        prop::option::of(prop::collection::vec(
            prop::collection::vec(
                (
                    key(),
                    prop::collection::vec(matcher_item(), 1..3).prop_map(Value::Array),
                ),
                1..3,
            ),
            2..4,
        )),
    )
        .prop_map(|(fields, or)| {
            let mut m: serde_json::Map<String, Value> = fields.into_iter().collect();
            if let Some(branches) = or {
                let bs = branches
                    .into_iter()
                    .map(|kv| Value::Object(kv.into_iter().collect()))
                    .collect();
                m.insert("$or".into(), Value::Array(bs));
            }
            Value::Object(m)
        })
}

/// Whitespace as a JSON writer might put it between tokens.
fn ws() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        3 => Just(""),
        1 => Just(" "),
        1 => Just("\n  "),
        1 => Just("\t"),
        1 => Just("\r\n"),
    ]
}

/// Keys as raw JSON text: plain, dotted, empty, and escaped spellings of the same keys.
fn raw_key() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("a"),
        Just("b"),
        Just("c"),
        Just("a.b"),
        Just("b.c"),
        Just(""),
        Just(".a"),
        Just("\\u0061"),
        Just("a\\u002eb"),
        Just("\\u0062"),
        Just("\\\"q"),
        Just("zz"),
        Just("k16abcdefghijkl"),
    ]
}

/// Scalars as raw JSON text: escapes, unicode, and numbers in all their spellings.
fn raw_scalar() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        prop_oneof![
            Just(r#""x""#),
            Just(r#""\u0078""#),
            Just(r#""xy""#),
            Just(r#""X\u0079""#),
            Just(r#""Xy""#),
            Just(r#""""#),
            Just(r#""abc""#),
            Just(r#""10.0.0.1""#),
            Just(r#""010.0.0.1""#),
            Just(r#""a*b""#),
            Just(r#""\"}]{[\\""#),
            Just(r#""é😀""#),
            Just(r#""\u00e9\ud83d\ude00""#),
            Just(r#""\/\b\f\n\r\t""#),
        ],
        prop_oneof![
            Just("0"),
            Just("-0"),
            Just("1"),
            Just("1.0"),
            Just("1e0"),
            Just("10E-1"),
            Just("1.5"),
            Just("15e-1"),
            Just("-3"),
            Just("-3.0e0"),
            Just("300"),
            Just("3e2"),
            Just("3E+2"),
            Just("300.000"),
        ],
        Just("true"),
        Just("false"),
        Just("null"),
    ]
}

fn raw_members(inner: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    prop::collection::vec((ws(), raw_key(), ws(), ws(), inner, ws()), 0..5).prop_map(|kv| {
        let members: Vec<String> = kv
            .into_iter()
            .map(|(a, k, b, c, v, d)| format!("{a}\"{k}\"{b}:{c}{v}{d}"))
            .collect();
        format!("{{{}}}", members.join(","))
    })
}

/// An event as raw JSON text, with repeated keys (the last one counts), escaped and
/// dotted keys, nested arrays of objects and whitespace anywhere.
fn raw_event() -> impl Strategy<Value = String> {
    let value = raw_scalar()
        .prop_map(String::from)
        .prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec((ws(), inner.clone(), ws()), 0..4).prop_map(|items| {
                    let items: Vec<String> = items
                        .into_iter()
                        .map(|(a, v, b)| format!("{a}{v}{b}"))
                        .collect();
                    format!("[{}]", items.join(","))
                }),
                raw_members(inner),
            ]
        });
    (ws(), raw_members(value), ws()).prop_map(|(a, o, b)| format!("{a}{o}{b}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn raw_reader_agrees_with_reference(ps in prop::collection::vec(pattern_object(), 1..6), texts in prop::collection::vec(raw_event(), 1..6)) {
        let patterns: Vec<Pattern> = ps.iter().filter_map(|p| Pattern::parse(p).ok()).collect();
        let m = Matcher::new(&patterns);
        for text in &texts {
            let e: Value = serde_json::from_str(text).map_err(|err| TestCaseError::fail(format!("{err}: {text}")))?;
            let want: Vec<usize> = (0..patterns.len()).filter(|&i| patterns[i].matches(&e)).collect();
            prop_assert_eq!(m.matches_json(text.as_bytes()), Ok(want.clone()), "raw event {}", text);
            prop_assert_eq!(&m.matches(&e), &want, "Value path, event {}", e);
        }
    }

    #[test]
    fn matcher_agrees_with_reference(ps in prop::collection::vec(pattern_object(), 1..6), events in prop::collection::vec(event(), 1..6)) {
        let patterns: Vec<Pattern> = ps.iter().filter_map(|p| Pattern::parse(p).ok()).collect();
        let m = Matcher::new(&patterns);
        for e in &events {
            let want: Vec<usize> = (0..patterns.len()).filter(|&i| patterns[i].matches(e)).collect();
            prop_assert_eq!(&m.matches(e), &want, "Value path, event {}", e);
            let bytes = m.matches_json(e.to_string().as_bytes());
            prop_assert_eq!(bytes, Ok(want.clone()), "bytes path, event {}", e);
            for (i, p) in patterns.iter().enumerate() {
                prop_assert_eq!(p.explain(e).is_ok(), want.contains(&i));
            }
        }
    }

    /// The head index never says "no" for an event some pattern matches: on random
    /// patterns, and on patterns made mostly of exact lists on the two fields (where it
    /// says "no" most).
    #[test]
    fn head_index_is_a_necessary_condition(
        ps in prop::collection::vec(pattern_object(), 1..6),
        focused in prop::collection::vec(head_pattern(), 1..6),
        events in prop::collection::vec(event(), 1..8),
        heads in prop::collection::vec(head_event(), 1..8),
    ) {
        let random: Vec<Pattern> = ps.iter().filter_map(|p| Pattern::parse(p).ok()).collect();
        let focused: Vec<Pattern> = focused.iter().filter_map(|p| Pattern::parse(p).ok()).collect();
        for (patterns, events) in [(&random, &events), (&focused, &heads), (&random, &heads), (&focused, &events)] {
            head_index_holds(patterns, events)?;
        }
    }

    #[test]
    fn to_json_round_trips(p in pattern_object(), e in event()) {
        if let Ok(pat) = Pattern::parse(&p) {
            let again = Pattern::parse(&pat.to_json());
            prop_assert!(again.is_ok(), "to_json rejected: {}", pat.to_json());
            if let Ok(again) = again {
                prop_assert_eq!(again.matches(&e), pat.matches(&e));
            }
        }
    }

    #[test]
    fn no_panic_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let m = Matcher::new(&[Pattern::parse(&json!({"a": [1], "b": {"c": [{"exists": false}]}})).expect("valid")]);
        let _ = m.matches_json(&bytes);
        if let Ok(s) = std::str::from_utf8(&bytes) {
            let _ = Pattern::parse_str(s);
        }
    }
}
