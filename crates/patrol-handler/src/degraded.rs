//! The alert sent when a rule's condition or template fails on an event it matched.
//!
//! Conditions and templates are pure: one that fails on an event fails the same way on
//! every retry, so failing the invocation would only delay the alert three times and then
//! leave it in the failure queue, where on-call does not look. Instead the rule's routes
//! get a degraded alert: the rule, its severity, and the facts Patrol reads from any event
//! (its id, source, detail-type, account, region, time and, when it can tell, the actor),
//! with the error, so someone looks at the event and at the rule. Only its delivery can
//! fail, and that is retried like any other.

use patrol_core::alert::{Alert, AlertError};
use patrol_core::manifest::Rule;
use serde_json::Value;

/// The most of the error's text the alert quotes.
const MAX_ERROR_CHARS: usize = 1000;

/// What failed, as the alert says it.
pub fn what_failed(error: &AlertError) -> &'static str {
    match error {
        AlertError::Condition(_) => "condition",
        AlertError::Template(_) => "message or dedup key template",
    }
}

/// The degraded alert of `rule` for `event`, which its condition or template failed on.
pub fn alert(rule: &Rule, event: &Value, error: &AlertError) -> Alert {
    let text = |pointer: &str| {
        event
            .pointer(pointer)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
    let mut error_text: String = error.to_string().chars().take(MAX_ERROR_CHARS).collect();
    if error_text.len() < error.to_string().len() {
        error_text.push('…');
    }
    let message = format!(
        "DEGRADED ALERT: rule `{}` matched an event (source {}, detail-type {}, id {}), but its {} failed on it, so this alert has only the facts Patrol always knows. Look at the event and at the rule. Error: {error_text}",
        rule.id,
        or_dash(text("/source")),
        or_dash(text("/detail-type")),
        or_dash(text("/id")),
        what_failed(error),
    );
    Alert {
        rule: rule.id.clone(),
        severity: rule.severity,
        title: rule.description.clone(),
        message,
        actor: patrol_core::event::actor(event),
        source_ip: patrol_core::event::source_ip(event),
        account: text("/account"),
        region: text("/region"),
        time: text("/time"),
        event_id: text("/detail/eventID").or_else(|| text("/id")),
        event_name: text("/detail/eventName"),
        console_url: patrol_core::event::console_url(event),
        runbook: rule.runbook.clone(),
        dedup_key: None,
        references: rule.references.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use patrol_core::condition::ConditionError;
    use patrol_core::manifest::{Severity, Trigger};
    use serde_json::json;

    fn rule() -> Rule {
        Rule {
            id: "iam-policy-changed".into(),
            description: "An IAM policy changed".into(),
            severity: Severity::High,
            runbook: Some("https://wiki.example.com/iam".into()),
            handler: "notify".into(),
            trigger: Trigger::Event {
                pattern: json!({"source": ["aws.iam"]}),
                include_read_only: false,
            },
            message: "{{ detail.requestParameters.policyName }}".into(),
            condition: Some("detail.requestParameters.policyDocument.size() > 0".into()),
            notify: vec!["security".into()],
            params: Default::default(),
            references: vec![],
            suppress: vec![],
            dedup: None,
            tests: vec![],
        }
    }

    #[test]
    fn a_degraded_alert_has_the_facts_every_event_has_and_the_error() {
        let event = json!({"version": "0", "id": "ev-1", "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.iam", "account": "111111111111", "region": "us-east-1",
            "time": "2026-11-01T08:00:00Z", "detail": {"eventName": "PutRolePolicy",
            "eventID": "ct-1", "sourceIPAddress": "203.0.113.7",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111111111111:user/alice"}}});
        let error = AlertError::Condition(ConditionError::Evaluation(
            "No such key: policyDocument".into(),
        ));
        let a = alert(&rule(), &event, &error);
        assert_eq!(a.rule, "iam-policy-changed");
        assert_eq!(a.severity, Severity::High);
        assert_eq!(a.title, "An IAM policy changed");
        assert_eq!(
            a.message,
            format!(
                "DEGRADED ALERT: rule `iam-policy-changed` matched an event (source aws.iam, detail-type AWS API Call via CloudTrail, id ev-1), but its condition failed on it, so this alert has only the facts Patrol always knows. Look at the event and at the rule. Error: {error}"
            )
        );
        assert_eq!(
            a.actor.as_deref(),
            Some("arn:aws:iam::111111111111:user/alice")
        );
        assert_eq!(a.account.as_deref(), Some("111111111111"));
        assert_eq!(a.region.as_deref(), Some("us-east-1"));
        assert_eq!(a.time.as_deref(), Some("2026-11-01T08:00:00Z"));
        assert_eq!(a.event_id.as_deref(), Some("ct-1"));
        assert_eq!(a.event_name.as_deref(), Some("PutRolePolicy"));
        assert_eq!(a.runbook.as_deref(), Some("https://wiki.example.com/iam"));
        assert_eq!(a.dedup_key, None);
    }

    #[test]
    fn an_event_with_nothing_still_gets_an_alert() {
        let error = AlertError::Condition(ConditionError::Evaluation("x".repeat(5000)));
        let a = alert(&rule(), &json!({"detail": 3}), &error);
        assert!(
            a.message.contains("(source -, detail-type -, id -)"),
            "{}",
            a.message
        );
        assert!(a.message.chars().count() < 1400, "the error is capped");
        assert_eq!((a.actor, a.account, a.event_id), (None, None, None));
    }
}
