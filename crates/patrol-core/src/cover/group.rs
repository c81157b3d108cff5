//! Rules → groups → covers.
//!
//! A rule's group is its read-only flag and its [`Key`]: the services its shapes name
//! (`source` values `aws.X`, else `detail.eventSource` values `X.amazonaws.com`), or, when
//! some shape names none, the most telling field every shape constrains
//! (`detail.eventName`, `detail.errorCode`, ...). Read-only and other rules never share a
//! group, so a cover's EventBridge state fits all its rules.
//!
//! A group's rules (by id) are packed first-fit into bins whose shapes, merged into one,
//! still fit in a pattern: each bin is one cover, its shapes [`merge::reduce`]d to at most
//! [`MAX_BRANCHES`] alternatives within the size limit. So a cover never fails to fit: at
//! worst it is its bin's single merged shape.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::shape::{Leaf, Shape, Values};
use super::{Cover, CoverError, generalize, id, merge, render};
use crate::pattern::Pattern;

/// The most alternatives (`$or` branches) one cover keeps.
pub(crate) const MAX_BRANCHES: usize = 12;

/// Fields that name a group when no service does, the most telling first.
const ANCHORS: [&str; 4] = [
    "detail.eventName",
    "detail.errorCode",
    "detail.userIdentity.type",
    "detail-type",
];

/// What a group is named after (its cover ids derive from it alone, see [`id`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Key {
    /// Services, `aws.` / `.amazonaws.com` stripped (`iam`, `s3`).
    Services(BTreeSet<String>),
    /// A field every shape constrains, for rules that name no service.
    Anchor(String),
    /// Rules that constrain nothing in common.
    All,
}

/// One event rule, generalized.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub(crate) rule: String,
    pub(crate) read_only: bool,
    pub(crate) shapes: Vec<Shape>,
}

/// The services a shape names through `field` whose values are all exact strings.
fn named(shape: &Shape, field: &str, strip: fn(&str) -> &str) -> Option<BTreeSet<String>> {
    let Some(Values::List(leaves)) = shape.fields.get(field) else {
        return None;
    };
    leaves
        .values()
        .map(|l| match l {
            Leaf::Exact(serde_json::Value::String(s)) => Some(strip(s).to_owned()),
            _ => None,
        })
        .collect()
}

fn services(shape: &Shape) -> Option<BTreeSet<String>> {
    named(shape, "source", |s| s.strip_prefix("aws.").unwrap_or(s)).or_else(|| {
        named(shape, "detail.eventSource", |s| {
            s.strip_suffix(".amazonaws.com").unwrap_or(s)
        })
    })
}

pub(crate) fn key(shapes: &[Shape]) -> Key {
    let mut all = BTreeSet::new();
    let mut every_shape_names_one = !shapes.is_empty();
    for s in shapes {
        match services(s) {
            Some(found) => all.extend(found),
            None => every_shape_names_one = false,
        }
    }
    if every_shape_names_one {
        return Key::Services(all);
    }
    let in_all = |path: &str| shapes.iter().all(|s| s.fields.contains_key(path));
    if let Some(anchor) = ANCHORS.iter().find(|a| in_all(a)) {
        return Key::Anchor((*anchor).to_owned());
    }
    shapes
        .first()
        .and_then(|s| s.fields.keys().find(|p| in_all(p)))
        .map_or(Key::All, |p| Key::Anchor(p.clone()))
}

/// The covers of these rules (a partition of them), ids unique.
pub(crate) fn build(rules: Vec<Prepared>, max_chars: usize) -> Result<Vec<Cover>, CoverError> {
    let mut groups: BTreeMap<(Key, bool), Vec<Prepared>> = BTreeMap::new();
    for r in rules {
        groups
            .entry((key(&r.shapes), r.read_only))
            .or_default()
            .push(r);
    }
    let mut built: Vec<((Key, bool), Vec<Cover>)> = Vec::new();
    for ((key, read_only), mut rules) in groups {
        rules.sort_by(|a, b| a.rule.cmp(&b.rule));
        let base = id::base(&key, read_only);
        let mut covers = Vec::new();
        for (n, bin) in pack(rules, max_chars).into_iter().enumerate() {
            covers.push(cover(
                &bin,
                id::numbered(&base, n + 1),
                read_only,
                max_chars,
            )?);
        }
        built.push(((key, read_only), covers));
    }
    unique_ids(&mut built)?;
    Ok(built.into_iter().flat_map(|(_, covers)| covers).collect())
}

/// First-fit, in rule id order: a rule joins the first bin it still fits in merged.
fn pack(rules: Vec<Prepared>, max_chars: usize) -> Vec<Vec<Prepared>> {
    let mut bins: Vec<(Vec<Prepared>, Shape)> = Vec::new();
    for r in rules {
        let merged = merge::merge_all(&r.shapes);
        let fits = bins
            .iter()
            .position(|(_, m)| render::chars(std::slice::from_ref(&m.merge(&merged))) <= max_chars);
        match fits {
            Some(i) => {
                let (bin, m) = &mut bins[i];
                *m = m.merge(&merged);
                bin.push(r);
            }
            None => bins.push((vec![r], merged)),
        }
    }
    bins.into_iter().map(|(b, _)| b).collect()
}

fn cover(
    bin: &[Prepared],
    id: String,
    read_only: bool,
    max_chars: usize,
) -> Result<Cover, CoverError> {
    let all: Vec<Shape> = bin.iter().flat_map(|r| r.shapes.iter().cloned()).collect();
    let fits =
        |s: &[Shape]| render::chars(s) <= max_chars && Pattern::parse(&render::pattern(s)).is_ok();
    let mut shapes = merge::reduce(all.clone(), MAX_BRANCHES, &fits);
    if !fits(&shapes) {
        // Dropping covered shapes can leave one with more fields than the bin's merge.
        shapes = vec![merge::merge_all(&all)];
    }
    if !fits(&shapes) {
        shapes = vec![merge::merge_all(&generalize::fit(shapes, max_chars))];
    }
    // In a fixed order, whatever order the rules came in.
    shapes.sort_by_cached_key(merge::key);
    let pattern = render::pattern(&shapes);
    let first = || bin.first().map(|r| r.rule.clone()).unwrap_or_default();
    if let Err(e) = Pattern::parse(&pattern) {
        return Err(CoverError::Unrepresentable {
            rule: first(),
            message: e.to_string(),
        });
    }
    let chars = pattern.to_string().chars().count();
    if chars > max_chars {
        return Err(CoverError::Unrepresentable {
            rule: first(),
            message: format!("its cover has {chars} characters, more than {max_chars}"),
        });
    }
    let mut rules: Vec<String> = bin.iter().map(|r| r.rule.clone()).collect();
    rules.sort();
    Ok(Cover {
        id,
        pattern,
        include_read_only: read_only,
        rules,
    })
}

/// Groups whose ids collide (two keys with the same label) take their hashed form.
fn unique_ids(built: &mut [((Key, bool), Vec<Cover>)]) -> Result<(), CoverError> {
    let mut owners: HashMap<String, Vec<usize>> = HashMap::new();
    for (g, (_, covers)) in built.iter().enumerate() {
        for c in covers {
            owners.entry(c.id.clone()).or_default().push(g);
        }
    }
    let clashing: BTreeSet<usize> = owners
        .values()
        .filter(|gs| gs.len() > 1)
        .flatten()
        .copied()
        .collect();
    for g in clashing {
        let ((key, read_only), covers) = &mut built[g];
        let base = id::disambiguated(key, *read_only);
        for (n, c) in covers.iter_mut().enumerate() {
            c.id = id::numbered(&base, n + 1);
        }
    }
    let mut seen = BTreeSet::new();
    for (_, covers) in built.iter() {
        for c in covers {
            if !seen.insert(c.id.clone()) {
                return Err(CoverError::DuplicateId { id: c.id.clone() });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shapes(p: serde_json::Value) -> Vec<Shape> {
        generalize::rule_shapes(&p, 2048).expect("valid")
    }

    #[test]
    fn keys_come_from_sources_then_event_sources_then_anchors() {
        let k = |p| key(&shapes(p));
        let set = |s: &[&str]| Key::Services(s.iter().map(|x| (*x).to_owned()).collect());
        assert_eq!(
            k(json!({"source": ["aws.iam", "aws.sts"]})),
            set(&["iam", "sts"])
        );
        assert_eq!(
            k(
                json!({"detail": {"eventSource": ["logs.amazonaws.com"]}, "$or": [{"a": [1]}, {"b": [2]}]})
            ),
            set(&["logs"])
        );
        assert_eq!(k(json!({"source": ["acme.app"]})), set(&["acme.app"]));
        assert_eq!(
            k(json!({"detail-type": ["x"], "detail": {"errorCode": ["AccessDenied"]}})),
            Key::Anchor("detail.errorCode".into())
        );
        // A source given by prefix names no service.
        assert_eq!(
            k(json!({"source": [{"prefix": "aws."}], "detail": {"eventName": ["A"]}})),
            Key::Anchor("detail.eventName".into())
        );
        assert_eq!(
            k(json!({"$or": [{"source": ["aws.iam"]}, {"zz": [1]}], "y": [2]})),
            Key::Anchor("y".into())
        );
        assert_eq!(
            k(json!({"$or": [{"source": ["aws.iam"]}, {"zz": [1]}]})),
            Key::All
        );
    }

    fn prepared(rule: &str, read_only: bool, p: serde_json::Value) -> Prepared {
        Prepared {
            rule: rule.into(),
            read_only,
            shapes: shapes(p),
        }
    }

    #[test]
    fn a_group_too_large_for_one_pattern_is_split() {
        let rules: Vec<Prepared> = (0..40)
            .map(|i| {
                let names: Vec<String> = (0..10)
                    .map(|j| format!("SomeLongEventName{i:02}x{j:02}"))
                    .collect();
                prepared(
                    &format!("r{i:02}"),
                    false,
                    json!({"source": ["aws.ec2"], "detail": {"eventName": names}}),
                )
            })
            .collect();
        let covers = build(rules, 2048).expect("builds");
        assert!(covers.len() >= 4, "{}", covers.len());
        for (n, c) in covers.iter().enumerate() {
            assert_eq!(c.id, id::numbered("ec2", n + 1));
            assert!(c.pattern.to_string().chars().count() <= 2048);
        }
        let total: usize = covers.iter().map(|c| c.rules.len()).sum();
        assert_eq!(total, 40);
    }

    #[test]
    fn read_only_rules_get_their_own_covers() {
        let covers = build(
            vec![
                prepared(
                    "a",
                    false,
                    json!({"source": ["aws.ec2"], "detail": {"eventName": ["A"]}}),
                ),
                prepared(
                    "b",
                    true,
                    json!({"source": ["aws.ec2"], "detail": {"eventName": ["B"]}}),
                ),
            ],
            2048,
        )
        .expect("builds");
        let ids: Vec<(&str, bool)> = covers
            .iter()
            .map(|c| (c.id.as_str(), c.include_read_only))
            .collect();
        assert_eq!(ids, [("ec2", false), ("ec2-ro", true)]);
    }

    #[test]
    fn colliding_labels_are_hashed() {
        let covers = build(
            vec![
                prepared("a", false, json!({"source": ["aws.a-b"]})),
                prepared("b", false, json!({"source": ["aws.a", "aws.b"]})),
            ],
            2048,
        )
        .expect("builds");
        assert_eq!(covers.len(), 2);
        assert_ne!(covers[0].id, covers[1].id);
        assert!(covers.iter().all(|c| c.id.starts_with("a-b-")));
    }
}
