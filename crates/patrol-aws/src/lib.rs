//! What every Patrol Lambda function shares at run time, at the edge between the pure
//! core and AWS:
//!
//! - [`config`]: the handler's rules, routes, feeds and schedules, read once at cold
//!   start from its config file (`PATROL_CONFIG`), and its run-time resources from
//!   `PATROL_*` environment variables (both set by the CDK app), checked and compiled,
//!   with errors naming the bad variable or the file and the JSON path.
//! - [`sink`]: delivering an [`patrol_core::alert::Alert`] to one route; one file per
//!   sink: [`sns`] (SDK), [`slack`], [`pagerduty`], [`webhook`] (HTTP through [`http`]).
//! - [`secrets`]: Secrets Manager values, cached briefly per warm container.
//! - [`signature`]: HMAC signing (webhook sink) and verification (webhook triggers).
//! - The state table (DynamoDB): [`ledger`], which routes already accepted an alert (so a
//!   retry never sends it there twice), [`dedup`], the live dedup windows, and
//!   [`heartbeat`], when each forwarding account and region was last heard of, and
//!   [`webhook_deliveries`], the signed webhook requests already received (replays).
//! - [`metrics`]: CloudWatch metrics as embedded metric format lines on stdout.
//! - [`failure`]: the failure queue (SQS).
//!
//! SDK clients take endpoints from the SDK's standard configuration, so
//! `AWS_ENDPOINT_URL` points them at a local emulator with no test-only code path.
//!
//! Not here: what a rule means (patrol-core), handler logic (lambdas/).

pub mod config;
pub mod dedup;
pub mod failure;
pub mod heartbeat;
pub mod http;
pub mod ledger;
pub mod metrics;
pub mod pagerduty;
pub mod secrets;
pub mod signature;
pub mod sink;
pub mod slack;
pub mod sns;
pub mod webhook;
pub mod webhook_deliveries;
