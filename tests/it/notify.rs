//! The `notify` function as deployed: one function for every rule of the handler, its
//! config file as the CDK app writes it, invoked by feeds (covers of its event rules) and
//! schedule groups, delivering to SNS topics on moto.

use patrol_tests::function::{self, decided, invoke, response};
use patrol_tests::handler_config::{self, ConfigFile, config};
use patrol_tests::moto::Moto;
use serde_json::{Value, json};

use crate::fixtures::{STATE_TABLE, event_rule, root_login_event, rule, rules_toml, sample_event};

fn security() -> Value {
    json!([{"type": "sns", "route": "security", "topic_name": "patrol-security"}])
}

fn env(moto: &Moto, file: &ConfigFile) -> Vec<(&'static str, String)> {
    let mut env = moto.sdk_env();
    env.extend(file.env());
    env
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

/// The subjects of SNS envelopes, sorted.
fn subjects(envelopes: &[Value]) -> Vec<String> {
    let mut s: Vec<String> = envelopes
        .iter()
        .map(|e| e["Subject"].as_str().unwrap_or_default().to_owned())
        .collect();
    s.sort();
    s
}

#[tokio::test]
async fn shipped_rules_deliver_a_root_sign_in_to_the_security_topic() -> anyhow::Result<()> {
    let moto = Moto::start()?;
    let spy = moto.topic_with_spy("patrol-security").await?;
    let config = handler_config::from_manifest(&rules_toml()?, "notify")?;
    let feed = config["feeds"]
        .as_object()
        .and_then(|feeds| {
            feeds.iter().find(|(_, rules)| {
                rules
                    .as_array()
                    .is_some_and(|r| r.contains(&json!("root-console-login")))
            })
        })
        .map(|(id, _)| id.clone())
        .ok_or_else(|| anyhow::anyhow!("no feed holds root-console-login: {config}"))?;
    let file = ConfigFile::write(&config)?;
    moto.state_table(STATE_TABLE).await?;
    // rules.toml has webhook rules, which need the failure queue.
    let (_, queue_url) = moto.queue("patrol-notify-failures").await?;
    let mut env = env(&moto, &file);
    env.push(("PATROL_STATE_TABLE", STATE_TABLE.to_owned()));
    env.push(("PATROL_FAILURE_QUEUE_URL", queue_url));
    let event = root_login_event()?;

    let out = response(&invoke(&env, &function::feed(&feed, &event)).await?)?;
    assert_eq!(out["feed"], feed.as_str());
    assert_eq!(
        decided(&out),
        pairs(&[("root-console-login", "security")]),
        "{out}"
    );

    let envelopes = spy.take().await?;
    assert_eq!(envelopes.len(), 1, "{envelopes:?}");
    let envelope = &envelopes[0];
    assert_eq!(envelope["TopicArn"], spy.topic_arn.as_str());
    assert_eq!(
        out["rules"][0]["sent"]["security"], envelope["MessageId"],
        "{out}"
    );
    assert_eq!(
        envelope["Subject"],
        "[CRITICAL] root-console-login: The root user signed in to the AWS Management Console"
    );
    let message = envelope["Message"].as_str().unwrap_or_default();
    assert_eq!(
        message.lines().next().unwrap_or_default(),
        "Root console sign-in (Success, MFA: No) to account 123837392027 from 198.51.100.23"
    );
    assert!(
        message.contains("Actor:    root (123837392027)"),
        "{message}"
    );
    assert!(
        message.contains("#/events/0a9b3c5e-2f47-4d6b-9a1e-6c2d8f0b4e71"),
        "{message}"
    );
    assert_eq!(
        envelope["MessageAttributes"]["severity"]["Value"], "critical",
        "{envelope}"
    );
    Ok(())
}

/// Three rules of one feed, whose cover is all of `aws.iam`.
fn iam_feed() -> Value {
    let iam = |names: &[&str]| json!({"source": ["aws.iam"], "detail": {"eventName": names}});
    config(
        &[
            event_rule("key-created", iam(&["CreateAccessKey"]), &["security"]),
            event_rule("iam-changed", json!({"source": ["aws.iam"]}), &["security"]),
            event_rule("user-created", iam(&["CreateUser"]), &["security"]),
        ],
        security(),
        json!({"iam": ["key-created", "iam-changed", "user-created"]}),
        json!({}),
    )
}

#[tokio::test]
async fn a_feed_alerts_for_exactly_the_rules_whose_pattern_matches() -> anyhow::Result<()> {
    let moto = Moto::start()?;
    let spy = moto.topic_with_spy("patrol-security").await?;
    let file = ConfigFile::write(&iam_feed())?;
    let event = sample_event("iam/create-access-key.json")?;

    let out = response(&invoke(&env(&moto, &file), &function::feed("iam", &event)).await?)?;
    // `user-created` is in the feed, whose cover matched the event; its own pattern did
    // not, so it sends nothing.
    assert_eq!(
        decided(&out),
        pairs(&[("key-created", "security"), ("iam-changed", "security")]),
        "{out}"
    );
    assert_eq!(
        subjects(&spy.take().await?),
        [
            "[HIGH] iam-changed: iam-changed happened",
            "[HIGH] key-created: key-created happened"
        ]
    );
    Ok(())
}

#[tokio::test]
async fn a_read_only_event_reaches_only_include_read_only_rules() -> anyhow::Result<()> {
    let moto = Moto::start()?;
    let spy = moto.topic_with_spy("patrol-security").await?;
    let mut reads = event_rule("iam-reads", json!({"source": ["aws.iam"]}), &["security"]);
    reads["trigger"]["include_read_only"] = json!(true);
    let file = ConfigFile::write(&config(
        &[
            event_rule("iam-writes", json!({"source": ["aws.iam"]}), &["security"]),
            reads,
        ],
        security(),
        json!({"iam": ["iam-writes"], "iam-read-only": ["iam-reads"]}),
        json!({}),
    ))?;
    let env = env(&moto, &file);
    let event = sample_event("iam/get-account-password-policy.json")?;
    assert_eq!(event["detail"]["readOnly"], true);

    let writes = response(&invoke(&env, &function::feed("iam", &event)).await?)?;
    assert_eq!(decided(&writes), [], "{writes}");
    let reads = response(&invoke(&env, &function::feed("iam-read-only", &event)).await?)?;
    assert_eq!(decided(&reads), pairs(&[("iam-reads", "security")]));
    // A bare event (no feed named) is decided by every rule, with the same read-only rule.
    let bare = response(&invoke(&env, &event).await?)?;
    assert_eq!(decided(&bare), pairs(&[("iam-reads", "security")]));
    assert_eq!(spy.take().await?.len(), 2);
    Ok(())
}

#[tokio::test]
async fn a_schedule_group_fires_every_rule_of_the_group() -> anyhow::Result<()> {
    let moto = Moto::start()?;
    let spy = moto.topic_with_spy("patrol-security").await?;
    let daily = json!({"type": "schedule", "expression": "rate(1 day)"});
    let file = ConfigFile::write(&config(
        &[
            rule("daily-report", daily.clone(), &["security"]),
            rule("daily-audit", daily, &["security"]),
        ],
        security(),
        json!({}),
        json!({"rate-1-day": ["daily-report", "daily-audit"]}),
    ))?;
    let event = json!({"version": "0", "id": "89d1a02d-5ec7-412e-82f5-13505f849b41",
        "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
        "time": "2026-11-01T08:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/patrol-schedule-notify-rate-1-day"],
        "detail": {}});

    let out = response(
        &invoke(
            &env(&moto, &file),
            &function::schedule("rate-1-day", &event),
        )
        .await?,
    )?;
    assert_eq!(out["schedule"], "rate-1-day");
    assert_eq!(
        decided(&out),
        pairs(&[("daily-report", "security"), ("daily-audit", "security")])
    );
    assert_eq!(
        subjects(&spy.take().await?),
        [
            "[HIGH] daily-audit: daily-audit happened",
            "[HIGH] daily-report: daily-report happened"
        ]
    );
    Ok(())
}

#[tokio::test]
async fn an_unknown_feed_fails_so_the_event_is_retried_then_dead_lettered() -> anyhow::Result<()> {
    let moto = Moto::start()?;
    let file = ConfigFile::write(&iam_feed())?;
    let event = sample_event("iam/create-access-key.json")?;
    let outcome = invoke(&env(&moto, &file), &function::feed("kms", &event)).await?;
    let (error_type, message) = function::error(&outcome)?;
    assert_eq!(error_type, "Patrol.ConfigMismatch");
    assert!(
        message.starts_with(&format!(
            "feed `kms` is not in the config file {}: the deployed EventBridge rules and the function's config disagree",
            file.path()
        )),
        "{message}"
    );
    Ok(())
}

#[tokio::test]
async fn a_failed_delivery_names_the_rule_and_the_route() -> anyhow::Result<()> {
    let moto = Moto::start()?; // no topic: publishing fails
    let file = ConfigFile::write(&iam_feed())?;
    let event = sample_event("iam/create-access-key.json")?;
    let outcome = invoke(&env(&moto, &file), &function::feed("iam", &event)).await?;
    let (error_type, message) = function::error(&outcome)?;
    assert_eq!(error_type, "Patrol.DeliveryFailed");
    assert!(
        message.starts_with("2 failures: rule `key-created` route `security`: NotFound"),
        "{message}"
    );
    assert!(
        message.contains("; rule `iam-changed` route `security`: NotFound"),
        "{message}"
    );
    Ok(())
}

#[tokio::test]
async fn missing_configuration_fails_the_cold_start_naming_the_variable() -> anyhow::Result<()> {
    let moto = Moto::start()?;
    let outcome = invoke(&moto.sdk_env(), &root_login_event()?).await?;
    let failure = function::init_failure(&outcome)?;
    assert!(failure.contains("PATROL_CONFIG"), "{failure}");
    Ok(())
}

#[tokio::test]
async fn a_bad_config_file_fails_the_cold_start_with_each_problem_at_its_json_path()
-> anyhow::Result<()> {
    let moto = Moto::start()?;
    let mut config = iam_feed();
    config["rules"][1]["notify"] = json!(["secuirty"]);
    config["feeds"] = json!({"iam": ["key-created", "iam-changed"]});
    let file = ConfigFile::write(&config)?;
    let outcome = invoke(&env(&moto, &file), &root_login_event()?).await?;
    let failure = function::init_failure(&outcome)?;
    for expected in [
        format!("the config file {} is not valid:", file.path()),
        "rules[1].notify[0]: route `secuirty` is not in routes".to_owned(),
        "rules[2]: event rule `user-created` is in no feed (`feeds`)".to_owned(),
    ] {
        assert!(
            failure.contains(&expected),
            "{expected} missing from {failure}"
        );
    }
    Ok(())
}
