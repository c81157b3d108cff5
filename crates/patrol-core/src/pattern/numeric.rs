//! `{"numeric": [">", 0, "<=", 5]}` and `{"numeric": ["=", 3]}`: only JSON numbers match,
//! compared as doubles.

use super::json::J;
use serde_json::Value;

/// One bound: value and whether it is inclusive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bound {
    pub(crate) value: f64,
    pub(crate) inclusive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Numeric {
    Eq(f64),
    Range {
        lower: Option<Bound>,
        upper: Option<Bound>,
    },
}

impl Numeric {
    /// Parses the array after `numeric`. Errors are (code, message).
    /// Errors are (code, message, sub-path under `numeric`, e.g. `[1]` or empty).
    pub(crate) fn parse(items: &[J]) -> Result<Numeric, (&'static str, String, String)> {
        Self::parse_inner(items)
            .map_err(|(c, m, at)| (c, m, at.map(|i| format!("[{i}]")).unwrap_or_default()))
    }

    fn parse_inner(items: &[J]) -> Result<Numeric, (&'static str, String, Option<usize>)> {
        let op_at = |i: usize| -> Result<&str, (&'static str, String, Option<usize>)> {
            items.get(i).and_then(J::as_str).ok_or_else(|| {
                (
                    "invalid-numeric",
                    format!("expected an operator (`=`, `<`, `<=`, `>`, `>=`) at position {i} of `numeric`"),
                    None,
                )
            })
        };
        let num_at = |i: usize, op: &str| -> Result<f64, (&'static str, String, Option<usize>)> {
            match items.get(i) {
                Some(J::Num(n)) => super::number::exact_value(n).ok_or_else(|| {
                    (
                        "inexact-number",
                        format!("{n} cannot be held exactly by a double; EventBridge compares numbers as doubles"),
                        Some(i),
                    )
                }),
                _ => Err(("invalid-numeric", format!("the value after `{op}` must be a number"), None)),
            }
        };
        if items.is_empty() {
            return Err((
                "empty-array",
                "`numeric` needs an operator and a number, e.g. `[\">\", 0]`".into(),
                None,
            ));
        }
        let op = op_at(0)?;
        let (result, used) = match op {
            "=" => (Numeric::Eq(num_at(1, op)?), 2),
            "<" | "<=" => (
                Numeric::Range {
                    lower: None,
                    upper: Some(Bound {
                        value: num_at(1, op)?,
                        inclusive: op == "<=",
                    }),
                },
                2,
            ),
            ">" | ">=" => {
                let lower = Bound {
                    value: num_at(1, op)?,
                    inclusive: op == ">=",
                };
                if items.len() > 2 {
                    let op2 = op_at(2)?;
                    if op2 != "<" && op2 != "<=" {
                        return Err((
                            "invalid-numeric",
                            format!(
                                "after a lower bound, the second operator must be `<` or `<=`, not `{op2}`"
                            ),
                            None,
                        ));
                    }
                    let upper = Bound {
                        value: num_at(3, op2)?,
                        inclusive: op2 == "<=",
                    };
                    if lower.value >= upper.value {
                        return Err((
                            "invalid-numeric",
                            "the lower bound of a numeric range must be less than its upper bound"
                                .into(),
                            None,
                        ));
                    }
                    (
                        Numeric::Range {
                            lower: Some(lower),
                            upper: Some(upper),
                        },
                        4,
                    )
                } else {
                    (
                        Numeric::Range {
                            lower: Some(lower),
                            upper: None,
                        },
                        2,
                    )
                }
            }
            other => {
                return Err((
                    "invalid-numeric",
                    format!("unknown numeric operator `{other}`; use `=`, `<`, `<=`, `>` or `>=`"),
                    None,
                ));
            }
        };
        if items.len() > used {
            return Err((
                "too-many-numeric-terms",
                "too many terms in `numeric`: use `=` alone, or a lower bound (`>`/`>=`) followed by an upper bound (`<`/`<=`)".into(),
            None,
            ));
        }
        Ok(result)
    }

    pub(crate) fn matches(&self, v: f64) -> bool {
        match *self {
            Numeric::Eq(x) => v == x,
            Numeric::Range { lower, upper } => {
                lower.is_none_or(|b| {
                    if b.inclusive {
                        v >= b.value
                    } else {
                        v > b.value
                    }
                }) && upper.is_none_or(|b| {
                    if b.inclusive {
                        v <= b.value
                    } else {
                        v < b.value
                    }
                })
            }
        }
    }

    pub(crate) fn to_json(self) -> Value {
        use super::number::to_json_number as n;
        let mut out = Vec::new();
        match self {
            Numeric::Eq(x) => {
                out.push(Value::from("="));
                out.push(n(x));
            }
            Numeric::Range { lower, upper } => {
                if let Some(b) = lower {
                    out.push(Value::from(if b.inclusive { ">=" } else { ">" }));
                    out.push(n(b.value));
                }
                if let Some(b) = upper {
                    out.push(Value::from(if b.inclusive { "<=" } else { "<" }));
                    out.push(n(b.value));
                }
            }
        }
        Value::Array(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(v: Value) -> Result<Numeric, (&'static str, String, String)> {
        match J::from_value(&v) {
            J::Arr(items) => Numeric::parse(&items),
            _ => Numeric::parse(&[]),
        }
    }

    #[test]
    fn parses_and_matches() {
        let r = p(json!([">", 0, "<=", 5])).expect("valid");
        assert!(!r.matches(0.0) && r.matches(0.1) && r.matches(5.0) && !r.matches(5.01));
        let e = p(json!(["=", 3e2])).expect("valid");
        assert!(e.matches(300.0));
        assert!(p(json!(["<", 5, ">", 1])).is_err());
        assert!(p(json!([">", 5, "<", 5])).is_err());
        assert!(p(json!([">", 1, "<", 5, "<", 6])).is_err());
        assert!(p(json!(["=", "3"])).is_err());
        assert!(p(json!(["!=", 3])).is_err());
        assert!(p(json!([">"])).is_err());
        assert!(p(json!([])).is_err());
        assert!(p(json!(["=", 9007199254740993u64])).is_err());
    }
}
