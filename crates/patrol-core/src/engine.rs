//! Runs a whole manifest over events offline, with the live path's semantics: one
//! compiled matcher for every event-triggered rule, EventBridge's read-only delivery rule,
//! the rule's condition, then the alert. Used by `patrol test` and `patrol replay`.

use serde_json::Value;

use crate::alert::{self, Alert, AlertError};
use crate::condition::Condition;
use crate::event;
use crate::manifest::{Manifest, Rule, Trigger};
use crate::pattern::{Matcher, Pattern};

#[derive(Debug)]
pub struct Engine<'m> {
    /// Event-triggered rules, in matcher id order, with their compiled conditions.
    rules: Vec<(&'m Rule, Option<Condition>)>,
    matcher: Matcher,
}

/// What one rule did with one event whose pattern it matched.
#[derive(Debug)]
pub enum Outcome {
    Alert(Box<Alert>),
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

impl<'m> Engine<'m> {
    pub fn new(manifest: &'m Manifest) -> Result<Self, EngineError> {
        let mut rules = Vec::new();
        let mut patterns = Vec::new();
        for rule in &manifest.rules {
            if let Trigger::Event { pattern, .. } = &rule.trigger {
                let err = |message: String| EngineError {
                    rule: rule.id.clone(),
                    message,
                };
                let p = Pattern::parse(pattern).map_err(|e| err(e.to_string()))?;
                let condition = rule
                    .condition
                    .as_deref()
                    .map(Condition::compile)
                    .transpose()
                    .map_err(|es| {
                        err(es
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("; "))
                    })?;
                rules.push((rule, condition));
                patterns.push(p);
            }
        }
        Ok(Self {
            rules,
            matcher: Matcher::new(&patterns),
        })
    }

    /// Rules EventBridge would deliver this (EventBridge-shaped) event to, with their
    /// conditions.
    fn delivered_to(&self, event: &Value) -> Vec<&(&'m Rule, Option<Condition>)> {
        let read_only = event::is_read_only_management_event(event);
        self.matcher
            .matches(event)
            .into_iter()
            .filter_map(|i| self.rules.get(i))
            .filter(|(rule, _)| {
                !read_only
                    || matches!(
                        rule.trigger,
                        Trigger::Event {
                            include_read_only: true,
                            ..
                        }
                    )
            })
            .collect()
    }

    /// Rules EventBridge would deliver this (EventBridge-shaped) event to.
    pub fn matching_rules(&self, event: &Value) -> Vec<&'m Rule> {
        self.delivered_to(event)
            .into_iter()
            .map(|(r, _)| *r)
            .collect()
    }

    /// Every alert the manifest raises for this event, in rule order (pattern, read-only
    /// delivery, condition, template).
    pub fn evaluate(&self, event: &Value) -> Vec<Outcome> {
        self.delivered_to(event)
            .into_iter()
            .filter_map(|(rule, condition)| {
                match alert::evaluate(rule, condition.as_ref(), event) {
                    Ok(Some(a)) => Some(Outcome::Alert(Box::new(a))),
                    Ok(None) => None,
                    Err(error) => Some(Outcome::Failed {
                        rule: rule.id.clone(),
                        error,
                    }),
                }
            })
            .collect()
    }
}
