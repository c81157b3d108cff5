//! The runtime with fake sinks and secrets, configured from config files as the CDK app
//! writes them, running [`Echo`] (what `notify` does: the input event, as is) or a test
//! handler; the real SDK, moto and HTTP servers are in the end-to-end tests
//! (tests/it/notify.rs, tests/it/routes.rs, tests/it/metrics.rs).
//!
//! - [`eventbridge`]: feeds, schedules, heartbeats, deadlines;
//! - [`sns_webhook`]: SNS records and function URL requests;
//! - [`handlers`]: handlers that return other events (findings), none, or fail; metrics.

mod eventbridge;
mod handlers;
mod sns_webhook;

use std::sync::Mutex;

use lambda_runtime::LambdaEvent;
use patrol_aws::config::{HandlerConfig, SinkConfig};
use patrol_aws::secrets::{SecretSource, SecretValue};
use patrol_aws::sink::Deliver;
use patrol_core::alert::Alert;
use serde_json::{Value, json};

use crate::Output;
use crate::eventbridge::EventResponse;
use crate::handler::{Context, Handler, HandlerError};

/// What `notify` does: the rule decides on the input event itself.
#[derive(Debug)]
pub(super) struct Echo;

impl Handler for Echo {
    const NAME: &'static str = "notify";

    async fn events(&self, ctx: &Context<'_>) -> Result<Vec<Value>, HandlerError> {
        Ok(vec![ctx.event.clone()])
    }
}

pub(super) type Notify = crate::Runtime<Echo, FakeSinks, FakeSecrets>;

/// Records what it sent as (route, rule, text); fails the routes in `fail`, never
/// answers for those in `hang`.
#[derive(Debug, Default)]
pub(super) struct FakeSinks {
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
pub(super) struct FakeSecrets {
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

pub(super) fn rule(id: &str, trigger: Value) -> Value {
    json!({"id": id, "description": format!("{id} happened"), "severity": "high",
        "handler": "notify", "trigger": trigger,
        "message": "{{ rule.id }}: {{ detail.eventName }} by {{ actor }}",
        "notify": ["security"]})
}

pub(super) fn pattern(pattern: Value) -> Value {
    json!({"type": "event", "pattern": pattern})
}

pub(super) fn iam(event_names: &[&str]) -> Value {
    pattern(json!({"source": ["aws.iam"], "detail": {"eventName": event_names}}))
}

pub(super) const GUARDDUTY: &str = "arn:aws:sns:us-east-1:111111111111:guardduty";

/// Every kind of rule this handler serves: a feed of three IAM rules (the cover is all of
/// `aws.iam`), a feed of read-only-aware rules, a schedule group, SNS rules (two on one
/// topic) and two webhook rules.
pub(super) fn config_json() -> Value {
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

pub(super) fn notify_failing(fail: Vec<&'static str>) -> Notify {
    notify_with(FakeSinks {
        fail,
        ..FakeSinks::default()
    })
}

pub(super) fn notify_with(sinks: FakeSinks) -> Notify {
    let env = |k: &str| match k {
        "PATROL_CONFIG" => Some("/opt/patrol/config.json".to_owned()),
        "PATROL_TOPIC_ARN_PREFIX" => Some("arn:aws:sns:us-east-1:111111111111:".to_owned()),
        "PATROL_FAILURE_QUEUE_URL" => Some("https://sqs.example/q".to_owned()),
        _ => None,
    };
    let config =
        HandlerConfig::from_json("notify", &config_json().to_string(), &env).expect("valid");
    runtime(Echo, config, sinks)
}

pub(super) fn notify() -> Notify {
    notify_failing(vec![])
}

pub(super) fn invocation(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, lambda_runtime::Context::default())
}

/// A CloudTrail API call by `user`, as EventBridge delivers it.
pub(super) fn api_call(event_name: &str, user: &str, read_only: bool) -> Value {
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

pub(super) fn feed(feed: &str, event: Value) -> LambdaEvent<Value> {
    invocation(json!({"patrol": {"feed": feed}, "event": event}))
}

pub(super) fn event_response(out: Output) -> EventResponse {
    match out {
        Output::Event(r) => r,
        other => panic!("expected an EventBridge response, got {other:?}"),
    }
}

/// (rule, sent routes or the skip reason) per rule of a response.
pub(super) fn decided(r: &EventResponse) -> Vec<(String, String)> {
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

pub(super) fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

/// A runtime with `handler`, `config` and `sinks`, and no AWS behind it.
pub(super) fn runtime<H: Handler>(
    handler: H,
    config: HandlerConfig,
    sinks: FakeSinks,
) -> crate::Runtime<H, FakeSinks, FakeSecrets> {
    let aws = aws_config::SdkConfig::builder().build();
    crate::Runtime::new(handler, aws, config, sinks, FakeSecrets::default())
}
