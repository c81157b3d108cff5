//! One element of a pattern's value list: a literal or a `{operator: ...}` object.

use super::anything_but::AnythingBut;
use super::cidr::IpRange;
use super::json::J;
use super::numeric::Numeric;
use super::value::Scalar;
use super::wildcard::Wildcard;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    /// An exact string; `ip` is set when the string is an IP address, which then also
    /// matches other spellings of that address (event-ruler's behaviour).
    Str {
        value: String,
        ip: Option<IpRange>,
    },
    /// An exact number (the JSON number as written, for `to_json`, and its double).
    Num {
        value: f64,
        written: String,
    },
    Bool(bool),
    Null,
    /// `prefix`, or `{"prefix": {"equals-ignore-case": ..}}` (then `value` is case-folded,
    /// see `fold`).
    Prefix {
        value: String,
        ignore_case: bool,
        written: String,
    },
    Suffix {
        value: String,
        ignore_case: bool,
        written: String,
    },
    /// `lower` is the written string case-folded (see `fold`).
    EqualsIgnoreCase {
        lower: String,
        written: String,
    },
    Wildcard(Wildcard),
    AnythingBut {
        inner: AnythingBut,
        single: bool,
    },
    Numeric(Numeric),
    /// `exists: true` (`exists: false` is not an `Op`: it is the constraint's `absent_ok`).
    Exists,
    Cidr {
        range: IpRange,
        written: String,
    },
}

/// The result of parsing one list element.
pub(crate) enum Parsed {
    Op(Op),
    Absent,
}

/// (code, message, sub-path of the fault inside the list element, e.g. `.numeric[1]`).
type Err = (&'static str, String, String);

pub(crate) const OPERATORS: &[&str] = &[
    "prefix",
    "suffix",
    "equals-ignore-case",
    "wildcard",
    "anything-but",
    "numeric",
    "exists",
    "cidr",
];

impl Op {
    pub(crate) fn parse(v: &J) -> Result<Parsed, Err> {
        let op = match v {
            J::Str(s) => Op::Str { value: s.clone(), ip: IpRange::single(s) },
            J::Num(n) => Op::Num {
                value: super::number::exact_value(n).ok_or_else(|| {
                    (
                        "inexact-number",
                            format!("{n} cannot be held exactly by a double; EventBridge compares numbers as doubles (quote it to match a string)"),
                        String::new(),
                    )
                })?,
                written: n.clone(),
            },
            J::Bool(b) => Op::Bool(*b),
            J::Null => Op::Null,
            J::Arr(_) => {
                return Err((
                    "invalid-value",
                    "a match value must be a string, number, true, false, null or an operator object, not an array".into(),
                    String::new(),
                ));
            }
            J::Obj(map) => {
                if map.is_empty() {
                    return Err(("empty-object", "empty match expression; write e.g. `{\"prefix\": \"abc\"}`".into(), String::new()));
                }
                if map.len() > 1 {
                    let keys: Vec<&str> = map.iter().map(|(k, _)| k.as_str()).collect();
                    return Err((
                        "too-many-keys",
                        format!("a match expression has exactly one operator, found {}: split it into separate list elements", keys.join(", ")),
                        String::new(),
                    ));
                }
                let Some((name, arg)) = map.first() else {
                    return Err(("empty-object", "empty match expression".into(), String::new()));
                };
                match parse_operator(name, arg) {
                    Ok(op) => op,
                    Err((code, message, sub)) if OPERATORS.contains(&name.as_str()) => {
                        return Err((code, message, format!(".{name}{sub}")));
                    }
                    Err((code, message, _)) => return Err((code, message, String::new())),
                }
            }
        };
        Ok(match op {
            Op::Exists if matches!(v, J::Obj(m) if m.first().map(|(_, a)| a) == Some(&J::Bool(false))) => {
                Parsed::Absent
            }
            op => Parsed::Op(op),
        })
    }

    pub(crate) fn matches(&self, v: &Scalar<'_>) -> bool {
        match (self, v) {
            (Op::Str { value, ip }, Scalar::Str(s)) => {
                value == s.as_ref() || ip.is_some_and(|r| r.contains_str(s))
            }
            (Op::Num { value, .. }, Scalar::Num(Some(x))) => value == x,
            (Op::Bool(b), Scalar::Bool(x)) => b == x,
            (Op::Null, Scalar::Null) => true,
            (
                Op::Prefix {
                    value, ignore_case, ..
                },
                Scalar::Str(s),
            ) => {
                if *ignore_case {
                    super::fold::fold(s).starts_with(value.as_str())
                } else {
                    s.starts_with(value.as_str())
                }
            }
            (
                Op::Suffix {
                    value, ignore_case, ..
                },
                Scalar::Str(s),
            ) => {
                if *ignore_case {
                    super::fold::fold(s).ends_with(value.as_str())
                } else {
                    s.ends_with(value.as_str())
                }
            }
            (Op::EqualsIgnoreCase { lower, .. }, Scalar::Str(s)) => super::fold::fold(s) == *lower,
            (Op::Wildcard(w), Scalar::Str(s)) => w.matches(s),
            (Op::AnythingBut { inner, .. }, v) => inner.matches(v),
            (Op::Numeric(n), Scalar::Num(Some(x))) => n.matches(*x),
            (Op::Exists, _) => true,
            (Op::Cidr { range, .. }, Scalar::Str(s)) => range.contains_str(s),
            _ => false,
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        let obj = |k: &str, v: Value| {
            let mut m = serde_json::Map::new();
            m.insert(k.to_string(), v);
            Value::Object(m)
        };
        match self {
            Op::Str { value, .. } => Value::from(value.as_str()),
            Op::Num { value, written } => written
                .parse::<serde_json::Number>()
                .map_or_else(|_| super::number::to_json_number(*value), Value::Number),
            Op::Bool(b) => Value::Bool(*b),
            Op::Null => Value::Null,
            Op::Prefix {
                ignore_case: false,
                written,
                ..
            } => obj("prefix", Value::from(written.as_str())),
            Op::Prefix {
                ignore_case: true,
                written,
                ..
            } => obj(
                "prefix",
                obj("equals-ignore-case", Value::from(written.as_str())),
            ),
            Op::Suffix {
                ignore_case: false,
                written,
                ..
            } => obj("suffix", Value::from(written.as_str())),
            Op::Suffix {
                ignore_case: true,
                written,
                ..
            } => obj(
                "suffix",
                obj("equals-ignore-case", Value::from(written.as_str())),
            ),
            Op::EqualsIgnoreCase { written, .. } => {
                obj("equals-ignore-case", Value::from(written.as_str()))
            }
            Op::Wildcard(w) => obj("wildcard", Value::from(w.source.as_str())),
            Op::AnythingBut { inner, single } => obj("anything-but", inner.to_json(*single)),
            Op::Numeric(n) => obj("numeric", n.to_json()),
            Op::Exists => obj("exists", Value::Bool(true)),
            Op::Cidr { written, .. } => obj("cidr", Value::from(written.as_str())),
        }
    }
}

fn string_arg<'a>(name: &str, arg: &'a J) -> Result<&'a str, Err> {
    arg.as_str().ok_or_else(|| {
        (
            "invalid-operand",
            format!("`{name}` takes a string, e.g. `{{\"{name}\": \"abc\"}}`"),
            String::new(),
        )
    })
}

fn parse_operator(name: &str, arg: &J) -> Result<Op, Err> {
    Ok(match name {
        "prefix" | "suffix" => {
            let (written, ignore_case) = match arg {
                J::Obj(m) => {
                    let inner = match m.as_slice() {
                        [(k, v)] if k == "equals-ignore-case" => v,
                        _ => {
                            return Err((
                                "unknown-operator",
                                format!(
                                    "inside `{name}` only `equals-ignore-case` is allowed, e.g. `{{\"{name}\": {{\"equals-ignore-case\": \"abc\"}}}}`"
                                ),
                                String::new(),
                            ));
                        }
                    };
                    let s = string_arg("equals-ignore-case", inner)
                        .map_err(|(c, m, _)| (c, m, ".equals-ignore-case".to_string()))?;
                    (s.to_string(), true)
                }
                _ => (string_arg(name, arg)?.to_string(), false),
            };
            let value = if ignore_case {
                super::fold::fold(&written).into_owned()
            } else {
                written.clone()
            };
            if name == "prefix" {
                Op::Prefix {
                    value,
                    ignore_case,
                    written,
                }
            } else {
                Op::Suffix {
                    value,
                    ignore_case,
                    written,
                }
            }
        }
        "equals-ignore-case" => {
            let s = string_arg(name, arg)?;
            Op::EqualsIgnoreCase {
                lower: super::fold::fold(s).into_owned(),
                written: s.to_string(),
            }
        }
        "wildcard" => Op::Wildcard(
            Wildcard::parse(string_arg(name, arg)?)
                .map_err(|m| ("invalid-wildcard", m, String::new()))?,
        ),
        "anything-but" => {
            let (inner, single) = AnythingBut::parse(arg)?;
            Op::AnythingBut { inner, single }
        }
        "numeric" => match arg {
            J::Arr(items) => Op::Numeric(Numeric::parse(items)?),
            _ => {
                return Err((
                    "invalid-numeric",
                    "`numeric` takes a list, e.g. `[\">\", 0, \"<=\", 5]`".into(),
                    String::new(),
                ));
            }
        },
        "exists" => match arg {
            J::Bool(_) => Op::Exists,
            _ => {
                return Err((
                    "invalid-operand",
                    "`exists` takes `true` or `false`".into(),
                    String::new(),
                ));
            }
        },
        "cidr" => {
            let s = string_arg(name, arg)?;
            Op::Cidr {
                range: IpRange::parse_cidr(s).map_err(|m| ("invalid-cidr", m, String::new()))?,
                written: s.to_string(),
            }
        }
        other => {
            return Err((
                "unknown-operator",
                format!(
                    "unknown operator `{other}`; supported: {}",
                    OPERATORS.join(", ")
                ),
                String::new(),
            ));
        }
    })
}
