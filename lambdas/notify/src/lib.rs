//! The generic rule function: EventBridge delivered an event that matched the rule's
//! pattern; render the rule's alert and deliver it to the rule's sinks.
//!
//! Errors become `lambda_runtime::Diagnostic`s with a meaningful `error_type`, so a failed
//! invocation is retried by Lambda and then dead-lettered, never dropped silently.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{Diagnostic, LambdaEvent};
use patrol_aws::config::{ConfigError, RuleConfig, SinkConfig};
use patrol_aws::sink::{DeliveryError, SnsPublish, deliver};
use patrol_core::alert::AlertError;
use patrol_core::rule::{CompiledRule, Verdict};
use serde::Serialize;
use serde_json::Value;

/// What the function needs, built once at cold start.
#[derive(Debug)]
pub struct Notify<P> {
    /// The rule, its suppressions and condition compiled.
    pub rule: CompiledRule,
    pub sinks: Vec<SinkConfig>,
    pub sns: P,
}

impl<P> Notify<P> {
    /// Compiles the rule; a bad condition or suppression fails the cold start, loudly.
    pub fn new(config: RuleConfig, sns: P) -> Result<Self, ConfigError> {
        let rule = CompiledRule::new(config.rule).map_err(|message| ConfigError::Invalid {
            var: patrol_aws::config::ENV_RULE,
            message,
        })?;
        Ok(Self {
            rule,
            sinks: config.sinks,
            sns,
        })
    }
}

/// The invocation's result, visible in `cargo lambda invoke` and Lambda destinations.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Response {
    pub rule: String,
    /// Empty when the rule's condition was false for this event.
    pub message_ids: Vec<String>,
    /// Why no alert was sent, when none was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("event is not serializable: {0}")]
    Event(String),
    #[error(transparent)]
    Alert(#[from] AlertError),
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
}

impl From<NotifyError> for Diagnostic {
    fn from(e: NotifyError) -> Self {
        let error_type = match &e {
            NotifyError::Event(_) => "Patrol.InvalidEvent",
            NotifyError::Alert(AlertError::Template(_)) => "Patrol.TemplateError",
            NotifyError::Alert(AlertError::Condition(_)) => "Patrol.ConditionError",
            NotifyError::Delivery(_) => "Patrol.DeliveryFailed",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: e.to_string(),
        }
    }
}

pub async fn handle<P: SnsPublish>(
    notify: &Notify<P>,
    event: LambdaEvent<EventBridgeEvent<Value>>,
) -> Result<Response, NotifyError> {
    let request_id = event.context.request_id.clone();
    let event: Value =
        serde_json::to_value(&event.payload).map_err(|e| NotifyError::Event(e.to_string()))?;
    let rule = &notify.rule.rule;
    let verdict = notify
        .rule
        .evaluate(&event, &patrol_core::date::today())
        .inspect_err(|e| {
            tracing::error!(rule = %rule.id, request_id, error = %e, "rule failed on this event");
        })?;
    let skipped = |why: String| {
        tracing::info!(rule = %rule.id, request_id, why, "no alert");
        Ok(Response {
            rule: rule.id.clone(),
            message_ids: Vec::new(),
            skipped: Some(why),
        })
    };
    let alert = match verdict {
        Verdict::Alert(alert) => alert,
        Verdict::ConditionFalse => return skipped("condition false".to_owned()),
        Verdict::Suppressed { owner, reason } => {
            return skipped(format!("suppressed by {owner}: {reason}"));
        }
    };
    let message_ids = deliver(&notify.sns, &notify.sinks, &alert).await?;
    Ok(Response {
        rule: rule.id.clone(),
        message_ids,
        skipped: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use patrol_aws::config::SinkConfig;
    use patrol_core::alert::Alert;
    use patrol_core::manifest::{Rule, Severity, Trigger};
    use std::sync::Mutex;

    #[derive(Debug, Default)]
    struct FakeSns {
        sent: Mutex<Vec<(String, String)>>,
        fail: bool,
    }

    impl SnsPublish for FakeSns {
        async fn publish(&self, topic_arn: &str, alert: &Alert) -> Result<String, String> {
            if self.fail {
                return Err("AuthorizationError: not allowed".into());
            }
            let mut sent = self.sent.lock().map_err(|e| e.to_string())?;
            sent.push((topic_arn.to_owned(), alert.text()));
            Ok(format!("msg-{}", sent.len()))
        }
    }

    fn notify(fail: bool) -> Notify<FakeSns> {
        notify_with(fail, None)
    }

    fn notify_with(fail: bool, condition: Option<&str>) -> Notify<FakeSns> {
        let n = Notify::new(
            RuleConfig {
                rule: Rule {
                    id: "root-console-login".into(),
                    description: "Root signed in".into(),
                    severity: Severity::Critical,
                    runbook: None,
                    handler: "notify".into(),
                    trigger: Trigger::Event {
                        pattern: serde_json::json!({"source": ["aws.signin"]}),
                        include_read_only: false,
                    },
                    message: "Root console sign-in from {{ source_ip }}".into(),
                    condition: condition.map(str::to_owned),
                    references: vec![],
                    suppress: vec![],
                    dedup: None,
                    notify: vec!["security".into()],
                    params: Default::default(),
                    permissions: vec![],
                    regions: vec![],
                    tests: vec![],
                },
                sinks: vec![SinkConfig::Sns {
                    route: "security".into(),
                    topic_arn: "arn:aws:sns:us-east-1:111111111111:security".into(),
                }],
            },
            FakeSns {
                fail,
                ..Default::default()
            },
        );
        n.expect("valid condition")
    }

    fn event() -> LambdaEvent<EventBridgeEvent<Value>> {
        let payload: EventBridgeEvent<Value> = serde_json::from_value(serde_json::json!({
            "version": "0", "id": "6f8e2a4c-0000-4000-8000-000000000000",
            "detail-type": "AWS Console Sign In via CloudTrail", "source": "aws.signin",
            "account": "111111111111", "time": "2026-11-01T08:00:00Z", "region": "us-east-1",
            "resources": [],
            "detail": {"eventName": "ConsoleLogin", "sourceIPAddress": "203.0.113.7",
                "userIdentity": {"type": "Root", "accountId": "111111111111"}}
        }))
        .expect("valid EventBridge event");
        LambdaEvent::new(payload, lambda_runtime::Context::default())
    }

    #[tokio::test]
    async fn renders_and_publishes_to_the_rule_topic() {
        let n = notify(false);
        let out = handle(&n, event()).await.expect("delivered");
        assert_eq!(out.message_ids, vec!["msg-1"]);
        let sent = n.sns.sent.lock().expect("lock");
        assert_eq!(sent[0].0, "arn:aws:sns:us-east-1:111111111111:security");
        assert!(
            sent[0]
                .1
                .starts_with("Root console sign-in from 203.0.113.7\n")
        );
    }

    #[tokio::test]
    async fn false_condition_sends_nothing_and_says_so() {
        let n = notify_with(false, Some(r#"detail.sourceIPAddress.startsWith("10.")"#));
        let out = handle(&n, event()).await.expect("no error");
        assert!(out.message_ids.is_empty());
        assert_eq!(out.skipped.as_deref(), Some("condition false"));
        assert!(n.sns.sent.lock().expect("lock").is_empty());
    }

    #[tokio::test]
    async fn condition_error_fails_the_invocation() {
        let n = notify_with(false, Some("detail.requestParameters.x == 1"));
        let err = handle(&n, event()).await.expect_err("missing field");
        assert_eq!(Diagnostic::from(err).error_type, "Patrol.ConditionError");
    }

    #[test]
    fn bad_condition_fails_the_cold_start() {
        let mut config = RuleConfig {
            rule: notify(false).rule.rule,
            sinks: notify(false).sinks,
        };
        assert!(Notify::new(config.clone(), FakeSns::default()).is_ok());
        config.rule.condition = Some("detail.x ==".into());
        let err = Notify::new(config, FakeSns::default()).expect_err("bad condition");
        assert!(err.to_string().contains("PATROL_RULE"), "{err}");
    }

    #[tokio::test]
    async fn failed_delivery_is_an_error_with_a_type() {
        let err = handle(&notify(true), event()).await.expect_err("fails");
        let d = Diagnostic::from(err);
        assert_eq!(d.error_type, "Patrol.DeliveryFailed");
        assert!(d.error_message.contains("security"), "{}", d.error_message);
    }
}
