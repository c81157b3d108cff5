//! EventBridge invocations: feeds (exact patterns, read-only delivery, suppressions,
//! conditions, degraded alerts, deadlines), schedule groups, heartbeats.

use lambda_runtime::{Diagnostic, LambdaEvent};
use patrol_aws::config::HandlerConfig;
use serde_json::{Value, json};

use super::*;
use crate::handle;

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
pub(super) fn notify_with_a_failing_condition(sinks: FakeSinks) -> Notify {
    let mut c = config_json();
    c["rules"][2]["condition"] = json!("detail.requestParameters.missing == 1");
    let env = |k: &str| match k {
        "PATROL_CONFIG" => Some("config.json".to_owned()),
        "PATROL_TOPIC_ARN_PREFIX" => Some("arn:aws:sns:us-east-1:1:".to_owned()),
        "PATROL_FAILURE_QUEUE_URL" => Some("https://sqs.example/q".to_owned()),
        _ => None,
    };
    let config = HandlerConfig::from_json("notify", &c.to_string(), &env).expect("valid");
    runtime(Echo, config, sinks)
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
pub(super) fn with_deadline(mut event: LambdaEvent<Value>, ms: u64) -> LambdaEvent<Value> {
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
