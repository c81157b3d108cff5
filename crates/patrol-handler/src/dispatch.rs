//! What invoked the function, told apart by the payload's shape, and what it answers.

use aws_lambda_events::lambda_function_urls::LambdaFunctionUrlResponse;
use lambda_runtime::LambdaEvent;
use patrol_aws::secrets::SecretSource;
use patrol_aws::sink::Deliver;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::Runtime;
use crate::deadline::Deadline;
use crate::eventbridge::{EventResponse, Invoked};
use crate::failure::RuntimeError;
use crate::handler::Handler;
use crate::heartbeat::HeartbeatResponse;
use crate::metrics::Metrics;
use crate::sns::SnsResponse;
use crate::watchdog::WatchdogResponse;

/// What the function answers, by trigger.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Output {
    Event(EventResponse),
    Heartbeat(HeartbeatResponse),
    Watchdog(WatchdogResponse),
    Sns(SnsResponse),
    FunctionUrl(LambdaFunctionUrlResponse),
}

/// An invocation, by what sent it.
#[derive(Debug, PartialEq)]
enum Invocation {
    /// `{"patrol":{"feed":ID},"event":E}`
    Feed { feed: String, event: Value },
    /// `{"patrol":{"schedule":N},"event":E}`
    Schedule { group: String, event: Value },
    /// `{"patrol":{"heartbeat":{}},"event":E}`: a member account's and region's
    /// `patrol-heartbeat` event.
    Heartbeat(Value),
    /// `{"patrol":{"watchdog":{"silent_after_seconds":N}},"event":E}`
    Watchdog { silent_after_seconds: u64 },
    /// An EventBridge event as is.
    Event(Value),
    /// `{"Records":[{"EventSource":"aws:sns",...}]}`
    Sns(Value),
    /// A function URL request (`rawPath`, `requestContext`, ...).
    FunctionUrl(Value),
}

fn invalid(message: impl Into<String>) -> RuntimeError {
    RuntimeError::Event(message.into())
}

/// A feed or schedule group id: a string (a number is taken as its text).
fn group_id(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Invocation {
    fn classify(payload: Value) -> Result<Invocation, RuntimeError> {
        let Value::Object(mut map) = payload else {
            return Err(invalid("the payload is not a JSON object"));
        };
        if let Some(patrol) = map.remove("patrol") {
            return Self::patrol(&patrol, map);
        }
        if map.get("Records").is_some_and(Value::is_array) {
            return Ok(Invocation::Sns(Value::Object(map)));
        }
        if map.contains_key("requestContext") && map.contains_key("rawPath") {
            return Ok(Invocation::FunctionUrl(Value::Object(map)));
        }
        let event = Value::Object(map);
        if patrol_core::event::is_eventbridge_event(&event) {
            return Ok(Invocation::Event(event));
        }
        Err(invalid(
            "not a Patrol invocation ({\"patrol\": ..., \"event\": ...}), an SNS event, a function URL request or an EventBridge event",
        ))
    }

    /// The wrapper the handler's EventBridge rules put around the event.
    fn patrol(patrol: &Value, mut map: Map<String, Value>) -> Result<Invocation, RuntimeError> {
        let event = map
            .remove("event")
            .filter(patrol_core::event::is_eventbridge_event)
            .ok_or_else(|| invalid("the invocation's `event` is not an EventBridge event"))?;
        if let Some(feed) = patrol.get("feed").and_then(group_id) {
            return Ok(Invocation::Feed { feed, event });
        }
        if let Some(group) = patrol.get("schedule").and_then(group_id) {
            return Ok(Invocation::Schedule { group, event });
        }
        if patrol.get("heartbeat").is_some() {
            return Ok(Invocation::Heartbeat(event));
        }
        if let Some(watchdog) = patrol.get("watchdog") {
            return watchdog
                .get("silent_after_seconds")
                .and_then(Value::as_u64)
                .filter(|s| *s > 0)
                .map(|silent_after_seconds| Invocation::Watchdog {
                    silent_after_seconds,
                })
                .ok_or_else(|| {
                    invalid(format!(
                        "`patrol.watchdog.silent_after_seconds` is not a positive whole number of seconds: {patrol}"
                    ))
                });
        }
        Err(invalid(format!(
            "`patrol` names no feed, schedule group, heartbeat or watchdog: {patrol}"
        )))
    }
}

/// The function's handler: what invoked it, then that. Each rule it touched gets its
/// metric line at the end, whatever the outcome.
pub async fn handle<H: Handler, D: Deliver + Sync, S: SecretSource + Sync>(
    runtime: &Runtime<H, D, S>,
    event: LambdaEvent<Value>,
) -> Result<Output, RuntimeError> {
    let metrics = Metrics::default();
    let inv = Invoked {
        request_id: event.context.request_id.as_str(),
        deadline: Deadline::from_context(event.context.deadline, std::time::SystemTime::now()),
        metrics: &metrics,
    };
    let output = dispatch(runtime, Invocation::classify(event.payload)?, inv).await;
    metrics.emit(H::NAME);
    output
}

async fn dispatch<H: Handler, D: Deliver + Sync, S: SecretSource + Sync>(
    runtime: &Runtime<H, D, S>,
    invocation: Invocation,
    inv: Invoked<'_>,
) -> Result<Output, RuntimeError> {
    let request_id = inv.request_id;
    match invocation {
        Invocation::Feed { feed, event } => {
            Ok(Output::Event(runtime.feed(&feed, event, inv).await?))
        }
        Invocation::Schedule { group, event } => {
            Ok(Output::Event(runtime.schedule(&group, event, inv).await?))
        }
        Invocation::Event(event) => Ok(Output::Event(runtime.any_feed(event, inv).await?)),
        Invocation::Heartbeat(event) => Ok(Output::Heartbeat(
            runtime.heartbeat(event, request_id).await?,
        )),
        Invocation::Watchdog {
            silent_after_seconds,
        } => Ok(Output::Watchdog(
            runtime.watchdog(silent_after_seconds, request_id).await?,
        )),
        Invocation::Sns(payload) => Ok(Output::Sns(runtime.sns(payload, inv).await?)),
        Invocation::FunctionUrl(payload) => Ok(Output::FunctionUrl(
            runtime.function_url(payload, inv).await?,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> Value {
        json!({"id": "e-1", "detail-type": "AWS API Call via CloudTrail", "source": "aws.iam", "detail": {}})
    }

    #[test]
    fn payloads_are_told_apart_by_shape() {
        let feed = Invocation::classify(json!({"patrol": {"feed": "iam"}, "event": event()}));
        assert_eq!(
            feed.ok(),
            Some(Invocation::Feed {
                feed: "iam".into(),
                event: event()
            })
        );
        let schedule = Invocation::classify(json!({"patrol": {"schedule": 3}, "event": event()}));
        assert_eq!(
            schedule.ok(),
            Some(Invocation::Schedule {
                group: "3".into(),
                event: event()
            })
        );
        assert_eq!(
            Invocation::classify(event()).ok(),
            Some(Invocation::Event(event()))
        );
        let heartbeat =
            Invocation::classify(json!({"patrol": {"heartbeat": {}}, "event": event()}));
        assert_eq!(heartbeat.ok(), Some(Invocation::Heartbeat(event())));
        let watchdog = Invocation::classify(
            json!({"patrol": {"watchdog": {"silent_after_seconds": 1800}}, "event": event()}),
        );
        assert_eq!(
            watchdog.ok(),
            Some(Invocation::Watchdog {
                silent_after_seconds: 1800
            })
        );
        assert!(matches!(
            Invocation::classify(json!({"Records": []})),
            Ok(Invocation::Sns(_))
        ));
        assert!(matches!(
            Invocation::classify(json!({"rawPath": "/r", "requestContext": {}})),
            Ok(Invocation::FunctionUrl(_))
        ));
    }

    #[test]
    fn malformed_payloads_say_what_was_expected() {
        for (payload, expected) in [
            (json!([]), "not a JSON object"),
            (json!({"hello": "world"}), "not a Patrol invocation"),
            (
                json!({"patrol": {"feed": "iam"}}),
                "`event` is not an EventBridge event",
            ),
            (
                json!({"patrol": {"feed": "iam"}, "event": {"x": 1}}),
                "`event` is not an EventBridge event",
            ),
            (
                json!({"patrol": {"cover": "iam"}, "event": event()}),
                "names no feed, schedule group, heartbeat or watchdog",
            ),
            (
                json!({"patrol": {"feed": ""}, "event": event()}),
                "names no feed, schedule group, heartbeat or watchdog",
            ),
            (
                json!({"patrol": {"watchdog": {}}, "event": event()}),
                "`patrol.watchdog.silent_after_seconds` is not a positive whole number",
            ),
            (
                json!({"patrol": {"watchdog": {"silent_after_seconds": 0}}, "event": event()}),
                "`patrol.watchdog.silent_after_seconds` is not a positive whole number",
            ),
            (
                json!({"patrol": {"watchdog": {"silent_after_seconds": "1800"}}, "event": event()}),
                "`patrol.watchdog.silent_after_seconds` is not a positive whole number",
            ),
            (
                json!({"patrol": {"heartbeat": {}}}),
                "`event` is not an EventBridge event",
            ),
        ] {
            match Invocation::classify(payload) {
                Err(RuntimeError::Event(m)) => assert!(m.contains(expected), "{m}"),
                other => panic!("expected an invalid event, got {other:?}"),
            }
        }
    }
}
