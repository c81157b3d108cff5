//! The failure queue: where a synchronously invoked function (a webhook trigger's function
//! URL, which Lambda never retries) puts the event, the alert and the error it could not
//! deliver, so the alert is not lost. The same SQS queue is the asynchronous functions'
//! on-failure destination, so operators watch one place.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::ProvideErrorMetadata as _;
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct FailureQueue {
    client: Client,
    url: String,
}

impl FailureQueue {
    pub fn new(client: Client, url: String) -> Self {
        Self { client, url }
    }

    /// Sends one record; the message id on success.
    pub async fn send(&self, record: &Value) -> Result<String, String> {
        let out = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(record.to_string())
            .send()
            .await
            .map_err(|e| match (e.code(), e.message()) {
                (Some(code), m) => format!("{code}: {}", m.unwrap_or("(no message)")),
                (None, _) => aws_sdk_sqs::error::DisplayErrorContext(e).to_string(),
            })?;
        Ok(out.message_id().unwrap_or_default().to_owned())
    }
}
