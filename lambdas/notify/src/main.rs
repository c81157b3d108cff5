//! Bootstrap only: logging, config from env once, the SNS client once, then the runtime
//! loop. The handler is [`notify::handle`].

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use notify::Notify;
use patrol_aws::config::RuleConfig;
use patrol_aws::sns::SnsSink;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .without_time() // CloudWatch stamps every line
        .with_target(false)
        .init();
    let config =
        RuleConfig::from_env().inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let notify = Notify::new(config, SnsSink::from_env().await)
        .inspect_err(|e| tracing::error!(error = %e, "bad configuration"))?;
    let notify = &notify;
    run(service_fn(move |event: LambdaEvent<_>| {
        notify::handle(notify, event)
    }))
    .await
}
