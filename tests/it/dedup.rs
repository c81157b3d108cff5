//! Dedup windows in the state table (DynamoDB on moto), as the function keeps them: one
//! alert per rule and key per window, failing open, and never hiding the retry of an event
//! whose delivery failed.

use patrol_tests::capture::CaptureServer;
use patrol_tests::function::{self, invoke, response};
use patrol_tests::handler_config::{ConfigFile, config};
use patrol_tests::moto::Moto;
use patrol_tests::paths;
use patrol_tests::runtime_api::Outcome;
use serde_json::{Value, json};

use crate::fixtures::{STATE_TABLE, root_login_event, shipped_rule, webhook_route};

pub(crate) const RULE_ID: &str = "root-console-login";

/// The shipped `root-console-login` with one window per account and hour, sending to a
/// local webhook; the config file and the function's environment (the file must outlive
/// the invocations).
pub(crate) fn dedup_function(
    moto: &Moto,
    capture: &CaptureServer,
    table: Option<&str>,
) -> anyhow::Result<(ConfigFile, Vec<(&'static str, String)>)> {
    let mut rule = serde_json::to_value(shipped_rule(RULE_ID)?)?;
    rule["dedup"] = json!({"key": "{{ account }}", "window_seconds": 3600});
    rule["notify"] = json!(["siem"]);
    let file = ConfigFile::write(&config(
        &[rule],
        json!([webhook_route("siem", &capture.url("/siem"))]),
        json!({"signin": [RULE_ID]}),
        json!({}),
    ))?;
    let mut env = moto.sdk_env();
    env.extend(file.env());
    if let Some(table) = table {
        env.push(("PATROL_STATE_TABLE", table.to_owned()));
    }
    Ok((file, env))
}

/// The feed invocation of `event`.
pub(crate) fn signin(event: &Value) -> Value {
    function::feed("signin", event)
}

/// The rule's result in a response.
pub(crate) fn result(out: &Value) -> &Value {
    &out["rules"][0]
}

pub(crate) fn sent(out: &Value) -> bool {
    result(out)["sent"]
        .as_object()
        .is_some_and(|routes| routes.len() == 1)
}

#[tokio::test]
async fn dedup_sends_one_alert_per_key_per_window() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let moto = Moto::start()?;
    let ddb = moto.state_table(STATE_TABLE).await?;
    let (_file, env) = dedup_function(&moto, &capture, Some(STATE_TABLE))?;
    let event = root_login_event()?;
    let first = response(&invoke(&env, &signin(&event)).await?)?;
    assert!(sent(&first), "{first}");
    let second = response(&invoke(&env, &signin(&event)).await?)?;
    assert_eq!(
        result(&second)["skipped"],
        "duplicate within the dedup window",
        "{second}"
    );
    assert_eq!(capture.to("/siem").len(), 1);

    let item = ddb
        .get_item()
        .table_name(STATE_TABLE)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(DEDUP_PK.into()),
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
    let (_file, env) = dedup_function(&moto, &capture, Some("no-such-table"))?;
    let event = root_login_event()?;
    for _ in 0..2 {
        let out = response(&invoke(&env, &signin(&event)).await?)?;
        assert!(sent(&out), "{out}");
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
    let (_file, env) = dedup_function(&moto, &capture, None)?;
    let outcome = invoke(&env, &signin(&root_login_event()?)).await?;
    let failure = function::init_failure(&outcome)?;
    assert!(failure.contains("PATROL_STATE_TABLE"), "{failure}");
    assert!(failure.contains(RULE_ID), "{failure}");
    Ok(())
}

/// `root-console-login#<account>`: the window of every event below.
pub(crate) const DEDUP_PK: &str = "root-console-login#123837392027";

/// Another root sign-in to the same account (the same dedup key) 17 minutes after
/// [`root_login_event`], inside its one-hour window; `None` drops the event's id.
pub(crate) fn another_root_login(event_id: Option<&str>) -> anyhow::Result<Value> {
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

pub(crate) fn unix_now() -> anyhow::Result<i64> {
    Ok(i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs(),
    )?)
}

/// Claims `event`'s window through the function's own code and never settles it: what an
/// invocation leaves behind when delivery failed and releasing the window failed too (or
/// while it is still delivering), as seen `age_seconds` later.
pub(crate) async fn leave_undelivered_claim(
    moto: &Moto,
    event: &Value,
    age_seconds: i64,
) -> anyhow::Result<()> {
    use patrol_aws::dedup::{Claim, ClaimRequest, DedupTable};
    let table = DedupTable::new(
        aws_sdk_dynamodb::Client::new(&moto.sdk_config().await),
        STATE_TABLE.to_owned(),
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
pub(crate) async fn dedup_window(
    ddb: &aws_sdk_dynamodb::Client,
) -> anyhow::Result<Option<(Option<String>, Option<bool>)>> {
    let out = ddb
        .get_item()
        .table_name(STATE_TABLE)
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

pub(crate) const ROOT_LOGIN_ID: &str = "0a9b3c5e-2f47-4d6b-9a1e-6c2d8f0b4e71";

#[tokio::test]
async fn dedup_retry_is_sent_when_the_failed_attempt_could_not_release_its_window()
-> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let moto = Moto::start()?;
    let ddb = moto.state_table(STATE_TABLE).await?;
    let (_file, env) = dedup_function(&moto, &capture, Some(STATE_TABLE))?;
    let event = root_login_event()?;
    // The first attempt claimed the window, its delivery failed and so did the release.
    leave_undelivered_claim(&moto, &event, 60).await?;

    let retry = response(&invoke(&env, &signin(&event)).await?)?;
    assert!(sent(&retry), "the retry must be delivered: {retry}");
    assert_eq!(capture.to("/siem").len(), 1);
    assert_eq!(
        dedup_window(&ddb).await?,
        Some((Some(ROOT_LOGIN_ID.to_owned()), Some(true)))
    );

    let again = response(&invoke(&env, &signin(&event)).await?)?;
    assert_eq!(
        result(&again)["skipped"],
        "duplicate within the dedup window",
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
    let ddb = moto.state_table(STATE_TABLE).await?;
    let (_file, env) = dedup_function(&moto, &capture, Some(STATE_TABLE))?;
    let first = response(&invoke(&env, &signin(&root_login_event()?)).await?)?;
    assert!(sent(&first), "{first}");
    assert_eq!(
        dedup_window(&ddb).await?,
        Some((Some(ROOT_LOGIN_ID.to_owned()), Some(true)))
    );

    let other = another_root_login(Some("second-sign-in"))?;
    let other = response(&invoke(&env, &signin(&other)).await?)?;
    assert_eq!(
        result(&other)["skipped"],
        "duplicate within the dedup window",
        "{other}"
    );
    assert_eq!(capture.to("/siem").len(), 1);
    Ok(())
}

#[tokio::test]
async fn dedup_holds_back_another_event_while_a_claim_is_in_flight() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let moto = Moto::start()?;
    let ddb = moto.state_table(STATE_TABLE).await?;
    let (_file, env) = dedup_function(&moto, &capture, Some(STATE_TABLE))?;
    // Another invocation claimed the window a second ago and is still delivering.
    leave_undelivered_claim(&moto, &root_login_event()?, 1).await?;

    let other = another_root_login(Some("second-sign-in"))?;
    let other = response(&invoke(&env, &signin(&other)).await?)?;
    assert_eq!(
        result(&other)["skipped"],
        "duplicate within the dedup window",
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
    let ddb = moto.state_table(STATE_TABLE).await?;
    let (_file, env) = dedup_function(&moto, &capture, Some(STATE_TABLE))?;
    // Claimed 16 minutes ago and never delivered: no invocation can still be running.
    let in_flight = i64::try_from(patrol_aws::dedup::IN_FLIGHT.as_secs())?;
    leave_undelivered_claim(&moto, &root_login_event()?, in_flight + 60).await?;

    let other = another_root_login(Some("second-sign-in"))?;
    let other = response(&invoke(&env, &signin(&other)).await?)?;
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
    let ddb = moto.state_table(STATE_TABLE).await?;
    let (_file, env) = dedup_function(&moto, &capture, Some(STATE_TABLE))?;
    // Without an id an event cannot tell its own earlier claim from another's.
    leave_undelivered_claim(&moto, &root_login_event()?, 1).await?;

    let no_id = signin(&another_root_login(None)?);
    let out = response(&invoke(&env, &no_id).await?)?;
    assert!(sent(&out), "{out}");
    assert_eq!(dedup_window(&ddb).await?, Some((None, Some(true))));

    let again = response(&invoke(&env, &no_id).await?)?;
    assert_eq!(
        result(&again)["skipped"],
        "duplicate within the dedup window",
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
    let ddb = moto.state_table(STATE_TABLE).await?;
    let (_file, env) = dedup_function(&moto, &capture, Some(STATE_TABLE))?;
    match invoke(&env, &signin(&root_login_event()?)).await? {
        Outcome::Error { body, .. } => assert!(body.contains("Patrol.DeliveryFailed"), "{body}"),
        other => anyhow::bail!("expected a failed delivery, got {other:?}"),
    }
    assert_eq!(dedup_window(&ddb).await?, None, "released");

    let other = another_root_login(Some("second-sign-in"))?;
    let other = response(&invoke(&env, &signin(&other)).await?)?;
    assert!(sent(&other), "{other}");
    assert_eq!(capture.to("/siem").len(), 4);
    Ok(())
}
