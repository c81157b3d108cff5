//! Runs a whole manifest over events offline, with the live path's semantics: one
//! compiled matcher for every event-triggered rule, EventBridge's read-only delivery rule,
//! then the alert. Used by `patrol test` and `patrol replay`.

use serde_json::Value;

use crate::alert::{self, Alert};
use crate::event;
use crate::manifest::{Manifest, Rule, Trigger};
use crate::pattern::{Matcher, Pattern, PatternError};
use crate::template::TemplateError;

#[derive(Debug)]
pub struct Engine<'m> {
    /// Event-triggered rules, in matcher id order.
    rules: Vec<&'m Rule>,
    matcher: Matcher,
}

/// What one rule did with one event.
#[derive(Debug)]
pub enum Outcome {
    Alert(Box<Alert>),
    /// The pattern matched but the alert could not be rendered.
    Failed {
        rule: String,
        error: TemplateError,
    },
}

impl<'m> Engine<'m> {
    pub fn new(manifest: &'m Manifest) -> Result<Self, (String, PatternError)> {
        let mut rules = Vec::new();
        let mut patterns = Vec::new();
        for rule in &manifest.rules {
            if let Trigger::Event { pattern, .. } = &rule.trigger {
                let p = Pattern::parse(pattern).map_err(|e| (rule.id.clone(), e))?;
                rules.push(rule);
                patterns.push(p);
            }
        }
        Ok(Self {
            rules,
            matcher: Matcher::new(&patterns),
        })
    }

    /// Rules EventBridge would deliver this (EventBridge-shaped) event to.
    pub fn matching_rules(&self, event: &Value) -> Vec<&'m Rule> {
        let read_only = event::is_read_only_management_event(event);
        self.matcher
            .matches(event)
            .into_iter()
            .filter_map(|i| self.rules.get(i).copied())
            .filter(|rule| {
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

    /// Every alert the manifest raises for this event, in rule order.
    pub fn evaluate(&self, event: &Value) -> Vec<Outcome> {
        self.matching_rules(event)
            .into_iter()
            .map(|rule| match alert::build(rule, event) {
                Ok(a) => Outcome::Alert(Box::new(a)),
                Err(error) => Outcome::Failed {
                    rule: rule.id.clone(),
                    error,
                },
            })
            .collect()
    }
}
