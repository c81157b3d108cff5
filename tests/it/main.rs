//! End-to-end tests: the real `notify` Lambda binary behind a local Runtime API, talking
//! to SNS and SQS on a local moto server through the real AWS SDK, configured from the
//! real rules.toml exactly as the CDK app configures the deployed function.
//!
//! Needs `.venv/bin/moto_server`, `target/debug/notify` and `target/debug/patrol`
//! (`make test` provides them).

mod cli;
mod notify;
mod replay;
mod routes;
