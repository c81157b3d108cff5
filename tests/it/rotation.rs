//! Secret rotation seen from a webhook trigger: right after the signing secret is rotated
//! in Secrets Manager, a sender still signing with the old value is accepted (the
//! `AWSPREVIOUS` version), and one signing with neither is not. (A sink's rejected secret
//! being fetched again past the cache needs a warm container: `patrol-aws`'s
//! `sink::tests`.)

use patrol_aws::signature::sign;
use patrol_tests::capture::CaptureServer;
use patrol_tests::function::{self, invoke};

use crate::fixtures::GITHUB_SECRET;
use crate::webhook::{PUBLICIZED, answer, function, github};

#[tokio::test]
async fn a_webhook_signed_with_the_previous_secret_is_accepted_right_after_a_rotation()
-> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let (moto, _file, env, _) = function(&capture, &capture.url("/siem")).await?;
    // Rotated: GITHUB_SECRET is now AWSPREVIOUS.
    aws_sdk_secretsmanager::Client::new(&moto.sdk_config().await)
        .put_secret_value()
        .secret_id("patrol/github-webhook")
        .secret_string("gh-webhook-secret-rotated")
        .send()
        .await?;

    let old = sign(GITHUB_SECRET.as_bytes(), PUBLICIZED.as_bytes());
    let run = function::run(&env, &github("/github-repo-publicized", PUBLICIZED, &old)).await?;
    let (status, body) = answer(&run.outcome)?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(capture.to("/siem").len(), 1);
    let warnings = function::log_lines(&run.stdout, "WARN");
    assert!(
        warnings
            .iter()
            .any(|l| l["fields"]["message"].as_str().is_some_and(
                |m| m.starts_with("webhook signed with the previous version of its secret")
            )),
        "{warnings:?}"
    );

    let new = sign(
        b"gh-webhook-secret-rotated",
        br#"{"action":"publicized","n":2}"#,
    );
    let (status, body) = answer(
        &invoke(
            &env,
            &github(
                "/github-repo-publicized",
                r#"{"action":"publicized","n":2}"#,
                &new,
            ),
        )
        .await?,
    )?;
    assert_eq!(status, 200, "{body}");

    let neither = sign(b"guessed", br#"{"action":"publicized","n":3}"#);
    let (status, _) = answer(
        &invoke(
            &env,
            &github(
                "/github-repo-publicized",
                r#"{"action":"publicized","n":3}"#,
                &neither,
            ),
        )
        .await?,
    )?;
    assert_eq!(status, 401);
    assert_eq!(capture.to("/siem").len(), 2);
    Ok(())
}
