//! What a function URL (no AWS authentication) turns away, and how early: oversized
//! bodies, requests without a well-formed signature (before Secrets Manager is asked),
//! generic requests outside their signed timestamp's window, and replays of a signed
//! request, remembered in the state table.

use patrol_aws::signature::{sign, sign_generic};
use patrol_tests::capture::CaptureServer;
use patrol_tests::function::invoke;
use patrol_tests::moto::Moto;
use serde_json::{Value, json};

use crate::fixtures::{GITHUB_SECRET, STATE_TABLE};
use crate::webhook::{DEPLOY_SECRET, PUBLICIZED, answer, function, github, request, unix_now};

/// The webhook function with the state table, as deployed.
async fn with_state_table(
    capture: &CaptureServer,
    siem_url: &str,
) -> anyhow::Result<(
    Moto,
    patrol_tests::handler_config::ConfigFile,
    Vec<(&'static str, String)>,
)> {
    let (moto, file, mut env, _) = function(capture, siem_url).await?;
    moto.state_table(STATE_TABLE).await?;
    env.push(("PATROL_STATE_TABLE", STATE_TABLE.to_owned()));
    Ok((moto, file, env))
}

fn deploy(body: &str, timestamp: i64, secret: &[u8]) -> Value {
    request(
        "/deploy-to-production",
        json!({"content-type": "application/json", "x-patrol-event": "deploy",
            "x-patrol-timestamp": timestamp.to_string(),
            "x-signature-256": sign_generic(secret, timestamp, body.as_bytes())}),
        body,
    )
}

#[tokio::test]
async fn an_oversized_webhook_body_is_413() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let (_moto, _file, env, _) = function(&capture, &capture.url("/siem")).await?;
    let body = json!({"action": "publicized", "pad": "x".repeat(1536 * 1024)}).to_string();
    let sig = sign(GITHUB_SECRET.as_bytes(), body.as_bytes());
    let (status, answer_body) =
        answer(&invoke(&env, &github("/github-repo-publicized", &body, &sig)).await?)?;
    assert_eq!(status, 413, "{answer_body}");
    assert!(capture.to("/siem").is_empty());
    Ok(())
}

#[tokio::test]
async fn a_request_without_a_signature_never_reaches_secrets_manager() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let (_moto, _file, mut env, _) = function(&capture, &capture.url("/siem")).await?;
    // Any call to Secrets Manager would land here (and fail the request with a 500).
    let secrets_manager = CaptureServer::start()?;
    env.push(("AWS_ENDPOINT_URL_SECRETS_MANAGER", secrets_manager.url("")));
    let unsigned = request(
        "/github-repo-publicized",
        json!({"content-type": "application/json", "x-github-event": "repository"}),
        PUBLICIZED,
    );
    let (status, body) = answer(&invoke(&env, &unsigned).await?)?;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "missing header X-Hub-Signature-256");
    let malformed = github("/github-repo-publicized", PUBLICIZED, "sha256=0123");
    let (status, _) = answer(&invoke(&env, &malformed).await?)?;
    assert_eq!(status, 400);
    assert!(
        secrets_manager.requests().is_empty(),
        "Secrets Manager was asked"
    );
    Ok(())
}

#[tokio::test]
async fn a_generic_request_outside_its_replay_window_is_rejected() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let (_moto, _file, env) = with_state_table(&capture, &capture.url("/siem")).await?;
    let body = r#"{"service":"payments"}"#;
    let now = unix_now()?;
    let late = deploy(body, now - 600, DEPLOY_SECRET.as_bytes());
    let (status, answer_body) = answer(&invoke(&env, &late).await?)?;
    assert_eq!(status, 401, "{answer_body}");
    assert!(
        answer_body["error"]
            .as_str()
            .is_some_and(|e| e.contains("X-Patrol-Timestamp")),
        "{answer_body}"
    );
    let fresh = deploy(body, now, DEPLOY_SECRET.as_bytes());
    let (status, answer_body) = answer(&invoke(&env, &fresh).await?)?;
    assert_eq!(status, 200, "{answer_body}");
    // The same request again, inside the window: a replay.
    let (status, answer_body) = answer(&invoke(&env, &fresh).await?)?;
    assert_eq!(status, 409, "{answer_body}");
    assert_eq!(capture.to("/siem").len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_replayed_github_delivery_is_rejected() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let (_moto, _file, env) = with_state_table(&capture, &capture.url("/siem")).await?;
    let sig = sign(GITHUB_SECRET.as_bytes(), PUBLICIZED.as_bytes());
    let delivery = github("/github-repo-publicized", PUBLICIZED, &sig);
    let (status, body) = answer(&invoke(&env, &delivery).await?)?;
    assert_eq!(status, 200, "{body}");
    let (status, body) = answer(&invoke(&env, &delivery).await?)?;
    assert_eq!(status, 409, "{body}");
    // X-GitHub-Delivery is not signed: a fresh one does not make the replay new.
    let mut renamed = delivery.clone();
    renamed["headers"]["x-github-delivery"] = json!("00000000-0000-4000-8000-000000000000");
    let (status, body) = answer(&invoke(&env, &renamed).await?)?;
    assert_eq!(status, 409, "{body}");
    assert_eq!(capture.to("/siem").len(), 1);
    Ok(())
}

#[tokio::test]
async fn an_undelivered_webhook_request_can_be_delivered_again() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    // The sink fails the first request's three attempts, then recovers.
    let flaky = CaptureServer::with_statuses(vec![503, 503, 503, 200])?;
    let (_moto, _file, env) = with_state_table(&capture, &flaky.url("/siem")).await?;
    let sig = sign(GITHUB_SECRET.as_bytes(), PUBLICIZED.as_bytes());
    let delivery = github("/github-repo-publicized", PUBLICIZED, &sig);
    let (status, body) = answer(&invoke(&env, &delivery).await?)?;
    assert_eq!(status, 500, "{body}");
    // GitHub's redelivery of the failed request.
    let (status, body) = answer(&invoke(&env, &delivery).await?)?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(flaky.to("/siem").len(), 4);
    Ok(())
}
