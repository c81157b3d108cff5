//! Webhook-triggered rules: one function URL for every webhook rule of the handler, its
//! path naming the rule (`/<rule id>`), each request's signature checked with that rule's
//! secret; what cannot be delivered goes to the failure queue (function URLs are never
//! retried).

use patrol_aws::signature::{sign, sign_generic};
use patrol_tests::capture::CaptureServer;
use patrol_tests::function::{invoke, response};
use patrol_tests::handler_config::{ConfigFile, config};
use patrol_tests::moto::Moto;
use patrol_tests::runtime_api::Outcome;
use serde_json::{Value, json};

use crate::fixtures::{GITHUB_SECRET, moto_with_secrets, rule, webhook_route};

pub(crate) const DEPLOY_SECRET: &str = "deploy-hook-secret";
pub(crate) const PUBLICIZED: &str = r#"{"action":"publicized","repository":{"full_name":"acme/payroll"},"sender":{"login":"octocat"}}"#;

pub(crate) fn github_rule() -> Value {
    let mut r = rule(
        "github-repo-publicized",
        json!({"type": "webhook", "provider": "github", "secret": "patrol/github-webhook"}),
        &["siem"],
    );
    r["message"] = json!("Repository {{ detail.repository.full_name }} made public by {{ actor }}");
    r["condition"] = json!(r#"detail.action == "publicized""#);
    r
}

pub(crate) fn deploy_rule() -> Value {
    let mut r = rule(
        "deploy-to-production",
        json!({"type": "webhook", "provider": "generic", "secret": "patrol/deploy-hook"}),
        &["siem"],
    );
    r["message"] = json!("{{ detail.service }} deployed to production");
    r
}

/// Moto with the secrets and the failure queue; the function's config file and
/// environment, its webhook rules sending to `siem_url`.
pub(crate) async fn function(
    capture: &CaptureServer,
    siem_url: &str,
) -> anyhow::Result<(Moto, ConfigFile, Vec<(&'static str, String)>, String)> {
    let moto = moto_with_secrets(capture).await?;
    aws_sdk_secretsmanager::Client::new(&moto.sdk_config().await)
        .create_secret()
        .name("patrol/deploy-hook")
        .secret_string(DEPLOY_SECRET)
        .send()
        .await?;
    let (_, queue_url) = moto.queue("patrol-notify-failures").await?;
    let file = ConfigFile::write(&config(
        &[github_rule(), deploy_rule()],
        json!([webhook_route("siem", siem_url)]),
        json!({}),
        json!({}),
    ))?;
    let mut env = moto.sdk_env();
    env.extend(file.env());
    env.push(("PATROL_FAILURE_QUEUE_URL", queue_url.clone()));
    Ok((moto, file, env, queue_url))
}

pub(crate) fn unix_now() -> anyhow::Result<i64> {
    Ok(i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs(),
    )?)
}

pub(crate) fn request(path: &str, headers: Value, body: &str) -> Value {
    json!({
        "version": "2.0", "rawPath": path, "rawQueryString": "", "headers": headers,
        "requestContext": {"accountId": "anonymous", "apiId": "abc", "domainName": "abc.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abc", "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1",
            "sourceIp": "192.0.2.10", "userAgent": "GitHub-Hookshot/abc"}, "requestId": "r-1",
            "routeKey": "$default", "stage": "$default", "time": "01/Nov/2026:08:00:00 +0000",
            "timeEpoch": 1_793_520_000_000_i64},
        "body": body, "isBase64Encoded": false
    })
}

pub(crate) fn github(path: &str, body: &str, signature: &str) -> Value {
    request(
        path,
        json!({"content-type": "application/json", "x-github-event": "repository",
            "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
            "x-hub-signature-256": signature}),
        body,
    )
}

pub(crate) fn answer(outcome: &Outcome) -> anyhow::Result<(i64, Value)> {
    let r = response(outcome)?;
    let status = r["statusCode"].as_i64().unwrap_or_default();
    let body: Value = serde_json::from_str(r["body"].as_str().unwrap_or("null"))?;
    Ok((status, body))
}

#[tokio::test]
async fn webhook_trigger_alerts_on_a_good_signature_and_401s_a_bad_one() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let (_moto, _file, env, _) = function(&capture, &capture.url("/siem")).await?;

    let good = sign(GITHUB_SECRET.as_bytes(), PUBLICIZED.as_bytes());
    let (status, body) =
        answer(&invoke(&env, &github("/github-repo-publicized", PUBLICIZED, &good)).await?)?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"rule": "github-repo-publicized", "sent": {"siem": "webhook:200"}})
    );
    let sent = capture.to("/siem");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].json()?["message"],
        "Repository acme/payroll made public by octocat"
    );

    let bad = sign(b"guessed", PUBLICIZED.as_bytes());
    let (status, body) =
        answer(&invoke(&env, &github("/github-repo-publicized", PUBLICIZED, &bad)).await?)?;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        capture.to("/siem").len(),
        1,
        "nothing sent for a bad signature"
    );
    Ok(())
}

#[tokio::test]
async fn the_path_names_the_webhook_rule_and_unknown_paths_are_404() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let (_moto, _file, env, _) = function(&capture, &capture.url("/siem")).await?;
    let body = r#"{"service":"payments"}"#;
    let now = unix_now()?;
    let deploy = |path: &str, secret: &[u8]| {
        request(
            path,
            json!({"content-type": "application/json", "x-patrol-event": "deploy",
                "x-patrol-timestamp": now.to_string(),
                "x-signature-256": sign_generic(secret, now, body.as_bytes())}),
            body,
        )
    };

    let (status, answer_body) = answer(
        &invoke(
            &env,
            &deploy("/deploy-to-production", DEPLOY_SECRET.as_bytes()),
        )
        .await?,
    )?;
    assert_eq!(status, 200, "{answer_body}");
    assert_eq!(answer_body["rule"], "deploy-to-production");
    let sent = capture.to("/siem");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].json()?["message"],
        "payments deployed to production"
    );

    // Signed for one rule, sent to another: that rule checks its own secret and scheme.
    let (status, _) = answer(
        &invoke(
            &env,
            &deploy("/github-repo-publicized", DEPLOY_SECRET.as_bytes()),
        )
        .await?,
    )?;
    assert_eq!(status, 401);
    for path in ["/", "/no-such-rule", "/deploy-to-production/extra"] {
        let (status, answer_body) =
            answer(&invoke(&env, &deploy(path, DEPLOY_SECRET.as_bytes())).await?)?;
        assert_eq!(status, 404, "{path}: {answer_body}");
        assert_eq!(
            answer_body["error"],
            "no webhook rule at this path: the URL is <function URL>/<rule id>"
        );
    }
    assert_eq!(capture.to("/siem").len(), 1);
    Ok(())
}

#[tokio::test]
async fn webhook_trigger_delivery_failure_lands_in_the_failure_queue() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let broken = CaptureServer::with_statuses(vec![503])?;
    let (moto, _file, env, queue_url) = function(&capture, &broken.url("/siem")).await?;
    let good = sign(GITHUB_SECRET.as_bytes(), PUBLICIZED.as_bytes());
    let (status, body) =
        answer(&invoke(&env, &github("/github-repo-publicized", PUBLICIZED, &good)).await?)?;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["saved_to_failure_queue"], true);

    let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config().await);
    let out = sqs
        .receive_message()
        .queue_url(&queue_url)
        .wait_time_seconds(1)
        .send()
        .await?;
    let messages = out.messages();
    assert_eq!(messages.len(), 1);
    let record: Value = serde_json::from_str(messages[0].body().unwrap_or_default())?;
    assert_eq!(record["rule"], "github-repo-publicized");
    assert_eq!(
        record["failures"],
        json!([{"rule": "github-repo-publicized", "route": "siem", "kind": "delivery",
            "error": record["failures"][0]["error"]}])
    );
    assert!(
        record["error"]
            .as_str()
            .is_some_and(|e| e
                .starts_with("1 failure: rule `github-repo-publicized` route `siem`: HTTP 503")),
        "{record}"
    );
    assert_eq!(
        record["alert"]["message"],
        "Repository acme/payroll made public by octocat"
    );
    assert_eq!(record["event"]["source"], "patrol.webhook.github");
    Ok(())
}
