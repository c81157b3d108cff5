//! The PagerDuty sink: an Events API v2 `trigger` event, with the routing key from the
//! secret (its value, or its `routing_key` field), posted to
//! `https://events.pagerduty.com/v2/enqueue` or `PATROL_PAGERDUTY_EVENTS_URL`.

use patrol_core::alert::{Alert, cut, was_cut};
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

/// PagerDuty rejects an event larger than 512 KB (read as 512,000 bytes, the smaller
/// reading).
pub const MAX_EVENT_BYTES: usize = 512_000;
/// `payload.summary`'s limit, in characters.
const SUMMARY_CHARS: usize = 1024;

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

/// The Events API v2 body, at most [`MAX_EVENT_BYTES`]: a larger alert has its largest
/// fields cut, each saying so ([`Alert::fit`]). The incident's dedup key is the uncut
/// alert's, so a cut alert updates the same incident.
pub fn payload(alert: &Alert, routing_key: &str) -> Value {
    let key = dedup_key(alert);
    let fitted = alert.fit(MAX_EVENT_BYTES, |a| {
        serde_json::to_vec(&body(a, routing_key, &key)).map_or(usize::MAX, |b| b.len())
    });
    body(&fitted, routing_key, &key)
}

fn body(alert: &Alert, routing_key: &str, dedup_key: &str) -> Value {
    let source = match (&alert.account, &alert.region) {
        (Some(a), Some(r)) => format!("aws:{a}:{r}"),
        (Some(a), None) => format!("aws:{a}"),
        _ => "patrol".to_owned(),
    };
    let mut payload = Map::new();
    payload.insert(
        "summary".into(),
        json!(cut(
            &format!("[{}] {}", alert.rule, alert.message),
            SUMMARY_CHARS
        )),
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
    // The whole alert, its `references` included.
    payload.insert(
        "custom_details".into(),
        serde_json::to_value(alert).unwrap_or(Value::Null),
    );
    let is_link = |u: &str| (u.starts_with("https://") || u.starts_with("http://")) && !was_cut(u);
    let mut links = Vec::new();
    if let Some(url) = alert.console_url.as_deref().filter(|u| is_link(u)) {
        links.push(json!({"href": url, "text": "Event in the CloudTrail console"}));
    }
    if let Some(r) = alert.runbook.as_deref().filter(|r| is_link(r)) {
        links.push(json!({"href": r, "text": "Runbook"}));
    }
    for (text, url) in alert.reference_links() {
        if let Some(url) = url.filter(|u| is_link(u)) {
            let text = if text == url {
                "Reference".to_owned()
            } else {
                format!("MITRE ATT&CK {text}")
            };
            links.push(json!({"href": url, "text": text}));
        }
    }
    json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
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
    use crate::slack::tests::{alert, huge_alert};

    /// A template that renders a huge event field: the event stays under PagerDuty's
    /// limit, says it was cut, and keeps the uncut alert's incident key.
    #[test]
    fn huge_template_output_is_cut_to_pagerdutys_limit() {
        let a = huge_alert();
        let p = payload(&a, "R0UT1NGK3Y00000000000000000000AB");
        let size = serde_json::to_vec(&p).expect("json").len();
        assert!(size <= MAX_EVENT_BYTES, "{size}");
        assert!(
            size > MAX_EVENT_BYTES - 20_000,
            "cut no more than needed: {size}"
        );
        let details = &p["payload"]["custom_details"];
        let message = details["message"].as_str().expect("message");
        assert!(was_cut(message), "{}", &message[message.len() - 40..]);
        assert!(message.starts_with("<!channel> <x> & y"));
        assert_eq!(p["dedup_key"], json!(dedup_key(&a)));
        assert_eq!(details["references"][0], "T1078.004");
        assert!(
            p["payload"]["summary"]
                .as_str()
                .is_some_and(|s| s.chars().count() <= SUMMARY_CHARS && was_cut(s))
        );
    }

    #[test]
    fn references_are_custom_details_and_attack_ids_are_links() {
        let p = payload(&alert(), "k");
        assert_eq!(
            p["payload"]["custom_details"]["references"],
            json!(["T1078.004", "CIS-AWS-1.7"])
        );
        assert_eq!(
            p["links"][2],
            json!({"href": "https://attack.mitre.org/techniques/T1078/004/", "text": "MITRE ATT&CK T1078.004"})
        );
        assert_eq!(p["links"].as_array().map(Vec::len), Some(3));
    }

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
        let summary = p["payload"]["summary"].as_str().expect("summary");
        assert!(summary.chars().count() <= SUMMARY_CHARS, "{summary}");
        assert!(summary.ends_with("… (truncated: 4022 bytes)"), "{summary}");
        assert_eq!(
            p["dedup_key"],
            "root-console-login:3f0c8a1e-0000-4000-8000-000000000001"
        );
    }
}
