//! Heartbeats: `{"patrol":{"heartbeat":{}},"event":E}`, from the central bus rule that
//! matches every member account's and region's `patrol-heartbeat` scheduled event (one
//! every 5 minutes, forwarded to the central bus like the events the rules watch). Each one
//! records when its account and region was last heard of
//! ([`patrol_aws::heartbeat::HeartbeatTable`]), for the [`crate::watchdog`], and counts as
//! the metric [`HEARTBEATS`] (namespace `Patrol`, no dimensions), so one alarm notices when
//! none arrive at all.
//!
//! A heartbeat is checked before it is believed: `source` `aws.events`, `detail-type`
//! `Scheduled Event`, a 12-digit `account`, a `region`, a `time`, and among its `resources`
//! the ARN of rule `patrol-heartbeat` in that same account and region. Anything else is an
//! invalid event (`Patrol.InvalidEvent`). Its time, clamped to now (a member's clock is not
//! the central account's), is what gets recorded: a retry arriving late does not make its
//! account look fresher than it was.

use patrol_aws::config::{ENV_STATE_TABLE, is_region};
use patrol_aws::heartbeat::{Forwarder, HeartbeatTable};
use patrol_aws::metrics::{MetricLine, NAMESPACE};
use serde::Serialize;
use serde_json::Value;

use crate::Runtime;
use crate::delivery::now_ms;
use crate::failure::RuntimeError;
use crate::webhook::rfc3339;

/// The metric counting heartbeats that reached the function.
pub const HEARTBEATS: &str = "Heartbeats";
/// The member-side scheduled rule whose events are the heartbeats.
pub const HEARTBEAT_RULE: &str = "patrol-heartbeat";

/// A heartbeat, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub forwarder: Forwarder,
    /// The event's time, unix seconds.
    pub time: i64,
}

/// What a heartbeat invocation answers.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HeartbeatResponse {
    pub account: String,
    pub region: String,
    /// The time recorded (RFC 3339).
    pub last_heartbeat: String,
    /// False when a newer heartbeat of the same account and region was already recorded.
    pub recorded: bool,
}

fn text<'a>(event: &'a Value, field: &str) -> Result<&'a str, String> {
    event
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("`{field}` is missing or not a string"))
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

impl Heartbeat {
    /// The heartbeat `event` is, or why it is not one.
    pub fn from_event(event: &Value) -> Result<Self, String> {
        let source = text(event, "source")?;
        if source != "aws.events" {
            return Err(format!("`source` is `{source}`, not `aws.events`"));
        }
        let detail_type = text(event, "detail-type")?;
        if detail_type != "Scheduled Event" {
            return Err(format!(
                "`detail-type` is `{detail_type}`, not `Scheduled Event`"
            ));
        }
        let account = text(event, "account")?;
        if !is_account(account) {
            return Err(format!(
                "`account` `{account}` is not a 12-digit account id"
            ));
        }
        let region = text(event, "region")?;
        if !is_region(region) {
            return Err(format!("`region` `{region}` is not an AWS region"));
        }
        let suffix = format!(":rule/{HEARTBEAT_RULE}");
        let rule = event
            .get("resources")
            .and_then(Value::as_array)
            .and_then(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .find(|arn| arn.ends_with(&suffix))
            })
            .ok_or_else(|| format!("no ARN in `resources` ends with `{suffix}`"))?;
        // arn:<partition>:events:<region>:<account>:rule/patrol-heartbeat
        match rule.split(':').collect::<Vec<_>>().as_slice() {
            ["arn", partition, "events", r, a, _]
                if !partition.is_empty() && *r == region && *a == account => {}
            _ => {
                return Err(format!(
                    "`{rule}` is not rule {HEARTBEAT_RULE} of account {account} in {region}"
                ));
            }
        }
        let time = text(event, "time")?;
        let time = patrol_core::date::unix_seconds(time)
            .ok_or_else(|| format!("`time` `{time}` is not an RFC 3339 UTC time"))?;
        Ok(Self {
            forwarder: Forwarder {
                account: account.to_owned(),
                region: region.to_owned(),
            },
            time,
        })
    }
}

impl<H, D, S> Runtime<H, D, S> {
    /// The state table's heartbeats, which `what` cannot do without.
    pub(crate) fn heartbeat_table(&self, what: &str) -> Result<&HeartbeatTable, RuntimeError> {
        self.heartbeats.as_ref().ok_or_else(|| {
            let message = format!(
                "{what} needs the state table, and {ENV_STATE_TABLE} is not set (the CDK app sets it on every Patrol function)"
            );
            tracing::error!(error = %message, "no state table");
            RuntimeError::NoStateTable(message)
        })
    }

    pub async fn heartbeat(
        &self,
        event: Value,
        request_id: &str,
    ) -> Result<HeartbeatResponse, RuntimeError> {
        let heartbeat = Heartbeat::from_event(&event).map_err(|e| {
            let message = format!("not a Patrol heartbeat: {e}");
            tracing::error!(request_id, error = %message, "invalid heartbeat");
            RuntimeError::Event(message)
        })?;
        // It arrived: that is what the metric counts, whatever happens to the write.
        MetricLine::now(NAMESPACE).count(HEARTBEATS, 1).emit();
        let table = self.heartbeat_table("a heartbeat")?;
        let now = now_ms().div_euclid(1000);
        let last_seen = heartbeat.time.min(now);
        let Forwarder { account, region } = &heartbeat.forwarder;
        let recorded = table
            .record(&heartbeat.forwarder, last_seen, now)
            .await
            .map_err(|e| {
                tracing::error!(account, region, request_id, error = %e, "heartbeat not recorded");
                RuntimeError::StateTable(e)
            })?;
        let last_heartbeat = rfc3339(last_seen.saturating_mul(1000));
        tracing::info!(
            account,
            region,
            request_id,
            last_heartbeat,
            recorded,
            "heartbeat"
        );
        Ok(HeartbeatResponse {
            account: account.clone(),
            region: region.clone(),
            last_heartbeat,
            recorded,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn heartbeat() -> Value {
        json!({"version": "0", "id": "0d3c6f6e-1b1b-4c1e-9a5e-2b0c7d7b1a11",
            "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "222222222222", "time": "2026-11-01T08:00:00Z", "region": "eu-west-1",
            "resources": ["arn:aws:events:eu-west-1:222222222222:rule/patrol-heartbeat"],
            "detail": {}})
    }

    #[test]
    fn a_heartbeat_names_its_account_region_and_time() {
        assert_eq!(
            Heartbeat::from_event(&heartbeat()),
            Ok(Heartbeat {
                forwarder: Forwarder {
                    account: "222222222222".into(),
                    region: "eu-west-1".into()
                },
                time: 1_793_520_000,
            })
        );
        let mut gov = heartbeat();
        gov["region"] = json!("us-gov-west-1");
        gov["resources"] = json!([
            "arn:aws:events:us-gov-west-1:222222222222:rule/other",
            "arn:aws-us-gov:events:us-gov-west-1:222222222222:rule/patrol-heartbeat"
        ]);
        gov["time"] = json!("2026-11-01T08:00:00.5Z");
        assert!(Heartbeat::from_event(&gov).is_ok());
    }

    #[test]
    fn anything_else_is_not_a_heartbeat_and_says_why() {
        let with = |field: &str, value: Value| {
            let mut e = heartbeat();
            e[field] = value;
            e
        };
        let without = |field: &str| {
            let mut e = heartbeat();
            e.as_object_mut().map(|o| o.remove(field));
            e
        };
        for (event, expected) in [
            (
                with("source", json!("aws.iam")),
                "`source` is `aws.iam`, not `aws.events`",
            ),
            (
                with("detail-type", json!("AWS API Call via CloudTrail")),
                "not `Scheduled Event`",
            ),
            (
                with("account", json!("22222222222")),
                "`account` `22222222222` is not a 12-digit account id",
            ),
            (
                with("account", json!(222_222_222_222_u64)),
                "`account` is missing or not a string",
            ),
            (
                with("region", json!("eu-west-1a")),
                "`region` `eu-west-1a` is not an AWS region",
            ),
            (with("region", json!("eu#west-1")), "is not an AWS region"),
            (without("region"), "`region` is missing"),
            (
                with(
                    "resources",
                    json!(["arn:aws:events:eu-west-1:222222222222:rule/patrol-schedule-notify-1"]),
                ),
                "no ARN in `resources` ends with `:rule/patrol-heartbeat`",
            ),
            (without("resources"), "no ARN in `resources`"),
            (
                with(
                    "resources",
                    json!(["arn:aws:events:eu-west-1:333333333333:rule/patrol-heartbeat"]),
                ),
                "is not rule patrol-heartbeat of account 222222222222 in eu-west-1",
            ),
            (
                with(
                    "resources",
                    json!(["arn:aws:events:us-east-1:222222222222:rule/patrol-heartbeat"]),
                ),
                "is not rule patrol-heartbeat of account 222222222222 in eu-west-1",
            ),
            (
                with("time", json!("yesterday")),
                "`time` `yesterday` is not an RFC 3339 UTC time",
            ),
            (without("time"), "`time` is missing"),
        ] {
            match Heartbeat::from_event(&event) {
                Err(m) => assert!(m.contains(expected), "{m} / {expected}"),
                Ok(h) => panic!("{event} is not a heartbeat, got {h:?}"),
            }
        }
    }
}
