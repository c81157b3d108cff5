//! What every Patrol Lambda function shares at run time, at the edge between the pure
//! core and AWS:
//!
//! - [`config`]: the function's rule, sinks and run-time resources, read once at cold
//!   start from `PATROL_*` environment variables (set by the CDK app), with errors naming
//!   the bad variable.
//! - [`sink`]: delivering an [`patrol_core::alert::Alert`] to every route; one file per
//!   sink: [`sns`] (SDK), [`slack`], [`pagerduty`], [`webhook`] (HTTP through [`http`]).
//! - [`secrets`]: Secrets Manager values, cached briefly per warm container.
//! - [`signature`]: HMAC signing (webhook sink) and verification (webhook triggers).
//! - [`dedup`]: the live dedup windows in DynamoDB; [`failure`]: the failure queue (SQS).
//!
//! SDK clients take endpoints from the SDK's standard configuration, so
//! `AWS_ENDPOINT_URL` points them at a local emulator with no test-only code path.
//!
//! Not here: what a rule means (patrol-core), handler logic (lambdas/).

pub mod config;
pub mod dedup;
pub mod failure;
pub mod http;
pub mod pagerduty;
pub mod secrets;
pub mod signature;
pub mod sink;
pub mod slack;
pub mod sns;
pub mod webhook;
