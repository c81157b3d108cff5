//! The generic rule function: an event reached the rule (EventBridge, an SNS topic or a
//! webhook's function URL); render the rule's alert, drop it if it is a duplicate inside
//! the rule's dedup window, and deliver it to the rule's sinks.
//!
//! How each trigger fails:
//! - EventBridge and SNS invoke asynchronously: an error (a `lambda_runtime::Diagnostic`
//!   with a meaningful `error_type`) makes Lambda retry and then dead-letter the event.
//! - A function URL is synchronous and never retried: the handler answers 401 (bad
//!   signature, logged, no alert), 400 (body not JSON) or 500, and on a failed delivery
//!   puts the event, the alert and the error on the failure queue itself.
//!
//! Dedup fails open: if the dedup table cannot be reached, the alert is sent. A claimed
//! window is marked delivered only after delivery, so a failed delivery never hides the
//! retry of its event, even when releasing the window fails too.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::http::HeaderValue;
use aws_lambda_events::http::header::CONTENT_TYPE;
use aws_lambda_events::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlResponse,
};
use aws_lambda_events::sns::{MessageAttribute, SnsEvent};
use base64::Engine as _;
use lambda_runtime::{Diagnostic, LambdaEvent};
use patrol_aws::config::{ConfigError, ENV_RULE, RuleConfig, SinkConfig};
use patrol_aws::dedup::{Claim, ClaimRequest, DedupTable, Ticket};
use patrol_aws::failure::FailureQueue;
use patrol_aws::secrets::SecretSource;
use patrol_aws::signature::verify_webhook;
use patrol_aws::sink::{Deliver, DeliveryError, deliver};
use patrol_core::alert::{Alert, AlertError};
use patrol_core::manifest::{Trigger, WebhookProvider};
use patrol_core::pattern::Pattern;
use patrol_core::rule::{CompiledRule, Verdict};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// Why an alert was not sent when its key is inside an open dedup window.
pub const DUPLICATE: &str = "duplicate within the dedup window";

/// SQS takes messages up to 256 KiB; a larger failure record drops the event's detail.
const MAX_FAILURE_RECORD: usize = 240 * 1024;

/// What the function needs, built once at cold start.
#[derive(Debug)]
pub struct Notify<D, S> {
    /// The rule, its suppressions and condition compiled.
    pub rule: CompiledRule,
    pub sinks: Vec<SinkConfig>,
    pub delivery: D,
    /// Resolves the webhook trigger's signing secret.
    pub secrets: S,
    pub dedup: Option<DedupTable>,
    pub failure_queue: Option<FailureQueue>,
    /// For `sns` triggers: the topic and filter policy, checked again here so a
    /// subscription without its filter policy cannot raise alerts the rule never meant.
    sns_filter: Option<Pattern>,
}

impl<D, S> Notify<D, S> {
    /// Compiles the rule; a bad condition or suppression fails the cold start, loudly.
    pub fn new(config: RuleConfig, delivery: D, secrets: S) -> Result<Self, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            var: ENV_RULE,
            message,
        };
        let sns_filter = match &config.rule.trigger {
            t @ Trigger::Sns { .. } => t
                .delivery_pattern()
                .map(|p| Pattern::parse(&p))
                .transpose()
                .map_err(|e| invalid(format!("the SNS filter policy is not valid: {e}")))?,
            _ => None,
        };
        let rule = CompiledRule::new(config.rule).map_err(invalid)?;
        Ok(Self {
            rule,
            sinks: config.sinks,
            delivery,
            secrets,
            dedup: None,
            failure_queue: None,
            sns_filter,
        })
    }

    pub fn with_dedup(mut self, table: Option<DedupTable>) -> Self {
        self.dedup = table;
        self
    }

    pub fn with_failure_queue(mut self, queue: Option<FailureQueue>) -> Self {
        self.failure_queue = queue;
        self
    }
}

/// One event's result, visible in `cargo lambda invoke` and Lambda destinations.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Response {
    pub rule: String,
    /// What each sink returned (SNS message ids, `pagerduty:<dedup key>`,
    /// `slack:200`, `webhook:200`); empty when no alert was sent.
    pub message_ids: Vec<String>,
    /// Why no alert was sent, when none was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// An SNS invocation's result: one [`Response`] per record.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct SnsResponse {
    pub rule: String,
    pub records: Vec<Response>,
}

/// What the function answers, by trigger.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Output {
    Event(Response),
    Sns(SnsResponse),
    FunctionUrl(LambdaFunctionUrlResponse),
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("{0}")]
    Event(String),
    #[error(transparent)]
    Alert(#[from] AlertError),
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
}

impl From<NotifyError> for Diagnostic {
    fn from(e: NotifyError) -> Self {
        let error_type = match &e {
            NotifyError::Event(_) => "Patrol.InvalidEvent",
            NotifyError::Alert(AlertError::Template(_)) => "Patrol.TemplateError",
            NotifyError::Alert(AlertError::Condition(_)) => "Patrol.ConditionError",
            NotifyError::Delivery(_) => "Patrol.DeliveryFailed",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// What the rule decided for one event, dedup included.
enum Decision {
    Skip(String),
    Send {
        alert: Box<Alert>,
        /// The dedup window this alert claimed: marked delivered after delivery, released
        /// if delivery fails.
        claim: Option<Ticket>,
    },
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

/// RFC 3339 UTC for epoch milliseconds.
fn rfc3339(epoch_ms: i64) -> String {
    let secs = epoch_ms.div_euclid(1000);
    let day = secs.div_euclid(86_400);
    let s = secs.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        patrol_core::date::civil_date(day * 86_400),
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

fn http_response(status: i64, body: &impl Serialize) -> LambdaFunctionUrlResponse {
    let mut r = LambdaFunctionUrlResponse::default();
    r.status_code = status;
    r.headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.body = Some(serde_json::to_string(body).unwrap_or_default());
    r.is_base64_encoded = false;
    r
}

impl<D: Deliver + Sync, S: SecretSource + Sync> Notify<D, S> {
    fn rule_id(&self) -> &str {
        &self.rule.rule.id
    }

    fn skipped(&self, why: String) -> Response {
        Response {
            rule: self.rule_id().to_owned(),
            message_ids: Vec::new(),
            skipped: Some(why),
        }
    }

    async fn decide(&self, event: &Value, request_id: &str) -> Result<Decision, AlertError> {
        let rule = &self.rule.rule;
        let verdict = self
            .rule
            .evaluate(event, &patrol_core::date::today())
            .inspect_err(|e| {
                tracing::error!(rule = %rule.id, request_id, error = %e, "rule failed on this event");
            })?;
        let skip = |why: String| {
            tracing::info!(rule = %rule.id, request_id, why, "no alert");
            Ok(Decision::Skip(why))
        };
        let alert = match verdict {
            Verdict::Alert(alert) => alert,
            Verdict::ConditionFalse => return skip("condition false".to_owned()),
            Verdict::Suppressed { owner, reason } => {
                return skip(format!("suppressed by {owner}: {reason}"));
            }
        };
        let claim = match self.claim(&alert, request_id).await {
            Some(Ok(claim)) => Some(claim),
            Some(Err(())) => return skip(DUPLICATE.to_owned()),
            None => None,
        };
        Ok(Decision::Send { alert, claim })
    }

    /// `None`: not deduplicated (no dedup, no key, no event time, or the table failed:
    /// fail open). `Some(Err(()))`: a duplicate.
    async fn claim(&self, alert: &Alert, request_id: &str) -> Option<Result<Ticket, ()>> {
        let (Some(dedup), Some(table), Some(key)) = (
            &self.rule.rule.dedup,
            &self.dedup,
            alert.dedup_key.as_deref(),
        ) else {
            return None;
        };
        let Some(time) = alert
            .time
            .as_deref()
            .and_then(patrol_core::date::unix_seconds)
        else {
            tracing::warn!(rule = %alert.rule, request_id, "event has no time: not deduplicated");
            return None;
        };
        let request = ClaimRequest {
            rule: &alert.rule,
            key,
            event_time: time,
            window_seconds: dedup.window_seconds,
            event_id: alert.event_id.as_deref(),
            now: now_ms().div_euclid(1000),
        };
        match table.claim(request).await {
            Ok(Claim::First(ticket)) => Some(Ok(ticket)),
            Ok(Claim::Duplicate) => Some(Err(())),
            Err(e) => {
                tracing::warn!(rule = %alert.rule, request_id, error = %e,
                    "dedup check failed; sending the alert anyway (fail open)");
                None
            }
        }
    }

    /// Delivers the alert, then settles its dedup claim: marked delivered, or released
    /// when delivery failed.
    async fn send(
        &self,
        alert: &Alert,
        claim: Option<Ticket>,
    ) -> Result<Vec<String>, DeliveryError> {
        let result = deliver(&self.delivery, &self.sinks, alert).await;
        let (Some(table), Some(ticket)) = (&self.dedup, claim) else {
            return result;
        };
        match &result {
            Ok(_) => {
                if let Err(e) = table.delivered(&ticket).await {
                    tracing::error!(rule = %alert.rule, error = %e,
                        "alert delivered but its dedup window not marked delivered; a retry of this event may send it again (a duplicate, not a loss)");
                }
            }
            Err(_) => {
                if let Err(e) = table.release(&ticket).await {
                    tracing::warn!(rule = %alert.rule, error = %e,
                        "could not release the dedup window of an undelivered alert; the retry of this event still sends it");
                }
            }
        }
        result
    }

    /// One EventBridge-shaped event, end to end.
    async fn process(&self, event: &Value, request_id: &str) -> Result<Response, NotifyError> {
        match self.decide(event, request_id).await? {
            Decision::Skip(why) => Ok(self.skipped(why)),
            Decision::Send { alert, claim } => Ok(Response {
                rule: self.rule_id().to_owned(),
                message_ids: self.send(&alert, claim).await?,
                skipped: None,
            }),
        }
    }

    async fn handle_sns(
        &self,
        payload: Value,
        request_id: &str,
    ) -> Result<SnsResponse, NotifyError> {
        let sns: SnsEvent = serde_json::from_value(payload)
            .map_err(|e| NotifyError::Event(format!("not an SNS event: {e}")))?;
        let mut records = Vec::new();
        let mut first_error = None;
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
            if let Some(filter) = &self.sns_filter
                && !filter.matches(&event)
            {
                let why = "not matched by the rule's topic and filter policy".to_owned();
                tracing::info!(rule = %self.rule_id(), request_id, message_id = %m.message_id, why, "no alert");
                records.push(self.skipped(why));
                continue;
            }
            match self.process(&event, request_id).await {
                Ok(r) => records.push(r),
                Err(e) => {
                    tracing::error!(rule = %self.rule_id(), request_id, message_id = %m.message_id, error = %e, "SNS message failed");
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(SnsResponse {
                rule: self.rule_id().to_owned(),
                records,
            }),
        }
    }

    async fn handle_webhook(
        &self,
        provider: WebhookProvider,
        secret_name: &str,
        payload: Value,
        request_id: &str,
    ) -> Result<LambdaFunctionUrlResponse, NotifyError> {
        let rule = self.rule_id();
        let req: LambdaFunctionUrlRequest = serde_json::from_value(payload)
            .map_err(|e| NotifyError::Event(format!("not a Lambda function URL request: {e}")))?;
        let source_ip = req
            .request_context
            .http
            .source_ip
            .clone()
            .unwrap_or_default();
        let raw = req.body.clone().unwrap_or_default();
        let body = if req.is_base64_encoded {
            match base64::engine::general_purpose::STANDARD.decode(raw.trim()) {
                Ok(b) => b,
                Err(_) => {
                    tracing::warn!(
                        rule,
                        request_id,
                        source_ip,
                        "webhook body is not valid base64"
                    );
                    return Ok(http_response(
                        400,
                        &json!({"error": "the body is not valid base64"}),
                    ));
                }
            }
        } else {
            raw.into_bytes()
        };
        let header = |name: &str| {
            req.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let secret = match self.secrets.secret(secret_name).await {
            Ok(s) => s.field("secret"),
            Err(e) => {
                tracing::error!(rule, request_id, error = %e, "cannot verify webhook: signing secret unavailable");
                return Ok(http_response(
                    500,
                    &json!({"error": "the signing secret is unavailable"}),
                ));
            }
        };
        if let Err(e) = verify_webhook(provider, &header, secret.expose().as_bytes(), &body) {
            tracing::warn!(rule, request_id, source_ip, provider = provider.as_str(), error = %e,
                "webhook rejected: bad or missing signature");
            return Ok(http_response(401, &json!({"error": e.to_string()})));
        }
        let received = match req.request_context.time_epoch {
            0 => rfc3339(now_ms()),
            ms => rfc3339(ms),
        };
        let event =
            match patrol_core::event::wrap_webhook(provider, &header, &body, &received, request_id)
            {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(rule, request_id, error = %e, "webhook body rejected");
                    return Ok(http_response(400, &json!({"error": e.to_string()})));
                }
            };
        let (alert, result) = match self.decide(&event, request_id).await {
            Ok(Decision::Skip(why)) => return Ok(http_response(200, &self.skipped(why))),
            Err(e) => (None, Err(e.to_string())),
            Ok(Decision::Send { alert, claim }) => {
                let result = self.send(&alert, claim).await.map_err(|e| e.to_string());
                (Some(alert), result)
            }
        };
        match result {
            Ok(message_ids) => Ok(http_response(
                200,
                &Response {
                    rule: rule.to_owned(),
                    message_ids,
                    skipped: None,
                },
            )),
            Err(error) => {
                let queued = self
                    .save_failure(&event, alert.as_deref(), &error, request_id)
                    .await;
                Ok(http_response(
                    500,
                    &json!({"rule": rule, "error": "the alert was not delivered", "saved_to_failure_queue": queued}),
                ))
            }
        }
    }

    /// Puts what could not be delivered on the failure queue; if that fails too, logs the
    /// whole alert at error level so it is at least in CloudWatch Logs.
    async fn save_failure(
        &self,
        event: &Value,
        alert: Option<&Alert>,
        error: &str,
        request_id: &str,
    ) -> bool {
        let rule = self.rule_id();
        let mut record = json!({
            "rule": rule, "request_id": request_id, "error": error, "event": event, "alert": alert,
        });
        if record.to_string().len() > MAX_FAILURE_RECORD {
            record["event"] = json!({
                "id": event.get("id"), "detail-type": event.get("detail-type"),
                "source": event.get("source"), "time": event.get("time"),
                "detail": "(dropped: too large for the failure queue)",
            });
        }
        let alert_json = serde_json::to_string(&alert).unwrap_or_default();
        let Some(queue) = &self.failure_queue else {
            tracing::error!(rule, request_id, error, alert = %alert_json, "alert not delivered and no failure queue is configured");
            return false;
        };
        match queue.send(&record).await {
            Ok(id) => {
                tracing::error!(rule, request_id, error, message_id = %id, "alert not delivered; saved to the failure queue");
                true
            }
            Err(queue_error) => {
                tracing::error!(rule, request_id, error, queue_error = %queue_error, alert = %alert_json,
                    "alert not delivered and the failure queue failed too");
                false
            }
        }
    }
}

/// The function's handler: dispatches on the rule's trigger.
pub async fn handle<D: Deliver + Sync, S: SecretSource + Sync>(
    notify: &Notify<D, S>,
    event: LambdaEvent<Value>,
) -> Result<Output, NotifyError> {
    let request_id = event.context.request_id.clone();
    match &notify.rule.rule.trigger {
        Trigger::Event { .. } | Trigger::Schedule { .. } => {
            let eb: EventBridgeEvent<Value> = serde_json::from_value(event.payload)
                .map_err(|e| NotifyError::Event(format!("not an EventBridge event: {e}")))?;
            let event = serde_json::to_value(&eb)
                .map_err(|e| NotifyError::Event(format!("event is not serializable: {e}")))?;
            Ok(Output::Event(notify.process(&event, &request_id).await?))
        }
        Trigger::Sns { .. } => Ok(Output::Sns(
            notify.handle_sns(event.payload, &request_id).await?,
        )),
        Trigger::Webhook { provider, secret } => Ok(Output::FunctionUrl(
            notify
                .handle_webhook(*provider, secret, event.payload, &request_id)
                .await?,
        )),
    }
}

#[cfg(test)]
mod tests;
