//! IAM-style globs (`*` any run of characters, `?` one character) compared with each other,
//! not only with plain strings: a policy says `s3:Get*` and a rule asks about `s3:*Object`,
//! so the question is whether *some* action matches both ([`overlaps`]), or whether every
//! action one glob matches is also matched by another ([`covers`], for `NotAction`).
//!
//! Both are searches over pairs of positions, with a visited set, so they take at most
//! `len(a) * len(b)` steps and never recurse deeply on long input.

/// One glob token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Star,
    AnyOne,
    Char(char),
}

fn tokens(glob: &str, ignore_case: bool) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::with_capacity(glob.len());
    for c in glob.chars() {
        let token = match c {
            '*' => Token::Star,
            '?' => Token::AnyOne,
            c if ignore_case => Token::Char(c.to_ascii_lowercase()),
            c => Token::Char(c),
        };
        // `**` means the same as `*`; collapsing keeps the search small.
        if !(token == Token::Star && out.last() == Some(&Token::Star)) {
            out.push(token);
        }
    }
    out
}

/// Depth-first search over `(i, j)` position pairs: `step` lists the successors of a pair,
/// `done` says whether a pair is accepting.
fn reachable(
    a: &[Token],
    b: &[Token],
    step: impl Fn(usize, usize, &mut Vec<(usize, usize)>),
) -> bool {
    let width = b.len() + 1;
    let mut seen = vec![false; (a.len() + 1) * width];
    let mut stack = vec![(0, 0)];
    let mut next = Vec::new();
    while let Some((i, j)) = stack.pop() {
        if i == a.len() && j == b.len() {
            return true;
        }
        let Some(slot) = seen.get_mut(i * width + j) else {
            continue;
        };
        if *slot {
            continue;
        }
        *slot = true;
        next.clear();
        step(i, j, &mut next);
        stack.extend(next.iter().copied());
    }
    false
}

/// Whether some string matches both globs.
pub fn overlaps(a: &str, b: &str, ignore_case: bool) -> bool {
    let (a, b) = (tokens(a, ignore_case), tokens(b, ignore_case));
    reachable(&a, &b, |i, j, next| {
        let (x, y) = (a.get(i), b.get(j));
        // A star may stop here, or swallow the other side's next token.
        if x == Some(&Token::Star) {
            next.push((i + 1, j));
            if y.is_some() {
                next.push((i, j + 1));
            }
        }
        if y == Some(&Token::Star) {
            next.push((i, j + 1));
            if x.is_some() {
                next.push((i + 1, j));
            }
        }
        if let (Some(x), Some(y)) = (x, y) {
            let both_single = *x != Token::Star && *y != Token::Star;
            let compatible = matches!((x, y), (Token::AnyOne, _) | (_, Token::AnyOne)) || x == y;
            if both_single && compatible {
                next.push((i + 1, j + 1));
            }
        }
    })
}

/// Whether every string `inner` matches is also matched by `outer`.
///
/// Sound but not complete: `true` is always right; a few exotic pairs (`?*` covers `*a`)
/// answer `false`, which makes a `NotAction`/`NotResource` statement look broader than it
/// is. For a monitor that errs toward reporting, that is the safe side.
pub fn covers(outer: &str, inner: &str, ignore_case: bool) -> bool {
    let (o, n) = (tokens(outer, ignore_case), tokens(inner, ignore_case));
    reachable(&o, &n, |i, j, next| match (o.get(i), n.get(j)) {
        // The outer star absorbs any inner token, or stops.
        (Some(Token::Star), y) => {
            next.push((i + 1, j));
            if y.is_some() {
                next.push((i, j + 1));
            }
        }
        (Some(Token::AnyOne), Some(Token::AnyOne | Token::Char(_))) => next.push((i + 1, j + 1)),
        (Some(Token::Char(x)), Some(Token::Char(y))) if x == y => next.push((i + 1, j + 1)),
        _ => {}
    })
}

/// Whether the string contains a glob wildcard.
pub fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("s3:GetObject", "s3:GetObject", true),
            ("s3:GetObject", "s3:PutObject", false),
            ("s3:*", "s3:GetObject", true),
            ("s3:Get*", "s3:*Object", true),
            ("s3:Get*", "s3:Put*", false),
            ("*", "anything", true),
            ("*", "", true),
            ("", "", true),
            ("", "a", false),
            ("a*", "*b", true),
            ("*x", "y*", true),
            ("a?c", "abc", true),
            ("a?c", "abbc", false),
            ("a*c", "a?", true),
            ("a*c", "b?", false),
            ("a*c", "a??", true),
            ("?", "", false),
            ("?*", "", false),
            ("**", "", true),
            (
                "arn:aws:s3:::payroll-*",
                "arn:aws:s3:::payroll-2024/*",
                true,
            ),
            ("arn:aws:s3:::payroll-*", "arn:aws:s3:::public-*", false),
            ("arn:aws:s3:::*/*", "arn:aws:s3:::payroll-*", true),
            ("arn:aws:s3:::bucket", "arn:aws:s3:::bucket/*", false),
            ("*a*b*", "*b*a*", true),
            ("ab*", "*ba", true),
            ("abc", "a*d", false),
        ];
        for (a, b, want) in cases {
            assert_eq!(overlaps(a, b, false), *want, "{a} vs {b}");
            assert_eq!(overlaps(b, a, false), *want, "{b} vs {a} (symmetric)");
        }
    }

    #[test]
    fn overlap_ignores_case_only_when_asked() {
        assert!(overlaps("S3:getobject", "s3:GetObject", true));
        assert!(!overlaps("S3:getobject", "s3:GetObject", false));
    }

    #[test]
    fn cover_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "*", true),
            ("*", "s3:Get*", true),
            ("s3:*", "s3:Get*", true),
            ("s3:Get*", "s3:*", false),
            ("s3:Get*", "s3:GetObject", true),
            ("s3:GetObject", "s3:Get*", false),
            ("a?c", "abc", true),
            ("a?c", "a?c", true),
            ("abc", "a?c", false),
            ("a*", "a", true),
            ("a*b*c", "a?b??c", true),
            ("iam:*", "s3:*", false),
        ];
        for (outer, inner, want) in cases {
            assert_eq!(covers(outer, inner, false), *want, "{outer} covers {inner}");
        }
    }

    #[test]
    fn long_inputs_do_not_blow_the_stack() {
        let a = "*a".repeat(2000);
        let b = "a*".repeat(2000);
        assert!(overlaps(&a, &b, false));
        assert!(!covers(&"b".repeat(3000), &"a".repeat(3000), false));
    }
}
