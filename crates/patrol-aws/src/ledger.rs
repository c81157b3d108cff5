//! The delivery ledger, in the state table next to the dedup windows: one item per alert a
//! route accepted, `pk = "sent#<rule>#<route>#<event id>"`, with `expires_at` (now +
//! [`KEEP`], the table's TTL attribute), `message_id` (what the route answered) and
//! `sent_at`.
//!
//! Before sending rule R's alert for event E to route T the function reads the item
//! (consistently) and skips T when it is there; after T accepted the alert it writes it.
//! So when one route fails and the invocation is retried, the routes that already accepted
//! the alert do not get it twice. Errors are the caller's to fail open on (send anyway):
//! a duplicate alert is better than a lost one.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::dedup::describe;

/// How long a delivery is remembered: longer than Lambda's asynchronous retries (up to 6
/// hours) and EventBridge's (up to 24 hours), after which a retry cannot come.
pub const KEEP: Duration = Duration::from_secs(2 * 24 * 3600);

/// One alert to one route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery<'a> {
    pub rule: &'a str,
    pub route: &'a str,
    /// The event's id: EventBridge's `id`, the SNS message id, the webhook delivery id.
    pub event_id: &'a str,
}

impl Delivery<'_> {
    pub fn key(&self) -> String {
        format!("sent#{}#{}#{}", self.rule, self.route, self.event_id)
    }
}

#[derive(Debug, Clone)]
pub struct Ledger {
    client: Client,
    table: String,
}

impl Ledger {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    /// Whether the route already accepted this alert.
    pub async fn was_sent(&self, delivery: Delivery<'_>) -> Result<bool, String> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(delivery.key()))
            .consistent_read(true)
            .projection_expression("pk")
            .send()
            .await
            .map_err(|e| describe(&self.context(), e))?;
        Ok(out.item().is_some_and(|item| !item.is_empty()))
    }

    /// Records that the route accepted the alert (`message_id` is what it answered); `now`
    /// is unix seconds.
    pub async fn record(
        &self,
        delivery: Delivery<'_>,
        message_id: &str,
        now: i64,
    ) -> Result<(), String> {
        let keep = i64::try_from(KEEP.as_secs()).unwrap_or(i64::MAX);
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(delivery.key()))
            .item(
                "expires_at",
                AttributeValue::N(now.saturating_add(keep).to_string()),
            )
            .item("sent_at", AttributeValue::N(now.to_string()))
            .item("message_id", AttributeValue::S(message_id.to_owned()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| describe(&self.context(), e))
    }

    fn context(&self) -> String {
        format!("delivery ledger in table `{}`", self.table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::tests::{Seen, fake_dynamodb, only_request};

    const DELIVERY: Delivery<'static> = Delivery {
        rule: "root-console-login",
        route: "security",
        event_id: "0a9b3c5e-2f47-4d6b-9a1e-6c2d8f0b4e71",
    };

    fn ledger(status: u16, body: &'static str) -> (Ledger, Seen) {
        let (client, seen) = fake_dynamodb(status, body);
        (Ledger::new(client, "patrol-state".into()), seen)
    }

    #[test]
    fn key_names_rule_route_and_event() {
        assert_eq!(
            DELIVERY.key(),
            "sent#root-console-login#security#0a9b3c5e-2f47-4d6b-9a1e-6c2d8f0b4e71"
        );
    }

    #[tokio::test]
    async fn was_sent_reads_consistently() {
        let (l, seen) = ledger(200, r#"{"Item":{"pk":{"S":"x"}}}"#);
        assert_eq!(l.was_sent(DELIVERY).await, Ok(true));
        let (target, body) = only_request(&seen);
        assert_eq!(target, "DynamoDB_20120810.GetItem");
        assert_eq!(body["TableName"], "patrol-state");
        assert_eq!(body["Key"]["pk"]["S"], DELIVERY.key());
        assert_eq!(body["ConsistentRead"], true);

        let (l, _) = ledger(200, "{}");
        assert_eq!(l.was_sent(DELIVERY).await, Ok(false));
    }

    #[tokio::test]
    async fn record_keeps_the_delivery_for_two_days() {
        let (l, seen) = ledger(200, "{}");
        l.record(DELIVERY, "msg-1", 1_793_520_000)
            .await
            .expect("recorded");
        let (target, body) = only_request(&seen);
        assert_eq!(target, "DynamoDB_20120810.PutItem");
        let item = &body["Item"];
        assert_eq!(item["pk"]["S"], DELIVERY.key());
        assert_eq!(
            item["expires_at"]["N"],
            (1_793_520_000 + 2 * 86_400).to_string()
        );
        assert_eq!(item["sent_at"]["N"], "1793520000");
        assert_eq!(item["message_id"]["S"], "msg-1");
        assert!(body.get("ConditionExpression").is_none(), "{body}");
    }

    #[tokio::test]
    async fn errors_name_the_ledger_and_its_table() {
        let (l, _) = ledger(
            400,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#,
        );
        let err = l.was_sent(DELIVERY).await.expect_err("no table");
        assert_eq!(
            err,
            "delivery ledger in table `patrol-state`: ResourceNotFoundException: Requested resource not found"
        );
    }
}
