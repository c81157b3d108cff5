//! The bootstrap every handler's `main` calls: logging, the config file and environment
//! once, SDK clients, the secret cache and the HTTP client once, then the Lambda runtime
//! loop with [`crate::handle`].

use lambda_runtime::{Error, LambdaEvent, service_fn};
use patrol_aws::config::{HandlerConfig, sdk_timeouts};
use patrol_aws::dedup::{DedupTable, in_flight};
use patrol_aws::failure::FailureQueue;
use patrol_aws::heartbeat::HeartbeatTable;
use patrol_aws::http::HttpSender;
use patrol_aws::ledger::Ledger;
use patrol_aws::secrets::SecretCache;
use patrol_aws::sink::Sinks;
use patrol_aws::sns::SnsSink;
use patrol_aws::webhook_deliveries::WebhookDeliveries;

use crate::{Handler, Runtime};

/// Runs `handler` as this Lambda function until the runtime stops it. A configuration
/// problem is logged and returned (the cold start fails, naming it).
pub async fn run<H: Handler>(handler: H) -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .without_time() // CloudWatch stamps every line
        .with_target(false)
        .init();
    let config = HandlerConfig::from_env(H::NAME)
        .inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    tracing::info!(handler = H::NAME, config = %config.source, rules = config.rule_count(),
        feeds = config.feeds.len(), schedules = config.schedules.len(),
        regions = config.regions.len(),
        function_timeout_seconds = config.function_timeout.as_secs(), "configured");
    if config.state_table.is_none() {
        tracing::warn!(
            "no state table: a retried event may send an alert again to a route that already accepted it, and heartbeats and the watchdog fail"
        );
    }
    // One SDK configuration for every client, the handler's included: region, credentials
    // and the `AWS_ENDPOINT_URL*` overrides from the standard environment, and timeouts, so
    // a service that never answers cannot hold an invocation past its deadline.
    let aws = aws_config::from_env()
        .timeout_config(sdk_timeouts())
        .load()
        .await;
    let secrets = SecretCache::new(aws_sdk_secretsmanager::Client::new(&aws));
    let http =
        HttpSender::new().inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let sinks = Sinks {
        sns: SnsSink::new(aws_sdk_sns::Client::new(&aws)),
        secrets: secrets.clone(),
        http,
        pagerduty_events_url: config.pagerduty_events_url.clone(),
    };
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let dedup = config.state_table.clone().map(|t| {
        DedupTable::new(dynamodb.clone(), t).with_in_flight(in_flight(config.function_timeout))
    });
    let ledger = config
        .state_table
        .clone()
        .map(|t| Ledger::new(dynamodb.clone(), t));
    let heartbeats = config
        .state_table
        .clone()
        .map(|t| HeartbeatTable::new(dynamodb.clone(), t));
    let webhook_deliveries = config
        .state_table
        .clone()
        .map(|t| WebhookDeliveries::new(dynamodb.clone(), t));
    let failure_queue = config
        .failure_queue_url
        .clone()
        .map(|u| FailureQueue::new(aws_sdk_sqs::Client::new(&aws), u));
    let runtime = Runtime::new(handler, aws, config, sinks, secrets)
        .with_dedup(dedup)
        .with_ledger(ledger)
        .with_heartbeats(heartbeats)
        .with_failure_queue(failure_queue)
        .with_webhook_deliveries(webhook_deliveries);
    let runtime = &runtime;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| {
        crate::handle(runtime, event)
    }))
    .await
}
