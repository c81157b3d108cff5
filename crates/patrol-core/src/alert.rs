//! The alert model: what a rule produces from an event, and how it reads in a message.
//!
//! An [`Alert`] says in one line what happened, who did it, from where, in which account
//! and region, with a link to the event. Sinks render it; this module renders the plain
//! text form used by SNS (email) and by the CLI.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::condition::ConditionError;
use crate::manifest::{Rule, Severity};
use crate::template::{self, TemplateError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub rule: String,
    pub severity: Severity,
    /// The rule's description.
    pub title: String,
    /// The rule's message template, rendered for this event.
    pub message: String,
    pub actor: Option<String>,
    pub source_ip: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    pub time: Option<String>,
    pub event_id: Option<String>,
    pub event_name: Option<String>,
    pub console_url: Option<String>,
    pub runbook: Option<String>,
    /// The rule's rendered dedup key, when it has `dedup`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_key: Option<String>,
}

/// Why a rule whose pattern matched raised no alert. Never silent: callers log it and,
/// in Lambda, fail the invocation so the event is retried and then dead-lettered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Condition(#[from] ConditionError),
}

/// The template and condition context for a rule and an event.
pub fn context(rule: &Rule, event: &Value) -> Value {
    template::context(event, rule_context(rule), &rule.params)
}

/// What templates see as `rule`.
pub(crate) fn rule_context(rule: &Rule) -> Value {
    json!({
        "id": rule.id,
        "severity": rule.severity,
        "description": rule.description,
    })
}

/// Builds the alert a rule raises for an event (pattern and condition already passed).
pub fn build(rule: &Rule, event: &Value) -> Result<Alert, TemplateError> {
    build_in(rule, &std::sync::Arc::new(context(rule, event)))
}

/// The alert for the event in `ctx` (a context for `rule`: [`context`]).
pub(crate) fn build_in(rule: &Rule, ctx: &std::sync::Arc<Value>) -> Result<Alert, TemplateError> {
    let message = template::render_shared(&rule.message, ctx)?;
    let event = ctx.get("event").unwrap_or(&Value::Null);
    let s = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let fact = |name: &str| ctx.get(name).and_then(Value::as_str).map(str::to_owned);
    Ok(Alert {
        rule: rule.id.clone(),
        severity: rule.severity,
        title: rule.description.clone(),
        message,
        actor: fact("actor"),
        source_ip: fact("source_ip"),
        account: s(event.get("account")),
        region: s(event.get("region")),
        time: s(event.get("time")),
        event_id: s(event.pointer("/detail/eventID")).or_else(|| s(event.get("id"))),
        event_name: s(event.pointer("/detail/eventName")),
        console_url: fact("console_url"),
        runbook: rule.runbook.clone(),
        dedup_key: match &rule.dedup {
            Some(d) => Some(template::render_shared(&d.key, ctx)?),
            None => None,
        },
    })
}

impl Alert {
    /// An SNS subject: at most 100 characters, no line breaks (SNS rejects both).
    pub fn subject(&self) -> String {
        let raw = format!(
            "[{}] {}: {}",
            self.severity.as_str().to_uppercase(),
            self.rule,
            self.title
        );
        let clean: String = raw
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        truncate_chars(&clean, 100)
    }

    /// The plain-text body: the one-line message first, then the facts, then the link.
    pub fn text(&self) -> String {
        let dash = "-".to_owned();
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| dash.clone());
        let mut out = format!(
            "{}\n\nRule:     {} ({})\nSeverity: {}\nActor:    {}\nSource:   {}\nAccount:  {}\nRegion:   {}\nTime:     {}\nEvent:    {} {}\n",
            self.message,
            self.rule,
            self.title,
            self.severity,
            opt(&self.actor),
            opt(&self.source_ip),
            opt(&self.account),
            opt(&self.region),
            opt(&self.time),
            opt(&self.event_name),
            opt(&self.event_id),
        );
        if let Some(url) = &self.console_url {
            out.push_str(&format!("Link:     {url}\n"));
        }
        if let Some(runbook) = &self.runbook {
            out.push_str(&format!("Runbook:  {runbook}\n"));
        }
        out
    }
}

fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Trigger;
    use serde_json::Map;

    fn rule() -> Rule {
        Rule {
            id: "root-console-login".into(),
            description: "The root user signed in to the AWS console".into(),
            severity: Severity::Critical,
            runbook: None,
            handler: "notify".into(),
            trigger: Trigger::Schedule {
                expression: "rate(1 day)".into(),
            },
            message: "Root console sign-in to {{ account }} from {{ source_ip }}".into(),
            condition: None,
            references: vec![],
            suppress: vec![],
            dedup: None,
            notify: vec!["security".into()],
            params: Map::new(),
            permissions: vec![],
            tests: vec![],
        }
    }

    #[test]
    fn builds_and_renders_an_alert() {
        let event = json!({"account": "111111111111", "region": "us-east-1", "time": "2026-11-01T08:00:00Z",
            "detail": {"eventName": "ConsoleLogin", "eventID": "e-1", "sourceIPAddress": "203.0.113.7",
                "userIdentity": {"type": "Root", "accountId": "111111111111"}}});
        let alert = build(&rule(), &event).expect("renders");
        assert_eq!(
            alert.message,
            "Root console sign-in to 111111111111 from 203.0.113.7"
        );
        insta::assert_snapshot!(alert.text());
        assert_eq!(
            alert.subject(),
            "[CRITICAL] root-console-login: The root user signed in to the AWS console"
        );
    }

    #[test]
    fn subject_is_capped_at_100_chars_without_newlines() {
        let mut r = rule();
        r.description = "x\n".repeat(80);
        let alert = build(&r, &json!({})).expect("renders");
        let subject = alert.subject();
        assert_eq!(subject.chars().count(), 100);
        assert!(!subject.contains('\n'));
    }
}
