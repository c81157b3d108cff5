//! The real `audit` binary on a schedule, against moto: a check runs in the account through
//! the `patrol-audit` role, each finding becomes an alert through the rule's template and
//! routes, and a daily run alerts once per finding (alert-once dedup in the state table),
//! again only for what is new.

use patrol_tests::capture::CaptureServer;
use patrol_tests::function::{response, run_handler};
use patrol_tests::handler_config::{ConfigFile, config};
use patrol_tests::moto::Moto;
use serde_json::{Value, json};

use crate::fixtures::{STATE_TABLE, rule, webhook_route};

const ACCOUNT: &str = "123456789012";

fn audit_config(capture: &CaptureServer) -> Value {
    let mut r = rule(
        "console-users-without-mfa",
        json!({"type": "schedule", "expression": "rate(1 day)"}),
        &["siem"],
    );
    r["handler"] = json!("audit");
    r["params"] = json!({"check": "iam-credential-hygiene", "accounts": [ACCOUNT]});
    // A condition that picks findings keeps `audit-failed`: an account that could not be
    // audited must still alert.
    r["condition"] = json!(r#"detail.finding in ["console-user-without-mfa", "audit-failed"]"#);
    r["message"] =
        json!("IAM user {{ detail.facts.user }} can sign in without MFA in {{ detail.account }}");
    r["dedup"] = json!({"key": patrol_core::finding::ALERT_ONCE_KEY, "window_seconds": 2_592_000});
    let mut file = config(
        &[r],
        json!([webhook_route("siem", &capture.url("/siem"))]),
        json!({}),
        json!({"rate-1-day": ["console-users-without-mfa"]}),
    );
    file["handler"] = json!("audit");
    file["regions"] = json!(["us-east-1"]);
    file
}

fn tick() -> Value {
    json!({"patrol": {"schedule": "rate-1-day"}, "event": {
        "version": "0", "id": "tick-1", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": ACCOUNT, "time": "2026-12-03T08:00:00Z",
        "region": "us-east-1", "resources": [], "detail": {}}})
}

async fn console_user(iam: &aws_sdk_iam::Client, name: &str) -> anyhow::Result<()> {
    iam.create_user().user_name(name).send().await?;
    iam.create_login_profile()
        .user_name(name)
        .password("Correct-Horse-Battery-9")
        .send()
        .await?;
    Ok(())
}

fn messages(capture: &CaptureServer) -> anyhow::Result<Vec<String>> {
    capture
        .to("/siem")
        .iter()
        .map(|c| Ok(c.json()?["message"].as_str().unwrap_or_default().to_owned()))
        .collect()
}

#[tokio::test]
async fn a_daily_audit_alerts_once_per_finding_and_again_only_for_new_ones() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let moto = Moto::start()?;
    moto.state_table(STATE_TABLE).await?;
    let iam = aws_sdk_iam::Client::new(&moto.sdk_config().await);
    console_user(&iam, "alice").await?;
    iam.create_user().user_name("api-only").send().await?;

    let file = ConfigFile::write(&audit_config(&capture))?;
    let mut env = moto.sdk_env();
    env.extend(file.env());
    env.push(("PATROL_STATE_TABLE", STATE_TABLE.to_owned()));
    env.push(("PATROL_FUNCTION_TIMEOUT_SECONDS", "900".to_owned()));

    let first = run_handler("audit", &env, &tick()).await?;
    let out = response(&first.outcome)?;
    assert_eq!(
        messages(&capture)?,
        vec![format!(
            "IAM user alice can sign in without MFA in {ACCOUNT}"
        )],
        "{out}\n{}",
        first.stdout
    );

    // The next day: the same finding is a duplicate, a new console user alerts.
    console_user(&iam, "bob").await?;
    let second = run_handler("audit", &env, &tick()).await?;
    let out = response(&second.outcome)?;
    assert_eq!(
        messages(&capture)?,
        vec![
            format!("IAM user alice can sign in without MFA in {ACCOUNT}"),
            format!("IAM user bob can sign in without MFA in {ACCOUNT}"),
        ],
        "{out}"
    );
    assert!(
        out.to_string().contains("duplicate"),
        "alice's finding is reported as a duplicate: {out}"
    );
    Ok(())
}

#[tokio::test]
async fn bad_audit_params_fail_the_rule_and_name_the_param() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let moto = Moto::start()?;
    let mut config = audit_config(&capture);
    config["rules"][0]["params"] = json!({"check": "no-such-check"});
    let file = ConfigFile::write(&config)?;
    let mut env = moto.sdk_env();
    env.extend(file.env());
    env.push(("PATROL_STATE_TABLE", STATE_TABLE.to_owned()));
    let run = run_handler("audit", &env, &tick()).await?;
    let text = format!("{:?}", run.outcome);
    assert!(
        text.contains("console-users-without-mfa") && text.contains("no-such-check"),
        "{text}"
    );
    assert!(capture.to("/siem").is_empty());
    Ok(())
}
