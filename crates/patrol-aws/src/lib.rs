//! What every Patrol Lambda function shares at run time, at the edge between the pure
//! core and AWS:
//!
//! - [`config`]: the function's rule and sinks, read once at cold start from `PATROL_*`
//!   environment variables (set by the CDK app), with errors naming the bad variable.
//! - [`sink`]: delivering an [`patrol_core::alert::Alert`] to its routes; [`sns`] is the
//!   SNS sink on the real SDK (endpoints from the SDK's standard configuration, so
//!   `AWS_ENDPOINT_URL` points it at a local emulator with no test-only code path).
//!
//! Not here: what a rule means (patrol-core), handler logic (lambdas/).

pub mod config;
pub mod sink;
pub mod sns;
