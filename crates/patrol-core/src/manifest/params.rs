//! Typed rule parameters: the types a `params.NAME` value can have ([`ParamType`]) and the
//! registry of the parameters each handler takes ([`HANDLER_PARAMS`]).
//!
//! A parameter's type comes from, in this order:
//! 1. the rule's own `params_types = { NAME = "TYPE" }`, for anything the registry does not
//!    know (a name the registry does know keeps its registered type: one name, one meaning);
//! 2. the registry: the handler that runs the rule declares the parameters it takes; for
//!    `notify` these are the ones its conditions and templates read by convention;
//! 3. the rule's condition, when it passes `params.NAME` to a function whose argument is
//!    typed ([`CONDITION_ARGUMENTS`]: the trusted accounts of `policy_external_accounts`, the
//!    resources of `policy_grants`).
//!
//! A parameter with none of these is an error: every value in `params` is checked against a
//! type before it is deployed. The checks themselves are in `validate::params`; this file is
//! what the validator, the JSON Schema and the README share.

use serde_json::{Value, json};

/// What a parameter's value must be. A closed set: a new type is a new variant here, its
/// check in `validate::params` and its schema below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

/// One parameter a handler takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamSpec {
    pub name: &'static str,
    pub ty: ParamType,
    /// What it means, for the schema and hints.
    pub doc: &'static str,
}

/// The parameters one handler crate (`lambdas/<handler>`) takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandlerParams {
    pub handler: &'static str,
    pub params: &'static [ParamSpec],
}

/// `notify` runs rules whose conditions and templates read `params`; these are the
/// parameters they share by convention, so every rule spells and types them alike.
pub const NOTIFY_PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "disallowed_arns",
        ty: ParamType::ArnGlobs,
        doc: "Resources no policy may grant access to, as ARN globs (`arn:aws:iam::*:role/admin*`); \
              conditions pass it to `policy_grants(doc, actions, params.disallowed_arns)`.",
    },
    ParamSpec {
        name: "trusted_accounts",
        ty: ParamType::AccountIds,
        doc: "Accounts outside of which sharing is reported (12-digit ids, in quotes); \
              conditions pass it to `policy_external_accounts(doc, params.trusted_accounts)`.",
    },
    ParamSpec {
        name: "max_age_days",
        ty: ParamType::PositiveInteger,
        doc: "An age threshold in days (at least 1), for conditions that compare timestamps.",
    },
];

/// Every handler that declares its parameters. A handler crate that takes parameters adds
/// its entry here (its rules then need no `params_types`); a handler without an entry
/// takes only what each rule declares in `params_types`.
pub const HANDLER_PARAMS: &[HandlerParams] = &[HandlerParams {
    handler: "notify",
    params: NOTIFY_PARAMS,
}];

/// The parameters `handler` declares (none for a handler without an entry).
pub fn handler_params(handler: &str) -> &'static [ParamSpec] {
    HANDLER_PARAMS
        .iter()
        .find(|h| h.handler == handler)
        .map_or(&[], |h| h.params)
}

/// The declared parameter `name` of `handler`.
pub fn declared(handler: &str, name: &str) -> Option<&'static ParamSpec> {
    handler_params(handler).iter().find(|p| p.name == name)
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

/// The schema of a rule's `params` table: every registered parameter with its type and
/// meaning (a name means the same for every handler that declares it); other names are
/// allowed when the rule declares them in `params_types`, which only `patrol validate`
/// can check.
pub fn params_schema() -> Value {
    let mut properties = serde_json::Map::new();
    for h in HANDLER_PARAMS {
        for p in h.params {
            let mut schema = p.ty.json_schema();
            schema["description"] = json!(format!(
                "{} Type `{}`; handler `{}`.",
                p.doc, p.ty, h.handler
            ));
            properties.entry(p.name).or_insert(schema);
        }
    }
    json!({
        "description": "Parameters for the rule's handler, conditions and templates (`params.NAME`). Each one is typed: by its handler (the properties below), by the rule's `params_types`, or by the condition function it is passed to.",
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

    /// A name has one type whichever handler declares it, so the schema can list it once.
    #[test]
    fn a_registered_name_has_one_type() {
        let mut seen = std::collections::BTreeMap::new();
        for h in HANDLER_PARAMS {
            for p in h.params {
                assert!(is_param_name(p.name), "{}", p.name);
                let first = *seen.entry(p.name).or_insert(p.ty);
                assert_eq!(first, p.ty, "{} is declared with two types", p.name);
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

    #[test]
    fn notify_declares_the_policy_params() {
        assert_eq!(
            declared("notify", "disallowed_arns").map(|p| p.ty),
            Some(ParamType::ArnGlobs)
        );
        assert_eq!(
            declared("notify", "trusted_accounts").map(|p| p.ty),
            Some(ParamType::AccountIds)
        );
        assert_eq!(declared("stale-access-keys", "disallowed_arns"), None);
    }
}
