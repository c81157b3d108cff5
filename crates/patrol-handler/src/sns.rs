//! SNS invocations: each record wrapped as an event ([`patrol_core::event::wrap_sns`]) and
//! decided by the rules whose `sns` trigger names its topic (the ARN compared exactly) and
//! whose filter policy matches. SNS applies a filter policy itself only when one rule
//! listens to the topic; checking it again here keeps a subscription without its policy,
//! or a topic shared by several rules, from raising alerts a rule never meant.

use aws_lambda_events::sns::{MessageAttribute, SnsEvent};
use patrol_aws::sink::Deliver;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::Runtime;
use crate::delivery::RuleResult;
use crate::eventbridge::Invoked;
use crate::failure::{Failures, RuntimeError};
use crate::handler::Handler;

/// The result of an SNS invocation: one entry per record.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SnsResponse {
    pub records: Vec<SnsRecordResult>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SnsRecordResult {
    pub message_id: String,
    pub topic_arn: String,
    /// The rules of this topic whose filter policy matched, in rule order.
    pub rules: Vec<RuleResult>,
}

/// SNS message attributes as rules see them: `Number` values as JSON numbers,
/// `String.Array` values as arrays, anything else as the string.
pub fn sns_attributes<'a>(
    attributes: impl IntoIterator<Item = (&'a String, &'a MessageAttribute)>,
) -> Map<String, Value> {
    attributes
        .into_iter()
        .map(|(name, a)| {
            let parsed = if a.data_type.starts_with("Number") {
                serde_json::from_str::<Value>(a.value.trim())
                    .ok()
                    .filter(Value::is_number)
            } else if a.data_type == "String.Array" {
                serde_json::from_str::<Value>(&a.value)
                    .ok()
                    .filter(Value::is_array)
            } else {
                None
            };
            (
                name.clone(),
                parsed.unwrap_or_else(|| Value::String(a.value.clone())),
            )
        })
        .collect()
}

impl<H: Handler, D: Deliver + Sync, S: Sync> Runtime<H, D, S> {
    /// Every record, every rule; an error naming every failure if any (after all were
    /// tried).
    pub async fn sns(&self, payload: Value, inv: Invoked<'_>) -> Result<SnsResponse, RuntimeError> {
        let request_id = inv.request_id;
        let sns: SnsEvent = serde_json::from_value(payload)
            .map_err(|e| RuntimeError::Event(format!("not an SNS event: {e}")))?;
        let mut records = Vec::with_capacity(sns.records.len());
        let mut failures = Vec::new();
        let mut delivered = Vec::new();
        for record in &sns.records {
            let m = &record.sns;
            let timestamp = serde_json::to_value(m.timestamp)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let event = patrol_core::event::wrap_sns(
                &m.topic_arn,
                &m.message_id,
                &timestamp,
                m.subject.as_deref(),
                &m.message,
                sns_attributes(&m.message_attributes),
            );
            let matched = self.config.sns.matching(&event);
            if matched.is_empty() {
                tracing::info!(request_id, topic_arn = %m.topic_arn, message_id = %m.message_id,
                    "no rule of this topic matched the message");
            }
            // The wrapped event's `id` is the message id, which the ledger remembers.
            match self.run_all(matched, &event, inv).await {
                Ok(rules) => {
                    delivered.extend(
                        rules.iter().flat_map(|r| {
                            r.sent.keys().map(|route| (r.rule.clone(), route.clone()))
                        }),
                    );
                    records.push(SnsRecordResult {
                        message_id: m.message_id.clone(),
                        topic_arn: m.topic_arn.clone(),
                        rules,
                    });
                }
                Err(RuntimeError::Failed(f)) => {
                    failures.extend(f.failures);
                    delivered.extend(f.delivered);
                }
                Err(e) => return Err(e),
            }
        }
        if failures.is_empty() {
            Ok(SnsResponse { records })
        } else {
            Err(RuntimeError::Failed(Failures {
                failures,
                delivered,
            }))
        }
    }
}
