//! The Slack sink: an incoming webhook (the URL is the secret's value, or its
//! `webhook_url` field), posted a Block Kit message with a plain-text fallback.

use patrol_core::alert::Alert;
use patrol_core::manifest::Severity;
use serde_json::{Value, json};

use crate::http::{HttpSender, check_url};
use crate::secrets::SecretValue;

fn emoji(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => ":rotating_light:",
        Severity::High => ":red_circle:",
        Severity::Medium => ":large_orange_circle:",
        Severity::Low => ":large_yellow_circle:",
        Severity::Info => ":information_source:",
    }
}

/// Slack's mrkdwn control characters.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn cap(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

fn is_link(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://")
}

/// The message body: `text` is the notification and fallback line, `blocks` the layout.
pub fn payload(alert: &Alert) -> Value {
    let severity = alert.severity.as_str().to_uppercase();
    let text = cap(
        &format!("[{severity}] {}: {}", alert.rule, alert.message),
        3000,
    );
    let dash = "-".to_owned();
    let opt = |v: &Option<String>| escape(v.as_ref().unwrap_or(&dash));
    let where_ = match (&alert.account, &alert.region) {
        (None, None) => dash.clone(),
        (a, r) => format!("{} / {}", opt(a), opt(r)),
    };
    let mut fields = vec![
        json!({"type": "mrkdwn", "text": format!("*Severity*\n{}", alert.severity)}),
        json!({"type": "mrkdwn", "text": format!("*Actor*\n{}", opt(&alert.actor))}),
        json!({"type": "mrkdwn", "text": format!("*Account / region*\n{where_}")}),
        json!({"type": "mrkdwn", "text": format!("*Source IP*\n{}", opt(&alert.source_ip))}),
        json!({"type": "mrkdwn", "text": format!("*Time*\n{}", opt(&alert.time))}),
        json!({"type": "mrkdwn", "text": format!("*Event*\n{} {}", opt(&alert.event_name), opt(&alert.event_id))}),
    ];
    let mut buttons = Vec::new();
    if let Some(url) = alert.console_url.as_deref().filter(|u| is_link(u)) {
        buttons.push(json!({"type": "button", "text": {"type": "plain_text", "text": "Open in console"}, "url": cap(url, 3000)}));
    }
    match alert.runbook.as_deref() {
        Some(r) if is_link(r) => buttons.push(
            json!({"type": "button", "text": {"type": "plain_text", "text": "Runbook"}, "url": cap(r, 3000)}),
        ),
        Some(r) => fields.push(json!({"type": "mrkdwn", "text": format!("*Runbook*\n{}", cap(&escape(r), 1900))})),
        None => {}
    }
    for f in &mut fields {
        if let Some(t) = f.get("text").and_then(Value::as_str).map(|t| cap(t, 2000)) {
            f["text"] = Value::String(t);
        }
    }
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "emoji": true,
            "text": cap(&format!("{} {severity}: {}", emoji(alert.severity), alert.title), 150)}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": cap(&escape(&alert.message), 3000)}}),
        json!({"type": "section", "fields": fields}),
    ];
    if !buttons.is_empty() {
        blocks.push(json!({"type": "actions", "elements": buttons}));
    }
    blocks.push(json!({"type": "context", "elements": [
        {"type": "mrkdwn", "text": cap(&format!("Patrol rule `{}`", escape(&alert.rule)), 3000)}
    ]}));
    json!({"text": text, "blocks": blocks})
}

/// Posts the alert to the webhook URL held in `secret` (named `secret_name` in errors).
pub async fn send(
    http: &HttpSender,
    secret_name: &str,
    secret: &SecretValue,
    alert: &Alert,
) -> Result<String, String> {
    let url = secret.field("webhook_url");
    let parsed = check_url(url.expose()).map_err(|e| {
        format!("secret `{secret_name}` does not hold a usable Slack webhook URL: {e}")
    })?;
    let body = serde_json::to_vec(&payload(alert)).map_err(|e| e.to_string())?;
    let answer = http
        .post_json(&parsed, body, &[], &[url.expose()])
        .await
        .map_err(|e| e.to_string())?;
    Ok(format!("slack:{}", answer.status))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn alert() -> Alert {
        Alert {
            rule: "root-console-login".into(),
            severity: Severity::Critical,
            title: "The root user signed in to the AWS Management Console".into(),
            message: "Root console sign-in to 111111111111 from 203.0.113.7 <script>".into(),
            actor: Some("root (111111111111)".into()),
            source_ip: Some("203.0.113.7".into()),
            account: Some("111111111111".into()),
            region: Some("us-east-1".into()),
            time: Some("2026-11-01T08:00:00Z".into()),
            event_id: Some("3f0c8a1e-0000-4000-8000-000000000001".into()),
            event_name: Some("ConsoleLogin".into()),
            console_url: Some("https://us-east-1.console.aws.amazon.com/cloudtrailv2/home?region=us-east-1#/events/3f0c8a1e-0000-4000-8000-000000000001".into()),
            runbook: Some("https://wiki.example.com/runbooks/root-login".into()),
            dedup_key: Some("111111111111".into()),
        }
    }

    #[test]
    fn slack_payload_shape() {
        insta::assert_json_snapshot!(payload(&alert()));
    }

    #[test]
    fn text_only_runbooks_become_a_field() {
        let mut a = alert();
        a.runbook = Some("Call the on-call lead".into());
        a.console_url = None;
        let p = payload(&a);
        let blocks = p["blocks"].as_array().expect("blocks");
        assert!(blocks.iter().all(|b| b["type"] != "actions"));
        assert!(p.to_string().contains("*Runbook*\\nCall the on-call lead"));
    }
}
