//! `{"wildcard": "..."}`: `*` matches zero or more characters; `\*` is a literal star and
//! `\\` a literal backslash. Any other escape, and `**`, are rejected (as EventBridge does).

/// A parsed wildcard: the literal pieces between stars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wildcard {
    /// The text as written in the pattern (for `to_json`).
    pub(crate) source: String,
    /// Literal pieces; a star sits between each two. `["a", "b"]` is `a*b`; `["", "x"]` is `*x`.
    pieces: Vec<String>,
}

impl Wildcard {
    pub(crate) fn parse(source: &str) -> Result<Wildcard, String> {
        let mut pieces = vec![String::new()];
        let mut chars = source.chars().peekable();
        let mut last_was_star = false;
        while let Some(c) = chars.next() {
            match c {
                '*' => {
                    if last_was_star {
                        return Err(
                            "consecutive `**` is not allowed in a wildcard; use a single `*`"
                                .into(),
                        );
                    }
                    pieces.push(String::new());
                    last_was_star = true;
                    continue;
                }
                '\\' => match chars.next() {
                    Some(e @ ('*' | '\\')) => push(&mut pieces, e),
                    Some(other) => {
                        return Err(format!(
                            "invalid escape `\\{other}` in wildcard; only `\\*` and `\\\\` are allowed"
                        ));
                    }
                    None => {
                        return Err(
                            "wildcard ends with a lone `\\`; write `\\\\` for a backslash".into(),
                        );
                    }
                },
                c => push(&mut pieces, c),
            }
            last_was_star = false;
        }
        Ok(Wildcard {
            source: source.to_string(),
            pieces,
        })
    }

    /// The literal pieces; a star sits between each two (one piece: no star at all).
    pub(crate) fn pieces(&self) -> &[String] {
        &self.pieces
    }

    pub(crate) fn matches(&self, s: &str) -> bool {
        let Some((first, rest)) = self.pieces.split_first() else {
            return false;
        };
        let Some(mut s) = s.strip_prefix(first.as_str()) else {
            return false;
        };
        let Some((last, middle)) = rest.split_last() else {
            // No star at all: the whole string must equal the piece.
            return s.is_empty();
        };
        for piece in middle {
            match s.find(piece.as_str()) {
                Some(at) => s = &s[at + piece.len()..],
                None => return false,
            }
        }
        s.ends_with(last.as_str())
    }
}

fn push(pieces: &mut [String], c: char) {
    if let Some(p) = pieces.last_mut() {
        p.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        Wildcard::parse(p).map(|w| w.matches(s)).unwrap_or(false)
    }

    #[test]
    fn matching() {
        assert!(m("*", ""));
        assert!(m("*", "abc"));
        assert!(m("a*", "a"));
        assert!(m("*a", "a"));
        assert!(!m("a*a", "a"));
        assert!(m("a*a", "aa"));
        assert!(m("arn:aws:iam::*:role/*", "arn:aws:iam::123:role/x"));
        assert!(m("a*b*c", "abc"));
        assert!(m("a*b*c", "axxbyyc"));
        assert!(!m("a*b*c", "axxcyyb"));
        assert!(m("abc", "abc"));
        assert!(!m("abc", "abcd"));
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "axb"));
        assert!(m("a\\\\b", "a\\b"));
        assert!(m("*é*", "café!"));
    }

    #[test]
    fn rejected() {
        assert!(Wildcard::parse("a**b").is_err());
        assert!(Wildcard::parse("a\\b").is_err());
        assert!(Wildcard::parse("a\\").is_err());
        assert!(Wildcard::parse("\\**").is_ok());
    }
}
