//! Runs a whole manifest over events offline, with the live path's semantics: one
//! compiled matcher for every event-triggered rule, EventBridge's read-only delivery rule,
//! the rule's condition, then the alert. Used by `patrol test` and `patrol replay`.

use serde_json::Value;

use crate::alert::{Alert, AlertError};
use crate::event;
use crate::manifest::{Manifest, Rule, Trigger};
use crate::pattern::{Matcher, Pattern};
use crate::rule::{CompiledRule, Verdict};

#[derive(Debug)]
pub struct Engine {
    /// Event-triggered rules, in matcher id order.
    rules: Vec<CompiledRule>,
    matcher: Matcher,
}

/// What one rule did with one event whose pattern it matched (a false condition is no
/// outcome at all).
#[derive(Debug)]
pub enum Outcome {
    Alert(Box<Alert>),
    Suppressed {
        rule: String,
        owner: String,
    },
    /// The pattern matched but the condition or the template failed.
    Failed {
        rule: String,
        error: AlertError,
    },
}

/// A manifest that validation should have rejected (it was built by hand).
#[derive(Debug, thiserror::Error)]
#[error("rule `{rule}`: {message}")]
pub struct EngineError {
    pub rule: String,
    pub message: String,
}

impl Engine {
    pub fn new(manifest: &Manifest) -> Result<Self, EngineError> {
        let mut rules = Vec::new();
        let mut patterns = Vec::new();
        for rule in &manifest.rules {
            if let Trigger::Event { pattern, .. } = &rule.trigger {
                let err = |message: String| EngineError {
                    rule: rule.id.clone(),
                    message,
                };
                patterns.push(Pattern::parse(pattern).map_err(|e| err(e.to_string()))?);
                rules.push(CompiledRule::new(rule.clone()).map_err(err)?);
            }
        }
        Ok(Self {
            rules,
            matcher: Matcher::new(&patterns),
        })
    }

    /// Rules EventBridge would deliver this (EventBridge-shaped) event to.
    fn delivered_to(&self, event: &Value) -> Vec<&CompiledRule> {
        let read_only = event::is_read_only_management_event(event);
        self.matcher
            .matches(event)
            .into_iter()
            .filter_map(|i| self.rules.get(i))
            .filter(|r| {
                !read_only
                    || matches!(
                        r.rule.trigger,
                        Trigger::Event {
                            include_read_only: true,
                            ..
                        }
                    )
            })
            .collect()
    }

    /// Rules EventBridge would deliver this (EventBridge-shaped) event to.
    pub fn matching_rules(&self, event: &Value) -> Vec<&Rule> {
        self.delivered_to(event)
            .into_iter()
            .map(|r| &r.rule)
            .collect()
    }

    /// What every rule does with this event, in rule order (pattern, read-only delivery,
    /// suppressions, condition, template). `today` (`YYYY-MM-DD`) decides which
    /// suppressions have expired: the real date for tests, the event's date for replays.
    pub fn evaluate(&self, event: &Value, today: &str) -> Vec<Outcome> {
        self.delivered_to(event)
            .into_iter()
            .filter_map(|r| match r.evaluate(event, today) {
                Ok(Verdict::Alert(a)) => Some(Outcome::Alert(a)),
                Ok(Verdict::Suppressed { owner, .. }) => Some(Outcome::Suppressed {
                    rule: r.rule.id.clone(),
                    owner,
                }),
                Ok(Verdict::ConditionFalse) => None,
                Err(error) => Some(Outcome::Failed {
                    rule: r.rule.id.clone(),
                    error,
                }),
            })
            .collect()
    }
}
