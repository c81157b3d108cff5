//! A rule compiled for evaluation, the same way in Lambda and offline: its suppressions
//! and condition compiled once, then, for an event its pattern matched: suppressions →
//! condition → template.
//!
//! Suppressions fail open: one that errors on an event (a field it reads is missing)
//! does not suppress it, so a careless suppression can never hide an alert. A condition
//! that errors fails the rule loudly instead ([`AlertError`]).

use std::sync::Arc;

use serde_json::Value;

use crate::alert::{self, Alert, AlertError};
use crate::condition::Condition;
use crate::manifest::{Rule, Suppression};
use crate::template;

#[derive(Debug)]
pub struct CompiledRule {
    pub rule: Rule,
    condition: Option<Condition>,
    suppressions: Vec<(Suppression, Condition)>,
}

/// What the rule decided for one event its pattern matched.
#[derive(Debug)]
pub enum Verdict {
    Alert(Box<Alert>),
    Suppressed { owner: String, reason: String },
    ConditionFalse,
}

fn compile(source: &str) -> Result<Condition, String> {
    Condition::compile(source).map_err(|es| {
        es.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    })
}

impl CompiledRule {
    /// Fails only for a rule validation would have rejected.
    pub fn new(rule: Rule) -> Result<Self, String> {
        let condition = rule.condition.as_deref().map(compile).transpose()?;
        let suppressions = rule
            .suppress
            .iter()
            .map(|s| Ok((s.clone(), compile(&s.condition)?)))
            .collect::<Result<_, String>>()?;
        Ok(Self {
            rule,
            condition,
            suppressions,
        })
    }

    /// `today` (`YYYY-MM-DD`) decides which suppressions have expired.
    pub fn evaluate(&self, event: &Value, today: &str) -> Result<Verdict, AlertError> {
        let mut ctx = Arc::new(template::event_context(event.clone()));
        self.evaluate_in(&mut ctx, today)
    }

    /// [`CompiledRule::evaluate`] on an event's context ([`template::event_context`]),
    /// which the rules an event reaches share: this one's `rule` and `params` are put
    /// into it in place.
    pub fn evaluate_in(&self, ctx: &mut Arc<Value>, today: &str) -> Result<Verdict, AlertError> {
        let rule = alert::rule_context(&self.rule);
        match Arc::get_mut(ctx) {
            Some(c) => template::set_rule(c, rule, &self.rule.params),
            None => {
                let mut c = Value::clone(ctx);
                template::set_rule(&mut c, rule, &self.rule.params);
                *ctx = Arc::new(c);
            }
        }
        for (s, c) in &self.suppressions {
            if s.expires.as_str() >= today && c.eval(ctx) == Ok(true) {
                return Ok(Verdict::Suppressed {
                    owner: s.owner.clone(),
                    reason: s.reason.clone(),
                });
            }
        }
        if let Some(c) = &self.condition
            && !c.eval(ctx)?
        {
            return Ok(Verdict::ConditionFalse);
        }
        Ok(Verdict::Alert(Box::new(alert::build_in(&self.rule, ctx)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Severity, Trigger};
    use serde_json::json;

    fn rule(condition: Option<&str>, suppress: Vec<Suppression>) -> CompiledRule {
        CompiledRule::new(Rule {
            id: "iam-access-key-created".into(),
            description: "An IAM access key was created".into(),
            severity: Severity::Medium,
            runbook: None,
            handler: "notify".into(),
            trigger: Trigger::Event {
                pattern: json!({"source": ["aws.iam"]}),
                include_read_only: false,
            },
            message: "key for {{ detail.requestParameters.userName }}".into(),
            condition: condition.map(str::to_owned),
            notify: vec!["security".into()],
            params: Default::default(),
            references: vec![],
            suppress,
            dedup: None,
            tests: vec![],
        })
        .expect("compiles")
    }

    fn ci_suppression(expires: &str) -> Suppression {
        Suppression {
            condition: r#"detail.userIdentity.arn == "arn:aws:iam::1:role/ci""#.into(),
            owner: "platform".into(),
            reason: "CI rotates keys".into(),
            expires: expires.into(),
        }
    }

    fn event(arn: &str) -> Value {
        json!({"detail": {"userIdentity": {"arn": arn}, "requestParameters": {"userName": "bob"}}})
    }

    #[test]
    fn suppression_applies_until_it_expires() {
        let r = rule(None, vec![ci_suppression("2027-01-31")]);
        let ci = event("arn:aws:iam::1:role/ci");
        assert!(matches!(
            r.evaluate(&ci, "2027-01-31"),
            Ok(Verdict::Suppressed { .. })
        ));
        assert!(matches!(
            r.evaluate(&ci, "2027-02-01"),
            Ok(Verdict::Alert(_))
        ));
        let human = event("arn:aws:iam::1:user/alice");
        assert!(matches!(
            r.evaluate(&human, "2027-01-01"),
            Ok(Verdict::Alert(_))
        ));
    }

    #[test]
    fn a_suppression_that_errors_does_not_suppress() {
        let r = rule(
            None,
            vec![Suppression {
                condition: "detail.missing.field == 1".into(),
                ..ci_suppression("2099-01-01")
            }],
        );
        assert!(matches!(
            r.evaluate(&event("x"), "2027-01-01"),
            Ok(Verdict::Alert(_))
        ));
    }

    #[test]
    fn condition_filters_after_suppressions() {
        let r = rule(
            Some(r#"detail.requestParameters.userName != "bob""#),
            vec![],
        );
        assert!(matches!(
            r.evaluate(&event("x"), "2027-01-01"),
            Ok(Verdict::ConditionFalse)
        ));
        let r = rule(Some("detail.nope == 1"), vec![]);
        assert!(matches!(
            r.evaluate(&event("x"), "2027-01-01"),
            Err(AlertError::Condition(_))
        ));
    }
}
