//! The delivery ledger: when one route of a rule fails, Lambda retries the whole event;
//! the retry must reach the route that failed and not the ones that already accepted the
//! alert.

use aws_sdk_dynamodb::types::AttributeValue;
use patrol_tests::capture::CaptureServer;
use patrol_tests::function::{self, invoke, response};
use patrol_tests::handler_config::{ConfigFile, config};
use patrol_tests::moto::Moto;
use serde_json::json;

use crate::fixtures::{STATE_TABLE, event_rule, sample_event, webhook_route};

const EVENT_ID: &str = "4e8b8a5e-8f4c-4b0a-9f39-3c1d7d2e2c11";

fn unix_now() -> anyhow::Result<i64> {
    Ok(i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs(),
    )?)
}

#[tokio::test]
async fn a_retry_sends_only_to_the_route_that_failed() -> anyhow::Result<()> {
    let moto = Moto::start()?;
    let spy = moto.topic_with_spy("patrol-security").await?;
    let ddb = moto.state_table(STATE_TABLE).await?;
    // The SIEM fails the first attempt (three tries), then recovers.
    let siem = CaptureServer::with_statuses(vec![500, 500, 500, 200])?;
    let file = ConfigFile::write(&config(
        &[event_rule(
            "key-created",
            json!({"source": ["aws.iam"], "detail": {"eventName": ["CreateAccessKey"]}}),
            &["security", "siem"],
        )],
        json!([
            {"type": "sns", "route": "security", "topic_name": "patrol-security"},
            webhook_route("siem", &siem.url("/siem")),
        ]),
        json!({"iam": ["key-created"]}),
        json!({}),
    ))?;
    let mut env = moto.sdk_env();
    env.extend(file.env());
    env.push(("PATROL_STATE_TABLE", STATE_TABLE.to_owned()));
    let mut event = sample_event("iam/create-access-key.json")?;
    event["id"] = json!(EVENT_ID);
    let payload = function::feed("iam", &event);

    let (error_type, message) = function::error(&invoke(&env, &payload).await?)?;
    assert_eq!(error_type, "Patrol.DeliveryFailed");
    assert!(
        message.starts_with("1 failure: rule `key-created` route `siem`: HTTP 500 from 127.0.0.1"),
        "{message}"
    );
    assert!(
        message.ends_with("(delivered: rule `key-created` route `security`)"),
        "{message}"
    );
    assert_eq!(spy.take().await?.len(), 1, "the topic accepted it");
    assert_eq!(siem.to("/siem").len(), 3);

    // Lambda retries the same event.
    let retry = response(&invoke(&env, &payload).await?)?;
    assert_eq!(
        retry["rules"],
        json!([{"rule": "key-created", "sent": {"siem": "webhook:200"},
            "already_delivered": ["security"]}]),
        "{retry}"
    );
    assert_eq!(spy.take().await?.len(), 0, "not sent to the topic twice");
    assert_eq!(
        siem.to("/siem").len(),
        4,
        "the SIEM gets it once it is back"
    );

    // And once more: every route has it.
    let again = response(&invoke(&env, &payload).await?)?;
    assert_eq!(
        again["rules"][0]["already_delivered"],
        json!(["security", "siem"]),
        "{again}"
    );
    assert!(again["rules"][0].get("sent").is_none(), "{again}");
    assert_eq!(spy.take().await?.len(), 0);
    assert_eq!(siem.to("/siem").len(), 4);

    // What the ledger holds: one item per route, kept two days.
    for route in ["security", "siem"] {
        let item = ddb
            .get_item()
            .table_name(STATE_TABLE)
            .key(
                "pk",
                AttributeValue::S(format!("sent#key-created#{route}#{EVENT_ID}")),
            )
            .send()
            .await?;
        let expires_at = item
            .item()
            .and_then(|i| i.get("expires_at"))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<i64>().ok())
            .ok_or_else(|| anyhow::anyhow!("no ledger item for {route}: {item:?}"))?;
        let two_days = 2 * 86_400;
        let now = unix_now()?;
        assert!(
            (now + two_days - 120..=now + two_days).contains(&expires_at),
            "{route}: {expires_at}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn without_a_reachable_ledger_alerts_are_still_sent() -> anyhow::Result<()> {
    let moto = Moto::start()?;
    let spy = moto.topic_with_spy("patrol-security").await?;
    let file = ConfigFile::write(&config(
        &[event_rule(
            "key-created",
            json!({"source": ["aws.iam"]}),
            &["security"],
        )],
        json!([{"type": "sns", "route": "security", "topic_name": "patrol-security"}]),
        json!({"iam": ["key-created"]}),
        json!({}),
    ))?;
    let mut env = moto.sdk_env();
    env.extend(file.env());
    env.push(("PATROL_STATE_TABLE", "no-such-table".to_owned()));
    let payload = function::feed("iam", &sample_event("iam/create-access-key.json")?);
    for _ in 0..2 {
        let out = response(&invoke(&env, &payload).await?)?;
        assert!(out["rules"][0]["sent"]["security"].is_string(), "{out}");
    }
    assert_eq!(
        spy.take().await?.len(),
        2,
        "fail open: a duplicate, never a loss"
    );
    Ok(())
}
