//! Rules that events reach by pattern (a feed's rules, the SNS rules): Patrol's exact
//! engine says which rules an event reaches, and each rule, compiled once, decides on the
//! events its handler returns for it.
//!
//! The engine here matches patterns only: a handler's events (an audit's findings) are
//! not the event that matched, so the rule's suppressions and condition are checked on
//! each of them afterwards ([`CompiledRule::evaluate`]), never by the engine.

use patrol_core::engine::{Engine, EngineError};
use patrol_core::manifest::Rule;
use patrol_core::rule::CompiledRule;
use serde_json::Value;

#[derive(Debug)]
pub struct EventRules {
    /// The rules, compiled once: the engine matches their delivery patterns, and each
    /// decides (suppressions, condition) on the events its handler returns.
    engine: Engine,
}

impl EventRules {
    /// A rule without a delivery pattern (a schedule) is an error.
    pub fn new(rules: Vec<CompiledRule>) -> Result<Self, EngineError> {
        Ok(Self {
            engine: Engine::from_compiled(rules)?,
        })
    }

    /// The rules, in order.
    pub fn rules(&self) -> impl ExactSizeIterator<Item = &Rule> {
        self.engine.rules()
    }

    /// The rules EventBridge would deliver this event to (pattern and read-only delivery),
    /// in rule order.
    pub fn matching(&self, event: &Value) -> Vec<&CompiledRule> {
        self.engine.delivered_to(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use patrol_core::manifest::{Severity, Trigger};
    use patrol_core::rule::Verdict;
    use serde_json::json;

    fn rule(id: &str, source: &str, condition: Option<&str>) -> CompiledRule {
        let rule = Rule {
            id: id.into(),
            description: "d".into(),
            severity: Severity::High,
            runbook: None,
            handler: "notify".into(),
            trigger: Trigger::Event {
                pattern: json!({"source": [source]}),
                include_read_only: false,
            },
            message: "m".into(),
            condition: condition.map(str::to_owned),
            notify: vec!["security".into()],
            params: Default::default(),
            references: vec![],
            suppress: vec![],
            dedup: None,
            tests: vec![],
        };
        CompiledRule::new(rule).expect("compiles")
    }

    #[test]
    fn matching_is_by_pattern_and_the_rule_decides_with_its_condition() {
        let rules = EventRules::new(vec![
            rule("iam", "aws.iam", Some("detail.x == 1")),
            rule("s3", "aws.s3", None),
        ])
        .expect("valid");
        let event = json!({"id": "1", "source": "aws.iam", "detail-type": "t", "detail": {"x": 2}});
        let matched = rules.matching(&event);
        assert_eq!(
            matched
                .iter()
                .map(|c| c.rule.id.as_str())
                .collect::<Vec<_>>(),
            ["iam"]
        );
        // The condition was not checked by matching; the compiled rule checks it.
        assert!(matches!(
            matched[0].evaluate(&event, "2026-01-01"),
            Ok(Verdict::ConditionFalse)
        ));
        assert_eq!(rules.rules().len(), 2);
    }
}
