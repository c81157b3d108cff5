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
//! [`crate::policy::functions`]. The comprehension macros (`all`, `exists`, `exists_one`,
//! `map`, `filter`) work on lists of the event, and the variable a macro binds is known
//! inside that macro only (`condition/scope.rs`):
//! `detail.requestParameters.ipPermissions.items.exists(p, p.ipRanges.items.exists(r, r.cidrIp == "0.0.0.0/0"))`.

mod scope;

use cel::{Context, Program, Value as CelValue};
use serde_json::Value;

use crate::policy;
use crate::template::KNOWN_VARIABLES;
pub use scope::Position;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    #[error("condition syntax error: {0}")]
    Syntax(String),
    #[error("{0}")]
    UnknownVariable(UnknownVariable),
    #[error("condition failed on this event: {0}")]
    Evaluation(String),
    #[error("condition returned {0}, not a boolean")]
    NotBoolean(String),
}

/// A variable that is neither a context variable nor bound by a macro around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownVariable {
    pub name: String,
    /// Where it is first read (the parser gives every identifier a position).
    pub at: Option<Position>,
    /// Where a macro binds this name, when one does elsewhere in the condition: the name
    /// was used outside the macro that defines it.
    pub bound_at: Option<Position>,
}

impl std::fmt::Display for UnknownVariable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "condition uses unknown variable `{}`", self.name)?;
        if let Some(at) = self.at {
            write!(f, " ({at})")?;
        }
        match self.bound_at {
            Some(bound) => write!(
                f,
                ": `{}` is bound only inside its macro ({bound})",
                self.name
            ),
            None => Ok(()),
        }
    }
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
        let scoped = scope::analyze(program.expression(), program.source_info());
        let unknown: Vec<ConditionError> = scoped
            .free
            .iter()
            .filter(|(name, _)| !KNOWN_VARIABLES.contains(&name.as_str()))
            .map(|(name, at)| {
                ConditionError::UnknownVariable(UnknownVariable {
                    name: name.clone(),
                    at: *at,
                    bound_at: scoped.bound.get(name).copied().flatten(),
                })
            })
            .collect();
        if !unknown.is_empty() {
            return Err(unknown);
        }
        // Only what is read outside the macros comes from the event: a bound name is
        // the macro's to set.
        let variables = scoped.free.into_iter().map(|(name, _)| name).collect();
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

    /// The compile errors of `source`, as a rule author reads them.
    pub(super) fn messages(source: &str) -> Vec<String> {
        match Condition::compile(source) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.iter().map(ToString::to_string).collect(),
        }
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
            messages("detial.x == 1 && actor != bogus"),
            [
                "condition uses unknown variable `detial` (line 1, column 1)",
                "condition uses unknown variable `bogus` (line 1, column 27)",
            ]
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
            super::tests::messages("policy_is_public(doc)"),
            ["condition uses unknown variable `doc` (line 1, column 18)"]
        );
    }
}

/// Comprehension macros on real CloudTrail records (`tests/events/`, read at compile time:
/// the core does no I/O).
#[cfg(test)]
mod macro_tests {
    use super::*;
    use serde_json::json;

    const WORLD: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/events/ec2/authorize-sg-ingress-world-ip-permissions.json"
    ));
    const PRIVATE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/events/ec2/authorize-sg-ingress-private.json"
    ));
    /// The older request shape: `cidrIp` at the top, `ipPermissions` empty.
    const CIDR_IP: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/events/ec2/authorize-sg-ingress-world-cidr-ip.json"
    ));
    const IPV6: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/events/ec2/authorize-sg-ingress-ipv6-world.json"
    ));

    const OPEN_TO_WORLD: &str = r#"has(detail.requestParameters.ipPermissions.items) && detail.requestParameters.ipPermissions.items.exists(p, has(p.ipRanges.items) && p.ipRanges.items.exists(r, r.cidrIp == "0.0.0.0/0"))"#;

    /// A CloudTrail record as a condition sees it: wrapped as EventBridge wraps it.
    fn context(record: &str) -> Value {
        let record: Value = serde_json::from_str(record).expect("fixture is JSON");
        let event = crate::event::wrap_cloudtrail_record(record).expect("fixture is a record");
        crate::template::context(&event, json!({"id": "r"}), &serde_json::Map::new())
    }

    fn eval(source: &str, record: &str) -> Result<bool, ConditionError> {
        let condition =
            Condition::compile(source).unwrap_or_else(|e| panic!("{source} compiles: {e:?}"));
        condition.eval(&context(record))
    }

    fn unknown(source: &str) -> Vec<UnknownVariable> {
        match Condition::compile(source) {
            Ok(_) => panic!("{source} compiled"),
            Err(errors) => errors
                .into_iter()
                .map(|e| match e {
                    ConditionError::UnknownVariable(u) => u,
                    other => panic!("{source}: {other}"),
                })
                .collect(),
        }
    }

    fn at(line: usize, column: usize) -> Option<Position> {
        Some(Position { line, column })
    }

    #[test]
    fn nested_exists_compiles_and_evaluates_on_real_events() {
        assert_eq!(eval(OPEN_TO_WORLD, WORLD), Ok(true));
        assert_eq!(eval(OPEN_TO_WORLD, PRIVATE), Ok(false));
        assert_eq!(eval(OPEN_TO_WORLD, CIDR_IP), Ok(false));
        assert_eq!(eval(OPEN_TO_WORLD, IPV6), Ok(false));
        let ipv6 = r#"detail.requestParameters.ipPermissions.items.exists(p, has(p.ipv6Ranges.items) && p.ipv6Ranges.items.exists(r, r.cidrIpv6 == "::/0"))"#;
        assert_eq!(eval(ipv6, IPV6), Ok(true));
        assert_eq!(eval(ipv6, WORLD), Ok(false));
    }

    /// Only what is read outside the macros is taken from the event; the bound names are
    /// not (a stale `p` from the event would otherwise be a candidate).
    #[test]
    fn bound_names_are_not_event_variables() {
        let c = Condition::compile(OPEN_TO_WORLD).expect("compiles");
        assert_eq!(c.variables, ["detail"]);
    }

    #[test]
    fn every_comprehension_macro_evaluates() {
        let items = "detail.requestParameters.ipPermissions.items";
        for (source, world, private) in [
            (
                format!("{items}.all(p, p.fromPort == 443 && p.toPort == 443)"),
                true,
                true,
            ),
            (
                format!("{items}.all(p, p.ipRanges.items.all(r, r.cidrIp.startsWith(\"10.\")))"),
                false,
                true,
            ),
            (
                format!("{items}.exists_one(p, p.ipProtocol == \"tcp\")"),
                true,
                true,
            ),
            (format!("{items}.map(p, p.fromPort) == [443]"), true, true),
            (
                format!("{items}.map(p, p.ipRanges.items.map(r, r.cidrIp)) == [[\"0.0.0.0/0\"]]"),
                true,
                false,
            ),
            (
                format!(
                    "size({items}.filter(p, p.ipRanges.items.exists(r, r.cidrIp.endsWith(\"/0\")))) > 0"
                ),
                true,
                false,
            ),
            (
                format!("{items}.map(p, p.toPort).filter(port, port < 1024).size() == 1"),
                true,
                true,
            ),
        ] {
            assert_eq!(
                eval(&source, WORLD),
                Ok(world),
                "{source} on the open group"
            );
            assert_eq!(
                eval(&source, PRIVATE),
                Ok(private),
                "{source} on the private group"
            );
        }
    }

    /// An inner macro may rebind the outer one's name, and a macro may rebind a context
    /// variable inside its body; CEL's innermost binding wins.
    #[test]
    fn shadowing_binds_the_innermost() {
        let inner = r#"detail.requestParameters.ipPermissions.items.exists(x, x.ipRanges.items.exists(x, x.cidrIp == "0.0.0.0/0"))"#;
        assert_eq!(eval(inner, WORLD), Ok(true));
        assert_eq!(eval(inner, PRIVATE), Ok(false));
        // After the inner macro, `x` is the outer element again.
        let after = r#"detail.requestParameters.ipPermissions.items.exists(x, x.ipRanges.items.exists(x, has(x.cidrIp)) && x.fromPort == 443)"#;
        assert_eq!(eval(after, WORLD), Ok(true));
        let context_name = r#"detail.requestParameters.ipPermissions.items.exists(detail, detail.fromPort == 443) && detail.eventName == "AuthorizeSecurityGroupIngress""#;
        assert_eq!(eval(context_name, WORLD), Ok(true));
        let c = Condition::compile(context_name).expect("compiles");
        assert_eq!(c.variables, ["detail"]);
    }

    #[test]
    fn a_bound_variable_outside_its_macro_is_an_error_with_both_positions() {
        let source = "detail.requestParameters.ipPermissions.items.exists(p, p.fromPort == 443) && p.toPort == 443";
        assert_eq!(
            unknown(source),
            [UnknownVariable {
                name: "p".into(),
                at: at(1, 78),
                bound_at: at(1, 53),
            }]
        );
        assert_eq!(
            messages(source),
            [
                "condition uses unknown variable `p` (line 1, column 78): `p` is bound only inside its macro (line 1, column 53)"
            ]
        );
        // Its own range is outside the macro too, and so is a sibling macro.
        assert_eq!(unknown("p.exists(p, p > 0)")[0].at, at(1, 1));
        let sibling = "detail.a.exists(p, p > 0) || detail.b.exists(q, p == q)";
        assert_eq!(
            unknown(sibling),
            [UnknownVariable {
                name: "p".into(),
                at: at(1, 49),
                bound_at: at(1, 17),
            }]
        );
    }

    #[test]
    fn a_misspelled_context_variable_inside_a_macro_is_an_error() {
        let source = "detail.requestParameters.ipPermissions.items.exists(p,\n  p.ipRanges.items.exists(r, r.cidrIp == detial.x))";
        assert_eq!(
            unknown(source),
            [UnknownVariable {
                name: "detial".into(),
                at: at(2, 42),
                bound_at: None,
            }]
        );
        assert_eq!(
            messages(source),
            ["condition uses unknown variable `detial` (line 2, column 42)"]
        );
    }

    #[test]
    fn policy_functions_apply_to_bound_elements() {
        let record = json!({"eventVersion": "1.08", "eventType": "AwsApiCall", "eventSource": "iam.amazonaws.com",
            "eventName": "PutRolePolicy", "awsRegion": "us-east-1", "eventTime": "2024-01-01T00:00:00Z",
            "recipientAccountId": "111122223333", "eventID": "e1",
            "requestParameters": {"docs": [
                {"Statement": {"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "s3:*", "Resource": "*"}},
                {"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}}]}});
        let source = "detail.requestParameters.docs.exists(d, policy_is_public(d))";
        assert_eq!(eval(source, &record.to_string()), Ok(true));
        let source = "detail.requestParameters.docs.map(d, policy_is_public(d)) == [false, true]";
        assert_eq!(eval(source, &record.to_string()), Ok(true));
    }

    fn messages(source: &str) -> Vec<String> {
        super::tests::messages(source)
    }
}
