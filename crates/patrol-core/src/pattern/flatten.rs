//! An event (`serde_json::Value`) → its leaves: every scalar with its dotted path and the
//! array elements it sits in (event-ruler's "array membership"). Used by the reference
//! interpreter; the fast matcher has its own scanner over raw bytes.

use super::value::Scalar;
use serde_json::Value;

/// Which element of which array a leaf sits in; array ids are unique within one event.
pub(crate) type Membership = Vec<(u32, u32)>;

#[derive(Debug)]
pub(crate) struct Leaf<'a> {
    pub(crate) path: String,
    pub(crate) value: Scalar<'a>,
    pub(crate) mem: Membership,
}

/// All leaves of an event. A non-object event has none.
pub(crate) fn flatten(event: &Value) -> Vec<Leaf<'_>> {
    let mut out = Vec::new();
    if event.is_object() {
        let mut next_array = 0;
        walk(event, None, &mut Vec::new(), &mut next_array, &mut out);
    }
    out
}

/// `path` is `None` at the root (an empty key is a real, empty path segment).
fn walk<'a>(
    v: &'a Value,
    path: Option<&str>,
    mem: &mut Membership,
    next_array: &mut u32,
    out: &mut Vec<Leaf<'a>>,
) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let p = match path {
                    None => k.clone(),
                    Some(prefix) => format!("{prefix}.{k}"),
                };
                walk(child, Some(&p), mem, next_array, out);
            }
        }
        Value::Array(items) => {
            let id = *next_array;
            *next_array += 1;
            for (i, item) in items.iter().enumerate() {
                mem.push((id, u32::try_from(i).unwrap_or(u32::MAX)));
                walk(item, path, mem, next_array, out);
                mem.pop();
            }
        }
        scalar => {
            if let Some(value) = Scalar::from_json(scalar) {
                let path = path.unwrap_or_default().to_string();
                out.push(Leaf {
                    path,
                    value,
                    mem: mem.clone(),
                });
            }
        }
    }
}

/// True when a leaf with membership `mem` can sit beside leaves whose combined
/// membership is `state`: no array in common with a different element index.
pub(crate) fn compatible(state: &[(u32, u32)], mem: &[(u32, u32)]) -> bool {
    mem.iter()
        .all(|(id, idx)| state.iter().all(|(sid, sidx)| sid != id || sidx == idx))
}

/// Is there one leaf per constraint (candidates in `cands[i]`, or "absent" when
/// `absent_ok[i]`) such that all chosen leaves are array-consistent, and no leaf at an
/// "absent" constraint's path (`at_path[i]`) is consistent with them?
pub(crate) fn solve<'m>(
    cands: &[Vec<usize>],
    absent_ok: &[bool],
    at_path: &[Vec<usize>],
    mem: &dyn Fn(usize) -> &'m [(u32, u32)],
) -> bool {
    let mut state = Vec::new();
    let mut absent = vec![false; cands.len()];
    choose(0, cands, absent_ok, at_path, mem, &mut state, &mut absent)
}

fn choose<'m>(
    i: usize,
    cands: &[Vec<usize>],
    absent_ok: &[bool],
    at_path: &[Vec<usize>],
    mem: &dyn Fn(usize) -> &'m [(u32, u32)],
    state: &mut Vec<(u32, u32)>,
    absent: &mut [bool],
) -> bool {
    if i == cands.len() {
        return absent
            .iter()
            .enumerate()
            .filter(|(_, a)| **a)
            .all(|(j, _)| at_path[j].iter().all(|&leaf| !compatible(state, mem(leaf))));
    }
    for &leaf in &cands[i] {
        let m = mem(leaf);
        if !compatible(state, m) {
            continue;
        }
        let before = state.len();
        for e in m {
            if !state.contains(e) {
                state.push(*e);
            }
        }
        let ok = choose(i + 1, cands, absent_ok, at_path, mem, state, absent);
        state.truncate(before);
        if ok {
            return true;
        }
    }
    if absent_ok[i] {
        absent[i] = true;
        let ok = choose(i + 1, cands, absent_ok, at_path, mem, state, absent);
        absent[i] = false;
        if ok {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flattens_with_membership() {
        let e = json!({"a": [{"b": 1}, {"b": [2, 3]}], "c": {"d": null}, "e": [], "f": {}});
        let leaves = flatten(&e);
        let paths: Vec<&str> = leaves.iter().map(|l| l.path.as_str()).collect();
        assert_eq!(paths, ["a.b", "a.b", "a.b", "c.d"]);
        assert_eq!(leaves[0].mem, vec![(0, 0)]);
        assert_eq!(leaves[2].mem, vec![(0, 1), (1, 1)]);
        assert!(!compatible(&leaves[1].mem, &leaves[2].mem));
        assert!(compatible(&[(0, 1)], &leaves[2].mem));
        assert!(!compatible(&leaves[0].mem, &leaves[1].mem));
    }
}
