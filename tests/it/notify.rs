use std::time::Duration;

use patrol_core::manifest::{ValidateOptions, load};
use patrol_tests::moto::Moto;
use patrol_tests::paths;
use patrol_tests::runtime_api::{Outcome, RuntimeApi};
use serde_json::{Value, json};

const RULE_ID: &str = "root-console-login";

fn root_login_event() -> anyhow::Result<Value> {
    let path = paths::workspace().join("tests/events/signin/root-console-login.json");
    let record: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    Ok(patrol_core::event::to_eventbridge(record)?)
}

/// The function's environment, as the CDK app sets it (`cdk/lib/env.ts`).
fn function_env(moto: &Moto, topic_arn: &str) -> anyhow::Result<Vec<(&'static str, String)>> {
    let manifest = load(
        &paths::workspace().join("rules.toml"),
        &ValidateOptions::default(),
    )?;
    let rule = manifest
        .rule(RULE_ID)
        .ok_or_else(|| anyhow::anyhow!("rules.toml has no rule {RULE_ID}"))?;
    let mut env = moto.sdk_env();
    env.push(("PATROL_RULE_ID", RULE_ID.to_owned()));
    env.push(("PATROL_RULE", serde_json::to_string(rule)?));
    env.push((
        "PATROL_SINKS",
        json!([{"type": "sns", "route": "security", "topic_arn": topic_arn}]).to_string(),
    ));
    Ok(env)
}

/// An SNS topic with an SQS queue subscribed: the queue sees what email subscribers would.
async fn topic_with_spy_queue(
    moto: &Moto,
) -> anyhow::Result<(String, aws_sdk_sqs::Client, String)> {
    let config = moto.sdk_config().await;
    let sns = aws_sdk_sns::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let topic_arn = sns
        .create_topic()
        .name("patrol-security")
        .send()
        .await?
        .topic_arn
        .ok_or_else(|| anyhow::anyhow!("no topic ARN"))?;
    let queue_url = sqs
        .create_queue()
        .queue_name("spy")
        .send()
        .await?
        .queue_url
        .ok_or_else(|| anyhow::anyhow!("no queue URL"))?;
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await?;
    let queue_arn = attrs
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .ok_or_else(|| anyhow::anyhow!("no queue ARN"))?
        .clone();
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .send()
        .await?;
    Ok((topic_arn, sqs, queue_url))
}

async fn receive_one(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> anyhow::Result<Value> {
    for _ in 0..10 {
        let out = sqs
            .receive_message()
            .queue_url(queue_url)
            .wait_time_seconds(1)
            .max_number_of_messages(10)
            .send()
            .await?;
        let messages = out.messages();
        if let Some(m) = messages.first() {
            anyhow::ensure!(
                messages.len() == 1,
                "expected one message, got {}",
                messages.len()
            );
            return Ok(serde_json::from_str(m.body().unwrap_or_default())?);
        }
    }
    anyhow::bail!("no message reached the queue")
}

#[tokio::test]
async fn root_console_login_is_delivered_to_the_rule_topic() -> anyhow::Result<()> {
    let moto = Moto::start()?;
    let (topic_arn, sqs, queue_url) = topic_with_spy_queue(&moto).await?;
    let event = root_login_event()?;
    let env = function_env(&moto, &topic_arn)?;
    let binary = paths::built_binary("notify")?;

    let outcome = tokio::task::spawn_blocking(move || {
        RuntimeApi::invoke_once(&binary, &env, &event.to_string(), Duration::from_secs(60))
    })
    .await??;
    let Outcome::Response(body) = &outcome else {
        anyhow::bail!("the function did not succeed: {outcome:?}");
    };
    let response: Value = serde_json::from_str(body)?;
    assert_eq!(response["rule"], RULE_ID);
    assert_eq!(response["message_ids"].as_array().map(Vec::len), Some(1));

    let envelope = receive_one(&sqs, &queue_url).await?;
    assert_eq!(envelope["TopicArn"], topic_arn.as_str());
    assert_eq!(
        envelope["Subject"],
        "[CRITICAL] root-console-login: The root user signed in to the AWS Management Console"
    );
    let message = envelope["Message"].as_str().unwrap_or_default();
    let first_line = message.lines().next().unwrap_or_default();
    assert_eq!(
        first_line,
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

#[tokio::test]
async fn delivery_failure_is_reported_to_lambda_not_dropped() -> anyhow::Result<()> {
    let moto = Moto::start()?;
    let missing_topic = "arn:aws:sns:us-east-1:123456789012:does-not-exist";
    let env = function_env(&moto, missing_topic)?;
    let event = root_login_event()?;
    let binary = paths::built_binary("notify")?;
    let outcome = tokio::task::spawn_blocking(move || {
        RuntimeApi::invoke_once(&binary, &env, &event.to_string(), Duration::from_secs(60))
    })
    .await??;
    match outcome {
        Outcome::Error { body, .. } => {
            let error: Value = serde_json::from_str(&body)?;
            assert_eq!(error["errorType"], "Patrol.DeliveryFailed", "{body}");
            let message = error["errorMessage"].as_str().unwrap_or_default();
            assert!(message.contains("\"security\""), "{message}");
            assert!(message.contains("NotFound"), "{message}");
        }
        other => anyhow::bail!("expected an invocation error, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn missing_configuration_fails_the_cold_start_naming_the_variable() -> anyhow::Result<()> {
    let moto = Moto::start()?;
    let mut env = function_env(&moto, "arn:aws:sns:us-east-1:123456789012:t")?;
    env.retain(|(k, _)| *k != "PATROL_SINKS");
    let event = root_login_event()?;
    let binary = paths::built_binary("notify")?;
    let outcome = tokio::task::spawn_blocking(move || {
        RuntimeApi::invoke_once(&binary, &env, &event.to_string(), Duration::from_secs(60))
    })
    .await??;
    match outcome {
        Outcome::Exited { stderr, .. } => assert!(stderr.contains("PATROL_SINKS"), "{stderr}"),
        Outcome::InitError { body, .. } => assert!(body.contains("PATROL_SINKS"), "{body}"),
        other => anyhow::bail!("expected a failed cold start, got {other:?}"),
    }
    Ok(())
}
