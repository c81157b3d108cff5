//! One rule's alert for one event, end to end: the rule's verdict, its dedup window, then
//! every route of the rule (concurrently), each through the delivery ledger: skipped when
//! it already accepted this alert (an earlier attempt of the same event), recorded once it
//! does.
//!
//! A claimed dedup window is marked delivered only when every route has the alert, and
//! released otherwise, so a failed delivery never hides the retry of its event.

use std::collections::BTreeMap;

use patrol_aws::config::SinkConfig;
use patrol_aws::dedup::{Claim, ClaimRequest, Ticket};
use patrol_aws::ledger::Delivery;
use patrol_aws::sink::Deliver;
use patrol_core::alert::{Alert, AlertError};
use patrol_core::manifest::Rule;
use patrol_core::rule::Verdict;
use serde::Serialize;

use crate::Notify;
use crate::failure::{Failure, FailureKind};

/// Why an alert was not sent when its key is inside an open dedup window.
pub const DUPLICATE: &str = "duplicate within the dedup window";

/// What one rule did with one event, as the response lists it.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct RuleResult {
    pub rule: String,
    /// Route → what it answered (an SNS message id, `pagerduty:<dedup key>`, `slack:200`,
    /// `webhook:200`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sent: BTreeMap<String, String>,
    /// Routes not sent to because they already accepted this alert (an earlier attempt of
    /// the same event).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub already_delivered: Vec<String>,
    /// Why no alert was sent: `condition false`, `suppressed by <owner>: <reason>`,
    /// [`DUPLICATE`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// A rule's run: its result, what failed, and the alert (for the failure queue).
#[derive(Debug)]
pub struct RuleRun {
    pub result: RuleResult,
    pub failures: Vec<Failure>,
    pub alert: Option<Box<Alert>>,
}

/// What became of one route.
enum RouteOutcome {
    Sent(String),
    AlreadyDelivered,
    Failed(String),
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// The id the ledger remembers deliveries by: the event's `id` (EventBridge's event id,
/// the SNS message id, the webhook delivery id), stable across retries of the event.
pub(crate) fn event_id(event: &serde_json::Value) -> Option<String> {
    event
        .get("id")
        .and_then(serde_json::Value::as_str)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

impl<D: Deliver + Sync, S: Sync> Notify<D, S> {
    /// Everything for one rule that an event reached: `verdict` is what the rule decided.
    pub async fn run_rule(
        &self,
        rule: &Rule,
        verdict: Result<Verdict, AlertError>,
        event_id: Option<&str>,
        request_id: &str,
    ) -> RuleRun {
        let id = rule.id.as_str();
        let skip = |why: String| {
            tracing::info!(rule = id, request_id, why, "no alert");
            RuleRun {
                result: RuleResult {
                    rule: id.to_owned(),
                    skipped: Some(why),
                    ..RuleResult::default()
                },
                failures: Vec::new(),
                alert: None,
            }
        };
        let alert = match verdict {
            Ok(Verdict::Alert(alert)) => alert,
            Ok(Verdict::ConditionFalse) => return skip("condition false".to_owned()),
            Ok(Verdict::Suppressed { owner, reason }) => {
                return skip(format!("suppressed by {owner}: {reason}"));
            }
            Err(e) => {
                tracing::error!(rule = id, request_id, error = %e, "rule failed on this event");
                let kind = match e {
                    AlertError::Template(_) => FailureKind::Template,
                    AlertError::Condition(_) => FailureKind::Condition,
                };
                return RuleRun {
                    result: RuleResult {
                        rule: id.to_owned(),
                        ..RuleResult::default()
                    },
                    failures: vec![Failure {
                        rule: id.to_owned(),
                        route: None,
                        kind,
                        error: e.to_string(),
                    }],
                    alert: None,
                };
            }
        };
        let claim = match self.claim(rule, &alert, request_id).await {
            Some(Ok(claim)) => Some(claim),
            Some(Err(())) => return skip(DUPLICATE.to_owned()),
            None => None,
        };
        let run = self.send(rule, alert, event_id, request_id).await;
        self.settle(&run, claim).await;
        run
    }

    /// `None`: not deduplicated (no dedup, no key, no event time, or the table failed:
    /// fail open). `Some(Err(()))`: a duplicate.
    async fn claim(
        &self,
        rule: &Rule,
        alert: &Alert,
        request_id: &str,
    ) -> Option<Result<Ticket, ()>> {
        let (Some(dedup), Some(table), Some(key)) =
            (&rule.dedup, &self.dedup, alert.dedup_key.as_deref())
        else {
            return None;
        };
        let Some(time) = alert
            .time
            .as_deref()
            .and_then(patrol_core::date::unix_seconds)
        else {
            tracing::warn!(rule = %alert.rule, request_id, "event has no time: not deduplicated");
            return None;
        };
        let request = ClaimRequest {
            rule: &alert.rule,
            key,
            event_time: time,
            window_seconds: dedup.window_seconds,
            event_id: alert.event_id.as_deref(),
            now: now_ms().div_euclid(1000),
        };
        match table.claim(request).await {
            Ok(Claim::First(ticket)) => Some(Ok(ticket)),
            Ok(Claim::Duplicate) => Some(Err(())),
            Err(e) => {
                tracing::warn!(rule = %alert.rule, request_id, error = %e,
                    "dedup check failed; sending the alert anyway (fail open)");
                None
            }
        }
    }

    /// The alert to every route of the rule, concurrently.
    async fn send(
        &self,
        rule: &Rule,
        alert: Box<Alert>,
        event_id: Option<&str>,
        request_id: &str,
    ) -> RuleRun {
        let sinks: Vec<&SinkConfig> = self.config.sinks(rule).collect();
        let outcomes = futures_util::future::join_all(
            sinks
                .iter()
                .map(|sink| self.send_route(sink, &alert, event_id, request_id)),
        )
        .await;
        let mut result = RuleResult {
            rule: rule.id.clone(),
            ..RuleResult::default()
        };
        let mut failures = Vec::new();
        for (sink, outcome) in sinks.iter().zip(outcomes) {
            let route = sink.route().to_owned();
            match outcome {
                RouteOutcome::Sent(id) => {
                    result.sent.insert(route, id);
                }
                RouteOutcome::AlreadyDelivered => result.already_delivered.push(route),
                RouteOutcome::Failed(error) => failures.push(Failure {
                    rule: rule.id.clone(),
                    route: Some(route),
                    kind: FailureKind::Delivery,
                    error,
                }),
            }
        }
        RuleRun {
            result,
            failures,
            alert: Some(alert),
        }
    }

    async fn send_route(
        &self,
        sink: &SinkConfig,
        alert: &Alert,
        event_id: Option<&str>,
        request_id: &str,
    ) -> RouteOutcome {
        let (rule, route, kind) = (alert.rule.as_str(), sink.route(), sink.kind());
        let delivery = event_id.map(|event_id| Delivery {
            rule,
            route,
            event_id,
        });
        let ledger = self.ledger.as_ref().zip(delivery);
        if let Some((ledger, delivery)) = ledger {
            match ledger.was_sent(delivery).await {
                Ok(true) => {
                    tracing::info!(rule, route, request_id, "already delivered to this route");
                    return RouteOutcome::AlreadyDelivered;
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(rule, route, request_id, error = %e,
                    "delivery ledger unreadable; sending anyway (fail open)"),
            }
        }
        match self.delivery.deliver(sink, alert).await {
            Ok(id) => {
                tracing::info!(rule, route, sink = kind, id = %id, request_id, "alert delivered");
                if let Some((ledger, delivery)) = ledger
                    && let Err(e) = ledger
                        .record(delivery, &id, now_ms().div_euclid(1000))
                        .await
                {
                    tracing::warn!(rule, route, request_id, error = %e,
                        "delivered but not recorded in the ledger; a retry of this event may send it to this route again");
                }
                RouteOutcome::Sent(id)
            }
            Err(e) => {
                tracing::error!(rule, route, sink = kind, error = %e, request_id, "alert delivery failed");
                RouteOutcome::Failed(e)
            }
        }
    }

    /// Marks the dedup window delivered when every route has the alert; releases it
    /// otherwise, so other events need not wait for this one's retry.
    async fn settle(&self, run: &RuleRun, claim: Option<Ticket>) {
        let (Some(table), Some(ticket)) = (&self.dedup, claim) else {
            return;
        };
        let rule = &run.result.rule;
        if run.failures.is_empty() {
            if let Err(e) = table.delivered(&ticket).await {
                tracing::error!(rule, error = %e,
                    "alert delivered but its dedup window not marked delivered; a retry of this event may send it again (a duplicate, not a loss)");
            }
        } else if let Err(e) = table.release(&ticket).await {
            tracing::warn!(rule, error = %e,
                "could not release the dedup window of an undelivered alert; the retry of this event still sends it");
        }
    }
}
