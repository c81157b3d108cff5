//! SNS-triggered rules: the function subscribed to a topic, each message decided by the
//! rules whose trigger names that topic and whose filter policy matches.

use patrol_tests::capture::CaptureServer;
use patrol_tests::function::{invoke, response};
use patrol_tests::handler_config::{ConfigFile, config};
use patrol_tests::moto::Moto;
use serde_json::{Value, json};

use crate::fixtures::{rule, webhook_route};

const GUARDDUTY: &str = "arn:aws:sns:us-east-1:123456789012:guardduty";

fn sns_rule(id: &str, topic_arn: &str, filter_policy: Option<Value>) -> Value {
    let mut trigger = json!({"type": "sns", "topic_arn": topic_arn});
    if let Some(policy) = filter_policy {
        trigger["filter_policy"] = policy;
    }
    let mut r = rule(id, trigger, &["siem"]);
    r["message"] = json!(format!(
        "{id}: GuardDuty {{{{ detail.Message.detail.type }}}} ({{{{ detail.Subject }}}})"
    ));
    r
}

fn high_severity() -> Option<Value> {
    Some(json!({"severity": [{"numeric": [">=", 7]}]}))
}

fn function(
    moto: &Moto,
    capture: &CaptureServer,
    rules: &[Value],
) -> anyhow::Result<(ConfigFile, Vec<(&'static str, String)>)> {
    let file = ConfigFile::write(&config(
        rules,
        json!([webhook_route("siem", &capture.url("/siem"))]),
        json!({}),
        json!({}),
    ))?;
    let mut env = moto.sdk_env();
    env.extend(file.env());
    Ok((file, env))
}

fn sns_event(topic_arn: &str, severity: &str, subject: &str) -> Value {
    json!({"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": format!("{topic_arn}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55"),
        "Sns": {
            "Type": "Notification", "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
            "TopicArn": topic_arn, "Subject": subject,
            "Message": "{\"detail\":{\"type\":\"Recon:EC2/PortProbeUnprotectedPort\"}}",
            "Timestamp": "2026-11-01T08:00:00.000Z", "SignatureVersion": "1",
            "Signature": "EXAMPLE", "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/x.pem",
            "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
            "MessageAttributes": {"severity": {"Type": "Number", "Value": severity}}
        }
    }]})
}

/// The rules of the response's only record: (rule, `sent` or the skip reason).
fn record_rules(out: &Value) -> Vec<(String, String)> {
    let records = out["records"].as_array().cloned().unwrap_or_default();
    assert_eq!(records.len(), 1, "{out}");
    records[0]["rules"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|r| {
            let what = r["skipped"].as_str().unwrap_or("sent").to_owned();
            (r["rule"].as_str().unwrap_or_default().to_owned(), what)
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[tokio::test]
async fn sns_triggered_rule_alerts_only_when_filter_and_condition_pass() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let moto = Moto::start()?;
    let mut high = sns_rule("guardduty-high", GUARDDUTY, high_severity());
    high["condition"] = json!(r#"detail.Subject != "ignore me""#);
    let (_file, env) = function(&moto, &capture, &[high])?;

    let out = response(&invoke(&env, &sns_event(GUARDDUTY, "8", "GuardDuty finding")).await?)?;
    assert_eq!(out["records"][0]["topic_arn"], GUARDDUTY);
    assert_eq!(
        out["records"][0]["rules"][0]["sent"]["siem"], "webhook:200",
        "{out}"
    );
    let sent = capture.to("/siem");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].json()?["message"],
        "guardduty-high: GuardDuty Recon:EC2/PortProbeUnprotectedPort (GuardDuty finding)"
    );

    let filtered = response(&invoke(&env, &sns_event(GUARDDUTY, "3", "GuardDuty finding")).await?)?;
    assert_eq!(record_rules(&filtered), [], "{filtered}");
    let condition_false = response(&invoke(&env, &sns_event(GUARDDUTY, "9", "ignore me")).await?)?;
    assert_eq!(
        record_rules(&condition_false),
        pairs(&[("guardduty-high", "condition false")])
    );
    assert_eq!(capture.to("/siem").len(), 1, "no more alerts");
    Ok(())
}

#[tokio::test]
async fn a_topic_shared_by_two_rules_alerts_for_each_whose_filter_matches() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let moto = Moto::start()?;
    let alarms = "arn:aws:sns:us-east-1:123456789012:alarms";
    let (_file, env) = function(
        &moto,
        &capture,
        &[
            sns_rule("guardduty-high", GUARDDUTY, high_severity()),
            sns_rule("guardduty-all", GUARDDUTY, None),
            sns_rule("alarms", alarms, None),
        ],
    )?;

    let high = response(&invoke(&env, &sns_event(GUARDDUTY, "8", "finding")).await?)?;
    assert_eq!(
        record_rules(&high),
        pairs(&[("guardduty-high", "sent"), ("guardduty-all", "sent")])
    );
    let low = response(&invoke(&env, &sns_event(GUARDDUTY, "2", "finding")).await?)?;
    assert_eq!(record_rules(&low), pairs(&[("guardduty-all", "sent")]));
    let alarm = response(&invoke(&env, &sns_event(alarms, "9", "alarm")).await?)?;
    assert_eq!(record_rules(&alarm), pairs(&[("alarms", "sent")]));

    let mut messages: Vec<String> = capture
        .to("/siem")
        .iter()
        .filter_map(|r| r.json().ok())
        .map(|alert| alert["rule"].as_str().unwrap_or_default().to_owned())
        .collect();
    messages.sort();
    assert_eq!(
        messages,
        ["alarms", "guardduty-all", "guardduty-all", "guardduty-high"]
    );
    Ok(())
}
