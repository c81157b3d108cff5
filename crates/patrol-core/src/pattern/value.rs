//! One leaf value of an event, as both interpreters see it.

use std::borrow::Cow;

/// A scalar at some path in an event. Numbers carry their value only when a double
/// holds the literal exactly (see [`super::number`]); inexact numbers match no numeric
/// pattern but still exist.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar<'a> {
    Str(Cow<'a, str>),
    Num(Option<f64>),
    Bool(bool),
    Null,
}

impl Scalar<'_> {
    pub(crate) fn from_json(v: &serde_json::Value) -> Option<Scalar<'_>> {
        Some(match v {
            serde_json::Value::String(s) => Scalar::Str(Cow::Borrowed(s)),
            serde_json::Value::Number(n) => Scalar::Num(super::number::exact_from_json(n)),
            serde_json::Value::Bool(b) => Scalar::Bool(*b),
            serde_json::Value::Null => Scalar::Null,
            _ => return None,
        })
    }

    /// Short human form for `explain`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Scalar::Str(s) => serde_json::Value::String(s.to_string()).to_string(),
            Scalar::Num(Some(v)) => super::number::to_json_number(*v).to_string(),
            Scalar::Num(None) => "a number a double cannot hold exactly".to_string(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Null => "null".to_string(),
        }
    }
}
