//! End-to-end tests: the real `notify` Lambda binary behind a local Runtime API, talking
//! to SNS, SQS, DynamoDB and Secrets Manager on a local moto server through the real AWS
//! SDK, configured with a config file exactly as the CDK app configures the deployed
//! function (its stdout read for log and metric lines); and the `patrol` CLI as users run it.
//!
//! Needs `.venv/bin/moto_server`, `target/debug/notify` and `target/debug/patrol`
//! (`make test` provides them).

mod audit;
mod cli;
mod deadline;
mod dedup;
mod dedup_time;
mod degraded;
mod failure_record;
mod fixtures;
mod github;
mod heartbeat;
mod ledger;
mod metrics;
mod notify;
mod replay;
mod rotation;
mod routes;
mod sns;
mod suppress_expiry;
mod webhook;
mod webhook_abuse;
