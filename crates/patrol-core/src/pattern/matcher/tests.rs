use super::*;
use serde_json::json;

fn pats(ps: &[serde_json::Value]) -> Vec<Pattern> {
    ps.iter()
        .map(|p| Pattern::parse(p).expect("valid"))
        .collect()
}

#[test]
fn many_patterns_one_pass() {
    let m = Matcher::new(&pats(&[
        json!({"source": ["aws.iam"], "detail": {"eventName": ["CreateUser"]}}),
        json!({"source": ["aws.iam"], "detail": {"eventName": [{"prefix": "Create"}]}}),
        json!({"detail": {"eventName": [{"anything-but": "CreateUser"}]}}),
        json!({"detail": {"x": [{"exists": false}]}}),
        json!({"detail": {"eventName": [{"equals-ignore-case": "createuser"}]}}),
    ]));
    let e = br#"{"source":"aws.iam","detail":{"eventName":"CreateUser","big":{"a":[1,2,{"b":"\"}"}]}}}"#;
    assert_eq!(m.matches_json(e).expect("valid"), vec![0, 1, 3, 4]);
    let e = br#"{"source":"aws.iam","detail":{"eventName":"Create\u0055ser2","x":null}}"#;
    assert_eq!(m.matches_json(e).expect("valid"), vec![1, 2]);
}

#[test]
fn escapes_dots_and_arrays_in_raw_events() {
    let m = Matcher::new(&pats(&[
        json!({"det": {"na me": ["é😀\"q"]}}),
        json!({"a": {"b": [{"numeric": [">", 1]}]}}),
        json!({"r": {"t": ["x"], "n": ["y"]}}),
    ]));
    let e = br#"{"d\u0065t": {"na\u0020me": "\u00e9\ud83d\ude00\"q"}}"#;
    assert_eq!(m.matches_json(e).expect("valid"), vec![0]);
    assert_eq!(m.matches_json(br#"{"a.b": 2}"#).expect("valid"), vec![1]);
    assert_eq!(
        m.matches_json(br#"{"a": [{"b": [0, 5]}]}"#).expect("valid"),
        vec![1]
    );
    let split = br#"{"r": [{"t": "x", "n": "z"}, {"t": "w", "n": "y"}]}"#;
    assert_eq!(m.matches_json(split).expect("valid"), Vec::<usize>::new());
    let same = br#"{"r": [{"t": "w", "n": "z"}, {"t": "x", "n": "y"}]}"#;
    assert_eq!(m.matches_json(same).expect("valid"), vec![2]);
    // Skipped parts may hold anything well-bracketed, including brackets in strings.
    let skipped = br#"{"zz": {"q": "}]\"{[", "w": [1, {"x": null}]}, "a": {"b": 3}}"#;
    assert_eq!(m.matches_json(skipped).expect("valid"), vec![1]);
}

#[test]
fn raw_reader_agrees_on_awkward_text() {
    // Keys of 7, 8, 16 and 17 bytes (the reader compares key words), keys too near the
    // end of the input for a whole word, dots, escapes and skipped containers with
    // brackets, escapes, numbers and whitespace in them.
    let m = Matcher::new(&pats(&[
        json!({"k7abcde": ["v"]}),
        json!({"k8abcdef": ["v"]}),
        json!({"k16abcdefghijkl": ["v"]}),
        json!({"k17abcdefghijklm": ["v"]}),
        json!({"": ["v"]}),
        json!({"a": {"b": ["v"]}}),
        json!({"x": [{"exists": false}]}),
        json!({"n": [{"numeric": [">", 1]}]}),
        json!({"k7abcdf": ["v"]}),
        json!({"q\"k": ["v"]}),
        json!({"b\\s": ["v"]}),
        json!({"k16abcdefghijkl": {"z": ["v"]}}),
    ]));
    let events = [
        r#"{"k7abcde":"v","k8abcdef":"v","k16abcdefghijkl":"v","k17abcdefghijklm":"v"}"#,
        r#"{"k7abcdf":"v","k8abcdeg":"v","k16abcdefghijkm":"v","k17abcdefghijkln":"v"}"#,
        r#"{"k7abcd":"v","k7abcdef":"v","k16abcdefghijk":"v","k17abcdefghijklmn":"v"}"#,
        r#"{"":"v"}"#,
        r#"{"a":{"b":"v"}}"#,
        r#"{"a":{"b":"w"},"x":1}"#,
        r#"{"a.b":"v","n":2}"#,
        r#"{"k7abc\u0064e":"v","q\"k":"v","b\\s":"v"}"#,
        r#"{"q\\k":"v","b\"s":"v","k8abcde.":"v"}"#,
        r#"{"z":{"s":"}]\"{[\\","t":[1,2.5e3,-0,true,false,null,{"w":[]},"\\"]},"n":2,"a":{"b":"v"}}"#,
        r#"{"k16abcdefghijkl":{"y":{"z":"w"},"z":"v"},"k7abcde":["x","v"]}"#,
        r#"{"zz":[[[[]]],{"a":{"b":"v"}}],"x":{"k7abcde":"v"},"a":[{"b":"x"},{"b":"v"}]}"#,
    ];
    for text in events {
        let v: serde_json::Value = serde_json::from_str(text).expect("valid");
        let want = m.matches(&v);
        assert_eq!(
            m.matches_json(text.as_bytes()).expect("valid"),
            want,
            "{text}"
        );
        let pretty = serde_json::to_string_pretty(&v).expect("json");
        assert_eq!(
            m.matches_json(pretty.as_bytes()).expect("valid"),
            want,
            "{pretty}"
        );
        let spaced = text.replace(',', " ,\n\t").replace(':', " : ");
        assert_eq!(
            m.matches_json(spaced.as_bytes()).expect("valid"),
            want,
            "{spaced}"
        );
    }
    for bad in [
        r#"{"z":{"s":"abc}}"#,
        r#"{"z":[1,2}"#,
        r#"{"z":{"a":"\"#,
        r#"{"z":{"a":1}"#,
        r#"{"k7abcde"#,
        r#"{"k7abcde":"v""#,
        r#"{"a.b"#,
    ] {
        assert!(m.matches_json(bad.as_bytes()).is_err(), "{bad}");
    }
}

#[test]
fn duplicate_keys_last_wins_in_raw_events() {
    // serde_json keeps the last of repeated keys; the raw reader used to keep both.
    let m = Matcher::new(&pats(&[
        json!({"a": ["x"]}),
        json!({"a": {"b": ["y"]}}),
        json!({"a": [{"exists": false}]}),
        json!({"r": {"t": ["x"]}}),
    ]));
    for (text, want) in [
        (r#"{"a":"x","a":"z"}"#, vec![]),
        (r#"{"a":"z","a":"x"}"#, vec![0]),
        (r#"{"a":{"b":"y"},"a":{"c":1}}"#, vec![2]),
        (r#"{"a":{"b":"y"},"a.b":"q","a":{"c":1}}"#, vec![2]),
        (r#"{"a":{"b":"q"},"a.b":"y"}"#, vec![1, 2]),
        (r#"{"a":{"b":"y","b":"n"}}"#, vec![2]),
        (r#"{"a":{"b":"n","\u0062":"y"}}"#, vec![1, 2]),
        (r#"{"\u0061":"x","a":[]}"#, vec![2]),
        (r#"{"r":[{"t":"x","t":"y"},{"t":"y","t":"x"}]}"#, vec![2, 3]),
    ] {
        let v: serde_json::Value = serde_json::from_str(text).expect("valid");
        assert_eq!(m.matches(&v), want, "{text}");
        assert_eq!(
            m.matches_json(text.as_bytes()).expect("valid"),
            want,
            "{text}"
        );
    }
}

#[test]
fn huge_values_and_deep_nesting() {
    // The deep value sits at `a.a.….a.b`, inside 60 arrays of objects.
    let path = format!("{}b", "a.".repeat(61));
    let mut deep_pattern = serde_json::Map::new();
    deep_pattern.insert(path, json!(["v"]));
    let m = Matcher::new(&pats(&[
        serde_json::Value::Object(deep_pattern),
        json!({"s": [{"suffix": "end"}]}),
    ]));
    let long = format!(
        "{}\\\"{}end",
        "é\\u00e9 ".repeat(20_000),
        "x".repeat(70_000)
    );
    let mut deep = String::new();
    for _ in 0..60 {
        deep.push_str("[{\"a\": ");
    }
    deep.push_str("{\"b\": \"v\"}");
    for _ in 0..60 {
        deep.push_str("}]");
    }
    let text = format!(r#"{{"z": [{{"q": "{long}"}}], "s": "{long}", "a": {deep}}}"#);
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid");
    assert_eq!(m.matches(&v), vec![0, 1]);
    assert_eq!(m.matches_json(text.as_bytes()).expect("valid"), vec![0, 1]);
    let skipped = format!(r#"{{"z": {deep}, "s": "{long}x"}}"#);
    assert_eq!(
        m.matches_json(skipped.as_bytes()).expect("valid"),
        Vec::<usize>::new()
    );
}

#[test]
fn summaries_never_drop_a_match() {
    // Branches are dropped on a 64-bit summary of the values and prefixes they need;
    // the reference interpreter decides, over values that share prefixes, arrays,
    // IP spellings, numbers and `$or`.
    let ps = pats(&[
        json!({"s": ["x"], "n": [{"prefix": "De"}]}),
        json!({"s": ["x"], "n": [{"prefix": "Delete"}]}),
        json!({"s": ["x"], "n": ["DeleteUser"]}),
        json!({"s": ["y"], "n": [{"prefix": "DeleteUserAndMore"}]}),
        json!({"n": [{"prefix": ""}], "k": [5]}),
        json!({"n": [{"prefix": "a\u{0}"}]}),
        json!({"ip": ["10.0.0.1"], "s": ["x"]}),
        json!({"ip": [{"cidr": "10.0.0.0/24"}], "s": ["x", "y"]}),
        json!({"$or": [{"s": ["x"], "k": [5]}, {"n": [{"prefix": "Del"}], "b": [true]}]}),
        json!({"s": ["x"], "b": [false], "z": [null]}),
        json!({"s": ["x"], "n": [{"suffix": "User"}], "k": [{"numeric": [">", 1]}]}),
        json!({"s": ["x"], "m": [{"exists": false}]}),
    ]);
    let m = Matcher::new(&ps);
    let events = [
        json!({"s": "x", "n": "DeleteUser", "k": 5}),
        json!({"s": ["y", "x"], "n": ["Get", "DeleteUserAndMore"], "b": true}),
        json!({"s": "y", "n": "DeleteUserAndMor"}),
        json!({"s": "x", "n": "De", "ip": "010.000.000.001"}),
        json!({"s": "y", "ip": "10.0.0.77", "k": 5.0}),
        json!({"s": "x", "n": "a", "b": false, "z": null, "m": 1}),
        json!({"s": "x", "n": "a\u{0}b", "k": [0, 2]}),
        json!({"s": "x", "n": "", "k": -5}),
        json!({"r": [{"s": "x", "n": "Del"}], "s": "q"}),
        json!({"n": "Delete", "b": [false, true], "s": "z"}),
    ];
    for e in &events {
        let want: Vec<usize> = (0..ps.len()).filter(|&i| ps[i].matches(e)).collect();
        assert_eq!(m.matches(e), want, "{e}");
        assert_eq!(
            m.matches_json(e.to_string().as_bytes()).expect("valid"),
            want,
            "{e}"
        );
    }
}

#[test]
fn event_errors() {
    let m = Matcher::new(&pats(&[json!({"a": [1]})]));
    assert_eq!(m.matches_json(b"[1]"), Err(EventError::NotAnObject));
    assert_eq!(m.matches_json(b"42"), Err(EventError::NotAnObject));
    assert!(matches!(
        m.matches_json(b"{\"a\": 1"),
        Err(EventError::Syntax { .. })
    ));
    assert!(matches!(
        m.matches_json(b"{\"a\": 1} x"),
        Err(EventError::Syntax { .. })
    ));
    assert!(matches!(
        m.matches_json(b"{\"b\": \"unterminated}"),
        Err(EventError::Syntax { .. })
    ));
    assert!(matches!(
        m.matches_json(b"{\"a\": 01}"),
        Err(EventError::Syntax { .. })
    ));
    assert_eq!(m.matches_json(b" {\"a\": 1.0e0} "), Ok(vec![0]));
    assert_eq!(
        m.matches_json(b"{\"a\": 1.00000000000000000001}"),
        Ok(vec![])
    );
}
