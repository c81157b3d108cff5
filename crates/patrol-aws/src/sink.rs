//! Delivering an alert to one route's sink. Which routes a rule's alert goes to, the
//! delivery ledger and what a failure means are the handler's (`lambdas/notify`).

use std::future::Future;

use patrol_core::alert::Alert;

use crate::config::SinkConfig;
use crate::http::{HttpSender, check_url};
use crate::secrets::{SecretCache, SecretSource as _};
use crate::sns::SnsSink;
use crate::{pagerduty, slack, webhook};

/// Something that can publish to an SNS topic. The real one is [`crate::sns::SnsSink`].
pub trait SnsPublish {
    fn publish(
        &self,
        topic_arn: &str,
        alert: &Alert,
    ) -> impl Future<Output = Result<String, String>> + Send;
}

/// Something that delivers an alert to one sink, returning an id for what it sent (a
/// message id, a PagerDuty dedup key, an HTTP status). The real one is [`Sinks`].
pub trait Deliver {
    fn deliver(
        &self,
        sink: &SinkConfig,
        alert: &Alert,
    ) -> impl Future<Output = Result<String, String>> + Send;
}

/// The real sinks: SNS, and Slack, PagerDuty and webhooks over HTTP with their secrets.
#[derive(Debug, Clone)]
pub struct Sinks {
    pub sns: SnsSink,
    pub secrets: SecretCache,
    pub http: HttpSender,
    pub pagerduty_events_url: String,
}

impl Deliver for Sinks {
    async fn deliver(&self, sink: &SinkConfig, alert: &Alert) -> Result<String, String> {
        match sink {
            SinkConfig::Sns { topic_arn, .. } => self.sns.publish(topic_arn, alert).await,
            SinkConfig::Slack { secret, .. } => {
                let value = self.secrets.secret(secret).await?;
                slack::send(&self.http, secret, &value, alert).await
            }
            SinkConfig::Pagerduty { secret, .. } => {
                let value = self.secrets.secret(secret).await?;
                pagerduty::send(
                    &self.http,
                    &self.pagerduty_events_url,
                    secret,
                    &value,
                    alert,
                )
                .await
            }
            SinkConfig::Webhook { url, secret, .. } => {
                let url = check_url(url)?;
                let key = match secret {
                    Some(name) => Some(self.secrets.secret(name).await?.field("secret")),
                    None => None,
                };
                webhook::send(&self.http, &url, key.as_ref(), alert).await
            }
        }
    }
}
