//! The SNS sink, on the real `aws-sdk-sns` client.

use aws_sdk_sns::Client;
use aws_sdk_sns::error::ProvideErrorMetadata as _;
use aws_sdk_sns::types::MessageAttributeValue;
use patrol_core::alert::Alert;

use crate::sink::SnsPublish;

#[derive(Debug, Clone)]
pub struct SnsSink {
    client: Client,
}

impl SnsSink {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// A client from the SDK's standard configuration (region, credentials, and
    /// `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_SNS` endpoint overrides).
    pub async fn from_env() -> Self {
        let config = aws_config::load_from_env().await;
        Self::new(Client::new(&config))
    }
}

fn attribute(value: &str) -> Option<MessageAttributeValue> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .ok()
}

impl SnsPublish for SnsSink {
    async fn publish(&self, topic_arn: &str, alert: &Alert) -> Result<String, String> {
        let mut req = self
            .client
            .publish()
            .topic_arn(topic_arn)
            .subject(alert.subject())
            .message(alert.text());
        // Attributes let subscribers filter (e.g. page only on critical).
        for (name, value) in [
            ("rule", alert.rule.as_str()),
            ("severity", alert.severity.as_str()),
        ] {
            if let Some(v) = attribute(value) {
                req = req.message_attributes(name, v);
            }
        }
        let out = req
            .send()
            .await
            .map_err(|e| match (e.code(), e.message()) {
                // A service answer: its code and message say it all.
                (Some(code), message) => format!("{code}: {}", message.unwrap_or("(no message)")),
                // Timeouts, DNS, TLS, ...: the whole chain of causes.
                (None, _) => aws_sdk_sns::error::DisplayErrorContext(e).to_string(),
            })?;
        Ok(out.message_id().unwrap_or_default().to_owned())
    }
}
