//! The policy analysis of [`crate::policy`] as functions a rule condition can call
//! ([`crate::condition`]): CEL values in, CEL values out, a malformed document or argument
//! an evaluation error that names the function.

use std::sync::Arc;

use cel::{Context, ExecutionError, Program, Value as CelValue};
use serde_json::Value;

use crate::condition::ConditionError;
use crate::policy::PolicyDocument;

const FUNCTIONS: [&str; 3] = [
    "policy_is_public",
    "policy_external_accounts",
    "policy_grants",
];

/// Whether `program` calls one of the policy functions.
pub(crate) fn called_by(program: &Program) -> bool {
    program
        .references()
        .functions()
        .iter()
        .any(|f| FUNCTIONS.contains(f))
}

/// `policy_is_public(doc)`, `policy_external_accounts(doc, trusted)`,
/// `policy_grants(doc, actions, resources)`: `doc` is a map or a (JSON or percent-encoded)
/// string; lists are lists of strings. A malformed document is an evaluation error.
pub(crate) fn register(ctx: &mut Context<'_, '_>) -> Result<(), ConditionError> {
    let declared = |e: cel::DeclarationError| ConditionError::Evaluation(e.to_string());
    ctx.add_function("policy_is_public", |doc: CelValue| {
        let doc = policy_arg("policy_is_public", &doc)?;
        Ok::<_, ExecutionError>(CelValue::Bool(doc.is_public()))
    })
    .map_err(declared)?;
    ctx.add_function(
        "policy_external_accounts",
        |doc: CelValue, trusted: CelValue| {
            const NAME: &str = "policy_external_accounts";
            let doc = policy_arg(NAME, &doc)?;
            let trusted = string_list_arg(NAME, "trusted accounts", &trusted)?;
            let accounts = doc
                .external_accounts(&trusted)
                .into_iter()
                .map(|a| CelValue::String(Arc::new(a)))
                .collect();
            Ok::<_, ExecutionError>(CelValue::List(Arc::new(accounts)))
        },
    )
    .map_err(declared)?;
    ctx.add_function(
        "policy_grants",
        |doc: CelValue, actions: CelValue, resources: CelValue| {
            const NAME: &str = "policy_grants";
            let doc = policy_arg(NAME, &doc)?;
            let actions = string_list_arg(NAME, "actions", &actions)?;
            let resources = string_list_arg(NAME, "resources", &resources)?;
            Ok::<_, ExecutionError>(CelValue::Bool(doc.grants(&actions, &resources)))
        },
    )
    .map_err(declared)?;
    Ok(())
}

fn policy_arg(function: &str, value: &CelValue) -> Result<PolicyDocument, ExecutionError> {
    let json = cel_to_json(value).map_err(|e| ExecutionError::function_error(function, e))?;
    PolicyDocument::parse(&json).map_err(|e| ExecutionError::function_error(function, e))
}

fn string_list_arg(
    function: &str,
    what: &str,
    value: &CelValue,
) -> Result<Vec<String>, ExecutionError> {
    let wrong =
        || ExecutionError::function_error(function, format!("{what} must be a list of strings"));
    let CelValue::List(items) = value else {
        return Err(wrong());
    };
    items
        .iter()
        .map(|v| match v {
            CelValue::String(s) => Ok(s.as_str().to_owned()),
            _ => Err(wrong()),
        })
        .collect()
}

/// A CEL value back to JSON, for the values that come from JSON in the first place.
fn cel_to_json(value: &CelValue) -> Result<Value, String> {
    Ok(match value {
        CelValue::Null => Value::Null,
        CelValue::Bool(b) => Value::Bool(*b),
        CelValue::Int(i) => Value::from(*i),
        CelValue::UInt(u) => Value::from(*u),
        CelValue::Float(f) => Value::from(*f),
        CelValue::String(s) => Value::String(s.as_str().to_owned()),
        CelValue::List(items) => {
            Value::Array(items.iter().map(cel_to_json).collect::<Result<_, _>>()?)
        }
        CelValue::Map(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map.map.iter() {
                let cel::objects::Key::String(k) = k else {
                    return Err(format!("policy document has a non-string key {k:?}"));
                };
                out.insert(k.as_str().to_owned(), cel_to_json(v)?);
            }
            Value::Object(out)
        }
        other => return Err(format!("expected a policy document, got {other:?}")),
    })
}
