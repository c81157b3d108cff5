//! Dedup windows that time and empty keys must not fool: an event dated in the future
//! opens its window now; a key with a part that renders empty is not deduplicated; and a
//! claim another invocation left undelivered holds the window only as long as that
//! invocation can run (the function's timeout), not Lambda's fifteen-minute maximum.

use patrol_tests::capture::CaptureServer;
use patrol_tests::function::{self, invoke, response};
use patrol_tests::handler_config::{ConfigFile, config};
use patrol_tests::moto::Moto;
use serde_json::{Value, json};

use crate::dedup::{
    DEDUP_PK, RULE_ID, another_root_login, dedup_function, leave_undelivered_claim, result, sent,
    signin, unix_now,
};
use crate::fixtures::{STATE_TABLE, root_login_event, shipped_rule, webhook_route};

/// The window item's `expires_at`.
async fn expires_at(ddb: &aws_sdk_dynamodb::Client, pk: &str) -> anyhow::Result<Option<i64>> {
    let out = ddb
        .get_item()
        .table_name(STATE_TABLE)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk.into()))
        .send()
        .await?;
    Ok(out
        .item()
        .and_then(|i| i.get("expires_at"))
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok()))
}

#[tokio::test]
async fn a_far_future_event_opens_its_window_from_now() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let moto = Moto::start()?;
    let ddb = moto.state_table(STATE_TABLE).await?;
    let (_file, env) = dedup_function(&moto, &capture, Some(STATE_TABLE))?;
    let mut future = root_login_event()?;
    future["time"] = json!("2099-01-01T00:00:00Z");
    let before = unix_now()?;
    let out = response(&invoke(&env, &signin(&future)).await?)?;
    assert!(sent(&out), "{out}");
    let expires = expires_at(&ddb, DEDUP_PK).await?;
    let after = unix_now()?;
    assert!(
        expires.is_some_and(|e| (before + 3600..=after + 3600).contains(&e)),
        "the window ends an hour from now, not in 2099: {expires:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_dedup_key_with_an_empty_part_is_not_deduplicated() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let moto = Moto::start()?;
    moto.state_table(STATE_TABLE).await?;
    let mut rule = serde_json::to_value(shipped_rule(RULE_ID)?)?;
    // Root sign-ins have no user name: that part of the key is always empty here.
    rule["dedup"] =
        json!({"key": "{{ account }}/{{ detail.userIdentity.userName }}", "window_seconds": 3600});
    rule["notify"] = json!(["siem"]);
    let file = ConfigFile::write(&config(
        &[rule],
        json!([webhook_route("siem", &capture.url("/siem"))]),
        json!({"signin": [RULE_ID]}),
        json!({}),
    ))?;
    let mut env = moto.sdk_env();
    env.extend(file.env());
    env.push(("PATROL_STATE_TABLE", STATE_TABLE.to_owned()));

    let first = function::run(&env, &signin(&root_login_event()?)).await?;
    assert!(sent(&response(&first.outcome)?));
    let second = response(&invoke(&env, &signin(&another_root_login(Some("second"))?)).await?)?;
    assert!(sent(&second), "not held back by the first: {second}");
    assert_eq!(capture.to("/siem").len(), 2);
    let warnings = function::log_lines(&first.stdout, "WARN");
    let why: Vec<&Value> = warnings
        .iter()
        .filter(|l| {
            l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("a part of the dedup key is empty on this event"))
        })
        .collect();
    assert_eq!(why.len(), 1, "{warnings:?}");
    assert_eq!(
        why[0]["fields"]["empty_part"],
        "detail.userIdentity.userName"
    );
    Ok(())
}

#[tokio::test]
async fn dedup_sends_another_event_once_a_claim_outlived_the_function_timeout() -> anyhow::Result<()>
{
    let capture = CaptureServer::start()?;
    let moto = Moto::start()?;
    moto.state_table(STATE_TABLE).await?;
    let (_file, mut env) = dedup_function(&moto, &capture, Some(STATE_TABLE))?;
    env.push(("PATROL_FUNCTION_TIMEOUT_SECONDS", "60".to_owned()));
    // Claimed two minutes ago by an invocation that can run one minute at most.
    leave_undelivered_claim(&moto, &root_login_event()?, 120).await?;

    let other =
        response(&invoke(&env, &signin(&another_root_login(Some("second-sign-in"))?)).await?)?;
    assert!(sent(&other), "{other}");
    assert_eq!(capture.to("/siem").len(), 1);

    // A claim made a second ago is still in flight.
    let capture = CaptureServer::start()?;
    let moto = Moto::start()?;
    moto.state_table(STATE_TABLE).await?;
    let (_file, mut env) = dedup_function(&moto, &capture, Some(STATE_TABLE))?;
    env.push(("PATROL_FUNCTION_TIMEOUT_SECONDS", "60".to_owned()));
    leave_undelivered_claim(&moto, &root_login_event()?, 1).await?;
    let other =
        response(&invoke(&env, &signin(&another_root_login(Some("second-sign-in"))?)).await?)?;
    assert_eq!(
        result(&other)["skipped"],
        "duplicate within the dedup window",
        "{other}"
    );
    Ok(())
}
