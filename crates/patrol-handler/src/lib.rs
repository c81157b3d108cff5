//! Patrol's handler SDK: everything a rule function does except deciding what its rules
//! look at. A handler crate under `lambdas/` implements [`Handler`] and its `main` calls
//! [`run`]; this crate reads the config once, tells invocations apart, runs the handler
//! for each rule an invocation reaches and does the rest for every event it returns.
//!
//! - [`handler`]: the [`Handler`] trait, its [`Context`] and [`HandlerError`];
//!   [`testing`], a [`Context`] for a handler's unit tests.
//! - [`run()`]: the bootstrap (logging, config file and environment, SDK clients, the
//!   Lambda runtime loop).
//! - [`dispatch`]: what invoked the function, and the response ([`Output`]).
//! - [`eventbridge`]: a feed (`{"patrol":{"feed":ID},"event":E}`: the rules of that cover
//!   whose exact pattern matches, with EventBridge's read-only delivery), a schedule group
//!   (`{"patrol":{"schedule":N},"event":E}`: every rule of the group), or a bare
//!   EventBridge event (every event rule; for `cargo lambda invoke`).
//! - [`heartbeat`]: a member account's and region's heartbeat
//!   (`{"patrol":{"heartbeat":{}},"event":E}`), recorded in the state table and counted as
//!   the metric `Patrol/Heartbeats`.
//! - [`watchdog`]: `{"patrol":{"watchdog":{"silent_after_seconds":N}},"event":E}` on a
//!   schedule: the accounts and regions silent for N seconds, logged at error level and
//!   counted as `Patrol/SilentForwarders` (metrics are EMF lines on stdout,
//!   [`patrol_aws::metrics`]).
//! - [`sns`]: each record of an SNS event, to the rules of its topic whose filter policy
//!   matches.
//! - [`webhook`]: a function URL request, to the webhook rule named by its path
//!   (`/<rule id>`): size, signature headers, signature (rotation-aware) and replays
//!   checked, in that order.
//! - [`delivery`]: one rule of an invocation: its handler's events, each decided by the
//!   rule (suppressions, condition, template), then its dedup window and every route
//!   through the delivery ledger, so a retried event never reaches a route twice;
//!   [`degraded`], the alert a rule whose condition or template failed on the event sends
//!   instead; [`deadline`], when work must stop so that what failed is recorded before
//!   Lambda stops the invocation.
//! - [`metrics`]: per rule an invocation touched, one EMF line (`Handler`, `Rule`).
//! - [`failure`]: what failed, as the invocation's error (naming each rule and route) and
//!   as the failure queue's record.
//!
//! How each trigger fails: EventBridge, schedules and SNS invoke asynchronously, so an
//! error (a `lambda_runtime::Diagnostic`) makes Lambda retry and then send the event to
//! the on-failure destination. Every selected rule and every route is tried before the
//! error is returned, and the retry skips the routes that already accepted their alert. A
//! handler's error fails its rule like a route that failed: the other rules still run. A
//! rule's condition or template failing on an event is not retried (it would fail the
//! same way): a degraded alert goes out instead. A function URL is synchronous and never
//! retried: the runtime answers 413 (body too large), 404 (no such webhook rule), 401 (bad
//! signature), 400 (malformed signature header, body not JSON), 409 (a replayed request)
//! or 500, and puts what it could not deliver on the failure queue itself.
//!
//! Dedup and the ledger fail open: if the state table cannot be reached, the alert is sent.
//! Heartbeats and the watchdog cannot: without the table they fail
//! (`Patrol.NoStateTable`, `Patrol.StateTableFailed`).

pub mod deadline;
pub mod degraded;
pub mod delivery;
pub mod dispatch;
pub mod eventbridge;
pub mod failure;
pub mod handler;
pub mod heartbeat;
pub mod metrics;
mod run;
pub mod sns;
pub mod testing;
pub mod watchdog;
pub mod webhook;

use patrol_aws::config::HandlerConfig;
use patrol_aws::dedup::DedupTable;
use patrol_aws::failure::FailureQueue;
use patrol_aws::heartbeat::HeartbeatTable;
use patrol_aws::ledger::Ledger;
use patrol_aws::webhook_deliveries::WebhookDeliveries;

pub use deadline::Deadline;
pub use delivery::{DUPLICATE, RuleResult};
pub use dispatch::{Output, handle};
pub use failure::RuntimeError;
pub use handler::{Context, Handler, HandlerError};
/// What [`run`] returns: a handler's `main` returns it too.
pub use lambda_runtime::Error;
pub use run::run;

/// What the function needs, built once at cold start: the handler `H`, the sinks `D`
/// alerts are delivered through and the secrets `S` webhook signatures are checked with.
#[derive(Debug)]
pub struct Runtime<H, D, S> {
    pub handler: H,
    /// Passed to the handler ([`Context::aws`]).
    pub aws: aws_config::SdkConfig,
    /// The handler's rules, compiled and grouped by how they are invoked, and its routes.
    pub config: HandlerConfig,
    pub delivery: D,
    /// Resolves webhook triggers' signing secrets.
    pub secrets: S,
    pub dedup: Option<DedupTable>,
    pub ledger: Option<Ledger>,
    /// Heartbeats and the watchdog need it; `None` without a state table.
    pub heartbeats: Option<HeartbeatTable>,
    pub failure_queue: Option<FailureQueue>,
    /// Signed webhook requests already received; `None` without a state table.
    pub webhook_deliveries: Option<WebhookDeliveries>,
}

impl<H: Handler, D, S> Runtime<H, D, S> {
    pub fn new(
        handler: H,
        aws: aws_config::SdkConfig,
        config: HandlerConfig,
        delivery: D,
        secrets: S,
    ) -> Self {
        Self {
            handler,
            aws,
            config,
            delivery,
            secrets,
            dedup: None,
            ledger: None,
            heartbeats: None,
            failure_queue: None,
            webhook_deliveries: None,
        }
    }

    pub fn with_dedup(mut self, table: Option<DedupTable>) -> Self {
        self.dedup = table;
        self
    }

    pub fn with_ledger(mut self, ledger: Option<Ledger>) -> Self {
        self.ledger = ledger;
        self
    }

    pub fn with_heartbeats(mut self, table: Option<HeartbeatTable>) -> Self {
        self.heartbeats = table;
        self
    }

    pub fn with_failure_queue(mut self, queue: Option<FailureQueue>) -> Self {
        self.failure_queue = queue;
        self
    }

    pub fn with_webhook_deliveries(mut self, deliveries: Option<WebhookDeliveries>) -> Self {
        self.webhook_deliveries = deliveries;
        self
    }
}

#[cfg(test)]
mod tests;
