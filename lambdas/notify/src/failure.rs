//! What failed, in the two places operators read it:
//!
//! - the invocation's error ([`NotifyError`] as a `lambda_runtime::Diagnostic`), which
//!   Lambda's on-failure destination records after its retries: the message names every
//!   failed rule and route with its error, and what was delivered;
//! - the failure queue's record, written by the function itself for webhook requests
//!   (synchronous, so Lambda neither retries them nor records them anywhere).

use lambda_runtime::Diagnostic;
use patrol_aws::sink::Deliver;
use patrol_core::alert::Alert;
use serde::Serialize;
use serde_json::{Value, json};

use crate::Notify;
use crate::delivery::RuleRun;

/// SQS takes messages up to 256 KiB; a larger failure record drops the event's detail.
const MAX_FAILURE_RECORD: usize = 240 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// A route did not accept the alert.
    Delivery,
    /// The rule's message or dedup key failed to render on this event.
    Template,
    /// The rule's condition failed on this event.
    Condition,
}

/// One rule, or one route of a rule, that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub rule: String,
    /// `None` when the rule failed before any route (template, condition).
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
    /// The Diagnostic's `error_type`: any route failing is a delivery failure; otherwise
    /// the first rule's own failure.
    fn error_type(&self) -> &'static str {
        let kind = self
            .failures
            .iter()
            .map(|f| f.kind)
            .find(|k| *k == FailureKind::Delivery)
            .or_else(|| self.failures.first().map(|f| f.kind));
        match kind {
            Some(FailureKind::Template) => "Patrol.TemplateError",
            Some(FailureKind::Condition) => "Patrol.ConditionError",
            Some(FailureKind::Delivery) | None => "Patrol.DeliveryFailed",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The payload is not something this function is invoked with.
    #[error("{0}")]
    Event(String),
    /// The invocation names a feed or schedule group the config file does not have.
    #[error("{0}")]
    ConfigMismatch(String),
    /// Some rules or routes failed; the others were tried.
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

impl From<NotifyError> for Diagnostic {
    fn from(e: NotifyError) -> Self {
        let error_type = match &e {
            NotifyError::Event(_) => "Patrol.InvalidEvent",
            NotifyError::ConfigMismatch(_) => "Patrol.ConfigMismatch",
            NotifyError::Failed(f) => f.error_type(),
            NotifyError::NoStateTable(_) => "Patrol.NoStateTable",
            NotifyError::StateTable(_) => "Patrol.StateTableFailed",
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
) -> Result<(), NotifyError> {
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
    Err(NotifyError::Failed(Failures {
        failures,
        delivered,
    }))
}

impl<D: Deliver + Sync, S: Sync> Notify<D, S> {
    /// Puts what a webhook request could not deliver on the failure queue; if that fails
    /// too, logs the whole alert at error level so it is at least in CloudWatch Logs.
    pub(crate) async fn save_failure(
        &self,
        event: &Value,
        alert: Option<&Alert>,
        failures: &Failures,
        request_id: &str,
    ) -> bool {
        let rule = failures.failures.first().map_or("", |f| f.rule.as_str());
        let error = failures.to_string();
        let mut record = json!({
            "rule": rule, "request_id": request_id, "error": error,
            "failures": failures.failures, "event": event, "alert": alert,
        });
        if record.to_string().len() > MAX_FAILURE_RECORD {
            record["event"] = json!({
                "id": event.get("id"), "detail-type": event.get("detail-type"),
                "source": event.get("source"), "time": event.get("time"),
                "detail": "(dropped: too large for the failure queue)",
            });
        }
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
