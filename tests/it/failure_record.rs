//! The failure queue's record, cut as a whole to fit an SQS message: an alert whose
//! template rendered a huge field must still leave a record naming the rule, the route,
//! the error and the event.

use patrol_aws::signature::sign;
use patrol_tests::capture::CaptureServer;
use patrol_tests::function::invoke;
use patrol_tests::handler_config::{ConfigFile, config};
use serde_json::{Value, json};

use crate::fixtures::{GITHUB_SECRET, moto_with_secrets, webhook_route};
use crate::webhook::{answer, github, github_rule};

/// SQS's classic message size limit, which the failure queue is held to.
const SQS_LIMIT: usize = 256 * 1024;

#[tokio::test]
async fn a_huge_alert_still_leaves_a_failure_record_that_fits_sqs() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let broken = CaptureServer::with_statuses(vec![503])?;
    let moto = moto_with_secrets(&capture).await?;
    let (sqs, queue_url) = moto.queue("patrol-notify-failures").await?;
    sqs.set_queue_attributes()
        .queue_url(&queue_url)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::MaximumMessageSize,
            SQS_LIMIT.to_string(),
        )
        .send()
        .await?;
    let mut rule = github_rule();
    // The template renders a field of the body whole.
    rule["message"] = json!("{{ detail.repository.description }}");
    let file = ConfigFile::write(&config(
        &[rule],
        json!([webhook_route("siem", &broken.url("/siem"))]),
        json!({}),
        json!({}),
    ))?;
    let mut env = moto.sdk_env();
    env.extend(file.env());
    env.push(("PATROL_FAILURE_QUEUE_URL", queue_url.clone()));

    let body = json!({"action": "publicized", "repository": {"full_name": "acme/payroll",
        "description": "d".repeat(300 * 1024)}, "sender": {"login": "octocat"}})
    .to_string();
    let sig = sign(GITHUB_SECRET.as_bytes(), body.as_bytes());
    let (status, answer_body) =
        answer(&invoke(&env, &github("/github-repo-publicized", &body, &sig)).await?)?;
    assert_eq!(status, 500, "{answer_body}");
    assert_eq!(answer_body["saved_to_failure_queue"], true, "{answer_body}");

    let out = sqs
        .receive_message()
        .queue_url(&queue_url)
        .wait_time_seconds(1)
        .send()
        .await?;
    let text = out
        .messages()
        .first()
        .and_then(|m| m.body())
        .unwrap_or("null");
    assert!(text.len() <= SQS_LIMIT);
    let record: Value = serde_json::from_str(text)?;
    assert_eq!(record["rule"], "github-repo-publicized");
    assert_eq!(record["route"], "siem");
    assert_eq!(record["event_id"], "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    assert!(
        record["error"]
            .as_str()
            .is_some_and(|e| e
                .starts_with("1 failure: rule `github-repo-publicized` route `siem`: HTTP 503")),
        "{}",
        record["error"]
    );
    assert_eq!(record["cut"], json!(["alert", "event"]));
    assert_eq!(record["alert"]["rule"], "github-repo-publicized");
    assert_eq!(record["event"]["source"], "patrol.webhook.github");
    Ok(())
}
