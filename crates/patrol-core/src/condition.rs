//! Rule conditions: a CEL expression (Common Expression Language, via the `cel` crate),
//! evaluated on the event after the pattern matched, for what patterns cannot say
//! (`detail.userIdentity.arn.endsWith("/break-glass")`, comparisons between fields, …).
//!
//! A condition sees the same variables as a message template ([`crate::template`]). It
//! must evaluate to a boolean; anything else, or an evaluation error (a missing field
//! without `has(...)`, a type mismatch), is an error, never a silent "no": the alert path
//! reports it and dead-letters the event instead of dropping it.

use cel::{Context, Program, Value as CelValue};
use serde_json::Value;

use crate::template::KNOWN_VARIABLES;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    #[error("condition syntax error: {0}")]
    Syntax(String),
    #[error("condition uses unknown variable `{0}`")]
    UnknownVariable(String),
    #[error("condition failed on this event: {0}")]
    Evaluation(String),
    #[error("condition returned {0}, not a boolean")]
    NotBoolean(String),
}

/// A compiled condition.
pub struct Condition {
    source: String,
    program: Program,
    /// The variables the expression reads: only these are converted for CEL.
    variables: Vec<String>,
}

impl std::fmt::Debug for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Condition")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Condition {
    /// Compiles and checks a condition; returns every problem found.
    pub fn compile(source: &str) -> Result<Condition, Vec<ConditionError>> {
        let program = Program::compile(source).map_err(|e| {
            vec![ConditionError::Syntax(
                e.errors
                    .iter()
                    .map(|e| format!("{} (line {}, column {})", e.msg, e.pos.0, e.pos.1 + 1))
                    .collect::<Vec<_>>()
                    .join("; "),
            )]
        })?;
        let mut unknown: Vec<String> = program
            .references()
            .variables()
            .into_iter()
            .filter(|v| !KNOWN_VARIABLES.contains(v))
            .map(str::to_owned)
            .collect();
        unknown.sort();
        if !unknown.is_empty() {
            return Err(unknown
                .into_iter()
                .map(ConditionError::UnknownVariable)
                .collect());
        }
        let variables = program
            .references()
            .variables()
            .into_iter()
            .map(str::to_owned)
            .collect();
        Ok(Condition {
            source: source.to_owned(),
            program,
            variables,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates the condition on a template context ([`crate::template::context`]).
    pub fn eval(&self, context: &Value) -> Result<bool, ConditionError> {
        let mut ctx = Context::default();
        // Only identifiers can be referenced; `detail-type` is reachable as
        // `event["detail-type"]`.
        for name in &self.variables {
            if let Some(value) = crate::template::lookup(context, name) {
                let v =
                    cel::to_value(value).map_err(|e| ConditionError::Evaluation(e.to_string()))?;
                ctx.add_variable_from_value(name.clone(), v);
            }
        }
        match self.program.execute(&ctx) {
            Ok(CelValue::Bool(b)) => Ok(b),
            Ok(other) => Err(ConditionError::NotBoolean(format!("{other:?}"))),
            Err(e) => Err(ConditionError::Evaluation(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Value {
        let event = json!({"account": "1", "detail-type": "AWS API Call via CloudTrail",
            "detail": {"userIdentity": {"arn": "arn:aws:iam::1:role/break-glass"}, "eventName": "PutRolePolicy"}});
        crate::template::context(&event, json!({"id": "r"}), &serde_json::Map::new())
    }

    #[test]
    fn evaluates_on_event_fields() {
        let c = Condition::compile(r#"detail.userIdentity.arn.endsWith("/break-glass")"#)
            .expect("compiles");
        assert_eq!(c.eval(&ctx()), Ok(true));
        let c = Condition::compile(r#"detail.eventName == "CreateUser""#).expect("compiles");
        assert_eq!(c.eval(&ctx()), Ok(false));
        let c =
            Condition::compile(r#"event["detail-type"].startsWith("AWS API")"#).expect("compiles");
        assert_eq!(c.eval(&ctx()), Ok(true));
    }

    #[test]
    fn has_guards_missing_fields_and_missing_fields_are_errors() {
        let c =
            Condition::compile("has(detail.requestParameters) && detail.requestParameters.x == 1")
                .expect("compiles");
        assert_eq!(c.eval(&ctx()), Ok(false));
        let c = Condition::compile("detail.requestParameters.x == 1").expect("compiles");
        assert!(matches!(c.eval(&ctx()), Err(ConditionError::Evaluation(_))));
    }

    #[test]
    fn non_boolean_result_is_an_error() {
        let c = Condition::compile("detail.eventName").expect("compiles");
        assert!(matches!(c.eval(&ctx()), Err(ConditionError::NotBoolean(_))));
    }

    #[test]
    fn compile_reports_syntax_and_unknown_variables() {
        let errs = Condition::compile("detail.eventName ==").err();
        assert!(
            matches!(errs.as_deref(), Some([ConditionError::Syntax(_)])),
            "{errs:?}"
        );
        assert_eq!(
            Condition::compile("detial.x == 1 && actor != bogus").err(),
            Some(vec![
                ConditionError::UnknownVariable("bogus".into()),
                ConditionError::UnknownVariable("detial".into())
            ])
        );
    }
}
