//! End-to-end: the real `notify` binary behind the local Runtime API, with its secrets in
//! Secrets Manager, its dedup windows in DynamoDB and its failure queue in SQS (all on
//! moto), delivering to Slack, PagerDuty and webhook endpoints played by a local capture
//! server. Triggers: EventBridge, SNS and a webhook's function URL.

use std::time::Duration;

use patrol_aws::signature::{sign, verify_hmac};
use patrol_core::manifest::{Dedup, Rule, Trigger, ValidateOptions, WebhookProvider, load};
use patrol_tests::capture::CaptureServer;
use patrol_tests::moto::Moto;
use patrol_tests::paths;
use patrol_tests::runtime_api::{Outcome, RuntimeApi};
use serde_json::{Value, json};

const RULE_ID: &str = "root-console-login";
const SLACK_PATH: &str = "/services/T0001/B0001/slack-url-secret-part";
const SIGNING_KEY: &str = "siem-signing-key";
const GITHUB_SECRET: &str = "gh-webhook-secret";
const ROUTING_KEY: &str = "R0UT1NGK3Y00000000000000000000AB";

fn base_rule() -> anyhow::Result<Rule> {
    let manifest = load(
        &paths::workspace().join("rules.toml"),
        &ValidateOptions::default(),
    )?;
    manifest
        .rule(RULE_ID)
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("rules.toml has no rule {RULE_ID}"))
}

fn root_login_event() -> anyhow::Result<Value> {
    let path = paths::workspace().join("tests/events/signin/root-console-login.json");
    let record: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    Ok(patrol_core::event::to_eventbridge(record)?)
}

/// Moto with the routes' secrets: the Slack URL (plain), the PagerDuty key (JSON), the
/// webhook signing key and the GitHub webhook secret.
async fn moto_with_secrets(capture: &CaptureServer) -> anyhow::Result<Moto> {
    let moto = Moto::start()?;
    let sm = aws_sdk_secretsmanager::Client::new(&moto.sdk_config().await);
    for (name, value) in [
        ("patrol/slack-sec", capture.url(SLACK_PATH)),
        (
            "patrol/pagerduty",
            json!({ "routing_key": ROUTING_KEY }).to_string(),
        ),
        ("patrol/siem-signing", SIGNING_KEY.to_owned()),
        ("patrol/github-webhook", GITHUB_SECRET.to_owned()),
    ] {
        sm.create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await?;
    }
    Ok(moto)
}

fn all_sinks(capture: &CaptureServer) -> Value {
    json!([
        {"type": "slack", "route": "slack-sec", "secret": "patrol/slack-sec"},
        {"type": "pagerduty", "route": "oncall", "secret": "patrol/pagerduty"},
        {"type": "webhook", "route": "siem", "url": capture.url("/siem"), "secret": "patrol/siem-signing"},
    ])
}

fn webhook_sink(capture: &CaptureServer) -> Value {
    json!([{"type": "webhook", "route": "siem", "url": capture.url("/siem")}])
}

fn function_env(
    moto: &Moto,
    capture: &CaptureServer,
    rule: &Rule,
    sinks: &Value,
    extra: &[(&'static str, String)],
) -> anyhow::Result<Vec<(&'static str, String)>> {
    let mut env = moto.sdk_env();
    env.push(("PATROL_RULE_ID", rule.id.clone()));
    env.push(("PATROL_RULE", serde_json::to_string(rule)?));
    env.push(("PATROL_SINKS", sinks.to_string()));
    env.push(("PATROL_PAGERDUTY_EVENTS_URL", capture.url("/v2/enqueue")));
    env.extend(extra.iter().cloned());
    Ok(env)
}

async fn invoke(env: &[(&'static str, String)], event: &Value) -> anyhow::Result<Outcome> {
    let binary = paths::built_binary("notify")?;
    let env = env.to_vec();
    let event = event.to_string();
    tokio::task::spawn_blocking(move || {
        RuntimeApi::invoke_once(&binary, &env, &event, Duration::from_secs(60))
    })
    .await?
}

fn response(outcome: &Outcome) -> anyhow::Result<Value> {
    match outcome {
        Outcome::Response(body) => Ok(serde_json::from_str(body)?),
        other => anyhow::bail!("the function did not succeed: {other:?}"),
    }
}

#[tokio::test]
async fn eventbridge_alert_reaches_slack_pagerduty_and_a_signed_webhook() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let moto = moto_with_secrets(&capture).await?;
    let env = function_env(&moto, &capture, &base_rule()?, &all_sinks(&capture), &[])?;
    let out = response(&invoke(&env, &root_login_event()?).await?)?;
    assert_eq!(
        out["message_ids"].as_array().map(Vec::len),
        Some(3),
        "{out}"
    );

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
    let env = function_env(&moto, &capture, &base_rule()?, &all_sinks(&capture), &[])?;
    match invoke(&env, &root_login_event()?).await? {
        Outcome::Error { body, .. } => {
            let error: Value = serde_json::from_str(&body)?;
            assert_eq!(error["errorType"], "Patrol.DeliveryFailed", "{body}");
            let message = error["errorMessage"].as_str().unwrap_or_default();
            assert!(message.contains("slack-sec"), "{message}");
            assert!(message.contains("HTTP 500"), "{message}");
            assert!(message.contains("upstream exploded"), "{message}");
            assert!(
                !message.contains("slack-url-secret-part"),
                "secret URL leaked: {message}"
            );
        }
        other => anyhow::bail!("expected an invocation error, got {other:?}"),
    }
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

fn sns_rule() -> anyhow::Result<Rule> {
    let mut rule = base_rule()?;
    rule.id = "guardduty-high".into();
    rule.trigger = Trigger::Sns {
        topic_arn: "arn:aws:sns:us-east-1:123456789012:guardduty".into(),
        filter_policy: Some(json!({"severity": [{"numeric": [">=", 7]}]})),
        filter_policy_scope: None,
    };
    rule.message = "GuardDuty {{ detail.Message.detail.type }} ({{ detail.Subject }})".into();
    rule.condition = Some(r#"detail.Subject != "ignore me""#.into());
    rule.suppress = vec![];
    Ok(rule)
}

fn sns_event(severity: &str, subject: &str) -> Value {
    json!({"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:guardduty:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
        "Sns": {
            "Type": "Notification", "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:guardduty", "Subject": subject,
            "Message": "{\"detail\":{\"type\":\"Recon:EC2/PortProbeUnprotectedPort\"}}",
            "Timestamp": "2026-11-01T08:00:00.000Z", "SignatureVersion": "1",
            "Signature": "EXAMPLE", "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/x.pem",
            "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
            "MessageAttributes": {"severity": {"Type": "Number", "Value": severity}}
        }
    }]})
}

#[tokio::test]
async fn sns_triggered_rule_alerts_only_when_filter_and_condition_pass() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let moto = Moto::start()?;
    let env = function_env(&moto, &capture, &sns_rule()?, &webhook_sink(&capture), &[])?;

    let out = response(&invoke(&env, &sns_event("8", "GuardDuty finding")).await?)?;
    assert_eq!(out["rule"], "guardduty-high");
    assert_eq!(
        out["records"][0]["message_ids"].as_array().map(Vec::len),
        Some(1),
        "{out}"
    );
    let sent = capture.to("/siem");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].json()?["message"],
        "GuardDuty Recon:EC2/PortProbeUnprotectedPort (GuardDuty finding)"
    );

    let filtered = response(&invoke(&env, &sns_event("3", "GuardDuty finding")).await?)?;
    assert!(filtered["records"][0]["skipped"].is_string(), "{filtered}");
    let condition_false = response(&invoke(&env, &sns_event("9", "ignore me")).await?)?;
    assert_eq!(condition_false["records"][0]["skipped"], "condition false");
    assert_eq!(capture.to("/siem").len(), 1, "no more alerts");
    Ok(())
}

fn webhook_rule() -> anyhow::Result<Rule> {
    let mut rule = base_rule()?;
    rule.id = "github-repo-publicized".into();
    rule.trigger = Trigger::Webhook {
        provider: WebhookProvider::Github,
        secret: "patrol/github-webhook".into(),
    };
    rule.message = "Repository {{ detail.repository.full_name }} made public by {{ actor }}".into();
    rule.condition = Some(r#"detail.action == "publicized""#.into());
    rule.suppress = vec![];
    Ok(rule)
}

fn function_url_event(body: &str, signature: &str) -> Value {
    json!({
        "version": "2.0", "rawPath": "/", "rawQueryString": "",
        "headers": {"content-type": "application/json", "x-github-event": "repository",
            "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
            "x-hub-signature-256": signature},
        "requestContext": {"accountId": "anonymous", "apiId": "abc", "domainName": "abc.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abc", "http": {"method": "POST", "path": "/", "protocol": "HTTP/1.1",
            "sourceIp": "192.0.2.10", "userAgent": "GitHub-Hookshot/abc"}, "requestId": "r-1",
            "routeKey": "$default", "stage": "$default", "time": "01/Nov/2026:08:00:00 +0000",
            "timeEpoch": 1_793_520_000_000_i64},
        "body": body, "isBase64Encoded": false
    })
}

const PUBLICIZED: &str = r#"{"action":"publicized","repository":{"full_name":"acme/payroll"},"sender":{"login":"octocat"}}"#;

async fn failure_queue(moto: &Moto) -> anyhow::Result<(aws_sdk_sqs::Client, String)> {
    let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config().await);
    let url = sqs
        .create_queue()
        .queue_name("patrol-failures")
        .send()
        .await?
        .queue_url
        .ok_or_else(|| anyhow::anyhow!("no queue URL"))?;
    Ok((sqs, url))
}

fn function_url_answer(outcome: &Outcome) -> anyhow::Result<(i64, Value)> {
    let r = response(outcome)?;
    let status = r["statusCode"].as_i64().unwrap_or_default();
    let body: Value = serde_json::from_str(r["body"].as_str().unwrap_or("null"))?;
    Ok((status, body))
}

#[tokio::test]
async fn webhook_trigger_alerts_on_a_good_signature_and_401s_a_bad_one() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let moto = moto_with_secrets(&capture).await?;
    let (_, queue_url) = failure_queue(&moto).await?;
    let env = function_env(
        &moto,
        &capture,
        &webhook_rule()?,
        &webhook_sink(&capture),
        &[("PATROL_FAILURE_QUEUE_URL", queue_url)],
    )?;

    let good = sign(GITHUB_SECRET.as_bytes(), PUBLICIZED.as_bytes());
    let (status, body) =
        function_url_answer(&invoke(&env, &function_url_event(PUBLICIZED, &good)).await?)?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message_ids"].as_array().map(Vec::len), Some(1));
    let sent = capture.to("/siem");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].json()?["message"],
        "Repository acme/payroll made public by octocat"
    );

    let bad = sign(b"guessed", PUBLICIZED.as_bytes());
    let (status, body) =
        function_url_answer(&invoke(&env, &function_url_event(PUBLICIZED, &bad)).await?)?;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        capture.to("/siem").len(),
        1,
        "nothing sent for a bad signature"
    );
    Ok(())
}

#[tokio::test]
async fn webhook_trigger_delivery_failure_lands_in_the_failure_queue() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let broken = CaptureServer::with_statuses(vec![503])?;
    let moto = moto_with_secrets(&capture).await?;
    let (sqs, queue_url) = failure_queue(&moto).await?;
    let sinks = json!([{"type": "webhook", "route": "siem", "url": broken.url("/siem")}]);
    let env = function_env(
        &moto,
        &capture,
        &webhook_rule()?,
        &sinks,
        &[("PATROL_FAILURE_QUEUE_URL", queue_url.clone())],
    )?;
    let good = sign(GITHUB_SECRET.as_bytes(), PUBLICIZED.as_bytes());
    let (status, body) =
        function_url_answer(&invoke(&env, &function_url_event(PUBLICIZED, &good)).await?)?;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["saved_to_failure_queue"], true);

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
        record["alert"]["message"],
        "Repository acme/payroll made public by octocat"
    );
    assert_eq!(record["event"]["source"], "patrol.webhook.github");
    assert!(
        record["error"]
            .as_str()
            .is_some_and(|e| e.contains("HTTP 503")),
        "{record}"
    );
    Ok(())
}

fn dedup_rule() -> anyhow::Result<Rule> {
    let mut rule = base_rule()?;
    rule.dedup = Some(Dedup {
        key: "{{ account }}".into(),
        window_seconds: 3600,
    });
    Ok(rule)
}

async fn dedup_table(moto: &Moto) -> anyhow::Result<aws_sdk_dynamodb::Client> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let ddb = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    ddb.create_table()
        .table_name("patrol-dedup")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()?,
        )
        .send()
        .await?;
    Ok(ddb)
}

#[tokio::test]
async fn dedup_sends_one_alert_per_key_per_window() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let moto = Moto::start()?;
    let ddb = dedup_table(&moto).await?;
    let env = function_env(
        &moto,
        &capture,
        &dedup_rule()?,
        &webhook_sink(&capture),
        &[("PATROL_DEDUP_TABLE", "patrol-dedup".to_owned())],
    )?;
    let event = root_login_event()?;
    let first = response(&invoke(&env, &event).await?)?;
    assert_eq!(
        first["message_ids"].as_array().map(Vec::len),
        Some(1),
        "{first}"
    );
    let second = response(&invoke(&env, &event).await?)?;
    assert_eq!(
        second["skipped"], "duplicate within the dedup window",
        "{second}"
    );
    assert_eq!(capture.to("/siem").len(), 1);

    let item = ddb
        .get_item()
        .table_name("patrol-dedup")
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("root-console-login#123837392027".into()),
        )
        .send()
        .await?;
    let expires_at = item
        .item()
        .and_then(|i| i.get("expires_at"))
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<i64>().ok());
    let event_time = event["time"]
        .as_str()
        .and_then(patrol_core::date::unix_seconds);
    assert_eq!(expires_at, event_time.map(|t| t + 3600));
    Ok(())
}

#[tokio::test]
async fn dedup_fails_open_when_the_table_is_missing() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let moto = Moto::start()?;
    let env = function_env(
        &moto,
        &capture,
        &dedup_rule()?,
        &webhook_sink(&capture),
        &[("PATROL_DEDUP_TABLE", "no-such-table".to_owned())],
    )?;
    let event = root_login_event()?;
    for _ in 0..2 {
        let out = response(&invoke(&env, &event).await?)?;
        assert_eq!(
            out["message_ids"].as_array().map(Vec::len),
            Some(1),
            "{out}"
        );
    }
    assert_eq!(
        capture.to("/siem").len(),
        2,
        "every alert sent when dedup is down"
    );
    Ok(())
}

#[tokio::test]
async fn dedup_rule_without_a_table_fails_the_cold_start() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let moto = Moto::start()?;
    let env = function_env(
        &moto,
        &capture,
        &dedup_rule()?,
        &webhook_sink(&capture),
        &[],
    )?;
    match invoke(&env, &root_login_event()?).await? {
        Outcome::Exited { stderr, .. } => {
            assert!(stderr.contains("PATROL_DEDUP_TABLE"), "{stderr}");
        }
        Outcome::InitError { body, .. } => assert!(body.contains("PATROL_DEDUP_TABLE"), "{body}"),
        other => anyhow::bail!("expected a failed cold start, got {other:?}"),
    }
    Ok(())
}

const DEDUP_TABLE: &str = "patrol-dedup";
/// `root-console-login#<account>`: the window of every event below.
const DEDUP_PK: &str = "root-console-login#123837392027";

/// Another root sign-in to the same account (the same dedup key) 17 minutes after
/// [`root_login_event`], inside its one-hour window; `None` drops the event's id.
fn another_root_login(event_id: Option<&str>) -> anyhow::Result<Value> {
    let path = paths::workspace().join("tests/events/signin/root-console-login.json");
    let mut record: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let fields = record
        .as_object_mut()
        .ok_or_else(|| anyhow::anyhow!("the sample event is not an object"))?;
    fields.insert("eventTime".into(), json!("2023-07-10T12:40:00Z"));
    match event_id {
        Some(id) => fields.insert("eventID".into(), json!(id)),
        None => fields.remove("eventID"),
    };
    Ok(patrol_core::event::to_eventbridge(record)?)
}

fn unix_now() -> anyhow::Result<i64> {
    Ok(i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs(),
    )?)
}

/// Claims `event`'s window through the function's own code and never settles it: what an
/// invocation leaves behind when delivery failed and releasing the window failed too (or
/// while it is still delivering), as seen `age_seconds` later.
async fn leave_undelivered_claim(
    moto: &Moto,
    event: &Value,
    age_seconds: i64,
) -> anyhow::Result<()> {
    use patrol_aws::dedup::{Claim, ClaimRequest, DedupTable};
    let table = DedupTable::new(
        aws_sdk_dynamodb::Client::new(&moto.sdk_config().await),
        DEDUP_TABLE.to_owned(),
    );
    let event_time = event["time"]
        .as_str()
        .and_then(patrol_core::date::unix_seconds)
        .ok_or_else(|| anyhow::anyhow!("the event has no time"))?;
    // Where the alert takes its event id from: CloudTrail's, else EventBridge's.
    let event_id = [event.pointer("/detail/eventID"), event.get("id")]
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find(|id| !id.is_empty());
    let claim = table
        .claim(ClaimRequest {
            rule: RULE_ID,
            key: "123837392027",
            event_time,
            window_seconds: 3600,
            event_id,
            now: unix_now()? - age_seconds,
        })
        .await
        .map_err(anyhow::Error::msg)?;
    anyhow::ensure!(
        matches!(claim, Claim::First(_)),
        "the claim was refused: {claim:?}"
    );
    Ok(())
}

/// The window's item: (`event_id`, `delivered`), `None` when there is none.
async fn dedup_window(
    ddb: &aws_sdk_dynamodb::Client,
) -> anyhow::Result<Option<(Option<String>, Option<bool>)>> {
    let out = ddb
        .get_item()
        .table_name(DEDUP_TABLE)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(DEDUP_PK.into()),
        )
        .send()
        .await?;
    Ok(out.item().map(|item| {
        (
            item.get("event_id")
                .and_then(|v| v.as_s().ok())
                .map(String::from),
            item.get("delivered")
                .and_then(|v| v.as_bool().ok())
                .copied(),
        )
    }))
}

async fn dedup_function(
    moto: &Moto,
    capture: &CaptureServer,
) -> anyhow::Result<Vec<(&'static str, String)>> {
    function_env(
        moto,
        capture,
        &dedup_rule()?,
        &webhook_sink(capture),
        &[("PATROL_DEDUP_TABLE", DEDUP_TABLE.to_owned())],
    )
}

fn sent(out: &Value) -> bool {
    out["message_ids"]
        .as_array()
        .is_some_and(|ids| ids.len() == 1)
}

const ROOT_LOGIN_ID: &str = "0a9b3c5e-2f47-4d6b-9a1e-6c2d8f0b4e71";

#[tokio::test]
async fn dedup_retry_is_sent_when_the_failed_attempt_could_not_release_its_window()
-> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let moto = Moto::start()?;
    let ddb = dedup_table(&moto).await?;
    let env = dedup_function(&moto, &capture).await?;
    let event = root_login_event()?;
    // The first attempt claimed the window, its delivery failed and so did the release.
    leave_undelivered_claim(&moto, &event, 60).await?;

    let retry = response(&invoke(&env, &event).await?)?;
    assert!(sent(&retry), "the retry must be delivered: {retry}");
    assert_eq!(capture.to("/siem").len(), 1);
    assert_eq!(
        dedup_window(&ddb).await?,
        Some((Some(ROOT_LOGIN_ID.to_owned()), Some(true)))
    );

    let again = response(&invoke(&env, &event).await?)?;
    assert_eq!(
        again["skipped"], "duplicate within the dedup window",
        "{again}"
    );
    assert_eq!(
        capture.to("/siem").len(),
        1,
        "delivered once, then held back"
    );
    Ok(())
}

#[tokio::test]
async fn dedup_holds_back_another_event_inside_a_delivered_window() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let moto = Moto::start()?;
    let ddb = dedup_table(&moto).await?;
    let env = dedup_function(&moto, &capture).await?;
    let first = response(&invoke(&env, &root_login_event()?).await?)?;
    assert!(sent(&first), "{first}");
    assert_eq!(
        dedup_window(&ddb).await?,
        Some((Some(ROOT_LOGIN_ID.to_owned()), Some(true)))
    );

    let other = response(&invoke(&env, &another_root_login(Some("second-sign-in"))?).await?)?;
    assert_eq!(
        other["skipped"], "duplicate within the dedup window",
        "{other}"
    );
    assert_eq!(capture.to("/siem").len(), 1);
    Ok(())
}

#[tokio::test]
async fn dedup_holds_back_another_event_while_a_claim_is_in_flight() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let moto = Moto::start()?;
    let ddb = dedup_table(&moto).await?;
    let env = dedup_function(&moto, &capture).await?;
    // Another invocation claimed the window a second ago and is still delivering.
    leave_undelivered_claim(&moto, &root_login_event()?, 1).await?;

    let other = response(&invoke(&env, &another_root_login(Some("second-sign-in"))?).await?)?;
    assert_eq!(
        other["skipped"], "duplicate within the dedup window",
        "{other}"
    );
    assert!(capture.to("/siem").is_empty());
    assert_eq!(
        dedup_window(&ddb).await?,
        Some((Some(ROOT_LOGIN_ID.to_owned()), Some(false))),
        "the in-flight claim is left to its own invocation"
    );
    Ok(())
}

#[tokio::test]
async fn dedup_sends_another_event_once_an_undelivered_claim_is_stale() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let moto = Moto::start()?;
    let ddb = dedup_table(&moto).await?;
    let env = dedup_function(&moto, &capture).await?;
    // Claimed 16 minutes ago and never delivered: no invocation can still be running.
    let in_flight = i64::try_from(patrol_aws::dedup::IN_FLIGHT.as_secs())?;
    leave_undelivered_claim(&moto, &root_login_event()?, in_flight + 60).await?;

    let other = response(&invoke(&env, &another_root_login(Some("second-sign-in"))?).await?)?;
    assert!(sent(&other), "{other}");
    assert_eq!(capture.to("/siem").len(), 1);
    assert_eq!(
        dedup_window(&ddb).await?,
        Some((Some("second-sign-in".to_owned()), Some(true))),
        "the window is now the alert that was sent"
    );
    Ok(())
}

#[tokio::test]
async fn dedup_sends_an_event_without_an_id_over_an_undelivered_claim() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let moto = Moto::start()?;
    let ddb = dedup_table(&moto).await?;
    let env = dedup_function(&moto, &capture).await?;
    // Without an id an event cannot tell its own earlier claim from another's.
    leave_undelivered_claim(&moto, &root_login_event()?, 1).await?;

    let no_id = another_root_login(None)?;
    let out = response(&invoke(&env, &no_id).await?)?;
    assert!(sent(&out), "{out}");
    assert_eq!(dedup_window(&ddb).await?, Some((None, Some(true))));

    let again = response(&invoke(&env, &no_id).await?)?;
    assert_eq!(
        again["skipped"], "duplicate within the dedup window",
        "{again}"
    );
    assert_eq!(capture.to("/siem").len(), 1);
    Ok(())
}

#[tokio::test]
async fn dedup_failed_delivery_releases_the_window() -> anyhow::Result<()> {
    // Three failed attempts for the first alert, then the sink recovers.
    let capture = CaptureServer::with_statuses(vec![500, 500, 500, 200])?;
    let moto = Moto::start()?;
    let ddb = dedup_table(&moto).await?;
    let env = dedup_function(&moto, &capture).await?;
    match invoke(&env, &root_login_event()?).await? {
        Outcome::Error { body, .. } => assert!(body.contains("Patrol.DeliveryFailed"), "{body}"),
        other => anyhow::bail!("expected a failed delivery, got {other:?}"),
    }
    assert_eq!(dedup_window(&ddb).await?, None, "released");

    let other = response(&invoke(&env, &another_root_login(Some("second-sign-in"))?).await?)?;
    assert!(sent(&other), "{other}");
    assert_eq!(capture.to("/siem").len(), 4);
    Ok(())
}
