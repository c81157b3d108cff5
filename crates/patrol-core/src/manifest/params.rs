//! Typed rule parameters: the types a `params.NAME` value can have ([`ParamType`]); the
//! parameters each handler takes are declared in its handler.toml ([`super::handler`]).
//!
//! A parameter's type comes from, in this order:
//! 1. the rule's own `params_types = { NAME = "TYPE" }`, for anything its handler does not
//!    declare (a name the handler does declare keeps its declared type: one name, one meaning);
//! 2. the declaration of the handler that runs the rule (`[params.NAME]` in
//!    `lambdas/<handler>/handler.toml`), which may also make it required or give a default;
//!    for `notify` these are the ones its conditions and templates read by convention;
//! 3. the rule's condition, when it passes `params.NAME` to a function whose argument is
//!    typed ([`CONDITION_ARGUMENTS`]: the trusted accounts of `policy_external_accounts`, the
//!    resources of `policy_grants`).
//!
//! A parameter with none of these is an error: every value in `params` is checked against a
//! type before it is deployed. The checks themselves are in `validate::params`; this file is
//! what the validator, the JSON Schema and the README share.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::handler::Declarations;

/// What a parameter's value must be. A closed set: a new type is a new variant here, its
/// check in `validate::params` and its schema below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    /// Any string.
    String,
    /// A list of strings.
    StringList,
    /// `true` or `false`.
    Boolean,
    /// Any integer.
    Integer,
    /// An integer of at least 1 (a count, a number of days).
    PositiveInteger,
    /// A list of ARN globs, `arn:<partition>:<service>:<region>:<account>:<resource>` where
    /// any part may use `*` and `?` (`arn:aws:iam::*:role/admin*`).
    ArnGlobs,
    /// A list of AWS account ids: 12 digits each, written as strings.
    AccountIds,
    /// A list of AWS region names (`eu-west-1`).
    Regions,
}

impl ParamType {
    pub const ALL: [ParamType; 8] = [
        ParamType::String,
        ParamType::StringList,
        ParamType::Boolean,
        ParamType::Integer,
        ParamType::PositiveInteger,
        ParamType::ArnGlobs,
        ParamType::AccountIds,
        ParamType::Regions,
    ];

    /// The name written in `params_types`.
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::StringList => "string_list",
            ParamType::Boolean => "boolean",
            ParamType::Integer => "integer",
            ParamType::PositiveInteger => "positive_integer",
            ParamType::ArnGlobs => "arn_globs",
            ParamType::AccountIds => "account_ids",
            ParamType::Regions => "regions",
        }
    }

    pub fn parse(s: &str) -> Option<ParamType> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The names of every type, for hints and the schema.
    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|t| t.as_str()).collect()
    }

    /// A value of this type as it is written in `rules.toml`, for hints.
    pub fn example(self) -> &'static str {
        match self {
            ParamType::String => "\"text\"",
            ParamType::StringList => "[\"a\", \"b\"]",
            ParamType::Boolean => "true",
            ParamType::Integer => "0",
            ParamType::PositiveInteger => "90",
            ParamType::ArnGlobs => "[\"arn:aws:iam::*:role/admin*\"]",
            ParamType::AccountIds => "[\"111122223333\"]",
            ParamType::Regions => "[\"eu-west-1\"]",
        }
    }

    /// Whether every value of `self` is also a value of `wanted`: a list of account ids is
    /// a list of strings, a positive integer an integer.
    pub fn satisfies(self, wanted: ParamType) -> bool {
        self == wanted
            || match wanted {
                ParamType::StringList => self.is_string_list(),
                ParamType::Integer => self == ParamType::PositiveInteger,
                _ => false,
            }
    }

    fn is_string_list(self) -> bool {
        matches!(
            self,
            ParamType::StringList
                | ParamType::ArnGlobs
                | ParamType::AccountIds
                | ParamType::Regions
        )
    }

    /// The JSON Schema of a value of this type (the validator checks more than the
    /// schema can say: ARN parts, partitions, example hints).
    pub fn json_schema(self) -> Value {
        let list = |items: Value| json!({ "type": "array", "items": items });
        match self {
            ParamType::String => json!({ "type": "string" }),
            ParamType::StringList => list(json!({ "type": "string" })),
            ParamType::Boolean => json!({ "type": "boolean" }),
            ParamType::Integer => json!({ "type": "integer" }),
            ParamType::PositiveInteger => json!({ "type": "integer", "minimum": 1 }),
            ParamType::ArnGlobs => json!({
                "type": "array",
                "minItems": 1,
                "items": { "type": "string", "pattern": ARN_GLOB_PATTERN }
            }),
            ParamType::AccountIds => list(json!({
                "type": "string",
                "pattern": super::raw::ACCOUNT_ID_PATTERN
            })),
            ParamType::Regions => list(json!({
                "type": "string",
                "pattern": super::raw::REGION_PATTERN
            })),
        }
    }
}

impl std::fmt::Display for ParamType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The shape of an ARN glob, for the schema: six colon-separated parts, the last one
/// non-empty. The validator checks each part.
pub const ARN_GLOB_PATTERN: &str = "^arn:[a-z*?-]+:[a-z0-9*?-]+:[a-z0-9*?-]*:([0-9*?]*|aws):.+$";

/// Parameter names: identifiers, so conditions and templates read them as `params.NAME`.
pub const PARAM_NAME_PATTERN: &str = "^[a-z][a-z0-9_]*$";

/// Whether `name` is a parameter name ([`PARAM_NAME_PATTERN`]).
pub fn is_param_name(name: &str) -> bool {
    name.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A condition function whose argument at `index` (0-based) has a parameter type: passing
/// `params.NAME` there types `NAME`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypedArgument {
    pub function: &'static str,
    pub index: usize,
    pub ty: ParamType,
    /// The argument's name, for messages.
    pub what: &'static str,
}

/// The typed arguments of the condition functions ([`crate::policy::functions`]).
pub const CONDITION_ARGUMENTS: &[TypedArgument] = &[
    TypedArgument {
        function: "policy_external_accounts",
        index: 1,
        ty: ParamType::AccountIds,
        what: "trusted accounts",
    },
    TypedArgument {
        function: "policy_grants",
        index: 1,
        ty: ParamType::StringList,
        what: "actions",
    },
    TypedArgument {
        function: "policy_grants",
        index: 2,
        ty: ParamType::ArnGlobs,
        what: "resources",
    },
];

/// The schema of a rule's `params` table: every declared parameter with its type and
/// meaning (a name means the same for every handler that declares it; the first
/// declaration's type and description are shown, with every handler that takes it);
/// other names are allowed when the rule declares them in `params_types`, which only
/// `patrol validate` can check.
pub fn params_schema(declarations: &Declarations) -> Value {
    let mut properties = serde_json::Map::new();
    let mut names: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    for d in declarations.values() {
        names.extend(d.params.keys().map(String::as_str));
    }
    for name in names {
        let takers: Vec<(&str, &super::handler::ParamDeclaration)> = declarations
            .iter()
            .filter_map(|(h, d)| Some((h.as_str(), d.params.get(name)?)))
            .collect();
        let Some((_, first)) = takers.first() else {
            continue;
        };
        let who: Vec<String> = takers
            .iter()
            .map(|(h, p)| {
                let mut s = format!("`{h}`");
                if p.required {
                    s.push_str(" (required)");
                }
                if let Some(d) = &p.default {
                    s.push_str(&format!(" (default {d})"));
                }
                s
            })
            .collect();
        let mut schema = first.ty.json_schema();
        schema["description"] = json!(format!(
            "{} Type `{}`; {} {}.",
            first.description,
            first.ty,
            if who.len() == 1 {
                "handler"
            } else {
                "handlers"
            },
            who.join(", ")
        ));
        properties.insert(name.to_owned(), schema);
    }
    json!({
        "description": "Parameters for the rule's handler, conditions and templates (`params.NAME`). Each one is typed: by its handler's handler.toml (the properties below), by the rule's `params_types`, or by the condition function it is passed to.",
        "type": "object",
        "propertyNames": { "pattern": PARAM_NAME_PATTERN },
        "properties": properties,
    })
}

/// The schema of a rule's `params_types` table.
pub fn params_types_schema() -> Value {
    json!({
        "description": "Types of this rule's own parameters, for names its handler does not declare: `params_types = { owners = \"string_list\" }`.",
        "type": "object",
        "propertyNames": { "pattern": PARAM_NAME_PATTERN },
        "additionalProperties": { "enum": ParamType::names() },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_round_trip() {
        for t in ParamType::ALL {
            assert_eq!(ParamType::parse(t.as_str()), Some(t));
        }
        assert_eq!(ParamType::parse("list"), None);
    }

    /// A name has one type whichever shipped handler declares it, so the schema can list
    /// it once.
    #[test]
    fn a_declared_name_has_one_type() {
        let mut seen = std::collections::BTreeMap::new();
        for (h, d) in super::super::handler::shipped() {
            for (name, p) in d.params {
                assert!(is_param_name(&name), "{h}: {name}");
                let first = *seen.entry(name.clone()).or_insert(p.ty);
                assert_eq!(first, p.ty, "{name} is declared with two types");
            }
        }
    }

    #[test]
    fn narrower_types_satisfy_wider_ones() {
        assert!(ParamType::AccountIds.satisfies(ParamType::StringList));
        assert!(ParamType::PositiveInteger.satisfies(ParamType::Integer));
        assert!(!ParamType::StringList.satisfies(ParamType::AccountIds));
        assert!(!ParamType::String.satisfies(ParamType::StringList));
    }
}
