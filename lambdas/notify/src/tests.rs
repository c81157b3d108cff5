//! The handler with fake sinks and secrets, configured from config files as the CDK app
//! writes them; the real SDK, moto and HTTP servers are in the end-to-end tests
//! (tests/it/notify.rs, tests/it/routes.rs).

use std::sync::Mutex;

use base64::Engine as _;
use lambda_runtime::{Diagnostic, LambdaEvent};
use patrol_aws::config::{HandlerConfig, SinkConfig};
use patrol_aws::secrets::{SecretSource, SecretValue};
use patrol_aws::signature::sign;
use patrol_aws::sink::Deliver;
use patrol_core::alert::Alert;
use serde_json::{Value, json};

use crate::eventbridge::EventResponse;
use crate::sns::{SnsResponse, sns_attributes};
use crate::webhook::rfc3339;
use crate::{NotifyError, Output, handle};

type Notify = crate::Notify<FakeSinks, FakeSecrets>;

/// Records what it sent as (route, rule, text); fails the routes in `fail`, never
/// answers for those in `hang`.
#[derive(Debug, Default)]
struct FakeSinks {
    sent: Mutex<Vec<(String, String, String)>>,
    fail: Vec<&'static str>,
    hang: Vec<&'static str>,
}

impl Deliver for FakeSinks {
    async fn deliver(&self, sink: &SinkConfig, alert: &Alert) -> Result<String, String> {
        if self.fail.contains(&sink.route()) {
            return Err("AuthorizationError: not allowed".into());
        }
        if self.hang.contains(&sink.route()) {
            std::future::pending::<()>().await;
        }
        let mut sent = self.sent.lock().map_err(|e| e.to_string())?;
        sent.push((sink.route().to_owned(), alert.rule.clone(), alert.text()));
        Ok(format!("msg-{}", sent.len()))
    }
}

impl FakeSinks {
    /// (route, rule) of everything sent, in order.
    fn sent(&self) -> Vec<(String, String)> {
        self.sent
            .lock()
            .expect("lock")
            .iter()
            .map(|(route, rule, _)| (route.clone(), rule.clone()))
            .collect()
    }
}

/// Counts lookups, to prove some requests never fetch a secret. `patrol/github` was
/// rotated from `gh-old` to `gh-secret`; `patrol/empty` holds an empty signing key.
#[derive(Debug, Default)]
struct FakeSecrets {
    lookups: Mutex<usize>,
}

impl FakeSecrets {
    fn count(&self) -> Result<(), String> {
        *self.lookups.lock().map_err(|e| e.to_string())? += 1;
        Ok(())
    }
}

impl SecretSource for FakeSecrets {
    async fn secret(&self, name: &str) -> Result<SecretValue, String> {
        self.count()?;
        match name {
            "patrol/github" => Ok(SecretValue::new("gh-secret")),
            "patrol/gitlab" => Ok(SecretValue::new("gl-token")),
            "patrol/empty" => Ok(SecretValue::new(r#"{"secret": ""}"#)),
            _ => Err(format!("ResourceNotFoundException: {name}")),
        }
    }

    async fn refresh(&self, name: &str) -> Result<SecretValue, String> {
        self.secret(name).await
    }

    async fn previous(&self, name: &str) -> Result<Option<SecretValue>, String> {
        self.count()?;
        Ok((name == "patrol/github").then(|| SecretValue::new("gh-old")))
    }
}

fn rule(id: &str, trigger: Value) -> Value {
    json!({"id": id, "description": format!("{id} happened"), "severity": "high",
        "handler": "notify", "trigger": trigger,
        "message": "{{ rule.id }}: {{ detail.eventName }} by {{ actor }}",
        "notify": ["security"]})
}

fn pattern(pattern: Value) -> Value {
    json!({"type": "event", "pattern": pattern})
}

fn iam(event_names: &[&str]) -> Value {
    pattern(json!({"source": ["aws.iam"], "detail": {"eventName": event_names}}))
}

const GUARDDUTY: &str = "arn:aws:sns:us-east-1:111111111111:guardduty";

/// Every kind of rule this handler serves: a feed of three IAM rules (the cover is all of
/// `aws.iam`), a feed of read-only-aware rules, a schedule group, SNS rules (two on one
/// topic) and two webhook rules.
fn config_json() -> Value {
    let mut read_only = rule(
        "iam-reads-too",
        pattern(json!({"source": ["aws.iam"], "detail": {"eventName": [{"prefix": "Get"}]}})),
    );
    read_only["trigger"]["include_read_only"] = json!(true);
    let mut suppressed = rule("key-created-by-ci", iam(&["CreateAccessKey"]));
    suppressed["suppress"] = json!([{"condition": r#"detail.userIdentity.userName == "ci""#,
        "owner": "platform", "reason": "CI rotates its keys", "expires": "2999-12-31"}]);
    let mut conditional = rule("key-created-for-admin", iam(&["CreateAccessKey"]));
    conditional["condition"] = json!(r#"detail.requestParameters.userName == "admin""#);
    let mut both_routes = rule("user-created", iam(&["CreateUser"]));
    both_routes["notify"] = json!(["security", "oncall"]);
    let mut high = rule(
        "guardduty-high",
        json!({"type": "sns", "topic_arn": GUARDDUTY,
            "filter_policy": {"severity": [{"numeric": [">=", 7]}]}}),
    );
    high["message"] = json!("{{ detail.Message.detail.type }} ({{ detail.Subject }})");
    let mut any = rule(
        "guardduty-any",
        json!({"type": "sns", "topic_arn": GUARDDUTY}),
    );
    any["message"] = high["message"].clone();
    let mut other_topic = rule(
        "alarms",
        json!({"type": "sns", "topic_arn": "arn:aws:sns:us-east-1:111111111111:alarms"}),
    );
    other_topic["message"] = json!("{{ detail.Subject }}");
    let mut github = rule(
        "repo-publicized",
        json!({"type": "webhook", "provider": "github", "secret": "patrol/github"}),
    );
    github["message"] = json!("{{ detail.action }} by {{ actor }}");
    let mut gitlab = rule(
        "project-changed",
        json!({"type": "webhook", "provider": "gitlab", "secret": "patrol/gitlab"}),
    );
    gitlab["message"] = json!("{{ detail.object_kind }}");
    let mut daily = rule(
        "daily-report",
        json!({"type": "schedule", "expression": "rate(1 day)"}),
    );
    daily["message"] = json!("daily report");
    let mut daily_too = daily.clone();
    daily_too["id"] = json!("daily-audit");
    let mut empty_secret = rule(
        "deploy-hook",
        json!({"type": "webhook", "provider": "generic", "secret": "patrol/empty"}),
    );
    empty_secret["message"] = json!("{{ detail.service }}");
    json!({
        "format_version": 1, "handler": "notify",
        "rules": [
            rule("key-created", iam(&["CreateAccessKey"])),
            suppressed, conditional, both_routes,
            rule("iam-writes", pattern(json!({"source": ["aws.iam"]}))),
            read_only, high, any, other_topic, github, gitlab, daily, daily_too, empty_secret,
        ],
        "routes": [
            {"type": "sns", "route": "security", "topic_name": "patrol-security"},
            {"type": "pagerduty", "route": "oncall", "secret": "patrol/pd"},
        ],
        "feeds": {
            "iam": ["key-created", "key-created-by-ci", "key-created-for-admin", "user-created"],
            "iam-read-only": ["iam-writes", "iam-reads-too"],
        },
        "schedules": {"rate-1-day": ["daily-report", "daily-audit"]},
    })
}

fn notify_failing(fail: Vec<&'static str>) -> Notify {
    notify_with(FakeSinks {
        fail,
        ..FakeSinks::default()
    })
}

fn notify_with(sinks: FakeSinks) -> Notify {
    let env = |k: &str| match k {
        "PATROL_CONFIG" => Some("/opt/patrol/config.json".to_owned()),
        "PATROL_TOPIC_ARN_PREFIX" => Some("arn:aws:sns:us-east-1:111111111111:".to_owned()),
        "PATROL_FAILURE_QUEUE_URL" => Some("https://sqs.example/q".to_owned()),
        _ => None,
    };
    let config =
        HandlerConfig::from_json("notify", &config_json().to_string(), &env).expect("valid");
    crate::Notify::new(config, sinks, FakeSecrets::default())
}

fn notify() -> Notify {
    notify_failing(vec![])
}

fn invocation(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, lambda_runtime::Context::default())
}

/// A CloudTrail API call by `user`, as EventBridge delivers it.
fn api_call(event_name: &str, user: &str, read_only: bool) -> Value {
    json!({
        "version": "0", "id": "6f8e2a4c-0000-4000-8000-000000000000",
        "detail-type": "AWS API Call via CloudTrail", "source": "aws.iam",
        "account": "111111111111", "time": "2026-11-01T08:00:00Z", "region": "us-east-1",
        "resources": [],
        "detail": {"eventName": event_name, "eventSource": "iam.amazonaws.com",
            "sourceIPAddress": "203.0.113.7", "readOnly": read_only,
            "userIdentity": {"type": "IAMUser", "userName": user, "accountId": "111111111111"},
            "requestParameters": {"userName": "bob"}}
    })
}

fn feed(feed: &str, event: Value) -> LambdaEvent<Value> {
    invocation(json!({"patrol": {"feed": feed}, "event": event}))
}

fn event_response(out: Output) -> EventResponse {
    match out {
        Output::Event(r) => r,
        other => panic!("expected an EventBridge response, got {other:?}"),
    }
}

/// (rule, sent routes or the skip reason) per rule of a response.
fn decided(r: &EventResponse) -> Vec<(String, String)> {
    r.rules
        .iter()
        .map(|r| {
            let what = match &r.skipped {
                Some(why) => why.clone(),
                None => r.sent.keys().cloned().collect::<Vec<_>>().join(","),
            };
            (r.rule.clone(), what)
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[tokio::test]
async fn feed_evaluates_each_of_its_rules_exactly() {
    let n = notify();
    let out = event_response(
        handle(&n, feed("iam", api_call("CreateAccessKey", "alice", false)))
            .await
            .expect("ok"),
    );
    assert_eq!(out.feed.as_deref(), Some("iam"));
    assert_eq!(
        out.event_id.as_deref(),
        Some("6f8e2a4c-0000-4000-8000-000000000000")
    );
    // `user-created` is in the feed, whose cover matched, but its own pattern did not:
    // not reached, not listed.
    assert_eq!(
        decided(&out),
        pairs(&[
            ("key-created", "security"),
            ("key-created-by-ci", "security"),
            ("key-created-for-admin", "condition false"),
        ])
    );
    assert_eq!(
        n.delivery.sent(),
        pairs(&[
            ("security", "key-created"),
            ("security", "key-created-by-ci")
        ])
    );
    let text = &n.delivery.sent.lock().expect("lock")[0].2;
    assert!(
        text.starts_with("key-created: CreateAccessKey by alice\n"),
        "{text}"
    );
}

#[tokio::test]
async fn suppressions_are_checked_per_rule_and_say_who_owns_them() {
    let n = notify();
    let out = event_response(
        handle(&n, feed("iam", api_call("CreateAccessKey", "ci", false)))
            .await
            .expect("ok"),
    );
    assert_eq!(
        decided(&out),
        pairs(&[
            ("key-created", "security"),
            (
                "key-created-by-ci",
                "suppressed by platform: CI rotates its keys"
            ),
            ("key-created-for-admin", "condition false"),
        ])
    );
}

#[tokio::test]
async fn read_only_events_reach_only_include_read_only_rules() {
    let n = notify();
    let read = event_response(
        handle(
            &n,
            feed(
                "iam-read-only",
                api_call("GetAccountPasswordPolicy", "alice", true),
            ),
        )
        .await
        .expect("ok"),
    );
    assert_eq!(decided(&read), pairs(&[("iam-reads-too", "security")]));
    let write = event_response(
        handle(
            &n,
            feed(
                "iam-read-only",
                api_call("GetAccountPasswordPolicy", "alice", false),
            ),
        )
        .await
        .expect("ok"),
    );
    assert_eq!(
        decided(&write),
        pairs(&[("iam-writes", "security"), ("iam-reads-too", "security")])
    );
}

#[tokio::test]
async fn unknown_feed_is_a_config_mismatch() {
    let err = handle(&notify(), feed("ec2", api_call("RunInstances", "a", false)))
        .await
        .expect_err("unknown feed");
    let d = Diagnostic::from(err);
    assert_eq!(d.error_type, "Patrol.ConfigMismatch");
    assert!(
        d.error_message.starts_with(
            "feed `ec2` is not in the config file /opt/patrol/config.json: the deployed EventBridge rules and the function's config disagree"
        ),
        "{}",
        d.error_message
    );
}

#[tokio::test]
async fn a_bare_eventbridge_event_reaches_every_feed() {
    let n = notify();
    let out = event_response(
        handle(&n, invocation(api_call("CreateUser", "alice", false)))
            .await
            .expect("ok"),
    );
    assert_eq!(out.feed, None);
    assert_eq!(
        decided(&out),
        pairs(&[
            ("user-created", "oncall,security"),
            ("iam-writes", "security")
        ])
    );
}

#[tokio::test]
async fn every_route_and_rule_is_tried_and_the_error_names_each_failure() {
    let n = notify_failing(vec!["oncall"]);
    handle(&n, feed("iam-read-only", api_call("GetUser", "a", false)))
        .await
        .expect("no route of these rules fails");
    let err = handle(&n, invocation(api_call("CreateUser", "alice", false)))
        .await
        .expect_err("oncall fails");
    let d = Diagnostic::from(err);
    assert_eq!(d.error_type, "Patrol.DeliveryFailed");
    assert_eq!(
        d.error_message,
        "1 failure: rule `user-created` route `oncall`: AuthorizationError: not allowed \
         (delivered: rule `user-created` route `security`, rule `iam-writes` route `security`)"
    );
    // The failing route did not stop the others.
    assert_eq!(
        n.delivery.sent(),
        pairs(&[
            ("security", "iam-writes"),
            ("security", "iam-reads-too"),
            ("security", "user-created"),
            ("security", "iam-writes"),
        ])
    );
}

/// The config with `key-created-for-admin`'s condition failing on every event.
fn notify_with_a_failing_condition(sinks: FakeSinks) -> Notify {
    let mut c = config_json();
    c["rules"][2]["condition"] = json!("detail.requestParameters.missing == 1");
    let env = |k: &str| match k {
        "PATROL_CONFIG" => Some("config.json".to_owned()),
        "PATROL_TOPIC_ARN_PREFIX" => Some("arn:aws:sns:us-east-1:1:".to_owned()),
        "PATROL_FAILURE_QUEUE_URL" => Some("https://sqs.example/q".to_owned()),
        _ => None,
    };
    let config = HandlerConfig::from_json("notify", &c.to_string(), &env).expect("valid");
    crate::Notify::new(config, sinks, FakeSecrets::default())
}

#[tokio::test]
async fn a_condition_error_sends_a_degraded_alert_instead_of_failing() {
    let n = notify_with_a_failing_condition(FakeSinks::default());
    let out = event_response(
        handle(&n, feed("iam", api_call("CreateAccessKey", "alice", false)))
            .await
            .expect("not retried: it would fail the same way"),
    );
    let failing = &out.rules[2];
    assert_eq!(failing.rule, "key-created-for-admin");
    assert_eq!(failing.sent.keys().collect::<Vec<_>>(), ["security"]);
    assert!(
        failing
            .degraded
            .as_deref()
            .is_some_and(|e| e.starts_with("condition failed")),
        "{failing:?}"
    );
    let sent = n.delivery.sent.lock().expect("lock");
    assert_eq!(sent.len(), 3, "the other rules still alert");
    let (route, rule, text) = &sent[2];
    assert_eq!(
        (route.as_str(), rule.as_str()),
        ("security", "key-created-for-admin")
    );
    assert!(
        text.starts_with(
            "DEGRADED ALERT: rule `key-created-for-admin` matched an event (source aws.iam, detail-type AWS API Call via CloudTrail, id 6f8e2a4c-0000-4000-8000-000000000000), but its condition failed on it"
        ),
        "{text}"
    );
    assert!(text.contains("Actor:    alice"), "{text}");
    assert!(text.contains("Account:  111111111111"), "{text}");
}

#[tokio::test]
async fn a_degraded_alert_that_cannot_be_delivered_is_retried() {
    let n = notify_with_a_failing_condition(FakeSinks {
        fail: vec!["security"],
        ..FakeSinks::default()
    });
    let err = handle(&n, feed("iam", api_call("CreateAccessKey", "alice", false)))
        .await
        .expect_err("delivery failed: retried");
    let d = Diagnostic::from(err);
    assert_eq!(d.error_type, "Patrol.DeliveryFailed");
    assert!(
        d.error_message
            .contains("rule `key-created-for-admin` route `security`: AuthorizationError"),
        "{}",
        d.error_message
    );
}

/// An invocation whose Lambda deadline is `ms` milliseconds away.
fn with_deadline(mut event: LambdaEvent<Value>, ms: u64) -> LambdaEvent<Value> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default();
    event.context.deadline = now + ms;
    event
}

#[tokio::test]
async fn a_route_that_never_answers_fails_at_the_deadline_and_the_others_are_sent() {
    let n = notify_with(FakeSinks {
        hang: vec!["oncall"],
        ..FakeSinks::default()
    });
    let started = std::time::Instant::now();
    let err = handle(
        &n,
        with_deadline(invocation(api_call("CreateUser", "alice", false)), 2000),
    )
    .await
    .expect_err("oncall never answered");
    // Half of two seconds for delivery (the rest of a short deadline is the reserve).
    assert!(
        started.elapsed() < std::time::Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    let d = Diagnostic::from(err);
    assert_eq!(d.error_type, "Patrol.DeliveryFailed");
    assert!(
        d.error_message
            .starts_with("1 failure: rule `user-created` route `oncall`: no answer within 1.0 s, the time left before the function's deadline"),
        "{}",
        d.error_message
    );
    assert_eq!(
        n.delivery.sent(),
        pairs(&[("security", "user-created"), ("security", "iam-writes")])
    );
}

#[tokio::test]
async fn a_schedule_group_fires_every_rule_of_the_group() {
    let n = notify();
    let scheduled = json!({"version": "0", "id": "sched-1", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "111111111111", "time": "2026-11-01T08:00:00Z",
        "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:111111111111:rule/patrol-schedule-notify-rate-1-day"],
        "detail": {}});
    let out = event_response(
        handle(
            &n,
            invocation(json!({"patrol": {"schedule": "rate-1-day"}, "event": scheduled})),
        )
        .await
        .expect("ok"),
    );
    assert_eq!(out.schedule.as_deref(), Some("rate-1-day"));
    assert_eq!(
        decided(&out),
        pairs(&[("daily-report", "security"), ("daily-audit", "security")])
    );
    let err = handle(
        &n,
        invocation(json!({"patrol": {"schedule": "rate-2-days"}, "event": scheduled})),
    )
    .await
    .expect_err("unknown group");
    assert_eq!(Diagnostic::from(err).error_type, "Patrol.ConfigMismatch");
}

#[tokio::test]
async fn not_a_known_payload_is_an_invalid_event() {
    let err = handle(&notify(), invocation(json!({"hello": "world"})))
        .await
        .expect_err("unknown shape");
    assert_eq!(Diagnostic::from(err).error_type, "Patrol.InvalidEvent");
}

#[tokio::test]
async fn heartbeats_and_the_watchdog_fail_without_a_state_table() {
    let heartbeat = json!({"version": "0", "id": "h-1", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "222222222222", "time": "2026-11-01T08:00:00Z",
        "region": "eu-west-1", "detail": {},
        "resources": ["arn:aws:events:eu-west-1:222222222222:rule/patrol-heartbeat"]});
    let watchdog = json!({"patrol": {"watchdog": {"silent_after_seconds": 1800}},
        "event": api_call("x", "y", false)});
    for (payload, what) in [
        (
            json!({"patrol": {"heartbeat": {}}, "event": heartbeat}),
            "a heartbeat",
        ),
        (watchdog, "the watchdog"),
    ] {
        let err = handle(&notify(), invocation(payload))
            .await
            .expect_err("no table");
        let d = Diagnostic::from(err);
        assert_eq!(d.error_type, "Patrol.NoStateTable");
        assert_eq!(
            d.error_message,
            format!(
                "{what} needs the state table, and PATROL_STATE_TABLE is not set (the CDK app sets it on every Patrol function)"
            )
        );
    }
}

#[tokio::test]
async fn a_heartbeat_from_another_rule_is_an_invalid_event() {
    let mut event = api_call("x", "y", false);
    event["source"] = json!("aws.events");
    let err = handle(
        &notify(),
        invocation(json!({"patrol": {"heartbeat": {}}, "event": event})),
    )
    .await
    .expect_err("not a heartbeat");
    let d = Diagnostic::from(err);
    assert_eq!(d.error_type, "Patrol.InvalidEvent");
    assert!(
        d.error_message
            .starts_with("not a Patrol heartbeat: `detail-type`"),
        "{}",
        d.error_message
    );
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
    let d = Diagnostic::from(NotifyError::Failed(Failures {
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
