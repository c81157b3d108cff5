//! The reference interpreter: flatten the whole event, test every constraint against
//! every leaf, then search for an array-consistent choice. Slow and plain on purpose;
//! the compiled [`super::Matcher`] is tested against it.

use super::flatten::{Leaf, flatten, solve};
use super::parse::Branch;
use super::{Mismatch, Pattern};
use serde_json::Value;

struct Evaluated {
    cands: Vec<Vec<usize>>,
    at_path: Vec<Vec<usize>>,
    absent_ok: Vec<bool>,
}

fn evaluate(branch: &Branch, leaves: &[Leaf<'_>]) -> Evaluated {
    let mut ev = Evaluated {
        cands: Vec::new(),
        at_path: Vec::new(),
        absent_ok: Vec::new(),
    };
    for c in branch {
        let at: Vec<usize> = (0..leaves.len())
            .filter(|&i| leaves[i].path == c.path)
            .collect();
        let cands = at
            .iter()
            .copied()
            .filter(|&i| c.ops.iter().any(|op| op.matches(&leaves[i].value)))
            .collect();
        ev.cands.push(cands);
        ev.at_path.push(at);
        ev.absent_ok.push(c.absent_ok);
    }
    ev
}

fn branch_matches(branch: &Branch, leaves: &[Leaf<'_>]) -> bool {
    let ev = evaluate(branch, leaves);
    solve(&ev.cands, &ev.absent_ok, &ev.at_path, &|i| {
        leaves[i].mem.as_slice()
    })
}

pub(crate) fn matches(pattern: &Pattern, event: &Value) -> bool {
    let leaves = flatten(event);
    pattern.branches.iter().any(|b| branch_matches(b, &leaves))
}

pub(crate) fn explain(pattern: &Pattern, event: &Value) -> Result<(), Mismatch> {
    if !event.is_object() {
        return Err(Mismatch {
            path: String::new(),
            reason: "the event is not a JSON object".into(),
        });
    }
    let leaves = flatten(event);
    let mut best: Option<(usize, Mismatch)> = None;
    for branch in &pattern.branches {
        let ev = evaluate(branch, &leaves);
        if solve(&ev.cands, &ev.absent_ok, &ev.at_path, &|i| {
            leaves[i].mem.as_slice()
        }) {
            return Ok(());
        }
        let mut satisfied = 0;
        let mut first: Option<Mismatch> = None;
        for (i, c) in branch.iter().enumerate() {
            let alone_ok = !ev.cands[i].is_empty() || (c.absent_ok && ev.at_path[i].is_empty());
            if alone_ok {
                satisfied += 1;
                continue;
            }
            if first.is_some() {
                continue;
            }
            let expected: Vec<Value> = c.ops.iter().map(super::op::Op::to_json).collect();
            let expected = if c.absent_ok && expected.is_empty() {
                "to be absent".to_string()
            } else {
                let mut s = format!("one of {}", Value::Array(expected));
                if c.absent_ok {
                    s.push_str(" or to be absent");
                }
                s
            };
            let reason = if ev.at_path[i].is_empty() {
                format!("the field is missing; the pattern expects {expected}")
            } else {
                let seen: Vec<String> = ev.at_path[i]
                    .iter()
                    .take(3)
                    .map(|&l| leaves[l].value.describe())
                    .collect();
                let more = if ev.at_path[i].len() > 3 { ", ..." } else { "" };
                format!(
                    "the event has {}{more}; the pattern expects {expected}",
                    seen.join(", ")
                )
            };
            first = Some(Mismatch {
                path: c.path.clone(),
                reason,
            });
        }
        let mismatch = first.unwrap_or_else(|| Mismatch {
            path: branch.iter().map(|c| c.path.clone()).next().unwrap_or_default(),
            reason: "each field matches on its own, but only in different elements of the same array (fields from different array elements never combine)".into(),
        });
        if best.as_ref().is_none_or(|(s, _)| satisfied > *s) {
            best = Some((satisfied, mismatch));
        }
    }
    Err(best.map_or_else(
        || Mismatch {
            path: String::new(),
            reason: "no branch".into(),
        },
        |(_, m)| m,
    ))
}
