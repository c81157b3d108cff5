//! EventBridge's "Rule is too complex" check on wildcards.
//!
//! EventBridge (event-ruler's `MachineComplexityEvaluator`) rejects a pattern whose
//! wildcards could keep too many matches in flight for one event value: the complexity of
//! a field is the most wildcard-pattern prefixes that one string can match at once, over
//! every string. `*a*a*` on `aa` is matched by `*`, `*a`, `*a*`, `*a*a` and `*a*a*`: 5.
//! Leading and trailing wildcards, wildcards followed by the characters before them, and
//! many wildcard values on one field all add up. Above [`MAX_COMPLEXITY`] the pattern is
//! rejected with EventBridge's message, [`TOO_COMPLEX`].
//!
//! How it is counted, as event-ruler builds its state machine:
//! - Each value is matched as its JSON string, quotes included (`"*.png"`), byte by byte
//!   (UTF-8); `\*` and `\\` are literal bytes.
//! - A pattern's fields are compiled in sorted key order, one state machine per field per
//!   place in that order; `$or` branches that got to a field through the same values share
//!   its machine, and so do the wildcard values of one list. Identical values count once.
//! - A machine reachable only through an `exists: false` is not counted (what EventBridge
//!   does; event-ruler 2.1 counts it by default).
//! - `anything-but` wildcards count like `wildcard` values (event-ruler shares some states
//!   between the values of one `anything-but` list, so it can count one or two fewer).
//!
//! The limit: EventBridge accepted 9 (`*:stack/NAME/*` for three names) and 8 (four
//! `*.ext` values, or two `*/datasync/*.ext`), and rejected 12 (four names) and 16 (four
//! `*/datasync/*.ext`); 10 fits them all, and the tests pin them.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::PatternError;
use super::anything_but::AnythingBut;
use super::op::Op;
use super::parse::Branch;

/// The most wildcard prefixes one value may match at once.
pub const MAX_COMPLEXITY: usize = 10;

/// EventBridge's message, word for word.
pub const TOO_COMPLEX: &str = "Rule is too complex - try using fewer wildcard characters or fewer repeating character sequences after a wildcard character";

/// Past this many sets of states explored, a field counts as too complex: only a
/// contrived pattern gets here (each set holds at most [`MAX_COMPLEXITY`] states).
const MAX_EXPLORED: usize = 100_000;

/// A wildcard token: a byte, or `STAR` for `*`.
const STAR: u16 = 256;

/// Rejects the pattern (its expanded `branches`) if some field is too complex.
pub(crate) fn check(branches: &[Branch]) -> Result<(), PatternError> {
    let has_wildcard = branches
        .iter()
        .flatten()
        .any(|c| c.ops.iter().any(|op| !wildcards(op).is_empty()));
    if !has_wildcard {
        return Ok(());
    }
    let machines = Machines::build(branches);
    for (path, values) in machines.counted() {
        let n = complexity(&values);
        if n > MAX_COMPLEXITY {
            return Err(PatternError {
                code: "too-complex",
                path: path.to_owned(),
                message: format!(
                    "EventBridge rejects this pattern: \"{TOO_COMPLEX}\". One value can be matched by {n} or more prefixes of the wildcards on `{path}` at once, and EventBridge allows {MAX_COMPLEXITY}: use fewer wildcard values on this field, fewer `*` in each, or `prefix`/`suffix` where they do"
                ),
            });
        }
    }
    Ok(())
}

/// The wildcard strings of one operator (as written: `\*` still escaped).
fn wildcards(op: &Op) -> Vec<&str> {
    match op {
        Op::Wildcard(w) => vec![w.source.as_str()],
        Op::AnythingBut {
            inner: AnythingBut::Wildcard(ws),
            ..
        } => ws.iter().map(|w| w.source.as_str()).collect(),
        _ => Vec::new(),
    }
}

/// What makes two values of a field the same to event-ruler (the same next state).
fn identity(op: &Op) -> String {
    match op {
        Op::Num { value, .. } => format!("number {value:?}"),
        other => other.to_json().to_string(),
    }
}

/// event-ruler's states between fields (`NameState`s) and each one's field machines.
struct Machines {
    /// Per name state: field path → machine index.
    fields: Vec<BTreeMap<String, usize>>,
    machines: Vec<Machine>,
}

#[derive(Default)]
struct Machine {
    path: String,
    /// Wildcard values, by identity, with their tokens.
    wildcards: BTreeMap<String, Vec<u16>>,
    /// Value identity → the name state it leads to.
    next: HashMap<String, usize>,
    /// Name states reached through a value (not only through `exists: false`).
    through_values: HashSet<usize>,
}

impl Machines {
    fn build(branches: &[Branch]) -> Machines {
        let mut m = Machines {
            fields: vec![BTreeMap::new()],
            machines: Vec::new(),
        };
        for branch in branches {
            let mut constraints: Vec<_> = branch.iter().collect();
            // Java sorts the keys as strings: by UTF-16 code units.
            constraints.sort_by(|a, b| a.path.encode_utf16().cmp(b.path.encode_utf16()));
            let mut states = vec![0usize];
            for c in constraints {
                let mut values: Vec<(String, Option<&Op>)> =
                    c.ops.iter().map(|op| (identity(op), Some(op))).collect();
                if c.absent_ok {
                    values.push(("exists: false".to_owned(), None));
                }
                let mut next_states = Vec::new();
                for state in states {
                    let mi = m.machine(state, &c.path);
                    let mut last: Option<usize> = None;
                    for (id, op) in &values {
                        if let Some(op) = op {
                            for w in wildcards(op) {
                                m.machines[mi]
                                    .wildcards
                                    .entry(format!("{id} {w}"))
                                    .or_insert_with(|| tokens(w));
                            }
                        }
                        let to = match m.machines[mi].next.get(id) {
                            Some(&existing) => existing,
                            None => {
                                let fresh = match last {
                                    Some(l) => l,
                                    None => {
                                        m.fields.push(BTreeMap::new());
                                        m.fields.len() - 1
                                    }
                                };
                                m.machines[mi].next.insert(id.clone(), fresh);
                                fresh
                            }
                        };
                        last = Some(to);
                        if op.is_some() {
                            m.machines[mi].through_values.insert(to);
                        }
                        if !next_states.contains(&to) {
                            next_states.push(to);
                        }
                    }
                }
                states = next_states;
            }
        }
        m
    }

    fn machine(&mut self, state: usize, path: &str) -> usize {
        if let Some(&i) = self.fields[state].get(path) {
            return i;
        }
        self.machines.push(Machine {
            path: path.to_owned(),
            ..Machine::default()
        });
        let i = self.machines.len() - 1;
        self.fields[state].insert(path.to_owned(), i);
        i
    }

    /// The machines EventBridge counts (reachable from the start through values), with
    /// their wildcard values.
    fn counted(&self) -> Vec<(&str, Vec<&[u16]>)> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut todo = vec![0usize];
        while let Some(state) = todo.pop() {
            if !seen.insert(state) {
                continue;
            }
            for &mi in self.fields[state].values() {
                let machine = &self.machines[mi];
                if !machine.wildcards.is_empty() {
                    out.push((
                        machine.path.as_str(),
                        machine.wildcards.values().map(Vec::as_slice).collect(),
                    ));
                }
                todo.extend(machine.through_values.iter().copied());
            }
        }
        out.sort_by_key(|(path, _)| *path);
        out.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        out
    }
}

/// A wildcard as event-ruler matches it: `"`, its bytes (`STAR` for `*`), `"`.
fn tokens(source: &str) -> Vec<u16> {
    let mut out = vec![u16::from(b'"')];
    let mut bytes = source.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'*' => out.push(STAR),
            b'\\' => out.extend(bytes.next().map(u16::from)),
            b => out.push(u16::from(b)),
        }
    }
    out.push(u16::from(b'"'));
    out
}

/// The most prefixes of `patterns` (token lists) that one string matches at once,
/// stopping early past [`MAX_COMPLEXITY`] (then some number above it).
///
/// The states are (pattern, tokens matched); a set of them is where the patterns can be
/// after some string, and its size is the number of prefixes that string matches. Every
/// reachable set is explored, one byte at a time: each byte some pattern names, and one
/// byte that none does.
fn complexity(patterns: &[&[u16]]) -> usize {
    type State = (u32, u32);
    let closure = |set: &mut Vec<State>| {
        let mut i = 0;
        while i < set.len() {
            let (p, k) = set[i];
            if patterns[p as usize].get(k as usize) == Some(&STAR) && !set.contains(&(p, k + 1)) {
                set.push((p, k + 1));
            }
            i += 1;
        }
        set.sort_unstable();
        set.dedup();
    };
    let mut alphabet: Vec<u16> = patterns
        .iter()
        .flat_map(|p| p.iter().copied())
        .filter(|t| *t != STAR)
        .collect();
    alphabet.sort_unstable();
    alphabet.dedup();
    // A byte no pattern names (all 256 named is impossible in 4,096 characters, but
    // then there is simply no such byte).
    let other = (0..=255u16).find(|b| alphabet.binary_search(b).is_err());
    alphabet.extend(other);

    let mut start: Vec<State> = (0..patterns.len() as u32).map(|p| (p, 0)).collect();
    closure(&mut start);
    let mut seen: HashSet<Vec<State>> = HashSet::new();
    let mut todo = vec![start];
    let mut most = 0;
    while let Some(set) = todo.pop() {
        for &b in &alphabet {
            let mut next: Vec<State> = Vec::new();
            for &(p, k) in &set {
                let pattern = patterns[p as usize];
                // Just past a `*`: it takes any byte and stays.
                if k > 0 && pattern.get(k as usize - 1) == Some(&STAR) {
                    next.push((p, k));
                }
                if pattern.get(k as usize) == Some(&b) {
                    next.push((p, k + 1));
                }
            }
            if next.is_empty() {
                continue;
            }
            closure(&mut next);
            most = most.max(next.len());
            if most > MAX_COMPLEXITY || seen.len() > MAX_EXPLORED {
                return most.max(MAX_COMPLEXITY + 1);
            }
            if seen.insert(next.clone()) {
                todo.push(next);
            }
        }
    }
    most
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::Pattern;
    use serde_json::{Value, json};

    /// Complexity of wildcard values without the quotes, as event-ruler's own tests add
    /// them (`ByteMachine.addPattern(Patterns.wildcardMatch("*a*a"))`).
    fn bare(patterns: &[&str]) -> usize {
        let toks: Vec<Vec<u16>> = patterns
            .iter()
            .map(|p| {
                let t = tokens(p);
                t[1..t.len() - 1].to_vec()
            })
            .collect();
        let refs: Vec<&[u16]> = toks.iter().map(Vec::as_slice).collect();
        complexity(&refs)
    }

    /// event-ruler's `MachineComplexityEvaluatorTest`, value for value.
    #[test]
    fn counts_what_event_ruler_counts() {
        for (want, patterns) in [
            (2, &["*ab"][..]),
            (3, &["*aa"]),
            (2, &["a*b"]),
            (2, &["aa*"]),
            (2, &["a*bc"]),
            (3, &["a*bb"]),
            (3, &["a*bcb"]),
            (4, &["a*bbb"]),
            (4, &["*ab*ad"]),
            (3, &["*ab*d"]),
            (4, &["*aba*"]),
            (5, &["a*b*bb"]),
            (4, &["a*b*cb"]),
            (3, &["a*b*cd"]),
            (4, &["a*b*b"]),
            (4, &["a*bb*"]),
            (3, &["ab*b*"]),
            (3, &["ab*c", "x*xx"]),
            (4, &["*abc", "*abcde"]),
            (4, &["a*bcd", "ab*cd"]),
            (4, &["a*bc", "a*bcde"]),
            (7, &["a*aaa", "aa*aa"]),
            (4, &["a*bc", "abc*d"]),
            (6, &["a*aaa", "aaa*a"]),
            (5, &["a*aax", "aaa*x"]),
            (4, &["a*bc", "abc*"]),
            (5, &["a*aa", "aaa*"]),
            (3, &["abc*", "abcde*"]),
            (6, &["ab*cd", "ab*wx", "ab*yz"]),
            (7, &["*ab*b*b*"]),
            (17, &["*a*a*a*a*a*a*a*a*"]),
            (1, &["abc"]),
            (
                10,
                &["F*eatureFeature", "Fe*atureFeature", "Fea*tureFeature"],
            ),
        ] {
            assert_eq!(
                bare(patterns).min(MAX_COMPLEXITY + 1),
                want.min(MAX_COMPLEXITY + 1),
                "{patterns:?}"
            );
        }
    }

    /// event-ruler's "Quamina exploder": 32 wildcards on one field, complexity 45.
    #[test]
    fn quamina_exploder_is_far_too_complex() {
        let words = [
            "aahed*", "aal*ii", "aargh*", "aarti*", "a*baca", "*abaci", "a*back", "ab*acs",
            "abaf*t", "*abaka", "ab*amp", "a*band", "*abase", "abash*", "abas*k", "ab*ate",
            "aba*ya", "abbas*", "abbed*", "ab*bes", "abbey*", "*abbot", "ab*cee", "abea*m",
            "abe*ar", "a*bele", "a*bers", "abet*s", "*abhor", "abi*de", "a*bies", "*abled",
        ];
        assert!(bare(&words) > MAX_COMPLEXITY);
    }

    fn rejected(p: Value) -> Option<PatternError> {
        Pattern::parse(&p).err().filter(|e| e.code == "too-complex")
    }

    /// What EventBridge said to real deployments (see the module's header).
    #[test]
    fn eventbridge_rejects_what_it_rejected_and_accepts_what_it_accepted() {
        let stacks = |names: &[&str]| {
            let values: Vec<Value> = names
                .iter()
                .map(|n| json!({"wildcard": format!("*:stack/{n}/*")}))
                .collect();
            json!({"source": ["aws.cloudformation"], "detail": {"stack-id": values}})
        };
        assert!(rejected(stacks(&["ApiStack", "WorkerStack", "SharedStack"])).is_none());
        let e = rejected(stacks(&[
            "ApiStack",
            "WorkerStack",
            "SharedStack",
            "MonitoringStack",
        ]))
        .expect("too complex");
        assert_eq!(e.path, "detail.stack-id");
        assert!(e.message.contains(TOO_COMPLEX), "{}", e.message);

        let ext = |dir: &str| {
            let values: Vec<Value> = ["bif", "tiff", "tif", "svs"]
                .iter()
                .map(|x| json!({"wildcard": format!("{dir}*.{x}")}))
                .collect();
            json!({"detail": {"object": {"key": values}}})
        };
        assert!(rejected(ext("")).is_none());
        assert!(rejected(ext("*/datasync/")).is_some());
        let two = json!({"detail": {"object": {"key": [
            {"wildcard": "*/datasync/*.bif"}, {"wildcard": "*/datasync/*.tif"}]}}});
        assert!(rejected(two).is_none());
    }

    #[test]
    fn repeated_characters_after_a_wildcard_add_up() {
        // `"*a*a*a*a*"` on `"aaaa`: 9 prefixes; one more `a*` makes 11.
        assert!(rejected(json!({"f": [{"wildcard": "*a*a*a*a*"}]})).is_none());
        let e = rejected(json!({"f": [{"wildcard": "*a*a*a*a*a*"}]})).expect("too complex");
        assert_eq!((e.code, e.path.as_str()), ("too-complex", "f"));
        // Escaped stars are plain characters.
        assert!(rejected(json!({"f": [{"wildcard": "\\*a\\*a\\*a\\*a\\*a\\*"}]})).is_none());
        // Fields are counted apart, values of one field together.
        assert!(
            rejected(json!({"f": [{"wildcard": "*a*a*a*a*"}], "g": [{"wildcard": "*a*a*a*a*"}]}))
                .is_none()
        );
        assert!(
            rejected(
                json!({"f": [{"wildcard": "*a*a*"}, {"wildcard": "*b*b*"}, {"wildcard": "*c*c*"}]})
            )
            .is_some()
        );
        // The same value twice counts once.
        assert!(
            rejected(json!({"f": [{"wildcard": "*a*a*a*a*"}, {"wildcard": "*a*a*a*a*"}]}))
                .is_none()
        );
    }

    #[test]
    fn anything_but_wildcards_count_too() {
        assert!(rejected(json!({"f": [{"anything-but": {"wildcard": "*a*a*a*a*a*"}}]})).is_some());
        assert!(rejected(json!({"f": [{"anything-but": {"wildcard": ["*a*", "*b*"]}}]})).is_none());
    }

    #[test]
    fn or_branches_share_a_field_only_through_the_same_values() {
        // Fields are compiled in key order: `a` before `z`.
        let branch = |a: &str, w: &str| json!({"a": [a], "z": [{"wildcard": w}]});
        // Same `a`: one machine for `z` holds both wildcards; `"xxxyyy` is matched by 4
        // prefixes of the first and 7 of the second.
        let same = json!({"$or": [branch("a", "*x*x*x*"), branch("a", "*y*y*y*")]});
        assert!(rejected(same).is_some());
        // Different `a`s: two machines of 7 each. (With `z` first, it would be one.)
        let apart = json!({"$or": [branch("a", "*x*x*x*"), branch("b", "*y*y*y*")]});
        assert!(rejected(apart).is_none());
        let first = |a: &str, w: &str| json!({"z": [a], "a": [{"wildcard": w}]});
        let shared = json!({"$or": [first("a", "*x*x*x*"), first("b", "*y*y*y*")]});
        assert!(rejected(shared).is_some());
    }

    #[test]
    fn behind_exists_false_is_not_counted() {
        let p = json!({"a": [{"exists": false}], "z": [{"wildcard": "*a*a*a*a*a*"}]});
        assert!(rejected(p).is_none());
        let p = json!({"a": ["x", {"exists": false}], "z": [{"wildcard": "*a*a*a*a*a*"}]});
        assert!(rejected(p).is_some());
        let p = json!({"z": [{"exists": false}], "a": [{"wildcard": "*a*a*a*a*a*"}]});
        assert!(rejected(p).is_some());
    }
}
