//! End-to-end: the real `notify` binary behind the local Runtime API, with its routes'
//! secrets in Secrets Manager (moto), delivering to Slack, PagerDuty and webhook endpoints
//! played by a local capture server.

use patrol_aws::signature::verify_hmac;
use patrol_tests::capture::CaptureServer;
use patrol_tests::function::{self, invoke, response};
use patrol_tests::handler_config::{ConfigFile, config};
use patrol_tests::moto::Moto;
use serde_json::{Value, json};

use crate::fixtures::{
    ROUTING_KEY, SIGNING_KEY, SLACK_PATH, moto_with_secrets, root_login_event, shipped_rule,
};

const RULE_ID: &str = "root-console-login";

/// The shipped `root-console-login`, sending to Slack, PagerDuty and a signed webhook,
/// and the function's environment (the config file must outlive the invocations).
fn all_routes(
    moto: &Moto,
    capture: &CaptureServer,
) -> anyhow::Result<(ConfigFile, Vec<(&'static str, String)>)> {
    let mut rule = serde_json::to_value(shipped_rule(RULE_ID)?)?;
    rule["notify"] = json!(["slack-sec", "oncall", "siem"]);
    let file = ConfigFile::write(&config(
        &[rule],
        json!([
            {"type": "slack", "route": "slack-sec", "secret": "patrol/slack-sec"},
            {"type": "pagerduty", "route": "oncall", "secret": "patrol/pagerduty"},
            {"type": "webhook", "route": "siem", "url": capture.url("/siem"), "secret": "patrol/siem-signing"},
        ]),
        json!({"signin": [RULE_ID]}),
        json!({}),
    ))?;
    let mut env = moto.sdk_env();
    env.extend(file.env());
    env.push(("PATROL_PAGERDUTY_EVENTS_URL", capture.url("/v2/enqueue")));
    Ok((file, env))
}

fn signin(event: &Value) -> Value {
    function::feed("signin", event)
}

#[tokio::test]
async fn eventbridge_alert_reaches_slack_pagerduty_and_a_signed_webhook() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let moto = moto_with_secrets(&capture).await?;
    let (_file, env) = all_routes(&moto, &capture)?;
    let out = response(&invoke(&env, &signin(&root_login_event()?)).await?)?;
    let sent = &out["rules"][0]["sent"];
    assert_eq!(sent["slack-sec"], "slack:200", "{out}");
    assert_eq!(
        sent["oncall"], "pagerduty:root-console-login:0a9b3c5e-2f47-4d6b-9a1e-6c2d8f0b4e71",
        "{out}"
    );
    assert_eq!(sent["siem"], "webhook:200", "{out}");

    let slack = capture.to(SLACK_PATH);
    assert_eq!(slack.len(), 1);
    let body = slack[0].json()?;
    assert_eq!(slack[0].method, "POST");
    assert!(
        body["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("[CRITICAL] root-console-login: Root console sign-in")),
        "{body}"
    );
    let blocks = body["blocks"].to_string();
    for fact in [
        "root (123837392027)",
        "198.51.100.23",
        "123837392027 / us-east-1",
    ] {
        assert!(blocks.contains(fact), "{fact} missing from {blocks}");
    }

    let pd = capture.to("/v2/enqueue");
    assert_eq!(pd.len(), 1);
    let event = pd[0].json()?;
    assert_eq!(event["routing_key"], ROUTING_KEY);
    assert_eq!(event["event_action"], "trigger");
    assert_eq!(
        event["dedup_key"],
        "root-console-login:0a9b3c5e-2f47-4d6b-9a1e-6c2d8f0b4e71"
    );
    assert_eq!(event["payload"]["severity"], "critical");
    assert_eq!(event["payload"]["source"], "aws:123837392027:us-east-1");
    assert!(
        event["links"][0]["href"]
            .as_str()
            .is_some_and(|h| h.contains("#/events/0a9b3c5e-2f47-4d6b-9a1e-6c2d8f0b4e71"))
    );

    let siem = capture.to("/siem");
    assert_eq!(siem.len(), 1);
    let signature = siem[0].header("x-patrol-signature");
    assert_eq!(
        verify_hmac(
            "X-Patrol-Signature",
            signature,
            SIGNING_KEY.as_bytes(),
            siem[0].body.as_bytes()
        ),
        Ok(())
    );
    let alert = siem[0].json()?;
    assert_eq!(alert["rule"], RULE_ID);
    assert_eq!(alert["actor"], "root (123837392027)");
    Ok(())
}

#[tokio::test]
async fn failing_sink_fails_the_invocation_after_trying_the_others() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let broken = CaptureServer::with_statuses(vec![500])?;
    let moto = moto_with_secrets(&capture).await?;
    // Slack's URL points at the broken server.
    let sm = aws_sdk_secretsmanager::Client::new(&moto.sdk_config().await);
    sm.put_secret_value()
        .secret_id("patrol/slack-sec")
        .secret_string(broken.url(SLACK_PATH))
        .send()
        .await?;
    let (_file, env) = all_routes(&moto, &capture)?;
    let (error_type, message) =
        function::error(&invoke(&env, &signin(&root_login_event()?)).await?)?;
    assert_eq!(error_type, "Patrol.DeliveryFailed");
    assert!(
        message.starts_with(
            "1 failure: rule `root-console-login` route `slack-sec`: HTTP 500 from 127.0.0.1"
        ),
        "{message}"
    );
    assert!(message.contains("upstream exploded"), "{message}");
    assert!(
        message.ends_with(
            "(delivered: rule `root-console-login` route `oncall`, rule `root-console-login` route `siem`)"
        ),
        "{message}"
    );
    assert!(
        !message.contains("slack-url-secret-part"),
        "secret URL leaked: {message}"
    );
    assert_eq!(
        broken.to(SLACK_PATH).len(),
        3,
        "one attempt and two retries"
    );
    assert_eq!(
        capture.to("/v2/enqueue").len(),
        1,
        "the other sinks still get it"
    );
    assert_eq!(capture.to("/siem").len(), 1);
    Ok(())
}
