//! An invocation's deadline: a sink or an AWS service that accepts the connection and
//! never answers must not let Lambda stop the invocation before the failure is recorded
//! and the dedup claim released. The Runtime API here kills the function at its deadline,
//! as Lambda does.

use std::time::Duration;

use patrol_tests::capture::{CaptureServer, SilentServer};
use patrol_tests::function::{self, response, run_with_deadline};
use patrol_tests::moto::Moto;
use patrol_tests::runtime_api::Outcome;
use serde_json::Value;

use crate::dedup::{dedup_function, dedup_window, sent, signin};
use crate::fixtures::{GITHUB_SECRET, STATE_TABLE, root_login_event};
use crate::webhook::{PUBLICIZED, answer, github};

/// Shorter than one sink's three attempts of five seconds each.
const DEADLINE: Duration = Duration::from_secs(12);

#[tokio::test]
async fn a_sink_that_never_answers_fails_before_the_deadline_and_releases_the_dedup_claim()
-> anyhow::Result<()> {
    let silent = SilentServer::start()?;
    let moto = Moto::start()?;
    let ddb = moto.state_table(STATE_TABLE).await?;
    // The dedup function's webhook route, pointed at the silent endpoint.
    let capture = CaptureServer::start()?;
    let (file, mut env) = dedup_function(&moto, &capture, Some(STATE_TABLE))?;
    let config =
        std::fs::read_to_string(file.path())?.replace(&capture.url("/siem"), &silent.url("/siem"));
    std::fs::write(file.path(), config)?;
    env.push((
        "PATROL_FUNCTION_TIMEOUT_SECONDS",
        DEADLINE.as_secs().to_string(),
    ));

    let run = run_with_deadline(&env, &signin(&root_login_event()?), DEADLINE).await?;
    let body = match &run.outcome {
        Outcome::Error { body, .. } => body.clone(),
        other => anyhow::bail!("expected a failed delivery before the deadline, got {other:?}"),
    };
    assert!(run.elapsed < DEADLINE, "{:?}", run.elapsed);
    assert!(body.contains("Patrol.DeliveryFailed"), "{body}");
    assert!(body.contains("route `siem`: no answer within"), "{body}");
    assert!(silent.connections() >= 1);
    assert_eq!(dedup_window(&ddb).await?, None, "the claim is released");
    Ok(())
}

#[tokio::test]
async fn a_webhook_whose_sink_never_answers_is_saved_to_the_failure_queue_before_the_deadline()
-> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let silent = SilentServer::start()?;
    let (moto, _file, env, queue_url) =
        crate::webhook::function(&capture, &silent.url("/siem")).await?;
    let good = patrol_aws::signature::sign(GITHUB_SECRET.as_bytes(), PUBLICIZED.as_bytes());
    let run = run_with_deadline(
        &env,
        &github("/github-repo-publicized", PUBLICIZED, &good),
        DEADLINE,
    )
    .await?;
    assert!(run.elapsed < DEADLINE, "{:?}", run.elapsed);
    let (status, body) = answer(&run.outcome)?;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["saved_to_failure_queue"], true);

    let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config().await);
    let out = sqs
        .receive_message()
        .queue_url(&queue_url)
        .wait_time_seconds(1)
        .send()
        .await?;
    let record: Value = serde_json::from_str(
        out.messages()
            .first()
            .and_then(|m| m.body())
            .unwrap_or("null"),
    )?;
    assert_eq!(record["rule"], "github-repo-publicized");
    assert_eq!(record["route"], "siem");
    assert_eq!(
        record["alert"]["message"],
        "Repository acme/payroll made public by octocat"
    );
    Ok(())
}

#[tokio::test]
async fn aws_calls_that_never_answer_time_out_and_fail_open() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let silent = SilentServer::start()?;
    let moto = Moto::start()?;
    let (_file, mut env) = dedup_function(&moto, &capture, Some(STATE_TABLE))?;
    // The state table's endpoint accepts the connection and never answers.
    env.push(("AWS_ENDPOINT_URL_DYNAMODB", silent.url("")));
    let deadline = Duration::from_secs(30);
    let run = run_with_deadline(&env, &signin(&root_login_event()?), deadline).await?;
    let out = response(&run.outcome)?;
    assert!(sent(&out), "{out}");
    assert_eq!(capture.to("/siem").len(), 1);
    assert!(silent.connections() >= 1);
    let warnings = function::log_lines(&run.stdout, "WARN");
    assert!(
        warnings.iter().any(|l| l["fields"]["message"]
            == "dedup check failed; sending the alert anyway (fail open)"),
        "{warnings:?}"
    );
    Ok(())
}
