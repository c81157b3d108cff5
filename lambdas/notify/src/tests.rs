//! The handler with fake sinks and secrets; the real SDK, moto and HTTP servers are in the
//! end-to-end tests (tests/it/notify.rs, tests/it/routes.rs).

use super::*;
use patrol_aws::secrets::SecretValue;
use patrol_aws::signature::sign;
use patrol_core::manifest::{Rule, Severity};
use std::sync::Mutex;

#[derive(Debug, Default)]
struct FakeSinks {
    sent: Mutex<Vec<(String, String)>>,
    fail: bool,
}

impl Deliver for FakeSinks {
    async fn deliver(&self, sink: &SinkConfig, alert: &Alert) -> Result<String, String> {
        if self.fail {
            return Err("AuthorizationError: not allowed".into());
        }
        let mut sent = self.sent.lock().map_err(|e| e.to_string())?;
        sent.push((sink.route().to_owned(), alert.text()));
        Ok(format!("msg-{}", sent.len()))
    }
}

#[derive(Debug)]
struct FakeSecrets;

impl SecretSource for FakeSecrets {
    async fn secret(&self, name: &str) -> Result<SecretValue, String> {
        match name {
            "patrol/github" => Ok(SecretValue::new("gh-secret")),
            _ => Err(format!("ResourceNotFoundException: {name}")),
        }
    }
}

fn rule(trigger: Trigger, condition: Option<&str>) -> Rule {
    Rule {
        id: "root-console-login".into(),
        description: "Root signed in".into(),
        severity: Severity::Critical,
        runbook: None,
        handler: "notify".into(),
        trigger,
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
    }
}

fn config(rule: Rule) -> RuleConfig {
    RuleConfig {
        rule,
        sinks: vec![SinkConfig::Sns {
            route: "security".into(),
            topic_arn: "arn:aws:sns:us-east-1:111111111111:security".into(),
        }],
        dedup_table: None,
        failure_queue_url: None,
        pagerduty_events_url: patrol_aws::config::DEFAULT_PAGERDUTY_EVENTS_URL.into(),
    }
}

fn event_trigger() -> Trigger {
    Trigger::Event {
        pattern: json!({"source": ["aws.signin"]}),
        include_read_only: false,
    }
}

fn notify_with(
    trigger: Trigger,
    fail: bool,
    condition: Option<&str>,
) -> Notify<FakeSinks, FakeSecrets> {
    Notify::new(
        config(rule(trigger, condition)),
        FakeSinks {
            fail,
            ..Default::default()
        },
        FakeSecrets,
    )
    .expect("valid rule")
}

fn notify(fail: bool) -> Notify<FakeSinks, FakeSecrets> {
    notify_with(event_trigger(), fail, None)
}

fn invocation(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, lambda_runtime::Context::default())
}

fn eventbridge() -> LambdaEvent<Value> {
    invocation(json!({
        "version": "0", "id": "6f8e2a4c-0000-4000-8000-000000000000",
        "detail-type": "AWS Console Sign In via CloudTrail", "source": "aws.signin",
        "account": "111111111111", "time": "2026-11-01T08:00:00Z", "region": "us-east-1",
        "resources": [],
        "detail": {"eventName": "ConsoleLogin", "sourceIPAddress": "203.0.113.7",
            "userIdentity": {"type": "Root", "accountId": "111111111111"}}
    }))
}

fn event_response(out: Output) -> Response {
    match out {
        Output::Event(r) => r,
        other => panic!("expected an EventBridge response, got {other:?}"),
    }
}

#[tokio::test]
async fn renders_and_publishes_to_the_rule_topic() {
    let n = notify(false);
    let out = event_response(handle(&n, eventbridge()).await.expect("delivered"));
    assert_eq!(out.message_ids, vec!["msg-1"]);
    let sent = n.delivery.sent.lock().expect("lock");
    assert_eq!(sent[0].0, "security");
    assert!(
        sent[0]
            .1
            .starts_with("Root console sign-in from 203.0.113.7\n")
    );
}

#[tokio::test]
async fn false_condition_sends_nothing_and_says_so() {
    let n = notify_with(
        event_trigger(),
        false,
        Some(r#"detail.sourceIPAddress.startsWith("10.")"#),
    );
    let out = event_response(handle(&n, eventbridge()).await.expect("no error"));
    assert!(out.message_ids.is_empty());
    assert_eq!(out.skipped.as_deref(), Some("condition false"));
    assert!(n.delivery.sent.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn condition_error_fails_the_invocation() {
    let n = notify_with(
        event_trigger(),
        false,
        Some("detail.requestParameters.x == 1"),
    );
    let err = handle(&n, eventbridge()).await.expect_err("missing field");
    assert_eq!(Diagnostic::from(err).error_type, "Patrol.ConditionError");
}

#[test]
fn bad_condition_fails_the_cold_start() {
    let mut c = config(rule(event_trigger(), None));
    assert!(Notify::new(c.clone(), FakeSinks::default(), FakeSecrets).is_ok());
    c.rule.condition = Some("detail.x ==".into());
    let err = Notify::new(c, FakeSinks::default(), FakeSecrets).expect_err("bad condition");
    assert!(err.to_string().contains("PATROL_RULE"), "{err}");
}

#[tokio::test]
async fn failed_delivery_is_an_error_with_a_type() {
    let err = handle(&notify(true), eventbridge())
        .await
        .expect_err("fails");
    let d = Diagnostic::from(err);
    assert_eq!(d.error_type, "Patrol.DeliveryFailed");
    assert!(d.error_message.contains("security"), "{}", d.error_message);
}

#[tokio::test]
async fn not_an_eventbridge_event_is_an_invalid_event() {
    let err = handle(&notify(false), invocation(json!({"Records": []})))
        .await
        .expect_err("not EventBridge");
    assert_eq!(Diagnostic::from(err).error_type, "Patrol.InvalidEvent");
}

fn sns_trigger() -> Trigger {
    Trigger::Sns {
        topic_arn: "arn:aws:sns:us-east-1:111111111111:guardduty".into(),
        filter_policy: Some(json!({"severity": [{"numeric": [">=", 7]}]})),
        filter_policy_scope: None,
    }
}

fn sns_event(topic: &str, severity: &str) -> LambdaEvent<Value> {
    invocation(json!({"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": format!("{topic}:sub"),
        "Sns": {
            "Type": "Notification", "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
            "TopicArn": topic, "Subject": "GuardDuty finding",
            "Message": "{\"detail\":{\"type\":\"Recon:EC2/PortProbeUnprotectedPort\"}}",
            "Timestamp": "2026-11-01T08:00:00.000Z", "SignatureVersion": "1",
            "Signature": "EXAMPLE", "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/x.pem",
            "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
            "MessageAttributes": {
                "severity": {"Type": "Number", "Value": severity},
                "tags": {"Type": "String.Array", "Value": "[\"prod\",\"pci\"]"},
                "team": {"Type": "String", "Value": "sec"}
            }
        }
    }]}))
}

#[test]
fn sns_attributes_keep_numbers_and_arrays() {
    let LambdaEvent { payload, .. } = sns_event("arn:aws:sns:us-east-1:1:t", "7.5");
    let sns: SnsEvent = serde_json::from_value(payload).expect("SNS event");
    let attrs = sns_attributes(&sns.records[0].sns.message_attributes);
    assert_eq!(attrs["severity"], json!(7.5));
    assert_eq!(attrs["tags"], json!(["prod", "pci"]));
    assert_eq!(attrs["team"], json!("sec"));
}

#[tokio::test]
async fn sns_message_matching_the_filter_alerts() {
    let n = notify_with(sns_trigger(), false, None);
    let topic = "arn:aws:sns:us-east-1:111111111111:guardduty";
    let out = handle(&n, sns_event(topic, "8")).await.expect("delivered");
    let Output::Sns(out) = out else {
        panic!("expected an SNS response, got {out:?}");
    };
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.records[0].message_ids, vec!["msg-1"]);
    // Filtered out by the policy, or from another topic: no alert.
    for (t, sev) in [
        (topic, "3"),
        ("arn:aws:sns:us-east-1:111111111111:other", "9"),
    ] {
        let Output::Sns(out) = handle(&n, sns_event(t, sev)).await.expect("ok") else {
            panic!("expected an SNS response");
        };
        assert!(out.records[0].skipped.is_some(), "{t} {sev}");
    }
    assert_eq!(n.delivery.sent.lock().expect("lock").len(), 1);
}

fn webhook_notify(fail: bool) -> Notify<FakeSinks, FakeSecrets> {
    let trigger = Trigger::Webhook {
        provider: WebhookProvider::Github,
        secret: "patrol/github".into(),
    };
    let mut r = rule(trigger, None);
    r.message = "{{ detail.action }} by {{ actor }}".into();
    Notify::new(
        config(r),
        FakeSinks {
            fail,
            ..Default::default()
        },
        FakeSecrets,
    )
    .expect("valid")
}

fn function_url(body: &str, signature: Option<&str>, base64: bool) -> LambdaEvent<Value> {
    let mut headers = json!({"content-type": "application/json", "x-github-event": "repository",
        "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"});
    if let Some(s) = signature {
        headers["x-hub-signature-256"] = json!(s);
    }
    let body = if base64 {
        base64::engine::general_purpose::STANDARD.encode(body)
    } else {
        body.to_owned()
    };
    invocation(json!({
        "version": "2.0", "rawPath": "/", "rawQueryString": "", "headers": headers,
        "requestContext": {"accountId": "anonymous", "apiId": "x", "domainName": "x.lambda-url.us-east-1.on.aws",
            "domainPrefix": "x", "http": {"method": "POST", "path": "/", "protocol": "HTTP/1.1",
            "sourceIp": "192.0.2.10", "userAgent": "GitHub-Hookshot/abc"}, "requestId": "r-1",
            "routeKey": "$default", "stage": "$default", "time": "01/Nov/2026:08:00:00 +0000",
            "timeEpoch": 1_793_520_000_000_i64},
        "body": body, "isBase64Encoded": base64
    }))
}

fn http_status(out: Output) -> (i64, Value) {
    match out {
        Output::FunctionUrl(r) => (
            r.status_code,
            serde_json::from_str(r.body.as_deref().unwrap_or("null")).unwrap_or(Value::Null),
        ),
        other => panic!("expected a function URL response, got {other:?}"),
    }
}

#[tokio::test]
async fn signed_webhook_alerts_and_answers_200() {
    let n = webhook_notify(false);
    let body = r#"{"action":"publicized","sender":{"login":"octocat"}}"#;
    for base64 in [false, true] {
        let sig = sign(b"gh-secret", body.as_bytes());
        let (status, json) = http_status(
            handle(&n, function_url(body, Some(&sig), base64))
                .await
                .expect("ok"),
        );
        assert_eq!(status, 200, "{json}");
        assert_eq!(json["rule"], "root-console-login");
    }
    let sent = n.delivery.sent.lock().expect("lock");
    assert_eq!(sent.len(), 2);
    assert!(
        sent[0].1.starts_with("publicized by octocat\n"),
        "{}",
        sent[0].1
    );
}

#[tokio::test]
async fn bad_or_missing_signature_is_401_and_sends_nothing() {
    let n = webhook_notify(false);
    let body = r#"{"action":"publicized"}"#;
    let wrong = sign(b"not-the-secret", body.as_bytes());
    for sig in [Some(wrong.as_str()), None] {
        let (status, json) = http_status(
            handle(&n, function_url(body, sig, false))
                .await
                .expect("answered"),
        );
        assert_eq!(status, 401, "{json}");
    }
    assert!(n.delivery.sent.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn non_json_webhook_body_is_400() {
    let n = webhook_notify(false);
    let body = "action=publicized";
    let sig = sign(b"gh-secret", body.as_bytes());
    let (status, _) = http_status(
        handle(&n, function_url(body, Some(&sig), false))
            .await
            .expect("ok"),
    );
    assert_eq!(status, 400);
}

#[tokio::test]
async fn webhook_delivery_failure_without_a_queue_is_500() {
    let n = webhook_notify(true);
    let body = r#"{"action":"publicized"}"#;
    let sig = sign(b"gh-secret", body.as_bytes());
    let (status, json) = http_status(
        handle(&n, function_url(body, Some(&sig), false))
            .await
            .expect("answered"),
    );
    assert_eq!(status, 500);
    assert_eq!(json["saved_to_failure_queue"], false);
}

#[test]
fn epoch_millis_format_as_rfc3339() {
    assert_eq!(rfc3339(1_793_520_000_000), "2026-11-01T08:00:00Z");
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
}
