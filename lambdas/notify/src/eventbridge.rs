//! EventBridge invocations:
//!
//! - a feed: `{"patrol":{"feed":ID},"event":E}`, from one of the handler's EventBridge
//!   rules on the central bus (an input transformer wraps the event). The feed's pattern is
//!   a cover, broader than its rules, so each rule of the feed is decided here with the
//!   exact engine: its pattern, EventBridge's read-only delivery rule (read-only management
//!   events reach only `include_read_only` rules), its suppressions and its condition.
//! - a schedule group: `{"patrol":{"schedule":N},"event":E}`: every rule of the group
//!   fires (scheduled rules have no pattern or condition).
//! - a bare EventBridge event (no wrapper): every event rule of every feed decides, which
//!   is what the feeds together would do. For `cargo lambda invoke` and hand-made tests;
//!   the deployed rules always name their feed.

use futures_util::future::join_all;
use patrol_aws::sink::Deliver;
use patrol_core::alert::AlertError;
use patrol_core::manifest::Rule;
use patrol_core::rule::Verdict;
use serde::Serialize;
use serde_json::Value;

use crate::Notify;
use crate::deadline::Deadline;
use crate::delivery::{RuleCall, RuleResult, RuleRun, event_id};
use crate::failure::{NotifyError, check};

/// The result of an EventBridge invocation.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EventResponse {
    /// The feed that invoked the function (absent for a bare event and a schedule).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feed: Option<String>,
    /// The schedule group that invoked the function.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// The event's id, which the delivery ledger remembers deliveries by.
    pub event_id: Option<String>,
    /// Every rule the event reached (its pattern matched), in rule order; rules of the
    /// feed whose pattern did not match are not listed.
    pub rules: Vec<RuleResult>,
}

impl<D: Deliver + Sync, S: Sync> Notify<D, S> {
    pub async fn feed(
        &self,
        feed: &str,
        event: Value,
        request_id: &str,
        deadline: Deadline,
    ) -> Result<EventResponse, NotifyError> {
        let engine = self.config.feeds.get(feed).ok_or_else(|| {
            NotifyError::ConfigMismatch(format!(
                "feed `{feed}` is not in the config file {}: the deployed EventBridge rules and the function's config disagree (deploy them together)",
                self.config.source
            ))
        })?;
        let id = event_id(&event);
        let verdicts = engine.verdicts(event.clone(), &patrol_core::date::today());
        tracing::info!(
            feed,
            request_id,
            event_id = id.as_deref(),
            rules = engine.rules().len(),
            matched = verdicts.len(),
            "feed event"
        );
        let call = RuleCall {
            event: &event,
            event_id: id.as_deref(),
            request_id,
            deadline,
        };
        let rules = self.run_all(verdicts, call).await?;
        Ok(EventResponse {
            feed: Some(feed.to_owned()),
            schedule: None,
            event_id: id,
            rules,
        })
    }

    pub async fn schedule(
        &self,
        group: &str,
        event: Value,
        request_id: &str,
        deadline: Deadline,
    ) -> Result<EventResponse, NotifyError> {
        let rules = self.config.schedules.get(group).ok_or_else(|| {
            NotifyError::ConfigMismatch(format!(
                "schedule group `{group}` is not in the config file {}: the deployed schedules and the function's config disagree (deploy them together)",
                self.config.source
            ))
        })?;
        let id = event_id(&event);
        let today = patrol_core::date::today();
        let verdicts = rules
            .iter()
            .map(|r| (&r.rule, r.evaluate(&event, &today)))
            .collect();
        let call = RuleCall {
            event: &event,
            event_id: id.as_deref(),
            request_id,
            deadline,
        };
        let rules = self.run_all(verdicts, call).await?;
        Ok(EventResponse {
            feed: None,
            schedule: Some(group.to_owned()),
            event_id: id,
            rules,
        })
    }

    /// A bare EventBridge event: every feed's rules decide.
    pub async fn any_feed(
        &self,
        event: Value,
        request_id: &str,
        deadline: Deadline,
    ) -> Result<EventResponse, NotifyError> {
        let id = event_id(&event);
        let today = patrol_core::date::today();
        let verdicts = self
            .config
            .feeds
            .values()
            .flat_map(|engine| engine.verdicts(event.clone(), &today))
            .collect();
        let call = RuleCall {
            event: &event,
            event_id: id.as_deref(),
            request_id,
            deadline,
        };
        let rules = self.run_all(verdicts, call).await?;
        Ok(EventResponse {
            feed: None,
            schedule: None,
            event_id: id,
            rules,
        })
    }

    /// Every rule that decided, concurrently; an error if any of them failed (after all
    /// of them were tried).
    pub(crate) async fn run_all(
        &self,
        verdicts: Vec<(&Rule, Result<Verdict, AlertError>)>,
        call: RuleCall<'_>,
    ) -> Result<Vec<RuleResult>, NotifyError> {
        let runs: Vec<RuleRun> = join_all(
            verdicts
                .into_iter()
                .map(|(rule, verdict)| self.run_rule(rule, verdict, call)),
        )
        .await;
        check(&runs)?;
        Ok(runs.into_iter().map(|r| r.result).collect())
    }
}
