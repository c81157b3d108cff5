//! One rule of an invocation, end to end: its handler's events ([`Handler::events`],
//! bounded by the deadline), then for each event (a few at a time) the rule's verdict
//! (suppressions, condition, template), its dedup window, then every route of the rule
//! (concurrently), each through the delivery ledger: skipped when it already accepted this
//! alert (an earlier attempt of the same event), recorded once it does. What the rule did
//! is counted for its metric line ([`crate::metrics`]).
//!
//! A handler error fails the rule like a route that failed (a [`FailureKind::Handler`]
//! failure without a route); the invocation's other rules still run.
//!
//! A claimed dedup window is marked delivered only when every route has the alert, and
//! released otherwise, so a failed delivery never hides the retry of its event.
//!
//! A rule whose condition or template fails on the event sends a degraded alert instead
//! ([`crate::degraded`]), without dedup. Each route's delivery stops at the invocation's
//! [`Deadline`], leaving time to record the failure and release the claim.

use std::collections::BTreeMap;
use std::time::Instant;

use futures_util::StreamExt as _;

use patrol_aws::config::SinkConfig;
use patrol_aws::dedup::{Claim, ClaimRequest, Ticket};
use patrol_aws::ledger::Delivery;
use patrol_aws::sink::Deliver;
use patrol_core::alert::{Alert, AlertError};
use patrol_core::manifest::{Rule, Trigger};
use patrol_core::rule::{CompiledRule, Verdict};
use serde::Serialize;
use serde_json::Value;

use crate::Runtime;
use crate::deadline::Deadline;
use crate::failure::{Failure, FailureKind};
use crate::handler::{Context, Handler};
use crate::metrics::Metrics;

/// How many of one rule's events are decided and delivered at once: an audit may return
/// hundreds of findings, and the routes (an SNS topic, Slack) throttle.
pub const EVENTS_AT_ONCE: usize = 8;

/// Why a rule's handler sent nothing, when it returned no events.
pub const NO_EVENTS: &str = "the handler returned no events";

/// Why an alert was not sent when its key is inside an open dedup window.
pub const DUPLICATE: &str = "duplicate within the dedup window";

/// What one rule did with one event, as the response lists it.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct RuleResult {
    pub rule: String,
    /// The id of the event decided on, when it is not the invocation's own event (a
    /// finding an audit returned).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
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
    /// Why the alert sent is a degraded one: the error of the rule's condition or template
    /// on this event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub degraded: Option<String>,
    /// The handler's error: the rule decided nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A rule's run on one event: its result, what failed, and the alert (for the failure
/// queue).
#[derive(Debug)]
pub struct RuleRun {
    pub result: RuleResult,
    pub failures: Vec<Failure>,
    pub alert: Option<Box<Alert>>,
    /// What the rule decided, for its metrics.
    pub decided: Decided,
}

/// What one rule did with one event, as the metrics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    /// The alert went to the routes (see `failures` for those that refused it).
    Alert,
    Suppressed,
    ConditionFalse,
    Duplicate,
    /// The handler returned no events.
    NoEvents,
    /// The handler failed.
    HandlerFailed,
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

/// One rule's run for one event: what it needs besides the rule.
#[derive(Debug, Clone, Copy)]
pub struct RuleCall<'a> {
    /// The invocation's event (the handler's input), then each event the rule decides on.
    pub event: &'a Value,
    /// The event's `id` (see `event_id`), which the delivery ledger remembers.
    pub event_id: Option<&'a str>,
    pub request_id: &'a str,
    pub deadline: Deadline,
    /// `YYYY-MM-DD`: which suppressions have expired.
    pub today: &'a str,
    /// Where the rule's counts go.
    pub metrics: &'a Metrics,
}

impl<H: Handler, D: Deliver + Sync, S: Sync> Runtime<H, D, S> {
    /// Everything for one rule an invocation reached: its handler's events, each decided
    /// and sent; one run per event (one for a handler error or no events). Counted in
    /// `call.metrics`.
    pub async fn run_rule(&self, compiled: &CompiledRule, call: RuleCall<'_>) -> Vec<RuleRun> {
        let started = Instant::now();
        let rule = &compiled.rule;
        let runs = match self.handler_events(rule, call).await {
            Err(error) => vec![RuleRun {
                result: RuleResult {
                    rule: rule.id.clone(),
                    error: Some(error.clone()),
                    ..RuleResult::default()
                },
                failures: vec![Failure {
                    rule: rule.id.clone(),
                    route: None,
                    kind: FailureKind::Handler,
                    error,
                }],
                alert: None,
                decided: Decided::HandlerFailed,
            }],
            Ok(events) if events.is_empty() => {
                tracing::info!(rule = %rule.id, request_id = call.request_id, "the handler returned no events");
                vec![RuleRun {
                    result: RuleResult {
                        rule: rule.id.clone(),
                        skipped: Some(NO_EVENTS.to_owned()),
                        ..RuleResult::default()
                    },
                    failures: Vec::new(),
                    alert: None,
                    decided: Decided::NoEvents,
                }]
            }
            Ok(events) => {
                let input_id = call.event_id;
                futures_util::stream::iter(events.iter().map(|event| async move {
                    let id = event_id(event);
                    let call = RuleCall {
                        event,
                        event_id: id.as_deref(),
                        ..call
                    };
                    let verdict = compiled.evaluate(event, call.today);
                    let mut run = self.decide(rule, verdict, call).await;
                    if id.as_deref() != input_id {
                        run.result.event_id = id;
                    }
                    run
                }))
                .buffered(EVENTS_AT_ONCE)
                .collect()
                .await
            }
        };
        let scheduled = matches!(rule.trigger, Trigger::Schedule { .. });
        call.metrics
            .record(&rule.id, scheduled, &runs, started.elapsed());
        runs
    }

    /// The handler's events for `rule`, bounded by the deadline; its error as text.
    async fn handler_events(&self, rule: &Rule, call: RuleCall<'_>) -> Result<Vec<Value>, String> {
        let ctx = Context {
            rule,
            event: call.event,
            aws: &self.aws,
            deadline: call.deadline,
            regions: &self.config.regions,
            now: std::time::SystemTime::now(),
            request_id: call.request_id,
        };
        let outcome = call
            .deadline
            .run(self.handler.events(&ctx))
            .await
            .map_err(|timed_out| timed_out.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()))
            .and_then(|events| match events.iter().position(|e| !e.is_object()) {
                Some(i) => Err(format!(
                    "the handler returned event {i} that is not a JSON object: {}",
                    events[i].to_string().chars().take(200).collect::<String>()
                )),
                None => Ok(events),
            });
        if let Err(error) = &outcome {
            tracing::error!(rule = %rule.id, request_id = call.request_id, handler = H::NAME, error,
                "the handler failed; this rule decided nothing");
        }
        outcome
    }

    /// Everything for one event of a rule: `verdict` is what the rule decided.
    async fn decide(
        &self,
        rule: &Rule,
        verdict: Result<Verdict, AlertError>,
        call: RuleCall<'_>,
    ) -> RuleRun {
        let (id, request_id) = (rule.id.as_str(), call.request_id);
        let skip = |why: String, decided: Decided| {
            tracing::info!(rule = id, request_id, why, "no alert");
            RuleRun {
                result: RuleResult {
                    rule: id.to_owned(),
                    skipped: Some(why),
                    ..RuleResult::default()
                },
                failures: Vec::new(),
                alert: None,
                decided,
            }
        };
        let alert = match verdict {
            Ok(Verdict::Alert(alert)) => alert,
            Ok(Verdict::ConditionFalse) => {
                return skip("condition false".to_owned(), Decided::ConditionFalse);
            }
            Ok(Verdict::Suppressed { owner, reason }) => {
                return skip(
                    format!("suppressed by {owner}: {reason}"),
                    Decided::Suppressed,
                );
            }
            Err(e) => {
                tracing::error!(rule = id, request_id, error = %e, failed = crate::degraded::what_failed(&e),
                    "rule failed on this event; sending a degraded alert instead");
                let alert = Box::new(crate::degraded::alert(rule, call.event, &e));
                let mut run = self.send(rule, alert, call).await;
                run.result.degraded = Some(e.to_string());
                return run;
            }
        };
        let claim = match self.claim(rule, &alert, call).await {
            Some(Ok(claim)) => Some(claim),
            Some(Err(())) => return skip(DUPLICATE.to_owned(), Decided::Duplicate),
            None => None,
        };
        let run = self.send(rule, alert, call).await;
        self.settle(&run, claim).await;
        run
    }

    /// `None`: not deduplicated (no dedup, no key, a part of the key empty, no event
    /// time, or the table failed: fail open). `Some(Err(()))`: a duplicate.
    async fn claim(
        &self,
        rule: &Rule,
        alert: &Alert,
        call: RuleCall<'_>,
    ) -> Option<Result<Ticket, ()>> {
        let request_id = call.request_id;
        let (Some(dedup), Some(table), Some(key)) =
            (&rule.dedup, &self.dedup, alert.dedup_key.as_deref())
        else {
            return None;
        };
        let empty_part = if key.trim().is_empty() {
            Some(dedup.key.clone())
        } else {
            patrol_core::dedup::empty_key_part(
                &dedup.key,
                &patrol_core::alert::context(rule, call.event),
            )
        };
        if let Some(part) = empty_part {
            tracing::warn!(rule = %alert.rule, request_id, key = %dedup.key, empty_part = %part,
                "a part of the dedup key is empty on this event: sent without dedup, so that unrelated events do not share one window");
            return None;
        }
        let Some(time) = alert
            .time
            .as_deref()
            .and_then(patrol_core::date::unix_seconds)
        else {
            tracing::warn!(rule = %alert.rule, request_id, "event has no time: not deduplicated");
            return None;
        };
        let now = now_ms().div_euclid(1000);
        if time > now {
            tracing::warn!(rule = %alert.rule, request_id, event_time = time, now,
                "the event is dated in the future: its dedup window starts now");
        }
        let request = ClaimRequest {
            rule: &alert.rule,
            key,
            event_time: time.min(now),
            window_seconds: dedup.window_seconds,
            event_id: alert.event_id.as_deref(),
            now,
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
    async fn send(&self, rule: &Rule, alert: Box<Alert>, call: RuleCall<'_>) -> RuleRun {
        let sinks: Vec<&SinkConfig> = self.config.sinks(rule).collect();
        let outcomes = futures_util::future::join_all(
            sinks.iter().map(|sink| self.send_route(sink, &alert, call)),
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
            decided: Decided::Alert,
        }
    }

    async fn send_route(
        &self,
        sink: &SinkConfig,
        alert: &Alert,
        call: RuleCall<'_>,
    ) -> RouteOutcome {
        let (rule, route, kind) = (alert.rule.as_str(), sink.route(), sink.kind());
        let request_id = call.request_id;
        let delivery = call.event_id.map(|event_id| Delivery {
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
        let delivered = call
            .deadline
            .run(self.delivery.deliver(sink, alert))
            .await
            .unwrap_or_else(|timed_out| Err(timed_out.to_string()));
        match delivered {
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
