//! When each forwarding account and region was last heard of, in the state table next to
//! the [`crate::ledger`] and the [`crate::dedup`] windows: one item per account and region,
//! `pk = "heartbeat#<account>#<region>"`, with `last_seen` (unix seconds of its newest
//! heartbeat) and `expires_at` (the table's TTL attribute: the last write + [`KEEP`]).
//!
//! Every member account and region sends a heartbeat (the scheduled rule `patrol-heartbeat`)
//! to the central bus every 5 minutes; [`HeartbeatTable::record`] writes it and the
//! watchdog reads them all back with [`HeartbeatTable::last_heard`].
//!
//! An item expires [`KEEP`] after its last heartbeat, so an account or region that stopped
//! for good (it left the organization, or a region was removed from `[deploy]`) is reported
//! silent for a week and then forgotten. Reads skip expired items that DynamoDB has not
//! deleted yet (its TTL deletes within days, not at once), so the week is exact.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::dedup::describe;

/// How long an account and region is remembered after its last heartbeat.
pub const KEEP: Duration = Duration::from_secs(7 * 24 * 3600);

/// What every heartbeat item's `pk` starts with.
pub const KEY_PREFIX: &str = "heartbeat#";

/// An account and region that forwards its events to the central bus.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Forwarder {
    pub account: String,
    pub region: String,
}

impl Forwarder {
    pub fn key(&self) -> String {
        format!("{KEY_PREFIX}{}#{}", self.account, self.region)
    }

    /// The forwarder of a heartbeat item's `pk`.
    pub fn from_key(pk: &str) -> Option<Self> {
        let (account, region) = pk.strip_prefix(KEY_PREFIX)?.split_once('#')?;
        (!account.is_empty() && !region.is_empty() && !region.contains('#')).then(|| Self {
            account: account.to_owned(),
            region: region.to_owned(),
        })
    }
}

/// A forwarder and the time of its newest heartbeat (unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastHeard {
    pub forwarder: Forwarder,
    pub last_seen: i64,
}

#[derive(Debug, Clone)]
pub struct HeartbeatTable {
    client: Client,
    table: String,
}

impl HeartbeatTable {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    /// Records that `forwarder` was heard of at `last_seen`; `now` is unix seconds. A
    /// heartbeat older than the one recorded (a retry arriving late) changes nothing:
    /// `Ok(false)`.
    pub async fn record(
        &self,
        forwarder: &Forwarder,
        last_seen: i64,
        now: i64,
    ) -> Result<bool, String> {
        let keep = i64::try_from(KEEP.as_secs()).unwrap_or(i64::MAX);
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(forwarder.key()))
            .item("last_seen", AttributeValue::N(last_seen.to_string()))
            .item(
                "expires_at",
                AttributeValue::N(now.saturating_add(keep).to_string()),
            )
            .condition_expression("attribute_not_exists(pk) OR last_seen <= :last_seen")
            .expression_attribute_values(":last_seen", AttributeValue::N(last_seen.to_string()));
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(describe(&self.context(), e)),
        }
    }

    /// Every forwarder heard of in the last [`KEEP`] (items not expired at `now`, unix
    /// seconds), sorted by account and region. A Scan of the whole table, page by page:
    /// the table's key is `pk` alone, so heartbeat items cannot be read by themselves, and
    /// a Scan costs the read of every item (dedup windows and ledger entries included).
    pub async fn last_heard(&self, now: i64) -> Result<Vec<LastHeard>, String> {
        let mut heard = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("begins_with(pk, :prefix) AND expires_at > :now")
                .projection_expression("pk, last_seen")
                .expression_attribute_values(":prefix", AttributeValue::S(KEY_PREFIX.to_owned()))
                .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| describe(&self.context(), e))?;
            for item in page.items() {
                let pk = item.get("pk").and_then(|v| v.as_s().ok());
                let forwarder = pk.and_then(|pk| Forwarder::from_key(pk));
                let last_seen = item
                    .get("last_seen")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse::<i64>().ok());
                match (forwarder, last_seen) {
                    (Some(forwarder), Some(last_seen)) => heard.push(LastHeard {
                        forwarder,
                        last_seen,
                    }),
                    _ => tracing::warn!(table = %self.table, pk = ?pk,
                        "not a heartbeat item (pk or last_seen malformed); ignored"),
                }
            }
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
        heard.sort_by(|a, b| a.forwarder.cmp(&b.forwarder));
        Ok(heard)
    }

    fn context(&self) -> String {
        format!("heartbeats in table `{}`", self.table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::tests::{Seen, fake_dynamodb, fake_dynamodb_answers, only_request};

    const NOW: i64 = 1_793_520_000;

    fn forwarder() -> Forwarder {
        Forwarder {
            account: "222222222222".into(),
            region: "eu-west-1".into(),
        }
    }

    fn table(status: u16, body: &'static str) -> (HeartbeatTable, Seen) {
        let (client, seen) = fake_dynamodb(status, body);
        (HeartbeatTable::new(client, "patrol-state".into()), seen)
    }

    #[test]
    fn key_names_account_and_region() {
        assert_eq!(forwarder().key(), "heartbeat#222222222222#eu-west-1");
        assert_eq!(
            Forwarder::from_key("heartbeat#222222222222#eu-west-1"),
            Some(forwarder())
        );
        for not_one in [
            "sent#rule#route#event",
            "heartbeat#222222222222",
            "heartbeat##eu-west-1",
            "heartbeat#222222222222#",
            "heartbeat#222222222222#eu-west-1#x",
        ] {
            assert_eq!(Forwarder::from_key(not_one), None, "{not_one}");
        }
    }

    #[tokio::test]
    async fn record_keeps_the_newest_heartbeat_for_a_week() {
        let (t, seen) = table(200, "{}");
        assert_eq!(t.record(&forwarder(), NOW - 30, NOW).await, Ok(true));
        let (target, body) = only_request(&seen);
        assert_eq!(target, "DynamoDB_20120810.PutItem");
        assert_eq!(body["TableName"], "patrol-state");
        let item = &body["Item"];
        assert_eq!(item["pk"]["S"], "heartbeat#222222222222#eu-west-1");
        assert_eq!(item["last_seen"]["N"], (NOW - 30).to_string());
        assert_eq!(item["expires_at"]["N"], (NOW + 7 * 86_400).to_string());
        assert_eq!(
            body["ConditionExpression"],
            "attribute_not_exists(pk) OR last_seen <= :last_seen"
        );
        assert_eq!(
            body["ExpressionAttributeValues"][":last_seen"]["N"],
            (NOW - 30).to_string()
        );
    }

    #[tokio::test]
    async fn an_older_heartbeat_than_the_recorded_one_changes_nothing() {
        let (t, _) = table(
            400,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}"#,
        );
        assert_eq!(t.record(&forwarder(), NOW - 600, NOW).await, Ok(false));
    }

    #[tokio::test]
    async fn last_heard_reads_every_page_of_unexpired_heartbeats() {
        let (client, seen) = fake_dynamodb_answers(vec![
            (
                200,
                r#"{"Items":[{"pk":{"S":"heartbeat#333333333333#us-east-1"},"last_seen":{"N":"1793519000"}}],
                    "Count":1,"ScannedCount":40,
                    "LastEvaluatedKey":{"pk":{"S":"sent#r#t#e"}}}"#,
            ),
            (
                200,
                r#"{"Items":[{"pk":{"S":"heartbeat#222222222222#eu-west-1"},"last_seen":{"N":"1793519900"}},
                    {"pk":{"S":"heartbeat#bad"},"last_seen":{"N":"1"}},
                    {"pk":{"S":"heartbeat#444444444444#eu-west-1"}}],
                    "Count":3,"ScannedCount":12}"#,
            ),
        ]);
        let t = HeartbeatTable::new(client, "patrol-state".into());
        let heard = t.last_heard(NOW).await.expect("scanned");
        assert_eq!(
            heard,
            [
                LastHeard {
                    forwarder: forwarder(),
                    last_seen: 1_793_519_900
                },
                LastHeard {
                    forwarder: Forwarder {
                        account: "333333333333".into(),
                        region: "us-east-1".into()
                    },
                    last_seen: 1_793_519_000
                },
            ]
        );
        let seen = seen.lock().expect("lock").clone();
        assert_eq!(seen.len(), 2, "{seen:?}");
        for (target, body) in &seen {
            assert_eq!(target, "DynamoDB_20120810.Scan");
            assert_eq!(body["TableName"], "patrol-state");
            assert_eq!(
                body["FilterExpression"],
                "begins_with(pk, :prefix) AND expires_at > :now"
            );
            assert_eq!(
                body["ExpressionAttributeValues"][":prefix"]["S"],
                "heartbeat#"
            );
            assert_eq!(
                body["ExpressionAttributeValues"][":now"]["N"],
                NOW.to_string()
            );
        }
        assert!(
            seen[0].1.get("ExclusiveStartKey").is_none(),
            "{:?}",
            seen[0]
        );
        assert_eq!(seen[1].1["ExclusiveStartKey"]["pk"]["S"], "sent#r#t#e");
    }

    #[tokio::test]
    async fn errors_name_the_heartbeats_and_their_table() {
        let (t, _) = table(
            400,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#,
        );
        assert_eq!(
            t.last_heard(NOW).await,
            Err("heartbeats in table `patrol-state`: ResourceNotFoundException: Requested resource not found".into())
        );
        assert!(t.record(&forwarder(), NOW, NOW).await.is_err());
    }
}
