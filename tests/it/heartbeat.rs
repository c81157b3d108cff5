//! Noticing an account or region that stopped forwarding: member heartbeats recorded in the
//! state table on moto, the watchdog reporting the silent ones in its response, its log and
//! its metrics (embedded-metric-format lines on the function's stdout, as CloudWatch Logs
//! reads them).

use aws_sdk_dynamodb::types::AttributeValue;
use patrol_tests::function::{self, log_lines, metric_lines, response};
use patrol_tests::handler_config::{ConfigFile, config};
use patrol_tests::moto::Moto;
use serde_json::{Value, json};

use crate::fixtures::STATE_TABLE;

fn unix_now() -> anyhow::Result<i64> {
    Ok(i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs(),
    )?)
}

fn rfc3339(secs: i64) -> String {
    let s = secs.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        patrol_core::date::civil_date(secs),
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// The `patrol-heartbeat` scheduled event of `account` in `region`, at `time`.
fn heartbeat(account: &str, region: &str, time: i64) -> Value {
    json!({"version": "0", "id": format!("hb-{account}-{region}-{time}"),
        "detail-type": "Scheduled Event", "source": "aws.events",
        "account": account, "time": rfc3339(time), "region": region,
        "resources": [format!("arn:aws:events:{region}:{account}:rule/patrol-heartbeat")],
        "detail": {}})
}

fn watchdog_event(time: i64) -> Value {
    json!({"version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": rfc3339(time), "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/patrol-watchdog"],
        "detail": {}})
}

/// A function with no rules: heartbeats and the watchdog need none.
fn function_env(
    moto: &Moto,
    table: Option<&str>,
) -> anyhow::Result<(ConfigFile, Vec<(&'static str, String)>)> {
    let file = ConfigFile::write(&config(&[], json!([]), json!({}), json!({})))?;
    let mut env = moto.sdk_env();
    env.extend(file.env());
    if let Some(table) = table {
        env.push(("PATROL_STATE_TABLE", table.to_owned()));
    }
    Ok((file, env))
}

/// The one metric line the function printed, checked for the EMF shape with no dimension,
/// stamped between `from` and now (unix seconds); its metric values by name.
fn only_metric_line(stdout: &str, from: i64) -> anyhow::Result<Value> {
    let lines = metric_lines(stdout);
    anyhow::ensure!(lines.len() == 1, "one metric line expected: {stdout}");
    let line = &lines[0];
    let aws = &line["_aws"];
    let stamp = aws["Timestamp"].as_i64().unwrap_or_default();
    anyhow::ensure!(
        (from * 1000..=(unix_now()? + 1) * 1000).contains(&stamp),
        "Timestamp in milliseconds: {line}"
    );
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    anyhow::ensure!(directives.len() == 1, "{line}");
    let directive = &directives[0];
    assert_eq!(directive["Namespace"], "Patrol", "{line}");
    assert_eq!(directive["Dimensions"], json!([[]]), "{line}");
    let mut values = serde_json::Map::new();
    for metric in directive["Metrics"].as_array().cloned().unwrap_or_default() {
        assert_eq!(metric["Unit"], "Count", "{line}");
        let name = metric["Name"].as_str().unwrap_or_default().to_owned();
        values.insert(name.clone(), line[&name].clone());
    }
    Ok(Value::Object(values))
}

/// (last_seen, expires_at) of an account's and region's heartbeat item.
async fn item(
    ddb: &aws_sdk_dynamodb::Client,
    account: &str,
    region: &str,
) -> anyhow::Result<(i64, i64)> {
    let out = ddb
        .get_item()
        .table_name(STATE_TABLE)
        .key(
            "pk",
            AttributeValue::S(format!("heartbeat#{account}#{region}")),
        )
        .send()
        .await?;
    let number = |name: &str| {
        out.item()
            .and_then(|i| i.get(name))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<i64>().ok())
            .ok_or_else(|| anyhow::anyhow!("no {name} for {account}/{region}: {out:?}"))
    };
    Ok((number("last_seen")?, number("expires_at")?))
}

#[tokio::test]
async fn the_watchdog_reports_exactly_the_account_and_region_that_went_silent() -> anyhow::Result<()>
{
    let moto = Moto::start()?;
    let ddb = moto.state_table(STATE_TABLE).await?;
    let (_file, env) = function_env(&moto, Some(STATE_TABLE))?;
    let start = unix_now()?;

    // Before any heartbeat: nothing silent, and the metric says so (its alarm needs data).
    let run = function::run(&env, &function::watchdog(1800, &watchdog_event(start))).await?;
    assert_eq!(
        response(&run.outcome)?,
        json!({"silent_after_seconds": 1800, "forwarders_seen": 0, "silent": []})
    );
    assert_eq!(
        only_metric_line(&run.stdout, start)?,
        json!({"SilentForwarders": 0, "ForwardersSeen": 0})
    );

    // A fresh heartbeat, one two hours old, one stamped in the future (a member's clock).
    let fresh = start - 60;
    let old = start - 2 * 3600;
    for (account, region, time) in [
        ("222222222222", "eu-west-1", fresh),
        ("333333333333", "us-east-1", old),
        ("444444444444", "eu-central-1", start + 3600),
    ] {
        let run = function::run(
            &env,
            &function::heartbeat(&heartbeat(account, region, time)),
        )
        .await?;
        let out = response(&run.outcome)?;
        assert_eq!(out["account"], account, "{out}");
        assert_eq!(out["region"], region, "{out}");
        assert_eq!(out["recorded"], true, "{out}");
        assert_eq!(
            only_metric_line(&run.stdout, start)?,
            json!({"Heartbeats": 1}),
            "{}",
            run.stdout
        );
        let (last_seen, expires_at) = item(&ddb, account, region).await?;
        let now = unix_now()?;
        if time <= start {
            assert_eq!(last_seen, time, "{account}");
            assert_eq!(out["last_heartbeat"], rfc3339(time), "{out}");
        } else {
            assert!(
                (start..=now).contains(&last_seen),
                "clamped to now: {last_seen}"
            );
        }
        let week = 7 * 86_400;
        assert!(
            (start + week..=now + week).contains(&expires_at),
            "kept a week: {expires_at}"
        );
    }

    // A retry of an older heartbeat arriving late changes nothing.
    let late = function::heartbeat(&heartbeat("222222222222", "eu-west-1", start - 600));
    let out = response(&function::invoke(&env, &late).await?)?;
    assert_eq!(out["recorded"], false, "{out}");
    assert_eq!(item(&ddb, "222222222222", "eu-west-1").await?.0, fresh);

    // Other items of the state table, and a heartbeat expired but not yet deleted by TTL.
    for (pk, last_seen, expires_at) in [
        ("sent#key-created#security#e-1", None, start + 3600),
        (
            "heartbeat#555555555555#eu-west-1",
            Some(start - 8 * 86_400),
            start - 86_400,
        ),
    ] {
        let mut put = ddb
            .put_item()
            .table_name(STATE_TABLE)
            .item("pk", AttributeValue::S(pk.to_owned()))
            .item("expires_at", AttributeValue::N(expires_at.to_string()));
        if let Some(t) = last_seen {
            put = put.item("last_seen", AttributeValue::N(t.to_string()));
        }
        put.send().await?;
    }

    let run = function::run(&env, &function::watchdog(1800, &watchdog_event(start))).await?;
    let out = response(&run.outcome)?;
    assert_eq!(out["silent_after_seconds"], 1800, "{out}");
    assert_eq!(out["forwarders_seen"], 3, "{out}");
    let silent = out["silent"].as_array().cloned().unwrap_or_default();
    assert_eq!(silent.len(), 1, "{out}");
    assert_eq!(silent[0]["account"], "333333333333");
    assert_eq!(silent[0]["region"], "us-east-1");
    assert_eq!(silent[0]["last_heartbeat"], rfc3339(old));
    let silent_for = silent[0]["silent_for_seconds"].as_i64().unwrap_or_default();
    assert!(
        (2 * 3600..2 * 3600 + 120).contains(&silent_for),
        "{silent_for}"
    );
    assert_eq!(
        only_metric_line(&run.stdout, start)?,
        json!({"SilentForwarders": 1, "ForwardersSeen": 3})
    );

    // One error line per silent account and region, naming it.
    let errors = log_lines(&run.stdout, "ERROR");
    assert_eq!(errors.len(), 1, "{}", run.stdout);
    let fields = &errors[0]["fields"];
    assert_eq!(
        fields["message"],
        format!(
            "account/region stopped forwarding: last heartbeat {}",
            rfc3339(old)
        )
    );
    assert_eq!(fields["account"], "333333333333");
    assert_eq!(fields["region"], "us-east-1");
    Ok(())
}

#[tokio::test]
async fn heartbeats_and_the_watchdog_fail_without_their_state_table() -> anyhow::Result<()> {
    let moto = Moto::start()?;
    let now = unix_now()?;
    let heartbeat = function::heartbeat(&heartbeat("222222222222", "eu-west-1", now));
    let watchdog = function::watchdog(1800, &watchdog_event(now));

    // Not configured: the error names the variable.
    let (_file, env) = function_env(&moto, None)?;
    for payload in [&heartbeat, &watchdog] {
        let run = function::run(&env, payload).await?;
        let (error_type, message) = function::error(&run.outcome)?;
        assert_eq!(error_type, "Patrol.NoStateTable");
        assert!(
            message.contains("needs the state table, and PATROL_STATE_TABLE is not set"),
            "{message}"
        );
        assert!(
            !log_lines(&run.stdout, "ERROR").is_empty(),
            "{}",
            run.stdout
        );
    }

    // Configured but unreachable: the invocation fails (Lambda's error alarm), and the
    // watchdog emits no metric (the silent alarm's missing data).
    let (_file, env) = function_env(&moto, Some("no-such-table"))?;
    let (error_type, message) = function::error(&function::invoke(&env, &heartbeat).await?)?;
    assert_eq!(error_type, "Patrol.StateTableFailed");
    assert!(
        message.starts_with("heartbeats in table `no-such-table`: ResourceNotFoundException"),
        "{message}"
    );
    let run = function::run(&env, &watchdog).await?;
    let (error_type, _) = function::error(&run.outcome)?;
    assert_eq!(error_type, "Patrol.StateTableFailed");
    assert_eq!(
        metric_lines(&run.stdout),
        Vec::<Value>::new(),
        "{}",
        run.stdout
    );
    Ok(())
}

#[tokio::test]
async fn an_event_that_is_not_a_heartbeat_is_refused() -> anyhow::Result<()> {
    let moto = Moto::start()?;
    let (_file, env) = function_env(&moto, Some(STATE_TABLE))?;
    let mut forged = heartbeat("222222222222", "eu-west-1", unix_now()?);
    forged["resources"] = json!(["arn:aws:events:eu-west-1:333333333333:rule/patrol-heartbeat"]);
    let run = function::run(&env, &function::heartbeat(&forged)).await?;
    let (error_type, message) = function::error(&run.outcome)?;
    assert_eq!(error_type, "Patrol.InvalidEvent");
    assert_eq!(
        message,
        "not a Patrol heartbeat: `arn:aws:events:eu-west-1:333333333333:rule/patrol-heartbeat` is not rule patrol-heartbeat of account 222222222222 in eu-west-1"
    );
    assert_eq!(
        metric_lines(&run.stdout),
        Vec::<Value>::new(),
        "not counted"
    );
    Ok(())
}
