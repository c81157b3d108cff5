//! Delivering an alert to every sink of its rule. A failed sink fails the delivery (so
//! Lambda retries the invocation and, in the end, dead-letters it); the sinks that did
//! succeed are reported, so the error says exactly what was and was not delivered.

use std::future::Future;

use patrol_core::alert::Alert;

use crate::config::SinkConfig;

/// Something that can publish to an SNS topic. The real one is [`crate::sns::SnsSink`].
pub trait SnsPublish {
    fn publish(
        &self,
        topic_arn: &str,
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

/// Ids of the messages published, one per sink.
pub async fn deliver<P: SnsPublish>(
    sns: &P,
    sinks: &[SinkConfig],
    alert: &Alert,
) -> Result<Vec<String>, DeliveryError> {
    let mut delivered = Vec::new();
    let mut ids = Vec::new();
    let mut failed = Vec::new();
    for sink in sinks {
        match sink {
            SinkConfig::Sns { route, topic_arn } => match sns.publish(topic_arn, alert).await {
                Ok(id) => {
                    tracing::info!(rule = %alert.rule, route, message_id = %id, "alert delivered");
                    delivered.push(route.clone());
                    ids.push(id);
                }
                Err(e) => {
                    tracing::error!(rule = %alert.rule, route, error = %e, "alert delivery failed");
                    failed.push((route.clone(), e));
                }
            },
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
