//! Fewer shapes for the same events, or a few more: dropping shapes another one covers and
//! merging shapes that differ in one field only (both exact, [`simplify`]), then merging the
//! pair that loses least until the shapes are few and small enough ([`reduce`]).

use std::collections::{BTreeSet, HashMap};

use super::shape::Shape;

/// Above this many shapes, [`reduce`] first merges neighbours in a cheap order instead of
/// looking at every pair.
const PAIRWISE_MAX: usize = 48;

/// Every shape merged into one (the fields all have, each with the union of values).
pub(crate) fn merge_all(shapes: &[Shape]) -> Shape {
    let mut it = shapes.iter();
    let Some(first) = it.next() else {
        return Shape::default();
    };
    it.fold(first.clone(), |acc, s| acc.merge(s))
}

/// The same events, with fewer shapes: without duplicates or shapes another covers, and
/// with shapes that differ in one field merged into one.
pub(crate) fn simplify(shapes: Vec<Shape>) -> Vec<Shape> {
    let mut shapes = dedup(shapes);
    loop {
        shapes = drop_covered(shapes);
        let (merged, changed) = merge_exact_pass(shapes);
        shapes = merged;
        if !changed {
            return shapes;
        }
    }
}

/// At most `max` shapes that together `fit`, covering at least what `shapes` cover: the
/// exact simplifications, then lossy merges of the pair that loses least ([`Shape::merge_loss`]),
/// down to one shape if need be (which the caller checks).
pub(crate) fn reduce(
    shapes: Vec<Shape>,
    max: usize,
    fits: &dyn Fn(&[Shape]) -> bool,
) -> Vec<Shape> {
    let mut shapes = simplify(shapes);
    while shapes.len() > PAIRWISE_MAX {
        shapes = simplify(halve(shapes));
    }
    while shapes.len() > 1 && (shapes.len() > max || !fits(&shapes)) {
        let mut best: Option<(f64, usize, usize)> = None;
        for i in 0..shapes.len() {
            for j in i + 1..shapes.len() {
                let loss = shapes[i].merge_loss(&shapes[j]);
                if best.is_none_or(|(l, _, _)| loss < l) {
                    best = Some((loss, i, j));
                }
            }
        }
        let Some((_, i, j)) = best else { break };
        let b = shapes.remove(j);
        shapes[i] = shapes[i].merge(&b);
        shapes = simplify(shapes);
    }
    shapes
}

/// A shape's text, for ordering and duplicates.
pub(crate) fn key(s: &Shape) -> String {
    s.fields
        .iter()
        .map(|(p, v)| format!("{p}={}", v.to_json()))
        .collect::<Vec<_>>()
        .join("\u{1}")
}

fn dedup(shapes: Vec<Shape>) -> Vec<Shape> {
    let mut seen = BTreeSet::new();
    shapes.into_iter().filter(|s| seen.insert(key(s))).collect()
}

/// Removes every shape another one covers (of two that cover each other, the later).
fn drop_covered(shapes: Vec<Shape>) -> Vec<Shape> {
    let n = shapes.len();
    let mut keep = vec![true; n];
    for i in 0..n {
        for j in 0..n {
            if i != j && keep[j] && keep[i] && shapes[j].covers(&shapes[i]) {
                if shapes[i].covers(&shapes[j]) && i < j {
                    continue;
                }
                keep[i] = false;
            }
        }
    }
    shapes
        .into_iter()
        .zip(keep)
        .filter_map(|(s, k)| k.then_some(s))
        .collect()
}

/// One pass of exact merges: shapes alike but for one field (found by hashing each shape
/// once per field, without that field's values) become one.
fn merge_exact_pass(shapes: Vec<Shape>) -> (Vec<Shape>, bool) {
    let mut out: Vec<Option<Shape>> = Vec::with_capacity(shapes.len());
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut changed = false;
    for s in shapes {
        let signatures: Vec<String> = s
            .fields
            .keys()
            .map(|skip| {
                s.fields
                    .iter()
                    .map(|(p, v)| {
                        if p == skip {
                            format!("{p}=*")
                        } else {
                            format!("{p}={}", v.to_json())
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\u{1}")
            })
            .collect();
        let found = signatures.iter().find_map(|sig| index.get(sig).copied());
        match found {
            Some(at) => {
                if let Some(existing) = out.get_mut(at).and_then(Option::as_mut)
                    && let Some(m) = existing.merge_exact(&s)
                {
                    *existing = m;
                    changed = true;
                    continue;
                }
                push(&mut out, &mut index, s, signatures);
            }
            None => push(&mut out, &mut index, s, signatures),
        }
    }
    (out.into_iter().flatten().collect(), changed)
}

fn push(
    out: &mut Vec<Option<Shape>>,
    index: &mut HashMap<String, usize>,
    s: Shape,
    signatures: Vec<String>,
) {
    let at = out.len();
    for sig in signatures {
        index.entry(sig).or_insert(at);
    }
    out.push(Some(s));
}

/// Merges neighbours two by two, in an order that puts shapes with the same fields side
/// by side (so most of these merges keep every field).
fn halve(mut shapes: Vec<Shape>) -> Vec<Shape> {
    shapes.sort_by_cached_key(|s| {
        (
            s.fields.keys().cloned().collect::<Vec<_>>().join(","),
            key(s),
        )
    });
    let mut out = Vec::with_capacity(shapes.len().div_ceil(2));
    let mut it = shapes.into_iter();
    while let Some(a) = it.next() {
        match it.next() {
            Some(b) => out.push(a.merge(&b)),
            None => out.push(a),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(fields: &[(&str, &[&str])]) -> Shape {
        Shape::exact(fields)
    }

    #[test]
    fn simplify_merges_exactly_and_drops_covered_shapes() {
        let a = shape(&[("source", &["aws.iam"]), ("detail.eventName", &["A"])]);
        let b = shape(&[("source", &["aws.iam"]), ("detail.eventName", &["B"])]);
        let c = shape(&[
            ("source", &["aws.iam"]),
            ("detail.eventName", &["A"]),
            ("x", &["1"]),
        ]);
        let d = shape(&[("source", &["aws.s3"]), ("detail.eventName", &["A"])]);
        let out = simplify(vec![a.clone(), b, c, d, a]);
        assert_eq!(out.len(), 2, "{out:#?}");
        assert_eq!(
            out[0],
            shape(&[("source", &["aws.iam"]), ("detail.eventName", &["A", "B"])])
        );
    }

    #[test]
    fn reduce_merges_the_cheapest_pair_first() {
        let a = shape(&[
            ("source", &["aws.iam"]),
            ("detail.eventName", &["A"]),
            ("x", &["1"]),
        ]);
        let b = shape(&[
            ("source", &["aws.iam"]),
            ("detail.eventName", &["B"]),
            ("y", &["1"]),
        ]);
        let c = shape(&[
            ("source", &["aws.s3"]),
            ("detail.eventName", &["C"]),
            ("z", &["1"]),
        ]);
        let out = reduce(vec![a.clone(), b.clone(), c.clone()], 2, &|_| true);
        assert_eq!(out.len(), 2);
        assert!(out.iter().any(|s| s.covers(&a) && s.covers(&b)));
        assert!(out.contains(&c));
        let one = reduce(vec![a, b, c], 1, &|_| true);
        assert_eq!(one.len(), 1);
        assert_eq!(
            one[0],
            shape(&[
                ("source", &["aws.iam", "aws.s3"]),
                ("detail.eventName", &["A", "B", "C"])
            ])
        );
    }

    #[test]
    fn many_shapes_are_halved_first() {
        let shapes: Vec<Shape> = (0..200)
            .map(|i| {
                shape(&[
                    ("source", &["aws.iam"]),
                    (&format!("f{}", i % 7), &["v"]),
                    ("g", &[&format!("{i}")]),
                ])
            })
            .collect();
        let out = reduce(shapes.clone(), 5, &|_| true);
        assert!(out.len() <= 5);
        for s in &shapes {
            assert!(out.iter().any(|o| o.covers(s)));
        }
    }
}
