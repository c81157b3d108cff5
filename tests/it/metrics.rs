//! Per-rule metrics as CloudWatch reads them: the real `notify` binary prints, at the end
//! of each invocation, one embedded-metric-format line per rule it touched (namespace
//! `Patrol`, dimensions `Handler` and `Rule`), whatever the outcome: alerts sent,
//! suppressed and deduplicated, delivery errors, and a scheduled rule's `ScheduledRuns`.

use patrol_tests::function::{self, metric_lines, response};
use patrol_tests::handler_config::{ConfigFile, config};
use patrol_tests::moto::Moto;
use serde_json::{Map, Value, json};

use crate::fixtures::{STATE_TABLE, event_rule, rule};

const COUNTS: [&str; 5] = [
    "EventsEvaluated",
    "AlertsSent",
    "Suppressed",
    "Deduplicated",
    "DeliveryErrors",
];

fn unix_ms() -> anyhow::Result<i64> {
    Ok(i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis(),
    )?)
}

/// A feed of four CreateAccessKey rules (one suppressed for `ci`, one deduplicated on
/// the event name, one sending to a topic that does not exist) and a user-creation rule
/// the events never reach; a daily schedule group.
fn metrics_config() -> Value {
    let pattern = json!({"source": ["aws.iam"], "detail": {"eventName": ["CreateAccessKey"]}});
    let mut suppressed = event_rule("key-created-by-ci", pattern.clone(), &["security"]);
    suppressed["suppress"] = json!([{"condition": r#"detail.userIdentity.userName == "ci""#,
        "owner": "platform", "reason": "CI rotates its keys", "expires": "2999-12-31"}]);
    let mut once = event_rule("key-created-once", pattern.clone(), &["security"]);
    once["dedup"] = json!({"key": "{{ detail.eventName }}", "window_seconds": 3600});
    let user = event_rule(
        "user-created",
        json!({"source": ["aws.iam"], "detail": {"eventName": ["CreateUser"]}}),
        &["security"],
    );
    let mut daily = rule(
        "daily-report",
        json!({"type": "schedule", "expression": "rate(1 day)"}),
        &["security"],
    );
    daily["message"] = json!("daily report");
    config(
        &[
            event_rule("key-created", pattern.clone(), &["security"]),
            suppressed,
            once,
            event_rule("key-created-lost", pattern, &["lost"]),
            user,
            daily,
        ],
        json!([
            {"type": "sns", "route": "security", "topic_name": "patrol-security"},
            {"type": "sns", "route": "lost", "topic_name": "patrol-no-such-topic"},
        ]),
        json!({"iam": ["key-created", "key-created-by-ci", "key-created-once",
            "key-created-lost", "user-created"]}),
        json!({"rate-1-day": ["daily-report"]}),
    )
}

fn create_access_key(id: &str, user: &str) -> Value {
    json!({"version": "0", "id": id, "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.iam", "account": "123456789012", "time": "2026-11-01T08:00:00Z",
        "region": "us-east-1", "resources": [],
        "detail": {"eventName": "CreateAccessKey", "eventSource": "iam.amazonaws.com",
            "sourceIPAddress": "203.0.113.7", "readOnly": false,
            "userIdentity": {"type": "IAMUser", "userName": user, "accountId": "123456789012"}}})
}

/// Each metric line checked for the EMF shape of a rule line (stamped between `from` and
/// now), by rule: its metric values by name.
fn rule_lines(stdout: &str, from: i64) -> anyhow::Result<Map<String, Value>> {
    let mut out = Map::new();
    for line in metric_lines(stdout) {
        let aws = &line["_aws"];
        let stamp = aws["Timestamp"].as_i64().unwrap_or_default();
        anyhow::ensure!(
            (from..=unix_ms()? + 1000).contains(&stamp),
            "Timestamp in milliseconds: {line}"
        );
        let directive = &aws["CloudWatchMetrics"][0];
        assert_eq!(
            aws["CloudWatchMetrics"].as_array().map(Vec::len),
            Some(1),
            "{line}"
        );
        assert_eq!(directive["Namespace"], "Patrol", "{line}");
        assert_eq!(
            directive["Dimensions"],
            json!([["Handler", "Rule"]]),
            "{line}"
        );
        assert_eq!(line["Handler"], "notify", "{line}");
        let mut values = Map::new();
        for metric in directive["Metrics"].as_array().cloned().unwrap_or_default() {
            let name = metric["Name"].as_str().unwrap_or_default().to_owned();
            let unit = if name == "DurationMs" {
                "Milliseconds"
            } else {
                "Count"
            };
            assert_eq!(metric["Unit"], unit, "{line}");
            anyhow::ensure!(line[&name].is_u64(), "{name} has no value: {line}");
            values.insert(name.clone(), line[&name].clone());
        }
        let rule = line["Rule"].as_str().unwrap_or_default().to_owned();
        anyhow::ensure!(
            out.insert(rule.clone(), Value::Object(values)).is_none(),
            "two lines for rule {rule}: {stdout}"
        );
    }
    Ok(out)
}

/// The counts of one rule's line, in [`COUNTS`] order, and its `ScheduledRuns` if any.
fn counts(lines: &Map<String, Value>, rule: &str) -> (Vec<u64>, Option<u64>) {
    let line = &lines[rule];
    (
        COUNTS
            .iter()
            .map(|c| line[*c].as_u64().unwrap_or(u64::MAX))
            .collect(),
        line.get("ScheduledRuns").and_then(Value::as_u64),
    )
}

#[tokio::test]
async fn every_rule_an_invocation_touches_prints_its_metric_line() -> anyhow::Result<()> {
    let moto = Moto::start()?;
    let spy = moto.topic_with_spy("patrol-security").await?;
    moto.state_table(STATE_TABLE).await?;
    let file = ConfigFile::write(&metrics_config())?;
    let mut env = moto.sdk_env();
    env.extend(file.env());
    env.push(("PATROL_STATE_TABLE", STATE_TABLE.to_owned()));

    // A key created by `ci`: three rules alert (one of them to a topic that is gone), one
    // is suppressed; `user-created` is in the feed but not reached, so it has no line.
    let from = unix_ms()?;
    let first = function::run(
        &env,
        &function::feed("iam", &create_access_key("ev-1", "ci")),
    )
    .await?;
    let (error_type, _) = function::error(&first.outcome)?;
    assert_eq!(error_type, "Patrol.DeliveryFailed");
    let lines = rule_lines(&first.stdout, from)?;
    assert_eq!(
        lines.keys().collect::<Vec<_>>(),
        [
            "key-created",
            "key-created-by-ci",
            "key-created-lost",
            "key-created-once"
        ],
        "{}",
        first.stdout
    );
    assert_eq!(counts(&lines, "key-created"), (vec![1, 1, 0, 0, 0], None));
    assert_eq!(
        counts(&lines, "key-created-by-ci"),
        (vec![1, 0, 1, 0, 0], None)
    );
    assert_eq!(
        counts(&lines, "key-created-once"),
        (vec![1, 1, 0, 0, 0], None)
    );
    assert_eq!(
        counts(&lines, "key-created-lost"),
        (vec![1, 0, 0, 0, 1], None)
    );

    // Another key by alice, inside `key-created-once`'s dedup window.
    let from = unix_ms()?;
    let second = function::run(
        &env,
        &function::feed("iam", &create_access_key("ev-2", "alice")),
    )
    .await?;
    function::error(&second.outcome)?;
    let lines = rule_lines(&second.stdout, from)?;
    assert_eq!(
        counts(&lines, "key-created-once"),
        (vec![1, 0, 0, 1, 0], None)
    );
    assert_eq!(
        counts(&lines, "key-created-by-ci"),
        (vec![1, 1, 0, 0, 0], None)
    );

    // A scheduled run: the heartbeat an alarm on missing data watches.
    let tick = json!({"version": "0", "id": "tick-1", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2026-11-01T08:00:00Z",
        "region": "us-east-1", "resources": [], "detail": {}});
    let from = unix_ms()?;
    let scheduled = function::run(&env, &function::schedule("rate-1-day", &tick)).await?;
    response(&scheduled.outcome)?;
    let lines = rule_lines(&scheduled.stdout, from)?;
    assert_eq!(lines.keys().collect::<Vec<_>>(), ["daily-report"]);
    assert_eq!(
        counts(&lines, "daily-report"),
        (vec![1, 1, 0, 0, 0], Some(1))
    );
    assert!(lines["daily-report"]["DurationMs"].is_u64());

    // What the metrics counted is what was sent: 2 + 2 (alice's by-ci and key-created)
    // + the daily report.
    assert_eq!(spy.take().await?.len(), 5);
    Ok(())
}
