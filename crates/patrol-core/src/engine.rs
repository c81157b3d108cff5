//! Runs rules over events with the live path's semantics: one compiled matcher for every
//! rule that evaluates events (EventBridge patterns, and the offline equivalent of SNS and
//! webhook delivery: [`Trigger::delivery_pattern`]), EventBridge's read-only delivery rule,
//! the rule's condition, then the alert. Used offline over a whole manifest by `patrol test`
//! and `patrol replay`, and live over the rules of one feed by the handler functions.

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
    /// Every rule of the manifest that evaluates events (schedules have no pattern).
    pub fn new(manifest: &Manifest) -> Result<Self, EngineError> {
        let rules = manifest
            .rules
            .iter()
            .filter(|r| r.trigger.evaluates_events())
            .map(|rule| {
                CompiledRule::new(rule.clone()).map_err(|message| EngineError {
                    rule: rule.id.clone(),
                    message,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_compiled(rules)
    }

    /// These rules, already compiled (a handler function's feed: the rules of one cover).
    /// A rule without a delivery pattern (a schedule) is an error.
    pub fn from_compiled(rules: Vec<CompiledRule>) -> Result<Self, EngineError> {
        let patterns = rules
            .iter()
            .map(|r| {
                let err = |message: String| EngineError {
                    rule: r.rule.id.clone(),
                    message,
                };
                let pattern =
                    r.rule.trigger.delivery_pattern().ok_or_else(|| {
                        err("a scheduled rule has no pattern to match events".into())
                    })?;
                Pattern::parse(&pattern).map_err(|e| err(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            rules,
            matcher: Matcher::new(&patterns),
            head: HeadIndex::new(&patterns, &HEAD_PATHS),
        })
    }

    /// The rules, in matcher id order.
    pub fn rules(&self) -> impl ExactSizeIterator<Item = &Rule> {
        self.rules.iter().map(|r| &r.rule)
    }

    /// Rules EventBridge would deliver this (EventBridge-shaped) event to, compiled (a
    /// handler function decides with each on the events its handler returns).
    pub fn delivered_to(&self, event: &Value) -> Vec<&CompiledRule> {
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

    /// What each rule EventBridge would deliver this event to decided, false conditions
    /// included, in rule order: the live path reports why a rule sent nothing.
    pub fn verdicts(&self, event: Value, today: &str) -> Vec<(&Rule, Result<Verdict, AlertError>)> {
        let rules = self.delivered_to(&event);
        if rules.is_empty() {
            return Vec::new();
        }
        verdicts_of(rules, event, today)
    }

    fn evaluate_for(&self, rules: Vec<&CompiledRule>, event: Value, today: &str) -> Vec<Outcome> {
        verdicts_of(rules, event, today)
            .into_iter()
            .filter_map(|(rule, verdict)| match verdict {
                Ok(Verdict::Alert(a)) => Some(Outcome::Alert(a)),
                Ok(Verdict::Suppressed { owner, .. }) => Some(Outcome::Suppressed {
                    rule: rule.id.clone(),
                    owner,
                }),
                Ok(Verdict::ConditionFalse) => None,
                Err(error) => Some(Outcome::Failed {
                    rule: rule.id.clone(),
                    error,
                }),
            })
            .collect()
    }
}

fn verdicts_of<'a>(
    rules: Vec<&'a CompiledRule>,
    event: Value,
    today: &str,
) -> Vec<(&'a Rule, Result<Verdict, AlertError>)> {
    // One context for every rule the event reaches.
    let mut ctx = std::sync::Arc::new(crate::template::event_context(event));
    rules
        .into_iter()
        .map(|r| (&r.rule, r.evaluate_in(&mut ctx, today)))
        .collect()
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
    fn verdicts_of_compiled_rules_report_false_conditions_and_skip_read_only_events() {
        let rule = |id: &str, pattern: Value, include_read_only: bool, condition: Option<&str>| {
            let rule: Rule = serde_json::from_value(json!({
                "id": id, "description": "d", "severity": "high", "handler": "notify",
                "trigger": {"type": "event", "pattern": pattern, "include_read_only": include_read_only},
                "message": "m", "notify": ["security"], "condition": condition,
            }))
            .expect("rule");
            CompiledRule::new(rule).expect("compiles")
        };
        let iam = json!({"source": ["aws.iam"]});
        let e = Engine::from_compiled(vec![
            rule("writes", iam.clone(), false, None),
            rule("all-calls", iam.clone(), true, None),
            rule("quiet", iam, true, Some("detail.eventName == \"Nope\"")),
            rule("other", json!({"source": ["aws.s3"]}), true, None),
        ])
        .expect("engine");
        assert_eq!(e.rules().len(), 4);
        let event = |read_only: bool| {
            json!({"source": "aws.iam", "detail-type": "AWS API Call via CloudTrail",
                "detail": {"eventName": "GetUser", "readOnly": read_only}})
        };
        let decided = |event: Value| {
            e.verdicts(event, "2026-11-22")
                .into_iter()
                .map(|(r, v)| (r.id.clone(), matches!(v, Ok(Verdict::Alert(_)))))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            decided(event(false)),
            [
                ("writes".into(), true),
                ("all-calls".into(), true),
                ("quiet".into(), false)
            ]
        );
        assert_eq!(
            decided(event(true)),
            [("all-calls".into(), true), ("quiet".into(), false)]
        );
        let scheduled: Rule = serde_json::from_value(json!({
            "id": "daily", "description": "d", "severity": "low", "handler": "notify",
            "trigger": {"type": "schedule", "expression": "rate(1 day)"},
            "message": "m", "notify": ["security"],
        }))
        .expect("rule");
        let err = Engine::from_compiled(vec![CompiledRule::new(scheduled).expect("compiles")])
            .expect_err("no pattern");
        assert_eq!(err.rule, "daily");
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
