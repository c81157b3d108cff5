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

/// SNS's limit on a message, attributes included: 256 KiB.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// The message attributes (subscribers filter on them, e.g. page only on critical).
fn attributes(alert: &Alert) -> [(&'static str, &str); 2] {
    [
        ("rule", alert.rule.as_str()),
        ("severity", alert.severity.as_str()),
    ]
}

/// The subject and text body published: the text is cut, largest fields first and saying
/// so ([`Alert::fit`]), so that with the subject and attributes it stays within
/// [`MAX_MESSAGE_BYTES`].
pub fn message(alert: &Alert) -> (String, String) {
    let subject = alert.subject();
    let attributes: usize = attributes(alert)
        .iter()
        .map(|(name, value)| name.len() + "String".len() + value.len())
        .sum();
    let budget = MAX_MESSAGE_BYTES.saturating_sub(subject.len() + attributes);
    let text = alert.fit(budget, |a| a.text().len()).text();
    (subject, text)
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
        let (subject, text) = message(alert);
        let mut req = self
            .client
            .publish()
            .topic_arn(topic_arn)
            .subject(subject)
            .message(text);
        for (name, value) in attributes(alert) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slack::tests::{alert, huge_alert};

    /// A template that renders a huge event field: subject, text and attributes stay
    /// under SNS's limit, and the text says what was cut.
    #[test]
    fn huge_template_output_is_cut_to_snss_limit() {
        let a = huge_alert();
        let (subject, text) = message(&a);
        let attributes: usize = attributes(&a)
            .iter()
            .map(|(name, value)| name.len() + "String".len() + value.len())
            .sum();
        let total = subject.len() + text.len() + attributes;
        assert!(total <= MAX_MESSAGE_BYTES, "{total}");
        assert!(text.len() > MAX_MESSAGE_BYTES - 10_000, "{}", text.len());
        assert!(text.contains("… (truncated: "), "cut without saying so");
        assert!(text.contains("\nRule:     huge-field ("));
        assert!(text.contains("\nReferences: T1078.004 (https://attack.mitre.org/techniques/T1078/004/), CIS-AWS-1.7, https://docs.aws.amazon.com/"));
    }

    #[test]
    fn small_alerts_are_sent_whole_with_a_references_line() {
        let (subject, text) = message(&alert());
        assert_eq!(subject, alert().subject());
        assert_eq!(text, alert().text());
        assert!(
            text.ends_with("References: T1078.004 (https://attack.mitre.org/techniques/T1078/004/), CIS-AWS-1.7\n"),
            "{text}"
        );
    }
}
