//! The PagerDuty sink: an Events API v2 `trigger` event, with the routing key from the
//! secret (its value, or its `routing_key` field), posted to
//! `https://events.pagerduty.com/v2/enqueue` or `PATROL_PAGERDUTY_EVENTS_URL`.

use patrol_core::alert::Alert;
use patrol_core::manifest::Severity;
use serde_json::{Map, Value, json};

use crate::http::{HttpSender, check_url};
use crate::secrets::SecretValue;

/// PagerDuty's four severities.
pub fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "info",
    }
}

fn cap(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// The incident's dedup key: the rule and its rendered dedup key, or the rule and the
/// event id, so a retried invocation updates the same incident instead of opening a
/// second one. At most 255 characters, as PagerDuty requires.
pub fn dedup_key(alert: &Alert) -> String {
    let key = alert
        .dedup_key
        .as_deref()
        .or(alert.event_id.as_deref())
        .unwrap_or("-");
    cap(&format!("{}:{key}", alert.rule), 255)
}

/// The Events API v2 body.
pub fn payload(alert: &Alert, routing_key: &str) -> Value {
    let source = match (&alert.account, &alert.region) {
        (Some(a), Some(r)) => format!("aws:{a}:{r}"),
        (Some(a), None) => format!("aws:{a}"),
        _ => "patrol".to_owned(),
    };
    let mut payload = Map::new();
    payload.insert(
        "summary".into(),
        json!(cap(&format!("[{}] {}", alert.rule, alert.message), 1024)),
    );
    payload.insert("severity".into(), json!(severity(alert.severity)));
    payload.insert("source".into(), json!(source));
    if let Some(t) = &alert.time {
        payload.insert("timestamp".into(), json!(t));
    }
    payload.insert(
        "component".into(),
        json!(alert.event_name.as_deref().unwrap_or(&alert.rule)),
    );
    payload.insert("group".into(), json!(alert.rule));
    payload.insert("class".into(), json!(alert.title));
    payload.insert(
        "custom_details".into(),
        serde_json::to_value(alert).unwrap_or(Value::Null),
    );
    let mut links = Vec::new();
    if let Some(url) = &alert.console_url {
        links.push(json!({"href": url, "text": "Event in the CloudTrail console"}));
    }
    if let Some(r) = alert
        .runbook
        .as_deref()
        .filter(|r| r.starts_with("https://") || r.starts_with("http://"))
    {
        links.push(json!({"href": r, "text": "Runbook"}));
    }
    json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key(alert),
        "payload": payload,
        "links": links,
        "client": "Patrol",
    })
}

/// Enqueues the event; the answer's `dedup_key` is the id returned.
pub async fn send(
    http: &HttpSender,
    events_url: &str,
    secret_name: &str,
    secret: &SecretValue,
    alert: &Alert,
) -> Result<String, String> {
    let key = secret.field("routing_key");
    let url = check_url(events_url).map_err(|e| format!("PagerDuty events URL: {e}"))?;
    if key.expose().is_empty() {
        return Err(format!("secret `{secret_name}` holds no routing key"));
    }
    let body = serde_json::to_vec(&payload(alert, key.expose())).map_err(|e| e.to_string())?;
    let answer = http
        .post_json(&url, body, &[], &[key.expose()])
        .await
        .map_err(|e| e.to_string())?;
    let id = serde_json::from_str::<Value>(&answer.body)
        .ok()
        .and_then(|v| {
            v.get("dedup_key")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| dedup_key(alert));
    Ok(format!("pagerduty:{id}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slack::tests::alert;

    #[test]
    fn pagerduty_payload_shape() {
        insta::assert_json_snapshot!(payload(&alert(), "R0UT1NGK3Y00000000000000000000AB"));
    }

    #[test]
    fn severities_map_to_pagerdutys_four() {
        let got: Vec<_> = Severity::ALL.iter().map(|s| severity(*s)).collect();
        assert_eq!(got, ["info", "info", "warning", "error", "critical"]);
    }

    #[test]
    fn summary_is_capped_and_dedup_key_falls_back_to_the_event_id() {
        let mut a = alert();
        a.message = "x".repeat(5000);
        a.dedup_key = None;
        let p = payload(&a, "k");
        assert_eq!(
            p["payload"]["summary"].as_str().map(|s| s.chars().count()),
            Some(1024)
        );
        assert_eq!(
            p["dedup_key"],
            "root-console-login:3f0c8a1e-0000-4000-8000-000000000001"
        );
    }
}
