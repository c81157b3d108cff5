//! The real handler binaries (`notify` unless said otherwise), one invocation at a time behind [`RuntimeApi`], and what it
//! answered and printed (its JSON log lines and its embedded-metric-format lines).

use std::time::Duration;

use serde_json::{Value, json};

use crate::paths;
use crate::runtime_api::{Outcome, Run, RuntimeApi};

/// Runs `target/debug/notify` with `env` for one invocation of `payload`.
pub async fn invoke(env: &[(&'static str, String)], payload: &Value) -> anyhow::Result<Outcome> {
    Ok(run(env, payload).await?.outcome)
}

/// Like [`run`], for an invocation whose deadline is `deadline` away: the function is
/// killed then if it has not answered ([`Outcome::TimedOut`]), as Lambda does.
pub async fn run_with_deadline(
    env: &[(&'static str, String)],
    payload: &Value,
    deadline: Duration,
) -> anyhow::Result<Run> {
    let binary = paths::built_binary("notify")?;
    let env = env.to_vec();
    let payload = payload.to_string();
    tokio::task::spawn_blocking(move || {
        RuntimeApi::run_with_deadline(&binary, &env, &payload, deadline)
    })
    .await?
}

/// Like [`invoke`], with what the function printed.
pub async fn run(env: &[(&'static str, String)], payload: &Value) -> anyhow::Result<Run> {
    run_handler("notify", env, payload).await
}

/// Like [`run`], for the handler binary `handler` (`target/debug/<handler>`).
pub async fn run_handler(
    handler: &str,
    env: &[(&'static str, String)],
    payload: &Value,
) -> anyhow::Result<Run> {
    let binary = paths::built_binary(handler)?;
    let env = env.to_vec();
    let payload = payload.to_string();
    tokio::task::spawn_blocking(move || {
        RuntimeApi::run_once(&binary, &env, &payload, Duration::from_secs(60))
    })
    .await?
}

/// The payload the central bus's heartbeat rule sends (its input transformer wraps the
/// member's `patrol-heartbeat` event).
pub fn heartbeat(event: &Value) -> Value {
    json!({"patrol": {"heartbeat": {}}, "event": event})
}

/// The payload the watchdog's schedule sends.
pub fn watchdog(silent_after_seconds: u64, event: &Value) -> Value {
    json!({"patrol": {"watchdog": {"silent_after_seconds": silent_after_seconds}}, "event": event})
}

/// The JSON lines of `stdout` (the function's log and its metric lines; others skipped).
fn json_lines(stdout: &str) -> impl Iterator<Item = Value> + '_ {
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(Value::is_object)
}

/// The embedded-metric-format lines of `stdout`: objects with an `_aws` member, as
/// CloudWatch Logs recognizes them.
pub fn metric_lines(stdout: &str) -> Vec<Value> {
    json_lines(stdout)
        .filter(|v| v.get("_aws").is_some())
        .collect()
}

/// The log lines of `stdout` (tracing's JSON) at `level` (`ERROR`, `INFO`, ...).
pub fn log_lines(stdout: &str, level: &str) -> Vec<Value> {
    json_lines(stdout).filter(|v| v["level"] == level).collect()
}

/// The payload a feed's EventBridge rule sends (its input transformer wraps the event).
pub fn feed(feed: &str, event: &Value) -> Value {
    json!({"patrol": {"feed": feed}, "event": event})
}

/// The payload a schedule group's EventBridge rule sends.
pub fn schedule(group: &str, event: &Value) -> Value {
    json!({"patrol": {"schedule": group}, "event": event})
}

/// The function's JSON response.
pub fn response(outcome: &Outcome) -> anyhow::Result<Value> {
    match outcome {
        Outcome::Response(body) => Ok(serde_json::from_str(body)?),
        other => anyhow::bail!("the function did not succeed: {other:?}"),
    }
}

/// The invocation's error: (`errorType`, `errorMessage`).
pub fn error(outcome: &Outcome) -> anyhow::Result<(String, String)> {
    match outcome {
        Outcome::Error { body, .. } => {
            let error: Value = serde_json::from_str(body)?;
            let field = |k: &str| error[k].as_str().unwrap_or_default().to_owned();
            Ok((field("errorType"), field("errorMessage")))
        }
        other => anyhow::bail!("expected an invocation error, got {other:?}"),
    }
}

/// What a failed cold start printed or reported.
pub fn init_failure(outcome: &Outcome) -> anyhow::Result<String> {
    match outcome {
        Outcome::Exited { stderr, .. } => Ok(stderr.clone()),
        Outcome::InitError { body, .. } => Ok(body.clone()),
        other => anyhow::bail!("expected a failed cold start, got {other:?}"),
    }
}

/// Per rule of an EventBridge response: (rule, its sent routes joined by `,`, or why it
/// was skipped).
pub fn decided(response: &Value) -> Vec<(String, String)> {
    response["rules"]
        .as_array()
        .map(|rules| {
            rules
                .iter()
                .map(|r| {
                    let what = match r["skipped"].as_str() {
                        Some(why) => why.to_owned(),
                        None => r["sent"]
                            .as_object()
                            .map(|s| s.keys().cloned().collect::<Vec<_>>().join(","))
                            .unwrap_or_default(),
                    };
                    (r["rule"].as_str().unwrap_or_default().to_owned(), what)
                })
                .collect()
        })
        .unwrap_or_default()
}
