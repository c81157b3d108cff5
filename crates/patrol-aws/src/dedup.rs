//! Live alert deduplication in DynamoDB, with the same windows as
//! `patrol_core::dedup::Windows` (event time; a window opens at the first alert for a key
//! and lasts `window_seconds`; duplicates do not extend it).
//!
//! One conditional `PutItem` per alert: `pk = "<rule id>#<dedup key>"`, `expires_at =
//! event time + window` (also the table's TTL attribute), on condition
//! `attribute_not_exists(pk) OR expires_at <= :event_time`. A failed condition means an
//! open window: a duplicate. Any other error is the caller's to fail open on.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata as _;
use aws_sdk_dynamodb::types::AttributeValue;

/// What the table said about an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First alert in its window: send it. `expires_at` releases the claim if delivery fails.
    First { pk: String, expires_at: i64 },
    /// Inside an open window: do not send.
    Duplicate,
}

#[derive(Debug, Clone)]
pub struct DedupTable {
    client: Client,
    table: String,
}

pub fn partition_key(rule: &str, key: &str) -> String {
    format!("{rule}#{key}")
}

impl DedupTable {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub async fn claim(
        &self,
        rule: &str,
        key: &str,
        event_time: i64,
        window_seconds: u64,
        event_id: Option<&str>,
    ) -> Result<Claim, String> {
        let pk = partition_key(rule, key);
        let window = i64::try_from(window_seconds).unwrap_or(i64::MAX);
        let expires_at = event_time.saturating_add(window);
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(pk.clone()))
            .item("expires_at", AttributeValue::N(expires_at.to_string()))
            .condition_expression("attribute_not_exists(pk) OR expires_at <= :event_time")
            .expression_attribute_values(":event_time", AttributeValue::N(event_time.to_string()));
        if let Some(id) = event_id {
            req = req.item("event_id", AttributeValue::S(id.to_owned()));
        }
        match req.send().await {
            Ok(_) => Ok(Claim::First { pk, expires_at }),
            Err(e) => {
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception())
                {
                    return Ok(Claim::Duplicate);
                }
                Err(describe(&self.table, e))
            }
        }
    }

    /// Undoes a claim whose alert could not be delivered, so the retried invocation sends
    /// it (only if the window is still the one this invocation opened).
    pub async fn release(&self, pk: &str, expires_at: i64) -> Result<(), String> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .condition_expression("expires_at = :mine")
            .expression_attribute_values(":mine", AttributeValue::N(expires_at.to_string()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| describe(&self.table, e))
    }
}

fn describe<E, R>(table: &str, e: aws_sdk_dynamodb::error::SdkError<E, R>) -> String
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match (e.code(), e.message()) {
        (Some(code), m) => format!(
            "dedup table `{table}`: {code}: {}",
            m.unwrap_or("(no message)")
        ),
        (None, _) => format!(
            "dedup table `{table}`: {}",
            aws_sdk_dynamodb::error::DisplayErrorContext(e)
        ),
    }
}
