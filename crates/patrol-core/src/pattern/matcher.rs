//! Many patterns compiled into one matcher.
//!
//! Each `$or` branch of each pattern gets one *key* constraint, its most selective one
//! (exact values that few other branches share beat prefixes, which beat operators that
//! need evaluating). Key values go into per-field hash indexes (exact strings, numbers,
//! prefixes and suffixes by length, ignore-case forms); what cannot be hashed (wildcard,
//! anything-but, numeric, cidr, exists, IP literals) is tested in a short per-field list.
//! An event is read once ([`super::scan`]), only along the fields some pattern names; its
//! leaves probe the key indexes, and only the branches whose key hit are evaluated in
//! full, so the cost follows the number of plausible rules, not of all rules. Branches
//! with nothing but `exists: false` have no key and are evaluated for every event.
//! Array consistency uses the same search as the reference interpreter, and only when a
//! candidate actually involves array elements or absent fields.

use super::flatten::solve;
use super::op::Op;
use super::scan::{Scan, Trie, scan, scan_value};
use super::value::Scalar;
use super::{EventError, Pattern};
use rustc_hash::FxHashMap;

/// Many patterns compiled into one matcher; ids are the insertion indices.
#[derive(Debug, Clone)]
pub struct Matcher {
    trie: Trie,
    fields: Vec<FieldIndex>,
    branches: Vec<CBranch>,
    /// Branches without a key: evaluated for every event.
    always: Vec<u32>,
}

#[derive(Debug, Clone)]
struct CBranch {
    pattern: u32,
    constraints: Vec<CConstraint>,
}

#[derive(Debug, Clone)]
struct CConstraint {
    field: u32,
    ops: Vec<Op>,
    absent_ok: bool,
}

type Ids = Vec<u32>;

/// Key constraints on one field, by the kind of value they need.
#[derive(Debug, Clone, Default)]
struct FieldIndex {
    exact: FxHashMap<Box<str>, Ids>,
    numbers: FxHashMap<u64, Ids>,
    trues: Ids,
    falses: Ids,
    nulls: Ids,
    prefix: Vec<(usize, FxHashMap<Box<str>, Ids>)>,
    suffix: Vec<(usize, FxHashMap<Box<str>, Ids>)>,
    prefix_ic: Vec<(usize, FxHashMap<Box<str>, Ids>)>,
    suffix_ic: Vec<(usize, FxHashMap<Box<str>, Ids>)>,
    equals_ic: FxHashMap<Box<str>, Ids>,
    linear: Vec<(Op, u32)>,
}

fn num_key(v: f64) -> u64 {
    if v == 0.0 { 0 } else { v.to_bits() }
}

fn by_len(list: &mut Vec<(usize, FxHashMap<Box<str>, Ids>)>, s: &str, branch: u32) {
    let len = s.len();
    let pos = match list.iter().position(|(l, _)| *l == len) {
        Some(p) => p,
        None => {
            list.push((len, FxHashMap::default()));
            list.len() - 1
        }
    };
    list[pos].1.entry(s.into()).or_default().push(branch);
}

impl FieldIndex {
    fn add(&mut self, op: &Op, branch: u32) {
        match op {
            Op::Str { value, ip: None } => self
                .exact
                .entry(value.as_str().into())
                .or_default()
                .push(branch),
            Op::Num { value, .. } => self
                .numbers
                .entry(num_key(*value))
                .or_default()
                .push(branch),
            Op::Bool(true) => self.trues.push(branch),
            Op::Bool(false) => self.falses.push(branch),
            Op::Null => self.nulls.push(branch),
            Op::Prefix {
                value,
                ignore_case: false,
                ..
            } => by_len(&mut self.prefix, value, branch),
            Op::Prefix {
                value,
                ignore_case: true,
                ..
            } => by_len(&mut self.prefix_ic, value, branch),
            Op::Suffix {
                value,
                ignore_case: false,
                ..
            } => by_len(&mut self.suffix, value, branch),
            Op::Suffix {
                value,
                ignore_case: true,
                ..
            } => by_len(&mut self.suffix_ic, value, branch),
            Op::EqualsIgnoreCase { lower, .. } => self
                .equals_ic
                .entry(lower.as_str().into())
                .or_default()
                .push(branch),
            other => self.linear.push((other.clone(), branch)),
        }
    }

    fn has_ic(&self) -> bool {
        !self.prefix_ic.is_empty() || !self.suffix_ic.is_empty() || !self.equals_ic.is_empty()
    }

    /// Pushes the branches whose key this value satisfies (maybe with repeats).
    fn probe(&self, v: &Scalar<'_>, out: &mut Vec<u32>) {
        match v {
            Scalar::Str(s) => {
                let s: &str = s;
                if let Some(ids) = self.exact.get(s) {
                    out.extend_from_slice(ids);
                }
                probe_prefixes(&self.prefix, s, out);
                probe_suffixes(&self.suffix, s, out);
                if self.has_ic() {
                    let lower = s.to_lowercase();
                    if let Some(ids) = self.equals_ic.get(lower.as_str()) {
                        out.extend_from_slice(ids);
                    }
                    probe_prefixes(&self.prefix_ic, &lower, out);
                    probe_suffixes(&self.suffix_ic, &lower, out);
                }
            }
            Scalar::Num(Some(x)) => {
                if let Some(ids) = self.numbers.get(&num_key(*x)) {
                    out.extend_from_slice(ids);
                }
            }
            Scalar::Num(None) => {}
            Scalar::Bool(true) => out.extend_from_slice(&self.trues),
            Scalar::Bool(false) => out.extend_from_slice(&self.falses),
            Scalar::Null => out.extend_from_slice(&self.nulls),
        }
        for (op, b) in &self.linear {
            if op.matches(v) {
                out.push(*b);
            }
        }
    }
}

fn probe_prefixes(list: &[(usize, FxHashMap<Box<str>, Ids>)], s: &str, out: &mut Vec<u32>) {
    for (len, map) in list {
        if let Some(ids) = s.get(..*len).and_then(|p| map.get(p)) {
            out.extend_from_slice(ids);
        }
    }
}

fn probe_suffixes(list: &[(usize, FxHashMap<Box<str>, Ids>)], s: &str, out: &mut Vec<u32>) {
    for (len, map) in list {
        if let Some(ids) = s
            .len()
            .checked_sub(*len)
            .and_then(|start| s.get(start..))
            .and_then(|p| map.get(p))
        {
            out.extend_from_slice(ids);
        }
    }
}

/// How costly a constraint is as a key: about how many branches its values wake up.
fn key_cost(ops: &[Op], path: &str, freq: &FxHashMap<String, u32>) -> u64 {
    ops.iter()
        .map(|op| match op {
            Op::Str { ip: None, .. }
            | Op::Num { .. }
            | Op::Bool(_)
            | Op::Null
            | Op::EqualsIgnoreCase { .. } => {
                u64::from(freq.get(&op_key(path, op)).copied().unwrap_or(1))
            }
            Op::Prefix { value, .. } | Op::Suffix { value, .. } => {
                u64::from(freq.get(&op_key(path, op)).copied().unwrap_or(1)) * 4
                    + if value.is_empty() { 100_000 } else { 0 }
            }
            Op::Exists | Op::AnythingBut { .. } => 1_000_000,
            _ => 10_000,
        })
        .sum()
}

fn op_key(path: &str, op: &Op) -> String {
    format!("{path}\u{0}{}", op.to_json())
}

/// Per-thread buffers kept between events, so that matching allocates only its answer.
#[derive(Debug, Default)]
struct Buffers {
    scan: Scan<'static>,
    /// The candidate branches of the event being matched.
    cands: Vec<u32>,
}

thread_local! {
    static BUFFERS: std::cell::RefCell<Buffers> = std::cell::RefCell::new(Buffers::default());
}

/// Sorts leaves by field, keeping event order within a field: an insertion sort, as an
/// event has only a handful of leaves.
fn sort_leaves(leaves: &mut [super::scan::ScanLeaf<'_>]) {
    if leaves.len() > 32 {
        leaves.sort_by_key(|l| l.field);
        return;
    }
    for i in 1..leaves.len() {
        let mut j = i;
        while j > 0 && leaves[j - 1].field > leaves[j].field {
            leaves.swap(j - 1, j);
            j -= 1;
        }
    }
}

impl Matcher {
    pub fn new(patterns: &[Pattern]) -> Matcher {
        let mut field_ids: FxHashMap<String, u32> = FxHashMap::default();
        let mut trie = Trie::new();
        let mut freq: FxHashMap<String, u32> = FxHashMap::default();
        for p in patterns {
            for b in p.branches() {
                for c in b {
                    if !field_ids.contains_key(&c.path) {
                        let id = u32::try_from(field_ids.len()).unwrap_or(u32::MAX);
                        field_ids.insert(c.path.clone(), id);
                        trie.insert(&c.path, id);
                    }
                    for op in &c.ops {
                        *freq.entry(op_key(&c.path, op)).or_default() += 1;
                    }
                }
            }
        }
        let mut fields = vec![FieldIndex::default(); field_ids.len()];
        let mut branches = Vec::new();
        let mut always = Vec::new();
        for (pid, p) in patterns.iter().enumerate() {
            for b in p.branches() {
                let id = u32::try_from(branches.len()).unwrap_or(u32::MAX);
                let constraints: Vec<CConstraint> = b
                    .iter()
                    .map(|c| CConstraint {
                        field: field_ids.get(&c.path).copied().unwrap_or(0),
                        ops: c.ops.clone(),
                        absent_ok: c.absent_ok,
                    })
                    .collect();
                let key = b
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| !c.absent_ok && !c.ops.is_empty())
                    .min_by_key(|(_, c)| key_cost(&c.ops, &c.path, &freq))
                    .map(|(i, _)| i);
                match key {
                    Some(k) => {
                        let c = &constraints[k];
                        for op in &c.ops {
                            fields[c.field as usize].add(op, id);
                        }
                    }
                    None => always.push(id),
                }
                branches.push(CBranch {
                    pattern: u32::try_from(pid).unwrap_or(u32::MAX),
                    constraints,
                });
            }
        }
        Matcher {
            trie,
            fields,
            branches,
            always,
        }
    }

    /// Ids of the matching patterns, ascending.
    pub fn matches(&self, event: &serde_json::Value) -> Vec<usize> {
        let mut s = Scan::default();
        scan_value(&self.trie, event, &mut s);
        self.run(&mut s)
    }

    /// Like [`Matcher::matches`], from the event's raw JSON bytes. Fields that no pattern
    /// names are skipped without being fully validated.
    pub fn matches_json(&self, event: &[u8]) -> Result<Vec<usize>, EventError> {
        BUFFERS.with(|cell| match cell.try_borrow_mut() {
            Ok(mut bufs) => self.matches_json_in(event, &mut bufs),
            Err(_) => self.matches_json_in(event, &mut Buffers::default()),
        })
    }

    fn matches_json_in(&self, event: &[u8], bufs: &mut Buffers) -> Result<Vec<usize>, EventError> {
        let mut s = std::mem::take(&mut bufs.scan).recycle();
        let found = scan(&self.trie, event, &mut s).map(|()| {
            sort_leaves(&mut s.leaves);
            self.run_with(&s, &mut bufs.cands)
        });
        bufs.scan = s.recycle();
        found
    }

    fn run(&self, s: &mut Scan<'_>) -> Vec<usize> {
        sort_leaves(&mut s.leaves);
        BUFFERS.with(|cell| match cell.try_borrow_mut() {
            Ok(mut bufs) => self.run_with(s, &mut bufs.cands),
            Err(_) => self.run_with(s, &mut Vec::new()),
        })
    }

    fn run_with(&self, s: &Scan<'_>, cands: &mut Vec<u32>) -> Vec<usize> {
        cands.clear();
        for leaf in &s.leaves {
            self.fields[leaf.field as usize].probe(&leaf.value, cands);
        }
        cands.extend_from_slice(&self.always);
        cands.sort_unstable();
        cands.dedup();
        let mut out: Vec<usize> = Vec::new();
        for &b in cands.iter() {
            let branch = &self.branches[b as usize];
            let pid = branch.pattern as usize;
            if out.last() == Some(&pid) {
                continue;
            }
            if self.eval(branch, s) {
                out.push(pid);
            }
        }
        out
    }

    fn eval(&self, branch: &CBranch, s: &Scan<'_>) -> bool {
        let leaves = &s.leaves;
        let range = |field: u32| {
            let lo = leaves.partition_point(|l| l.field < field);
            let hi = lo + leaves[lo..].partition_point(|l| l.field == field);
            lo..hi
        };
        let mut simple = true;
        for c in &branch.constraints {
            let r = range(c.field);
            if c.absent_ok {
                if !r.is_empty() {
                    simple = false;
                }
                continue;
            }
            let mut any = false;
            for l in &leaves[r] {
                if c.ops.iter().any(|op| op.matches(&l.value)) {
                    any = true;
                    if l.mem_len > 0 {
                        simple = false;
                    }
                }
            }
            if !any {
                return false;
            }
        }
        if simple {
            return true;
        }
        let mut cands = Vec::with_capacity(branch.constraints.len());
        let mut at_path = Vec::with_capacity(branch.constraints.len());
        let mut absent_ok = Vec::with_capacity(branch.constraints.len());
        for c in &branch.constraints {
            let r = range(c.field);
            cands.push(
                r.clone()
                    .filter(|&i| c.ops.iter().any(|op| op.matches(&leaves[i].value)))
                    .collect(),
            );
            at_path.push(r.collect());
            absent_ok.push(c.absent_ok);
        }
        let mem = |i: usize| -> &[(u32, u32)] { s.mem(&leaves[i]) };
        solve(&cands, &absent_ok, &at_path, &mem)
    }
}

#[cfg(test)]
mod tests {
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
}
