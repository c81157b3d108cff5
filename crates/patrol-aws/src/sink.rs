//! Delivering an alert to every sink of its rule. Every sink is tried (concurrently), and
//! a failed one fails the delivery afterwards (so Lambda retries the invocation and, in
//! the end, dead-letters it); the error says exactly what was and was not delivered.

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

#[derive(Debug, thiserror::Error)]
#[error("alert for rule `{rule}` not delivered to {failed:?} (delivered to {delivered:?})")]
pub struct DeliveryError {
    pub rule: String,
    pub delivered: Vec<String>,
    pub failed: Vec<(String, String)>,
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

/// Ids of what was sent, one per sink, in the sinks' order.
pub async fn deliver<D: Deliver + Sync>(
    d: &D,
    sinks: &[SinkConfig],
    alert: &Alert,
) -> Result<Vec<String>, DeliveryError> {
    let results = futures_util::future::join_all(sinks.iter().map(|s| d.deliver(s, alert))).await;
    let mut delivered = Vec::new();
    let mut ids = Vec::new();
    let mut failed = Vec::new();
    for (sink, result) in sinks.iter().zip(results) {
        let route = sink.route();
        let kind = sink.kind();
        match result {
            Ok(id) => {
                tracing::info!(rule = %alert.rule, route, sink = kind, id = %id, "alert delivered");
                delivered.push(route.to_owned());
                ids.push(id);
            }
            Err(e) => {
                tracing::error!(rule = %alert.rule, route, sink = kind, error = %e, "alert delivery failed");
                failed.push((route.to_owned(), e));
            }
        }
    }
    if failed.is_empty() {
        Ok(ids)
    } else {
        Err(DeliveryError {
            rule: alert.rule.clone(),
            delivered,
            failed,
        })
    }
}
