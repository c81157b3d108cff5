//! Webhook requests already received, in the state table next to the ledger and the dedup
//! windows, so a captured request replayed later raises no second alert.
//!
//! One item per signed request a webhook rule accepted, `pk = "webhook#<rule>#<digest>"`,
//! the digest being the SHA-256 of what the signature covers
//! ([`crate::signature::signed_digest`]): GitHub's body, the generic scheme's timestamp and
//! body. GitHub's `X-GitHub-Delivery` is kept in the item (`delivery_id`) but is not the
//! key: it is not signed, so a replay could carry a fresh one, while the signed content
//! cannot change without the secret. Items expire (`expires_at`, the table's TTL
//! attribute) after the time a replay is possible: GitHub signs no time, so its requests
//! are remembered for [`KEEP_UNTIMED`]; generic requests are rejected outside their
//! signed timestamp's window anyway, so [`KEEP_TIMED`] covers it.
//!
//! A request whose alert could not be delivered is forgotten again
//! ([`WebhookDeliveries::forget`]), so that the sender's redelivery is processed; the
//! delivery ledger keeps routes that did accept it from getting it twice. Errors are the
//! caller's to fail open on.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::dedup::describe;

/// How long a request with no signed time is remembered.
pub const KEEP_UNTIMED: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long a request with a signed timestamp is remembered: twice the replay window.
pub const KEEP_TIMED: Duration = Duration::from_secs(2 * 5 * 60);

/// What the table said about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// Not seen before: process it; [`WebhookDeliveries::forget`] it if that fails.
    First(Receipt),
    /// Already received: a replay (or a redelivery of a request already processed).
    Again,
}

/// A request this invocation recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub pk: String,
}

/// One signed request.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub rule: &'a str,
    /// [`crate::signature::signed_digest`].
    pub digest: &'a str,
    /// `X-GitHub-Delivery`, kept for whoever investigates.
    pub delivery_id: Option<&'a str>,
    /// Unix seconds.
    pub now: i64,
    pub keep: Duration,
}

#[derive(Debug, Clone)]
pub struct WebhookDeliveries {
    client: Client,
    table: String,
}

impl WebhookDeliveries {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    /// Records the request unless it was received before (one conditional write).
    pub async fn receive(&self, req: Request<'_>) -> Result<Received, String> {
        let pk = format!("webhook#{}#{}", req.rule, req.digest);
        let keep = i64::try_from(req.keep.as_secs()).unwrap_or(i64::MAX);
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(pk.clone()))
            .item(
                "expires_at",
                AttributeValue::N(req.now.saturating_add(keep).to_string()),
            )
            .item("received_at", AttributeValue::N(req.now.to_string()))
            .condition_expression("attribute_not_exists(pk)");
        if let Some(id) = req.delivery_id {
            put = put.item("delivery_id", AttributeValue::S(id.to_owned()));
        }
        match put.send().await {
            Ok(_) => Ok(Received::First(Receipt { pk })),
            Err(e) => {
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception())
                {
                    return Ok(Received::Again);
                }
                Err(describe(&self.context(), e))
            }
        }
    }

    /// Forgets a request whose alert was not delivered, so its redelivery is processed.
    pub async fn forget(&self, receipt: &Receipt) -> Result<(), String> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(receipt.pk.clone()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| describe(&self.context(), e))
    }

    fn context(&self) -> String {
        format!("webhook deliveries in table `{}`", self.table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::tests::{Seen, fake_dynamodb, only_request};

    fn deliveries(status: u16, body: &'static str) -> (WebhookDeliveries, Seen) {
        let (client, seen) = fake_dynamodb(status, body);
        (WebhookDeliveries::new(client, "patrol-state".into()), seen)
    }

    const REQUEST: Request<'static> = Request {
        rule: "github-repo-publicized",
        digest: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        delivery_id: Some("72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        now: 1_793_520_000,
        keep: KEEP_UNTIMED,
    };

    #[tokio::test]
    async fn a_first_request_is_recorded_by_its_signed_digest() {
        let (d, seen) = deliveries(200, "{}");
        let received = d.receive(REQUEST).await.expect("recorded");
        let pk = format!("webhook#github-repo-publicized#{}", REQUEST.digest);
        assert_eq!(received, Received::First(Receipt { pk: pk.clone() }));
        let (target, body) = only_request(&seen);
        assert_eq!(target, "DynamoDB_20120810.PutItem");
        assert_eq!(body["Item"]["pk"]["S"], pk.as_str());
        assert_eq!(
            body["Item"]["delivery_id"]["S"],
            "72d3162e-cc78-11e3-81ab-4c9367dc0958"
        );
        assert_eq!(
            body["Item"]["expires_at"]["N"],
            (1_793_520_000 + 30 * 86_400).to_string()
        );
        assert_eq!(body["ConditionExpression"], "attribute_not_exists(pk)");
    }

    #[tokio::test]
    async fn a_request_seen_before_is_received_again() {
        let (d, _) = deliveries(
            400,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}"#,
        );
        assert_eq!(d.receive(REQUEST).await, Ok(Received::Again));
    }

    #[tokio::test]
    async fn forget_deletes_the_item() {
        let (d, seen) = deliveries(200, "{}");
        d.forget(&Receipt {
            pk: "webhook#r#x".into(),
        })
        .await
        .expect("forgotten");
        let (target, body) = only_request(&seen);
        assert_eq!(target, "DynamoDB_20120810.DeleteItem");
        assert_eq!(body["Key"]["pk"]["S"], "webhook#r#x");
    }
}
