//! Live alert deduplication in DynamoDB (the state table, next to the [`crate::ledger`]),
//! with the same windows as
//! `patrol_core::dedup::Windows` (event time; a window opens at the first alert for a key
//! and lasts `window_seconds`; duplicates do not extend it).
//!
//! One item per open window, `pk = "<rule id>#<dedup key>"`, holding a claim with state:
//! `expires_at` (event time + window; also the table's TTL attribute), `event_id` (when the
//! event has one), `claim_id` (unique per claim), `claimed_at` (wall clock) and `delivered`
//! (false until the alert reached its sinks). An alert is sent ([`Claim::First`]) when its
//! conditional `PutItem` succeeds, which it does unless another alert's window is open and
//! that alert was delivered or is still being delivered ([`claim_condition`]). After
//! delivery the caller marks the claim delivered ([`DedupTable::delivered`]); after a failed
//! delivery it releases it ([`DedupTable::release`]), best effort: an undelivered claim left
//! behind never hides the retry of its own event, so a failed release cannot lose an alert.
//!
//! A failed condition means a duplicate. Any other error is the caller's to fail open on.

use std::hash::{BuildHasher as _, Hasher as _};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata as _;
use aws_sdk_dynamodb::types::AttributeValue;

/// How much later than its invocation's end a claim still counts as in flight: claims are
/// stamped and judged by the wall clocks of different Lambda hosts.
pub const CLOCK_MARGIN: Duration = Duration::from_secs(30);

/// How long an undelivered claim of another event counts as in flight when the function's
/// timeout is unknown: Lambda's longest timeout (15 minutes) and [`CLOCK_MARGIN`].
pub const IN_FLIGHT: Duration = Duration::from_secs(15 * 60 + 30);

/// How long an undelivered claim of another event counts as in flight, for a function whose
/// timeout is `function_timeout`: Lambda stops every invocation at its timeout, so after
/// that (and [`CLOCK_MARGIN`]) the invocation that claimed the window has ended without
/// delivering and without releasing (it crashed, or its delivery and its release both
/// failed). Its own retry re-claims the window by event id whenever it comes; other events
/// stop waiting for it and the next one takes the window over and is sent.
pub fn in_flight(function_timeout: Duration) -> Duration {
    function_timeout.saturating_add(CLOCK_MARGIN)
}

/// What the table said about an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Send it: the window is this alert's. Mark it [`DedupTable::delivered`] after
    /// delivery, or [`DedupTable::release`] it if delivery fails.
    First(Ticket),
    /// Another alert for the key was delivered, or is being delivered, inside the window:
    /// do not send.
    Duplicate,
}

/// A claim this invocation holds, to mark delivered or release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub pk: String,
    /// Unique to this claim: marking and releasing touch the item only while it is still
    /// this claim, never a later one for the same key.
    pub claim_id: String,
}

/// One alert asking for its key's window.
#[derive(Debug, Clone, Copy)]
pub struct ClaimRequest<'a> {
    pub rule: &'a str,
    pub key: &'a str,
    /// The event's time, unix seconds: windows are measured in event time. A time later
    /// than `now` is taken as `now`: an event dated in the future (a wrong clock, a forged
    /// record) must not open a window that holds back every real alert of its key until
    /// that date.
    pub event_time: i64,
    pub window_seconds: u64,
    /// Lets a retry of the same event re-claim the window its earlier attempt left
    /// undelivered.
    pub event_id: Option<&'a str>,
    /// Wall clock, unix seconds: how long other claims have been in flight.
    pub now: i64,
}

#[derive(Debug, Clone)]
pub struct DedupTable {
    client: Client,
    table: String,
    in_flight: Duration,
}

pub fn partition_key(rule: &str, key: &str) -> String {
    format!("{rule}#{key}")
}

/// When an alert may claim its key's window (the `PutItem` condition), by case:
///
/// - no item, or its window has ended in event time: a new window;
/// - the item is undelivered and is this event's own claim (same `event_id`): a retry
///   after the earlier attempt failed to deliver and failed to release, which is sent
///   (a duplicate delivery of the event racing its first one is sent too: a retry and a
///   race look alike, and only the retry must not be held back);
/// - the item is undelivered and older than the in-flight time ([`in_flight`]): its
///   invocation is over and
///   whether a retry will ever come is unknown, so this alert takes the window over;
/// - an event without an id cannot recognize its own earlier claim, so any undelivered
///   claim lets it through: sending twice is better than losing its retry.
///
/// What stays a duplicate: a delivered claim inside its window, and another event's
/// undelivered claim younger than the in-flight time. Sending in the second case would page once
/// per event in exactly the bursts dedup exists for, and nothing is lost by waiting: that
/// claim's invocation either delivers, or fails loudly (an error Lambda retries and
/// dead-letters, or the failure queue of a function URL), and its retry re-claims the
/// window. Items written before `delivered` existed have no such attribute and count as
/// delivered, as they did then.
pub fn claim_condition(has_event_id: bool) -> &'static str {
    if has_event_id {
        "attribute_not_exists(pk) OR expires_at <= :event_time \
         OR (delivered = :false AND (event_id = :event_id OR claimed_at <= :stale_before))"
    } else {
        "attribute_not_exists(pk) OR expires_at <= :event_time OR delivered = :false"
    }
}

/// Unique enough to tell two claims of one key apart: the time in nanoseconds hashed with
/// a per-process random key (std's `RandomState` is seeded from the OS).
fn new_claim_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut hasher = std::hash::RandomState::new().build_hasher();
    hasher.write_u128(nanos);
    format!("{:016x}{:08x}", hasher.finish(), nanos & 0xffff_ffff)
}

impl DedupTable {
    /// A table whose claims count as in flight for [`IN_FLIGHT`]; see
    /// [`DedupTable::with_in_flight`].
    pub fn new(client: Client, table: String) -> Self {
        Self {
            client,
            table,
            in_flight: IN_FLIGHT,
        }
    }

    /// How long another event's undelivered claim holds the window: [`in_flight`] of the
    /// function's timeout.
    pub fn with_in_flight(mut self, in_flight: Duration) -> Self {
        self.in_flight = in_flight;
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub async fn claim(&self, req: ClaimRequest<'_>) -> Result<Claim, String> {
        let pk = partition_key(req.rule, req.key);
        let window = i64::try_from(req.window_seconds).unwrap_or(i64::MAX);
        let event_time = req.event_time.min(req.now);
        let expires_at = event_time.saturating_add(window);
        let in_flight = i64::try_from(self.in_flight.as_secs()).unwrap_or(i64::MAX);
        let claim_id = new_claim_id();
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(pk.clone()))
            .item("expires_at", AttributeValue::N(expires_at.to_string()))
            .item("claim_id", AttributeValue::S(claim_id.clone()))
            .item("claimed_at", AttributeValue::N(req.now.to_string()))
            .item("delivered", AttributeValue::Bool(false))
            .condition_expression(claim_condition(req.event_id.is_some()))
            .expression_attribute_values(":event_time", AttributeValue::N(event_time.to_string()))
            .expression_attribute_values(":false", AttributeValue::Bool(false));
        if let Some(id) = req.event_id {
            put = put
                .item("event_id", AttributeValue::S(id.to_owned()))
                .expression_attribute_values(":event_id", AttributeValue::S(id.to_owned()))
                .expression_attribute_values(
                    ":stale_before",
                    AttributeValue::N(req.now.saturating_sub(in_flight).to_string()),
                );
        }
        match put.send().await {
            Ok(_) => Ok(Claim::First(Ticket { pk, claim_id })),
            Err(e) => {
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception())
                {
                    return Ok(Claim::Duplicate);
                }
                Err(describe(&self.context(), e))
            }
        }
    }

    /// Records that the claim's alert reached its sinks, so later alerts inside the window
    /// (the same event's included) are duplicates. If this fails the claim stays
    /// undelivered: a retry of the same event would send it again (a duplicate, never a
    /// loss) and other events wait at most the in-flight time before one of them is sent.
    pub async fn delivered(&self, ticket: &Ticket) -> Result<(), String> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(ticket.pk.clone()))
            .update_expression("SET delivered = :true")
            .condition_expression("claim_id = :mine")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":mine", AttributeValue::S(ticket.claim_id.clone()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| describe(&self.context(), e))
    }

    /// Undoes a claim whose alert could not be delivered, so that other events need not
    /// wait for its retry (only if the item is still this claim). Best effort: the retry
    /// of the same event re-claims an undelivered claim anyway.
    pub async fn release(&self, ticket: &Ticket) -> Result<(), String> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(ticket.pk.clone()))
            .condition_expression("claim_id = :mine")
            .expression_attribute_values(":mine", AttributeValue::S(ticket.claim_id.clone()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| describe(&self.context(), e))
    }

    fn context(&self) -> String {
        format!("dedup table `{}`", self.table)
    }
}

/// A DynamoDB error as `<context>: <code>: <message>`, or the whole chain of causes when
/// the service did not answer.
pub(crate) fn describe<E, R>(context: &str, e: aws_sdk_dynamodb::error::SdkError<E, R>) -> String
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match (e.code(), e.message()) {
        (Some(code), m) => format!("{context}: {code}: {}", m.unwrap_or("(no message)")),
        (None, _) => format!(
            "{context}: {}",
            aws_sdk_dynamodb::error::DisplayErrorContext(e)
        ),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
    use serde_json::Value;
    use std::sync::{Arc, Mutex};

    /// A request the fake DynamoDB got: the operation (`X-Amz-Target`) and its JSON body.
    pub(crate) type Seen = Arc<Mutex<Vec<(String, Value)>>>;

    /// A local stand-in for DynamoDB answering every request with `status` and `body`,
    /// and a client for it that never retries.
    pub(crate) fn fake_dynamodb(status: u16, body: &'static str) -> (Client, Seen) {
        fake_dynamodb_answers(vec![(status, body)])
    }

    /// Like [`fake_dynamodb`], answering the n-th request with the n-th of `answers` (the
    /// last one repeated).
    pub(crate) fn fake_dynamodb_answers(answers: Vec<(u16, &'static str)>) -> (Client, Seen) {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind");
        let port = server.server_addr().to_ip().expect("ip").port();
        let seen = Seen::default();
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for (i, mut req) in server.incoming_requests().enumerate() {
                let (status, body) = answers
                    .get(i)
                    .or(answers.last())
                    .copied()
                    .unwrap_or((500, "{}"));
                let target = req
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("x-amz-target"))
                    .map(|h| h.value.to_string())
                    .unwrap_or_default();
                let mut b = String::new();
                let _ = req.as_reader().read_to_string(&mut b);
                let json = serde_json::from_str(&b).unwrap_or(Value::Null);
                log.lock().expect("lock").push((target, json));
                let response = tiny_http::Response::from_string(body)
                    .with_status_code(status)
                    .with_header(
                        tiny_http::Header::from_bytes("Content-Type", "application/x-amz-json-1.0")
                            .expect("header"),
                    );
                let _ = req.respond(response);
            }
        });
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(format!("http://127.0.0.1:{port}"))
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
            .build();
        (Client::from_conf(config), seen)
    }

    fn fake_table(status: u16, body: &'static str) -> (DedupTable, Seen) {
        let (client, seen) = fake_dynamodb(status, body);
        (DedupTable::new(client, "patrol-dedup".into()), seen)
    }

    pub(crate) fn only_request(seen: &Seen) -> (String, Value) {
        let seen = seen.lock().expect("lock");
        assert_eq!(seen.len(), 1, "{seen:?}");
        seen[0].clone()
    }

    const NOW: i64 = 1_793_520_000;

    fn request(event_id: Option<&str>) -> ClaimRequest<'_> {
        ClaimRequest {
            rule: "console-login-failed",
            key: "alice",
            event_time: NOW - 60,
            window_seconds: 3600,
            event_id,
            now: NOW,
        }
    }

    #[tokio::test]
    async fn claim_writes_an_undelivered_claim_that_its_own_retry_can_take_back() {
        let (table, seen) = fake_table(200, "{}");
        let claim = table.claim(request(Some("ev-1"))).await.expect("claimed");
        let Claim::First(ticket) = claim else {
            panic!("expected First, got {claim:?}");
        };
        assert_eq!(ticket.pk, "console-login-failed#alice");
        let (target, body) = only_request(&seen);
        assert_eq!(target, "DynamoDB_20120810.PutItem");
        let item = &body["Item"];
        assert_eq!(item["pk"]["S"], "console-login-failed#alice");
        assert_eq!(item["expires_at"]["N"], (NOW - 60 + 3600).to_string());
        assert_eq!(item["delivered"]["BOOL"], false);
        assert_eq!(item["event_id"]["S"], "ev-1");
        assert_eq!(item["claimed_at"]["N"], NOW.to_string());
        assert_eq!(item["claim_id"]["S"], ticket.claim_id.as_str());
        assert_eq!(body["ConditionExpression"], claim_condition(true));
        let values = &body["ExpressionAttributeValues"];
        assert_eq!(values[":event_time"]["N"], (NOW - 60).to_string());
        assert_eq!(values[":event_id"]["S"], "ev-1");
        assert_eq!(values[":false"]["BOOL"], false);
        assert_eq!(
            values[":stale_before"]["N"],
            (NOW - 15 * 60 - 30).to_string()
        );
    }

    #[tokio::test]
    async fn a_far_future_event_opens_its_window_from_now() {
        let (table, seen) = fake_table(200, "{}");
        let far_future = ClaimRequest {
            event_time: 4_102_444_800, // 2100-01-01
            ..request(Some("ev-future"))
        };
        table.claim(far_future).await.expect("claimed");
        let (_, body) = only_request(&seen);
        assert_eq!(body["Item"]["expires_at"]["N"], (NOW + 3600).to_string());
        assert_eq!(
            body["ExpressionAttributeValues"][":event_time"]["N"],
            NOW.to_string()
        );
    }

    #[tokio::test]
    async fn claims_are_in_flight_for_the_function_timeout() {
        let (client, seen) = fake_dynamodb(200, "{}");
        let table = DedupTable::new(client, "patrol-dedup".into())
            .with_in_flight(in_flight(Duration::from_secs(60)));
        table.claim(request(Some("ev-4"))).await.expect("claimed");
        let (_, body) = only_request(&seen);
        assert_eq!(
            body["ExpressionAttributeValues"][":stale_before"]["N"],
            (NOW - 90).to_string()
        );
    }

    #[tokio::test]
    async fn event_without_an_id_passes_no_unused_expression_values() {
        // DynamoDB rejects a request whose ExpressionAttributeValues the condition does
        // not use.
        let (table, seen) = fake_table(200, "{}");
        let claim = table.claim(request(None)).await.expect("claimed");
        assert!(matches!(claim, Claim::First(_)), "{claim:?}");
        let (_, body) = only_request(&seen);
        assert_eq!(body["ConditionExpression"], claim_condition(false));
        assert!(body["Item"].get("event_id").is_none(), "{body}");
        let values = body["ExpressionAttributeValues"]
            .as_object()
            .expect("values");
        let condition = claim_condition(false);
        for name in values.keys() {
            assert!(condition.contains(name.as_str()), "{name} unused");
        }
        assert_eq!(values.len(), 2, "{values:?}");
    }

    #[tokio::test]
    async fn failed_condition_is_a_duplicate() {
        let (table, _) = fake_table(
            400,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}"#,
        );
        let claim = table.claim(request(Some("ev-2"))).await.expect("answered");
        assert_eq!(claim, Claim::Duplicate);
    }

    #[tokio::test]
    async fn throttling_is_an_error_to_fail_open_on_not_a_duplicate() {
        let (table, _) = fake_table(
            400,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#,
        );
        let err = table
            .claim(request(Some("ev-3")))
            .await
            .expect_err("not a duplicate");
        assert!(
            err.starts_with("dedup table `patrol-dedup`: ThrottlingException"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn delivered_marks_only_this_claim() {
        let (table, seen) = fake_table(200, "{}");
        let ticket = Ticket {
            pk: "r#k".into(),
            claim_id: "c-1".into(),
        };
        table.delivered(&ticket).await.expect("marked");
        let (target, body) = only_request(&seen);
        assert_eq!(target, "DynamoDB_20120810.UpdateItem");
        assert_eq!(body["Key"]["pk"]["S"], "r#k");
        assert_eq!(body["UpdateExpression"], "SET delivered = :true");
        assert_eq!(body["ConditionExpression"], "claim_id = :mine");
        assert_eq!(body["ExpressionAttributeValues"][":mine"]["S"], "c-1");
        assert_eq!(body["ExpressionAttributeValues"][":true"]["BOOL"], true);
    }

    #[tokio::test]
    async fn release_deletes_only_this_claim() {
        let (table, seen) = fake_table(200, "{}");
        let ticket = Ticket {
            pk: "r#k".into(),
            claim_id: "c-2".into(),
        };
        table.release(&ticket).await.expect("released");
        let (target, body) = only_request(&seen);
        assert_eq!(target, "DynamoDB_20120810.DeleteItem");
        assert_eq!(body["ConditionExpression"], "claim_id = :mine");
        assert_eq!(body["ExpressionAttributeValues"][":mine"]["S"], "c-2");
    }

    #[test]
    fn claim_ids_differ_between_claims() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_claim_id()).collect();
        assert_eq!(ids.len(), 1000);
    }
}
