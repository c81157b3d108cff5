//! A rule whose condition or template fails on an unusual event: on-call gets a degraded
//! alert with the facts Patrol always knows, and the invocation is not failed (a retry
//! would fail the same way); only the degraded alert's delivery can fail, and is retried.

use patrol_tests::capture::CaptureServer;
use patrol_tests::function::{self, invoke, response};
use patrol_tests::handler_config::{ConfigFile, config};
use patrol_tests::moto::Moto;
use patrol_tests::runtime_api::Outcome;
use serde_json::{Value, json};

use crate::fixtures::{root_login_event, shipped_rule, webhook_route};

/// `root-console-login` with a condition that fails on the sample event (a field it does
/// not have), sending to a local webhook.
fn failing_rule(
    moto: &Moto,
    siem: &str,
) -> anyhow::Result<(ConfigFile, Vec<(&'static str, String)>)> {
    let mut rule = serde_json::to_value(shipped_rule("root-console-login")?)?;
    rule["condition"] = json!("detail.additionalEventData.NoSuchField == \"x\"");
    rule["notify"] = json!(["siem"]);
    let file = ConfigFile::write(&config(
        &[rule],
        json!([webhook_route("siem", siem)]),
        json!({"signin": ["root-console-login"]}),
        json!({}),
    ))?;
    let mut env = moto.sdk_env();
    env.extend(file.env());
    Ok((file, env))
}

#[tokio::test]
async fn a_condition_that_fails_on_an_event_sends_a_degraded_alert() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let moto = Moto::start()?;
    let (_file, env) = failing_rule(&moto, &capture.url("/siem"))?;
    let run = function::run(&env, &function::feed("signin", &root_login_event()?)).await?;
    let out = response(&run.outcome)?;
    let result = &out["rules"][0];
    assert_eq!(result["sent"]["siem"], "webhook:200", "{out}");
    assert!(
        result["degraded"]
            .as_str()
            .is_some_and(|e| e.starts_with("condition failed")),
        "{out}"
    );
    let sent = capture.to("/siem");
    assert_eq!(sent.len(), 1);
    let alert: Value = sent[0].json()?;
    assert_eq!(alert["rule"], "root-console-login");
    assert_eq!(alert["severity"], "critical");
    assert_eq!(alert["account"], "123837392027");
    assert_eq!(alert["actor"], "root (123837392027)");
    assert_eq!(alert["event_id"], "0a9b3c5e-2f47-4d6b-9a1e-6c2d8f0b4e71");
    let message = alert["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("DEGRADED ALERT: rule `root-console-login` matched an event (source aws.signin, detail-type "),
        "{message}"
    );
    assert!(
        message.contains("but its condition failed on it"),
        "{message}"
    );
    let errors = function::log_lines(&run.stdout, "ERROR");
    assert!(
        errors.iter().any(|l| l["fields"]["message"]
            == "rule failed on this event; sending a degraded alert instead"),
        "{errors:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_degraded_alert_whose_delivery_fails_is_retried() -> anyhow::Result<()> {
    let broken = CaptureServer::with_statuses(vec![503])?;
    let moto = Moto::start()?;
    let (_file, env) = failing_rule(&moto, &broken.url("/siem"))?;
    match invoke(&env, &function::feed("signin", &root_login_event()?)).await? {
        Outcome::Error { body, .. } => {
            assert!(body.contains("Patrol.DeliveryFailed"), "{body}");
            assert!(body.contains("route `siem`: HTTP 503"), "{body}");
        }
        other => anyhow::bail!("expected a failed delivery (retried by Lambda), got {other:?}"),
    }
    assert_eq!(
        broken.to("/siem").len(),
        3,
        "the HTTP client's own attempts"
    );
    Ok(())
}
