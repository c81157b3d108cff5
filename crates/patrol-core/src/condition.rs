//! Rule conditions: a CEL expression (Common Expression Language, via the `cel` crate),
//! evaluated on the event after the pattern matched, for what patterns cannot say
//! (`detail.userIdentity.arn.endsWith("/break-glass")`, comparisons between fields, …).
//!
//! A condition sees the same variables as a message template ([`crate::template`]). It
//! must evaluate to a boolean; anything else, or an evaluation error (a missing field
//! without `has(...)`, a type mismatch), is an error, never a silent "no": the alert path
//! reports it and dead-letters the event instead of dropping it.
//!
//! Besides CEL's standard library a condition can call the policy functions of
//! [`crate::policy::functions`].

use cel::{Context, Program, Value as CelValue};
use serde_json::Value;

use crate::policy;
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
    /// Whether it calls a policy function: only then are they registered.
    calls_policy_functions: bool,
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
        let calls_policy_functions = policy::functions::called_by(&program);
        Ok(Condition {
            source: source.to_owned(),
            program,
            variables,
            calls_policy_functions,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates the condition on a template context ([`crate::template::context`]).
    pub fn eval(&self, context: &Value) -> Result<bool, ConditionError> {
        let mut ctx = Context::default();
        if self.calls_policy_functions {
            policy::functions::register(&mut ctx)?;
        }
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

#[cfg(test)]
mod policy_function_tests {
    use super::*;
    use serde_json::json;

    fn ctx_with(policy: Value) -> Value {
        let event = json!({"account": "111122223333", "detail-type": "AWS API Call via CloudTrail",
            "detail": {"eventName": "PutBucketPolicy", "requestParameters": {"bucketName": "b", "bucketPolicy": policy}}});
        let params = json!({"org_accounts": ["111122223333", "444455556666"]});
        let params = params.as_object().cloned().unwrap_or_default();
        crate::template::context(&event, json!({"id": "r"}), &params)
    }

    fn eval(source: &str, policy: Value) -> Result<bool, ConditionError> {
        let condition =
            Condition::compile(source).unwrap_or_else(|e| panic!("{source} compiles: {e:?}"));
        condition.eval(&ctx_with(policy))
    }

    fn public_read() -> Value {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::payroll-2024/*"}]})
    }

    #[test]
    fn policy_is_public_on_a_map_and_a_string() {
        let source = "policy_is_public(detail.requestParameters.bucketPolicy)";
        assert_eq!(eval(source, public_read()), Ok(true));
        assert_eq!(eval(source, json!(public_read().to_string())), Ok(true));
        let trust = json!({"Statement": {"Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}});
        assert_eq!(eval(source, trust), Ok(false));
    }

    #[test]
    fn policy_external_accounts_against_params() {
        let policy = json!({"Statement": {"Effect": "Allow",
            "Principal": {"AWS": ["arn:aws:iam::999988887777:root", "111122223333"]},
            "Action": "s3:GetObject", "Resource": "*"}});
        let source = r#"policy_external_accounts(detail.requestParameters.bucketPolicy, params.org_accounts) == ["999988887777"]"#;
        assert_eq!(eval(source, policy.clone()), Ok(true));
        let source =
            "size(policy_external_accounts(detail.requestParameters.bucketPolicy, [])) == 2";
        assert_eq!(eval(source, policy), Ok(true));
        let source = r#""*" in policy_external_accounts(detail.requestParameters.bucketPolicy, params.org_accounts)"#;
        assert_eq!(eval(source, public_read()), Ok(true));
    }

    #[test]
    fn policy_grants_actions_on_resources() {
        let source = r#"policy_grants(detail.requestParameters.bucketPolicy, ["s3:Get*"], ["arn:aws:s3:::payroll-*"])"#;
        assert_eq!(eval(source, public_read()), Ok(true));
        let source =
            r#"policy_grants(detail.requestParameters.bucketPolicy, ["s3:PutObject"], [])"#;
        assert_eq!(eval(source, public_read()), Ok(false));
    }

    #[test]
    fn malformed_documents_and_arguments_are_evaluation_errors() {
        let source = "policy_is_public(detail.requestParameters.bucketPolicy)";
        let err = eval(source, json!("%7B%2")).err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("policy_is_public") && e.contains("percent-encoding")),
            "{err:?}"
        );
        let err = eval(source, json!({"Version": "2012-10-17"}))
            .err()
            .map(|e| e.to_string());
        assert!(
            err.as_deref().is_some_and(|e| e.contains("no `Statement`")),
            "{err:?}"
        );
        let source = "policy_grants(detail.requestParameters.bucketPolicy, 's3:*', [])";
        let err = eval(source, public_read()).err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("actions must be a list of strings")),
            "{err:?}"
        );
    }

    #[test]
    fn compile_accepts_policy_functions_and_still_rejects_unknown_variables() {
        assert!(Condition::compile("policy_is_public(detail.x)").is_ok());
        assert_eq!(
            Condition::compile("policy_is_public(doc)").err(),
            Some(vec![ConditionError::UnknownVariable("doc".into())])
        );
    }
}
