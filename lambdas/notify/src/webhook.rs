//! Function URL requests: one URL for every webhook rule of the handler, the path naming
//! the rule (`<url>/<rule id>`). Unknown paths get 404 before any secret is fetched. Then
//! the rule's provider signature is checked with its secret, the body is wrapped as an
//! event ([`patrol_core::event::wrap_webhook`]), and the rule decides and sends.
//!
//! Synchronous and never retried by Lambda: what could not be delivered goes to the
//! failure queue, and the caller gets a 500.

use aws_lambda_events::http::HeaderValue;
use aws_lambda_events::http::header::CONTENT_TYPE;
use aws_lambda_events::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlResponse,
};
use base64::Engine as _;
use patrol_aws::secrets::SecretSource;
use patrol_aws::signature::verify_webhook;
use patrol_aws::sink::Deliver;
use patrol_core::manifest::Trigger;
use serde::Serialize;
use serde_json::{Value, json};

use crate::Notify;
use crate::delivery::{event_id, now_ms};
use crate::failure::{NotifyError, check};

/// RFC 3339 UTC for epoch milliseconds.
pub fn rfc3339(epoch_ms: i64) -> String {
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
    pub async fn function_url(
        &self,
        payload: Value,
        request_id: &str,
    ) -> Result<LambdaFunctionUrlResponse, NotifyError> {
        let req: LambdaFunctionUrlRequest = serde_json::from_value(payload)
            .map_err(|e| NotifyError::Event(format!("not a Lambda function URL request: {e}")))?;
        let source_ip = req
            .request_context
            .http
            .source_ip
            .clone()
            .unwrap_or_default();
        let path = req.raw_path.as_deref().unwrap_or_default();
        let id = path.strip_prefix('/').unwrap_or(path);
        let Some(compiled) = self.config.webhooks.get(id) else {
            tracing::warn!(path, request_id, source_ip, "no webhook rule at this path");
            return Ok(http_response(
                404,
                &json!({"error": "no webhook rule at this path: the URL is <function URL>/<rule id>"}),
            ));
        };
        let Trigger::Webhook {
            provider,
            secret: secret_name,
        } = &compiled.rule.trigger
        else {
            // Validation put only webhook rules here.
            return Err(NotifyError::ConfigMismatch(format!(
                "rule `{id}` is not a webhook rule"
            )));
        };
        let provider = *provider;
        let rule = id;
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
        let verdict = compiled.evaluate(&event, &patrol_core::date::today());
        let id = event_id(&event);
        let run = self
            .run_rule(&compiled.rule, verdict, id.as_deref(), request_id)
            .await;
        match check([&run]) {
            Ok(()) => Ok(http_response(200, &run.result)),
            Err(NotifyError::Failed(failures)) => {
                let queued = self
                    .save_failure(&event, run.alert.as_deref(), &failures, request_id)
                    .await;
                Ok(http_response(
                    500,
                    &json!({"rule": rule, "error": "the alert was not delivered", "saved_to_failure_queue": queued}),
                ))
            }
            Err(e) => Err(e),
        }
    }
}
