//! What failed, in the two places operators read it:
//!
//! - the invocation's error ([`RuntimeError`] as a `lambda_runtime::Diagnostic`), which
//!   Lambda's on-failure destination records after its retries: the message names every
//!   failed rule and route with its error, and what was delivered;
//! - the failure queue's record, written by the function itself for webhook requests
//!   (synchronous, so Lambda neither retries them nor records them anywhere), cut to fit
//!   an SQS message as a whole (`fit_record`): the rule, the route, the error and the
//!   event id always stay; the alert's long fields are cut first, then the event's
//!   detail, then the rest of the alert.

use lambda_runtime::Diagnostic;
use patrol_aws::sink::Deliver;
use patrol_core::alert::Alert;
use serde::Serialize;
use serde_json::{Value, json};

use crate::Runtime;
use crate::delivery::RuleRun;
use crate::handler::Handler;

/// SQS takes messages up to 256 KiB (its body and attributes); a record is cut to this.
pub const MAX_FAILURE_RECORD: usize = 240 * 1024;

/// What failed. A rule's condition or template failing on an event is not a failure: it
/// sends a degraded alert ([`crate::degraded`]), which only its delivery can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// A route did not accept the alert.
    Delivery,
    /// The rule's handler failed: the rule decided nothing.
    Handler,
}

/// One route of a rule that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub rule: String,
    /// `None` when the rule failed before any route.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    pub kind: FailureKind,
    pub error: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.route {
            Some(route) => write!(f, "rule `{}` route `{route}`: {}", self.rule, self.error),
            None => write!(f, "rule `{}`: {}", self.rule, self.error),
        }
    }
}

/// Every failure of one invocation, and the (rule, route) pairs it did deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failures {
    pub failures: Vec<Failure>,
    pub delivered: Vec<(String, String)>,
}

impl std::fmt::Display for Failures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.failures.len();
        write!(f, "{n} failure{}: ", if n == 1 { "" } else { "s" })?;
        for (i, failure) in self.failures.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{failure}")?;
        }
        if !self.delivered.is_empty() {
            f.write_str(" (delivered: ")?;
            for (i, (rule, route)) in self.delivered.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "rule `{rule}` route `{route}`")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl Failures {
    /// The Diagnostic's `error_type`.
    fn error_type(&self) -> &'static str {
        if !self.failures.is_empty() && self.failures.iter().all(|f| f.kind == FailureKind::Handler)
        {
            "Patrol.HandlerFailed"
        } else {
            "Patrol.DeliveryFailed"
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The payload is not something this function is invoked with.
    #[error("{0}")]
    Event(String),
    /// The invocation names a feed or schedule group the config file does not have.
    #[error("{0}")]
    ConfigMismatch(String),
    /// Some rules (their handler) or routes failed; the others were tried.
    #[error("{0}")]
    Failed(Failures),
    /// The invocation needs the state table (heartbeats, the watchdog) and
    /// `PATROL_STATE_TABLE` is not set.
    #[error("{0}")]
    NoStateTable(String),
    /// The state table failed where failing open is not possible (heartbeats, the
    /// watchdog).
    #[error("{0}")]
    StateTable(String),
}

impl From<RuntimeError> for Diagnostic {
    fn from(e: RuntimeError) -> Self {
        let error_type = match &e {
            RuntimeError::Event(_) => "Patrol.InvalidEvent",
            RuntimeError::ConfigMismatch(_) => "Patrol.ConfigMismatch",
            RuntimeError::Failed(f) => f.error_type(),
            RuntimeError::NoStateTable(_) => "Patrol.NoStateTable",
            RuntimeError::StateTable(_) => "Patrol.StateTableFailed",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// The error for an invocation's failures, if any.
pub(crate) fn check<'a>(
    runs: impl IntoIterator<Item = &'a RuleRun> + Clone,
) -> Result<(), RuntimeError> {
    let failures: Vec<Failure> = runs
        .clone()
        .into_iter()
        .flat_map(|r| r.failures.iter().cloned())
        .collect();
    if failures.is_empty() {
        return Ok(());
    }
    let delivered = runs
        .into_iter()
        .flat_map(|r| {
            r.result
                .sent
                .keys()
                .map(|route| (r.result.rule.clone(), route.clone()))
        })
        .collect();
    Err(RuntimeError::Failed(Failures {
        failures,
        delivered,
    }))
}

impl<H: Handler, D: Deliver + Sync, S: Sync> Runtime<H, D, S> {
    /// Puts what a webhook request could not deliver on the failure queue; if that fails
    /// too, logs the whole alert at error level so it is at least in CloudWatch Logs.
    pub(crate) async fn save_failure(
        &self,
        event: &Value,
        alert: Option<&Alert>,
        failures: &Failures,
        request_id: &str,
    ) -> bool {
        let first = failures.failures.first();
        let rule = first.map_or("", |f| f.rule.as_str());
        let error = failures.to_string();
        let record = fit_record(
            json!({
                "rule": rule, "route": first.and_then(|f| f.route.as_deref()),
                "event_id": event.get("id"), "request_id": request_id, "error": error,
                "failures": failures.failures, "event": event, "alert": alert,
            }),
            MAX_FAILURE_RECORD,
        );
        let alert_json = serde_json::to_string(&alert).unwrap_or_default();
        let Some(queue) = &self.failure_queue else {
            tracing::error!(rule, request_id, error, alert = %alert_json,
                "alert not delivered and no failure queue is configured");
            return false;
        };
        match queue.send(&record).await {
            Ok(id) => {
                tracing::error!(rule, request_id, error, message_id = %id,
                    "alert not delivered; saved to the failure queue");
                true
            }
            Err(queue_error) => {
                tracing::error!(rule, request_id, error, queue_error = %queue_error, alert = %alert_json,
                    "alert not delivered and the failure queue failed too");
                false
            }
        }
    }
}

fn size(v: &Value) -> usize {
    serde_json::to_string(v).map_or(usize::MAX, |s| s.len())
}

/// Every string inside `v` cut to at most `max` characters, the cut ones ending in `…`.
fn cap_strings(v: &mut Value, max: usize) {
    match v {
        Value::String(s) if s.chars().count() > max => {
            let mut cut: String = s.chars().take(max.saturating_sub(1)).collect();
            cut.push('…');
            *s = cut;
        }
        Value::Array(items) => items.iter_mut().for_each(|i| cap_strings(i, max)),
        Value::Object(map) => map.values_mut().for_each(|i| cap_strings(i, max)),
        _ => {}
    }
}

/// What every event says about itself, without its detail.
fn event_summary(event: &Value) -> Value {
    let mut summary = json!({
        "id": event.get("id"), "detail-type": event.get("detail-type"),
        "source": event.get("source"), "account": event.get("account"),
        "region": event.get("region"), "time": event.get("time"),
        "detail": "(dropped: too large for the failure queue)",
    });
    cap_strings(&mut summary, 1024);
    summary
}

/// The alert's rule, severity and title: what is left of it when nothing more fits.
fn alert_summary(alert: &Value) -> Value {
    let mut summary = json!({
        "rule": alert.get("rule"), "severity": alert.get("severity"),
        "title": alert.get("title"), "event_id": alert.get("event_id"),
        "message": "(dropped: too large for the failure queue)",
    });
    cap_strings(&mut summary, 1024);
    summary
}

/// A failure record (`rule`, `route`, `event_id`, `request_id`, `error`, `failures`,
/// `event`, `alert`) cut, step by step, until it is at most `max` bytes of JSON: the
/// alert's long fields, the event's detail, the rest of the alert, then the errors.
/// `cut` lists what was cut. The rule, route and event id are never cut.
pub(crate) fn fit_record(mut record: Value, max: usize) -> Value {
    type Step = fn(&mut Value);
    let steps: [(&str, Step); 5] = [
        ("alert", |r| cap_strings(&mut r["alert"], 4096)),
        ("event", |r| r["event"] = event_summary(&r["event"])),
        ("alert", |r| r["alert"] = alert_summary(&r["alert"])),
        ("error", |r| {
            cap_strings(&mut r["error"], 4096);
            cap_strings(&mut r["failures"], 1024);
        }),
        ("failures", |r| {
            cap_strings(&mut r["error"], 256);
            cap_strings(&mut r["request_id"], 256);
            if let Some(list) = r["failures"].as_array_mut() {
                list.truncate(10);
            }
        }),
    ];
    let mut cut: Vec<&str> = Vec::new();
    for (what, step) in steps {
        if size(&record) <= max {
            break;
        }
        step(&mut record);
        if !cut.contains(&what) {
            cut.push(what);
        }
    }
    if !cut.is_empty() {
        record["cut"] = json!(cut);
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(alert_message: usize, detail: usize, failures: usize) -> Value {
        let failures: Vec<Failure> = (0..failures)
            .map(|i| Failure {
                rule: "github-repo-publicized".into(),
                route: Some(format!("route-{i}")),
                kind: FailureKind::Delivery,
                error: format!(
                    "HTTP 503 from siem.example.com after 3 attempt(s): {}",
                    "e".repeat(2000)
                ),
            })
            .collect();
        let failures = Failures {
            failures,
            delivered: vec![],
        };
        json!({
            "rule": "github-repo-publicized", "route": "route-0", "event_id": "72d3162e",
            "request_id": "r-1", "error": failures.to_string(), "failures": failures.failures,
            "event": {"id": "72d3162e", "source": "patrol.webhook.github", "detail-type": "repository",
                "time": "2026-11-01T08:00:00Z", "detail": {"blob": "d".repeat(detail)}},
            "alert": {"rule": "github-repo-publicized", "severity": "high", "title": "t",
                "message": "m".repeat(alert_message), "event_id": "72d3162e"},
        })
    }

    fn kept_what_matters(r: &Value) {
        assert_eq!(r["rule"], "github-repo-publicized");
        assert_eq!(r["route"], "route-0");
        assert_eq!(r["event_id"], "72d3162e");
        assert!(
            r["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("1 failure")
                    || e.contains(
                        "failures: rule `github-repo-publicized` route `route-0`: HTTP 503"
                    )),
            "{}",
            r["error"]
        );
    }

    #[test]
    fn a_record_that_fits_is_kept_whole() {
        let r = record(1000, 1000, 1);
        assert_eq!(fit_record(r.clone(), MAX_FAILURE_RECORD), r);
    }

    #[test]
    fn a_huge_alert_is_cut_before_the_event() {
        let r = fit_record(record(400 * 1024, 10 * 1024, 1), MAX_FAILURE_RECORD);
        assert!(size(&r) <= MAX_FAILURE_RECORD);
        kept_what_matters(&r);
        assert_eq!(r["cut"], json!(["alert"]));
        assert_eq!(
            r["alert"]["message"].as_str().map(|m| m.chars().count()),
            Some(4096)
        );
        assert_eq!(
            r["event"]["detail"]["blob"].as_str().map(str::len),
            Some(10 * 1024),
            "the event is whole"
        );
    }

    #[test]
    fn a_huge_event_and_alert_leave_their_summaries() {
        let r = fit_record(record(400 * 1024, 400 * 1024, 1), MAX_FAILURE_RECORD);
        assert!(size(&r) <= MAX_FAILURE_RECORD);
        kept_what_matters(&r);
        assert_eq!(r["cut"], json!(["alert", "event"]));
        assert_eq!(r["event"]["id"], "72d3162e");
        assert_eq!(
            r["event"]["detail"],
            "(dropped: too large for the failure queue)"
        );
    }

    #[test]
    fn many_long_errors_are_cut_too() {
        let r = fit_record(record(100, 100, 200), 64 * 1024);
        assert!(size(&r) <= 64 * 1024, "{}", size(&r));
        kept_what_matters(&r);
        assert_eq!(r["failures"][0]["route"], "route-0");
        assert_eq!(r["cut"], json!(["alert", "event", "error", "failures"]));
    }
}
