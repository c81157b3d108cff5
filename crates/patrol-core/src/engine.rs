//! Runs a whole manifest over events offline, with the live path's semantics: one
//! compiled matcher for every rule that evaluates events (EventBridge patterns, and the
//! offline equivalent of SNS and webhook delivery: [`Trigger::delivery_pattern`]), EventBridge's read-only delivery rule,
//! the rule's condition, then the alert. Used by `patrol test` and `patrol replay`.

use serde_json::Value;

use crate::alert::{Alert, AlertError};
use crate::event;
use crate::manifest::{Manifest, Rule, Trigger};
use crate::pattern::{HeadIndex, HeadValue, Matcher, Pattern};
use crate::rule::{CompiledRule, Verdict};

/// The fields [`Engine::may_match_head`] takes a CloudTrail event's values of, in this
/// order: the ones rules name most, the most selective first.
pub const HEAD_PATHS: [&str; 4] = [
    "detail.eventName",
    "source",
    "detail.errorCode",
    "detail.userIdentity.type",
];

#[derive(Debug)]
pub struct Engine {
    /// Event-triggered rules, in matcher id order.
    rules: Vec<CompiledRule>,
    matcher: Matcher,
    /// The patterns indexed on [`HEAD_PATHS`].
    head: HeadIndex,
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
            if let Some(pattern) = rule.trigger.delivery_pattern() {
                let err = |message: String| EngineError {
                    rule: rule.id.clone(),
                    message,
                };
                patterns.push(Pattern::parse(&pattern).map_err(|e| err(e.to_string()))?);
                rules.push(CompiledRule::new(rule.clone()).map_err(err)?);
            }
        }
        Ok(Self {
            rules,
            matcher: Matcher::new(&patterns),
            head: HeadIndex::new(&patterns, &HEAD_PATHS),
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

    /// Whether some rule's pattern may match an event with these values at
    /// [`HEAD_PATHS`]; `false` means none does, so the event need not be read further
    /// (a few hash lookups, see [`HeadIndex`]).
    pub fn may_match_head(&self, values: &[HeadValue<'_>; 4]) -> bool {
        self.head.may_match(values)
    }

    /// Whether some rule's pattern matches the EventBridge event `json` (raw text; fields
    /// no pattern names are not checked): a cheap test before building the event for
    /// [`Engine::evaluate`]. When unsure (the text cannot be read), yes.
    pub fn may_match_json(&self, json: &[u8]) -> bool {
        self.matcher
            .matches_json(json)
            .map_or(true, |m| !m.is_empty())
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
        let rules = self.delivered_to(event);
        if rules.is_empty() {
            return Vec::new();
        }
        self.evaluate_for(rules, event.clone(), today)
    }

    /// [`Engine::evaluate`] for an event the caller no longer needs: nothing is copied.
    pub fn evaluate_owned(&self, event: Value, today: &str) -> Vec<Outcome> {
        let rules = self.delivered_to(&event);
        if rules.is_empty() {
            return Vec::new();
        }
        self.evaluate_for(rules, event, today)
    }

    fn evaluate_for(&self, rules: Vec<&CompiledRule>, event: Value, today: &str) -> Vec<Outcome> {
        // One context for every rule the event reaches.
        let mut ctx = std::sync::Arc::new(crate::template::event_context(event));
        rules
            .into_iter()
            .filter_map(|r| match r.evaluate_in(&mut ctx, today) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{ValidateOptions, WebhookProvider, validate_str};
    use serde_json::{Map, json};

    const MANIFEST: &str = r#"
[defaults]
notify = ["security"]
severity = "high"
[notify.security]
type = "sns"
[rules.alarm-fired]
description = "A critical CloudWatch alarm fired"
trigger.sns = { topic = "arn:aws:sns:eu-west-1:111122223333:alarms", filter_policy = { severity = ["critical"] } }
condition = 'detail.Message.NewStateValue == "ALARM"'
message = "{{ detail.Message.AlarmName }} is {{ detail.Message.NewStateValue }}"
dedup = { key = "{{ detail.Message.AlarmName }}", window = "1h" }
tests = [{ event = "a.json", expect = "alert" }, { event = "b.json", expect = "quiet" }]
[rules.repo-deleted]
description = "A GitHub repository was deleted"
trigger.webhook = { provider = "github", secret = "patrol/github-webhook" }
condition = 'detail.action == "deleted"'
message = "{{ actor }} deleted {{ detail.repository.full_name }}"
tests = [{ event = "a.json", expect = "alert" }, { event = "b.json", expect = "quiet" }]
"#;

    fn engine() -> Engine {
        let m = validate_str(MANIFEST, "rules.toml", &ValidateOptions::default())
            .unwrap_or_else(|d| panic!("{d:?}"));
        Engine::new(&m).expect("engine")
    }

    fn alarm(topic: &str, severity: &str, state: &str) -> Value {
        let mut attrs = Map::new();
        attrs.insert("severity".into(), json!(severity));
        let message = json!({"AlarmName": "api-5xx", "NewStateValue": state}).to_string();
        event::wrap_sns(
            topic,
            "m-1",
            "2026-11-22T10:00:00.000Z",
            Some("ALARM: api-5xx"),
            &message,
            attrs,
        )
    }

    fn alerts(outcomes: Vec<Outcome>) -> Vec<Alert> {
        outcomes
            .into_iter()
            .map(|o| match o {
                Outcome::Alert(a) => *a,
                other => panic!("not an alert: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn sns_rules_see_their_topic_filtered_and_conditioned() {
        let e = engine();
        let topic = "arn:aws:sns:eu-west-1:111122223333:alarms";
        let fired = alerts(e.evaluate(&alarm(topic, "critical", "ALARM"), "2026-11-22"));
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].rule, "alarm-fired");
        assert_eq!(fired[0].message, "api-5xx is ALARM");
        assert_eq!(fired[0].dedup_key.as_deref(), Some("api-5xx"));
        assert_eq!(fired[0].account.as_deref(), Some("111122223333"));
        assert_eq!(fired[0].region.as_deref(), Some("eu-west-1"));
        // The filter policy, the topic and the condition each keep it quiet.
        assert!(
            e.evaluate(&alarm(topic, "warning", "ALARM"), "2026-11-22")
                .is_empty()
        );
        let other = "arn:aws:sns:eu-west-1:111122223333:other";
        assert!(
            e.evaluate(&alarm(other, "critical", "ALARM"), "2026-11-22")
                .is_empty()
        );
        assert!(
            e.evaluate(&alarm(topic, "critical", "OK"), "2026-11-22")
                .is_empty()
        );
    }

    #[test]
    fn webhook_rules_see_their_provider() {
        let e = engine();
        let body = json!({"action": "deleted", "repository": {"full_name": "acme/infra"}, "sender": {"login": "mallory"}}).to_string();
        let header = |name: &str| match name {
            "x-github-event" => Some("repository".to_owned()),
            "x-github-delivery" => Some("d-1".to_owned()),
            _ => None,
        };
        let ev = event::wrap_webhook(
            WebhookProvider::Github,
            &header,
            body.as_bytes(),
            "2026-11-22T10:00:00Z",
            "req-1",
        )
        .expect("wraps");
        let fired = alerts(e.evaluate(&ev, "2026-11-22"));
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].message, "mallory deleted acme/infra");
        assert_eq!(fired[0].actor.as_deref(), Some("mallory"));
        assert_eq!(fired[0].event_id.as_deref(), Some("d-1"));
        let gitlab = event::wrap_webhook(
            WebhookProvider::Gitlab,
            &header,
            body.as_bytes(),
            "2026-11-22T10:00:00Z",
            "req-1",
        )
        .expect("wraps");
        assert!(e.evaluate(&gitlab, "2026-11-22").is_empty());
        assert!(event::wrap_webhook(WebhookProvider::Github, &header, b"a=b", "t", "r").is_err());
    }
}
