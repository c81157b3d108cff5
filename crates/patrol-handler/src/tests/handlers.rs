//! Handlers other than `notify`'s: one that reports findings (decided one by one by the
//! rule: condition, suppressions, template), none, an error, or never answers; and what
//! each rule's metric counts.

use std::sync::Mutex;

use lambda_runtime::Diagnostic;
use patrol_aws::config::HandlerConfig;
use patrol_aws::metrics::RuleMetrics;
use patrol_core::finding::Finding;
use serde_json::{Map, Value, json};

use super::eventbridge::with_deadline;
use super::*;
use crate::delivery::NO_EVENTS;
use crate::eventbridge::Invoked;
use crate::metrics::Metrics;
use crate::{Deadline, Runtime, handle};

/// One finding per user in `params.users`; fails when `params.fail` is true, never
/// answers when `params.hang` is. Remembers the regions each call saw.
#[derive(Debug, Default)]
struct Users {
    regions_seen: Mutex<Vec<Vec<String>>>,
}

impl Handler for Users {
    const NAME: &'static str = "users";

    async fn events(&self, ctx: &Context<'_>) -> Result<Vec<Value>, HandlerError> {
        self.regions_seen
            .lock()
            .map_err(|e| HandlerError::msg(e.to_string()))?
            .push(ctx.regions.to_vec());
        #[derive(serde::Deserialize)]
        struct Params {
            #[serde(default)]
            users: Vec<String>,
            #[serde(default)]
            fail: bool,
            #[serde(default)]
            hang: bool,
            #[serde(default)]
            not_objects: bool,
        }
        let p: Params = ctx.params()?;
        if p.fail {
            return Err(std::io::Error::other("AccessDenied: iam:ListUsers").into());
        }
        if p.hang {
            std::future::pending::<()>().await;
        }
        if p.not_objects {
            return Ok(vec![json!({"id": "fine"}), json!("a string")]);
        }
        Ok(p.users
            .iter()
            .map(|user| {
                let mut facts = Map::new();
                facts.insert("user".into(), json!(user));
                ctx.finding(&Finding {
                    check: "users".into(),
                    finding: "user-without-mfa".into(),
                    key: format!("iam-user/{user}"),
                    fingerprint: "mfa=off".into(),
                    account: "111111111111".into(),
                    region: "us-east-1".into(),
                    resource: Some(format!("arn:aws:iam::111111111111:user/{user}")),
                    facts,
                })
            })
            .collect())
    }
}

fn scheduled(id: &str, params: Value) -> Value {
    json!({"id": id, "description": format!("{id} found"), "severity": "high",
        "handler": "users", "trigger": {"type": "schedule", "expression": "rate(1 day)"},
        "message": "{{ detail.facts.user }} has no MFA", "notify": ["security"],
        "params": params})
}

/// Rules of one schedule group: `no-mfa` (three users; a condition drops `carol`, a
/// suppression silences `ci`), `nobody` (no users), and `broken` (the handler fails).
fn users_runtime(broken: Value) -> Runtime<Users, FakeSinks, FakeSecrets> {
    let mut no_mfa = scheduled("no-mfa", json!({"users": ["alice", "ci", "carol"]}));
    no_mfa["condition"] = json!(r#"detail.facts.user != "carol""#);
    no_mfa["suppress"] = json!([{"condition": r#"detail.facts.user == "ci""#,
        "owner": "platform", "reason": "CI has no console", "expires": "2999-12-31"}]);
    let config = json!({
        "format_version": 1, "handler": "users",
        "rules": [no_mfa, scheduled("nobody", json!({"users": []})), scheduled("broken", broken)],
        "routes": [{"type": "sns", "route": "security", "topic_name": "patrol-security"}],
        "schedules": {"rate-1-day": ["no-mfa", "nobody", "broken"]},
        "regions": ["us-east-1", "eu-west-1"],
    });
    let env = |k: &str| match k {
        "PATROL_CONFIG" => Some("config.json".to_owned()),
        "PATROL_TOPIC_ARN_PREFIX" => Some("arn:aws:sns:us-east-1:111111111111:".to_owned()),
        _ => None,
    };
    let config = HandlerConfig::from_json("users", &config.to_string(), &env).expect("valid");
    runtime(Users::default(), config, FakeSinks::default())
}

fn tick() -> Value {
    json!({"version": "0", "id": "tick-1", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "111111111111", "time": "2026-11-01T08:00:00Z",
        "region": "us-east-1", "resources": [], "detail": {}})
}

fn schedule() -> lambda_runtime::LambdaEvent<Value> {
    invocation(json!({"patrol": {"schedule": "rate-1-day"}, "event": tick()}))
}

#[tokio::test]
async fn each_finding_is_decided_by_the_rule_and_alerts_on_its_own() {
    let r = users_runtime(json!({"users": ["dave"]}));
    let out = event_response(handle(&r, schedule()).await.expect("ok"));
    assert_eq!(
        decided(&out),
        pairs(&[
            ("no-mfa", "security"),
            ("no-mfa", "suppressed by platform: CI has no console"),
            ("no-mfa", "condition false"),
            ("nobody", NO_EVENTS),
            ("broken", "security"),
        ])
    );
    // Each finding's result names its event (not the tick's).
    let alice = Finding::from_event(&json!({"detail": {"check": "users",
        "finding": "user-without-mfa", "key": "iam-user/alice", "fingerprint": "mfa=off",
        "account": "111111111111", "region": "us-east-1"}}))
    .expect("a finding");
    assert_eq!(out.rules[0].event_id.as_deref(), Some(alice.id().as_str()));
    let sent = r.delivery.sent.lock().expect("lock");
    let texts: Vec<&str> = sent.iter().map(|(_, _, t)| t.as_str()).collect();
    assert!(texts[0].starts_with("alice has no MFA"), "{texts:?}");
    assert!(texts[1].starts_with("dave has no MFA"), "{texts:?}");
    assert_eq!(texts.len(), 2);
    // The handler saw the deployment's regions, in order.
    let seen = r.handler.regions_seen.lock().expect("lock");
    assert_eq!(seen[0], ["us-east-1", "eu-west-1"]);
}

#[tokio::test]
async fn a_failing_handler_fails_its_rule_and_the_others_still_alert() {
    let r = users_runtime(json!({"fail": true}));
    let err = handle(&r, schedule()).await.expect_err("broken failed");
    let d = Diagnostic::from(err);
    assert_eq!(d.error_type, "Patrol.HandlerFailed");
    assert_eq!(
        d.error_message,
        "1 failure: rule `broken`: AccessDenied: iam:ListUsers (delivered: rule `no-mfa` route `security`)"
    );
    assert_eq!(r.delivery.sent(), pairs(&[("security", "no-mfa")]));
}

#[tokio::test]
async fn a_handler_with_bad_params_names_the_rule_and_the_param() {
    let r = users_runtime(json!({"users": "dave"}));
    let d = Diagnostic::from(handle(&r, schedule()).await.expect_err("bad params"));
    assert!(
        d.error_message
            .starts_with("1 failure: rule `broken`: rule `broken`: params.users: invalid type"),
        "{}",
        d.error_message
    );
}

#[tokio::test]
async fn an_event_that_is_not_an_object_fails_the_rule() {
    let r = users_runtime(json!({"not_objects": true}));
    let d = Diagnostic::from(handle(&r, schedule()).await.expect_err("a string"));
    assert_eq!(
        d.error_message,
        "1 failure: rule `broken`: the handler returned event 1 that is not a JSON object: \"a string\" (delivered: rule `no-mfa` route `security`)"
    );
}

#[tokio::test]
async fn a_handler_that_never_answers_is_cut_off_at_the_deadline() {
    let r = users_runtime(json!({"hang": true}));
    let started = std::time::Instant::now();
    let err = handle(&r, with_deadline(schedule(), 2000))
        .await
        .expect_err("hung");
    assert!(started.elapsed() < std::time::Duration::from_millis(1500));
    let d = Diagnostic::from(err);
    assert!(
        d.error_message
            .starts_with("1 failure: rule `broken`: no answer within 1.0 s"),
        "{}",
        d.error_message
    );
    assert_eq!(r.delivery.sent(), pairs(&[("security", "no-mfa")]));
}

#[tokio::test]
async fn every_rule_touched_is_counted_once_per_invocation() {
    let r = users_runtime(json!({"fail": true}));
    let metrics = Metrics::default();
    let inv = Invoked {
        request_id: "r-1",
        deadline: Deadline::none(),
        metrics: &metrics,
    };
    r.schedule("rate-1-day", tick(), inv)
        .await
        .expect_err("broken failed");
    let counted = metrics.snapshot();
    let without_time = |m: &RuleMetrics| RuleMetrics {
        duration_ms: 0,
        ..*m
    };
    assert_eq!(
        without_time(&counted["no-mfa"]),
        RuleMetrics {
            events_evaluated: 3,
            alerts_sent: 1,
            suppressed: 1,
            scheduled_runs: Some(1),
            ..RuleMetrics::default()
        }
    );
    assert_eq!(
        without_time(&counted["nobody"]),
        RuleMetrics {
            scheduled_runs: Some(1),
            ..RuleMetrics::default()
        }
    );
    assert_eq!(
        without_time(&counted["broken"]),
        RuleMetrics {
            delivery_errors: 1,
            scheduled_runs: Some(1),
            ..RuleMetrics::default()
        }
    );
}

#[tokio::test]
async fn notify_rules_count_their_event_and_no_scheduled_runs() {
    let n = notify_failing(vec!["oncall"]);
    let metrics = Metrics::default();
    let inv = Invoked {
        request_id: "r-1",
        deadline: Deadline::none(),
        metrics: &metrics,
    };
    n.any_feed(api_call("CreateUser", "alice", false), inv)
        .await
        .expect_err("oncall fails");
    let counted = metrics.snapshot();
    assert_eq!(
        counted.keys().collect::<Vec<_>>(),
        ["iam-writes", "user-created"]
    );
    let user_created = counted["user-created"];
    assert_eq!(
        (
            user_created.events_evaluated,
            user_created.alerts_sent,
            user_created.delivery_errors,
            user_created.scheduled_runs
        ),
        (1, 0, 1, None)
    );
    assert_eq!(counted["iam-writes"].alerts_sent, 1);
}
