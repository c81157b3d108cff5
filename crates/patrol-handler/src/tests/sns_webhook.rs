//! SNS invocations and function URL (webhook) requests.

use base64::Engine as _;
use lambda_runtime::{Diagnostic, LambdaEvent};
use patrol_aws::signature::sign;
use serde_json::{Value, json};

use super::*;
use crate::sns::{SnsResponse, sns_attributes};
use crate::webhook::rfc3339;
use crate::{Output, RuntimeError, handle};

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
    let sns: aws_lambda_events::sns::SnsEvent = serde_json::from_value(payload).expect("SNS event");
    let attrs = sns_attributes(&sns.records[0].sns.message_attributes);
    assert_eq!(attrs["severity"], json!(7.5));
    assert_eq!(attrs["tags"], json!(["prod", "pci"]));
    assert_eq!(attrs["team"], json!("sec"));
}

fn sns_rules(out: Output) -> Vec<String> {
    let Output::Sns(SnsResponse { records }) = out else {
        panic!("expected an SNS response, got {out:?}");
    };
    assert_eq!(records.len(), 1);
    records[0].rules.iter().map(|r| r.rule.clone()).collect()
}

#[tokio::test]
async fn an_sns_message_reaches_the_rules_of_its_topic_whose_filter_matches() {
    let n = notify();
    let both = sns_rules(handle(&n, sns_event(GUARDDUTY, "8")).await.expect("ok"));
    assert_eq!(both, ["guardduty-high", "guardduty-any"]);
    let low = sns_rules(handle(&n, sns_event(GUARDDUTY, "3")).await.expect("ok"));
    assert_eq!(
        low,
        ["guardduty-any"],
        "the filter policy keeps it from -high"
    );
    // Topic ARNs are compared exactly.
    for topic in [
        "arn:aws:sns:us-east-1:111111111111:GuardDuty",
        "arn:aws:sns:us-east-1:222222222222:guardduty",
    ] {
        assert!(sns_rules(handle(&n, sns_event(topic, "9")).await.expect("ok")).is_empty());
    }
    let sent = n.delivery.sent.lock().expect("lock");
    assert_eq!(sent.len(), 3);
    assert!(
        sent[0]
            .2
            .starts_with("Recon:EC2/PortProbeUnprotectedPort (GuardDuty finding)\n"),
        "{}",
        sent[0].2
    );
}

fn function_url(
    path: &str,
    body: &str,
    signature: Option<&str>,
    base64: bool,
) -> LambdaEvent<Value> {
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
        "version": "2.0", "rawPath": path, "rawQueryString": "", "headers": headers,
        "requestContext": {"accountId": "anonymous", "apiId": "x", "domainName": "x.lambda-url.us-east-1.on.aws",
            "domainPrefix": "x", "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1",
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

const PUBLICIZED: &str = r#"{"action":"publicized","sender":{"login":"octocat"}}"#;

#[tokio::test]
async fn signed_webhook_reaches_the_rule_its_path_names() {
    let n = notify();
    let sig = sign(b"gh-secret", PUBLICIZED.as_bytes());
    for base64 in [false, true] {
        let (status, json) = http_status(
            handle(
                &n,
                function_url("/repo-publicized", PUBLICIZED, Some(&sig), base64),
            )
            .await
            .expect("ok"),
        );
        assert_eq!(status, 200, "{json}");
        assert_eq!(json["rule"], "repo-publicized");
        assert_eq!(
            json["sent"]["security"],
            json!(format!("msg-{}", if base64 { 2 } else { 1 }))
        );
    }
    let sent = n.delivery.sent.lock().expect("lock");
    assert_eq!(sent.len(), 2);
    assert!(
        sent[0].2.starts_with("publicized by octocat\n"),
        "{}",
        sent[0].2
    );
}

#[tokio::test]
async fn another_webhook_rule_checks_its_own_secret() {
    let n = notify();
    // The GitHub signature means nothing to the GitLab rule, which wants its token.
    let sig = sign(b"gh-secret", PUBLICIZED.as_bytes());
    let (status, _) = http_status(
        handle(
            &n,
            function_url("/project-changed", PUBLICIZED, Some(&sig), false),
        )
        .await
        .expect("answered"),
    );
    assert_eq!(status, 401);
    assert!(n.delivery.sent().is_empty());
}

#[tokio::test]
async fn unknown_webhook_path_is_404_before_any_secret_is_fetched() {
    let n = notify();
    let sig = sign(b"gh-secret", PUBLICIZED.as_bytes());
    for path in ["/", "/nope", "/key-created", "/repo-publicized/extra", ""] {
        let (status, json) = http_status(
            handle(&n, function_url(path, PUBLICIZED, Some(&sig), false))
                .await
                .expect("answered"),
        );
        assert_eq!(status, 404, "{path}: {json}");
    }
    assert_eq!(*n.secrets.lookups.lock().expect("lock"), 0);
    assert!(n.delivery.sent().is_empty());
}

#[tokio::test]
async fn bad_or_missing_signature_is_401_and_sends_nothing() {
    let n = notify();
    let wrong = sign(b"not-the-secret", PUBLICIZED.as_bytes());
    for sig in [Some(wrong.as_str()), None] {
        let (status, json) = http_status(
            handle(&n, function_url("/repo-publicized", PUBLICIZED, sig, false))
                .await
                .expect("answered"),
        );
        assert_eq!(status, 401, "{json}");
    }
    assert!(n.delivery.sent().is_empty());
}

#[tokio::test]
async fn non_json_webhook_body_is_400() {
    let n = notify();
    let body = "action=publicized";
    let sig = sign(b"gh-secret", body.as_bytes());
    let (status, _) = http_status(
        handle(
            &n,
            function_url("/repo-publicized", body, Some(&sig), false),
        )
        .await
        .expect("ok"),
    );
    assert_eq!(status, 400);
}

#[tokio::test]
async fn webhook_delivery_failure_without_a_reachable_queue_is_500() {
    let n = notify_failing(vec!["security"]);
    let sig = sign(b"gh-secret", PUBLICIZED.as_bytes());
    let (status, json) = http_status(
        handle(
            &n,
            function_url("/repo-publicized", PUBLICIZED, Some(&sig), false),
        )
        .await
        .expect("answered"),
    );
    assert_eq!(status, 500);
    assert_eq!(json["rule"], "repo-publicized");
    assert_eq!(json["saved_to_failure_queue"], false);
}

#[test]
fn failures_name_every_rule_and_route() {
    use crate::failure::{Failure, FailureKind, Failures};
    let failure = |route: &str| Failure {
        rule: "r".into(),
        route: Some(route.to_owned()),
        kind: FailureKind::Delivery,
        error: "boom".into(),
    };
    let d = Diagnostic::from(RuntimeError::Failed(Failures {
        failures: vec![failure("a"), failure("b")],
        delivered: vec![],
    }));
    assert_eq!(d.error_type, "Patrol.DeliveryFailed");
    assert_eq!(
        d.error_message,
        "2 failures: rule `r` route `a`: boom; rule `r` route `b`: boom"
    );
}

#[test]
fn epoch_millis_format_as_rfc3339() {
    assert_eq!(rfc3339(1_793_520_000_000), "2026-11-01T08:00:00Z");
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
}

#[tokio::test]
async fn a_request_without_a_well_formed_signature_never_fetches_the_secret() {
    let n = notify();
    for (sig, status) in [
        (None, 401),
        (Some("sha1=757107ea0eb2509fc211221cce984b8a37570b6d"), 400),
        (Some("sha256=not-hex"), 400),
        (Some("sha256=757107ea"), 400),
    ] {
        let (got, json) = http_status(
            handle(&n, function_url("/repo-publicized", PUBLICIZED, sig, false))
                .await
                .expect("answered"),
        );
        assert_eq!(got, status, "{sig:?}: {json}");
    }
    let generic = |headers: Value| {
        let mut req = function_url("/deploy-hook", "{}", None, false);
        req.payload["headers"] = headers;
        req
    };
    let sig = sign(b"k", b"{}");
    for (headers, status) in [
        (json!({"x-signature-256": sig}), 401),
        (
            json!({"x-signature-256": sig, "x-patrol-timestamp": "yesterday"}),
            400,
        ),
        (
            json!({"x-signature-256": sig, "x-patrol-timestamp": "1000000000"}),
            401,
        ),
    ] {
        let (got, json) = http_status(
            handle(&n, generic(headers.clone()))
                .await
                .expect("answered"),
        );
        assert_eq!(got, status, "{headers}: {json}");
    }
    assert_eq!(*n.secrets.lookups.lock().expect("lock"), 0);
    assert!(n.delivery.sent().is_empty());
}

#[tokio::test]
async fn an_oversized_body_is_413_before_anything_else() {
    let n = notify();
    let big = format!(
        r#"{{"action":"publicized","pad":"{}"}}"#,
        "x".repeat(crate::webhook::MAX_BODY)
    );
    let sig = sign(b"gh-secret", big.as_bytes());
    for base64 in [false, true] {
        let (status, json) = http_status(
            handle(
                &n,
                function_url("/repo-publicized", &big, Some(&sig), base64),
            )
            .await
            .expect("answered"),
        );
        assert_eq!(status, 413, "{json}");
    }
    // Not even the path is looked at.
    let (status, _) = http_status(
        handle(&n, function_url("/no-such-rule", &big, Some(&sig), false))
            .await
            .expect("answered"),
    );
    assert_eq!(status, 413);
    assert_eq!(*n.secrets.lookups.lock().expect("lock"), 0);
}

#[tokio::test]
async fn an_empty_signing_secret_is_refused() {
    let n = notify();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let body = r#"{"service":"payments"}"#;
    // Signed with the empty key, which anybody can do.
    let sig = patrol_aws::signature::sign_generic(
        b"",
        i64::try_from(now).unwrap_or_default(),
        body.as_bytes(),
    );
    let mut req = function_url("/deploy-hook", body, None, false);
    req.payload["headers"] = json!({"x-signature-256": sig, "x-patrol-timestamp": now.to_string()});
    let (status, json) = http_status(handle(&n, req).await.expect("answered"));
    assert_eq!(status, 500, "{json}");
    assert_eq!(json["error"], "the signing secret is unavailable");
    assert!(n.delivery.sent().is_empty());
}

#[tokio::test]
async fn a_webhook_signed_with_the_previous_secret_is_accepted_during_a_rotation() {
    let n = notify();
    let old = sign(b"gh-old", PUBLICIZED.as_bytes());
    let (status, json) = http_status(
        handle(
            &n,
            function_url("/repo-publicized", PUBLICIZED, Some(&old), false),
        )
        .await
        .expect("answered"),
    );
    assert_eq!(status, 200, "{json}");
    assert_eq!(n.delivery.sent(), pairs(&[("security", "repo-publicized")]));
}
