//! EventBridge invocations:
//!
//! - a feed: `{"patrol":{"feed":ID},"event":E}`, from one of the handler's EventBridge
//!   rules on the central bus (an input transformer wraps the event). The feed's pattern is
//!   a cover, broader than its rules, so each rule of the feed is decided here with the
//!   exact engine: its pattern, EventBridge's read-only delivery rule (read-only management
//!   events reach only `include_read_only` rules), its suppressions and its condition.
//! - a schedule group: `{"patrol":{"schedule":N},"event":E}`: every rule of the group
//!   runs (scheduled rules have no pattern).
//!
//! Each rule reached runs its handler and decides on the events it returns
//! ([`crate::delivery`]).
//! - a bare EventBridge event (no wrapper): every event rule of every feed decides, which
//!   is what the feeds together would do. For `cargo lambda invoke` and hand-made tests;
//!   the deployed rules always name their feed.

use futures_util::future::join_all;
use patrol_aws::sink::Deliver;
use patrol_core::rule::CompiledRule;
use serde::Serialize;
use serde_json::Value;

use crate::Runtime;
use crate::deadline::Deadline;
use crate::delivery::{RuleCall, RuleResult, RuleRun, event_id};
use crate::failure::{RuntimeError, check};
use crate::handler::Handler;
use crate::metrics::Metrics;

/// What an invocation passes down to its rules, besides the event.
#[derive(Debug, Clone, Copy)]
pub struct Invoked<'a> {
    pub request_id: &'a str,
    pub deadline: Deadline,
    pub metrics: &'a Metrics,
}

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
    /// Every rule the event reached (its pattern matched), in rule order, one entry per
    /// event its handler returned; rules of the feed whose pattern did not match are not
    /// listed.
    pub rules: Vec<RuleResult>,
}

impl<H: Handler, D: Deliver + Sync, S: Sync> Runtime<H, D, S> {
    pub async fn feed(
        &self,
        feed: &str,
        event: Value,
        inv: Invoked<'_>,
    ) -> Result<EventResponse, RuntimeError> {
        let engine = self.config.feeds.get(feed).ok_or_else(|| {
            RuntimeError::ConfigMismatch(format!(
                "feed `{feed}` is not in the config file {}: the deployed EventBridge rules and the function's config disagree (deploy them together)",
                self.config.source
            ))
        })?;
        let id = event_id(&event);
        let matched = engine.matching(&event);
        tracing::info!(
            feed,
            request_id = inv.request_id,
            event_id = id.as_deref(),
            rules = engine.rules().len(),
            matched = matched.len(),
            "feed event"
        );
        let rules = self.run_all(matched, &event, inv).await?;
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
        inv: Invoked<'_>,
    ) -> Result<EventResponse, RuntimeError> {
        let rules = self.config.schedules.get(group).ok_or_else(|| {
            RuntimeError::ConfigMismatch(format!(
                "schedule group `{group}` is not in the config file {}: the deployed schedules and the function's config disagree (deploy them together)",
                self.config.source
            ))
        })?;
        let id = event_id(&event);
        tracing::info!(
            schedule = group,
            request_id = inv.request_id,
            event_id = id.as_deref(),
            rules = rules.len(),
            "scheduled run"
        );
        let rules = self.run_all(rules.iter().collect(), &event, inv).await?;
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
        inv: Invoked<'_>,
    ) -> Result<EventResponse, RuntimeError> {
        let id = event_id(&event);
        let matched = self
            .config
            .feeds
            .values()
            .flat_map(|rules| rules.matching(&event))
            .collect();
        let rules = self.run_all(matched, &event, inv).await?;
        Ok(EventResponse {
            feed: None,
            schedule: None,
            event_id: id,
            rules,
        })
    }

    /// Every rule `event` reached, concurrently; an error if any of them failed (after
    /// all of them were tried).
    pub(crate) async fn run_all(
        &self,
        rules: Vec<&CompiledRule>,
        event: &Value,
        inv: Invoked<'_>,
    ) -> Result<Vec<RuleResult>, RuntimeError> {
        let id = event_id(event);
        let today = patrol_core::date::today();
        let call = RuleCall {
            event,
            event_id: id.as_deref(),
            request_id: inv.request_id,
            deadline: inv.deadline,
            today: &today,
            metrics: inv.metrics,
        };
        let runs: Vec<RuleRun> = join_all(rules.into_iter().map(|rule| self.run_rule(rule, call)))
            .await
            .into_iter()
            .flatten()
            .collect();
        check(&runs)?;
        Ok(runs.into_iter().map(|r| r.result).collect())
    }
}
