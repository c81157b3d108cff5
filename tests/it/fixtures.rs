//! What several end-to-end tests start from: the shipped rules and sample events, rules
//! written for one test, and moto holding the routes' secrets.

use patrol_core::manifest::{Manifest, Rule, ValidateOptions, load};
use patrol_tests::capture::CaptureServer;
use patrol_tests::moto::Moto;
use patrol_tests::paths;
use serde_json::{Value, json};

pub const SLACK_PATH: &str = "/services/T0001/B0001/slack-url-secret-part";
pub const SIGNING_KEY: &str = "siem-signing-key";
pub const GITHUB_SECRET: &str = "gh-webhook-secret";
pub const ROUTING_KEY: &str = "R0UT1NGK3Y00000000000000000000AB";
pub const STATE_TABLE: &str = "patrol-state";

pub fn rules_toml() -> anyhow::Result<Manifest> {
    Ok(load(
        &paths::workspace().join("rules.toml"),
        &ValidateOptions::default(),
    )?)
}

/// A rule of rules.toml, as the config file holds it.
pub fn shipped_rule(id: &str) -> anyhow::Result<Rule> {
    rules_toml()?
        .rule(id)
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("rules.toml has no rule {id}"))
}

/// A sample CloudTrail record of `tests/events/`, as EventBridge delivers it.
pub fn sample_event(path: &str) -> anyhow::Result<Value> {
    let path = paths::workspace().join("tests/events").join(path);
    let record: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    Ok(patrol_core::event::to_eventbridge(record)?)
}

pub fn root_login_event() -> anyhow::Result<Value> {
    sample_event("signin/root-console-login.json")
}

/// A normalized rule sending to `routes`, its message naming it.
pub fn rule(id: &str, trigger: Value, routes: &[&str]) -> Value {
    json!({"id": id, "description": format!("{id} happened"), "severity": "high",
        "handler": "notify", "trigger": trigger,
        "message": format!("{id}: {{{{ detail.eventName }}}} by {{{{ actor }}}}"),
        "notify": routes})
}

/// An event rule on `pattern`.
pub fn event_rule(id: &str, pattern: Value, routes: &[&str]) -> Value {
    rule(id, json!({"type": "event", "pattern": pattern}), routes)
}

/// `{"type":"webhook","route":R,"url":U}` without a signing secret.
pub fn webhook_route(route: &str, url: &str) -> Value {
    json!({"type": "webhook", "route": route, "url": url})
}

/// Moto with the routes' secrets: the Slack URL (plain), the PagerDuty key (JSON), the
/// webhook signing key and the GitHub webhook secret.
pub async fn moto_with_secrets(capture: &CaptureServer) -> anyhow::Result<Moto> {
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
