//! Function URL requests: one URL for every webhook rule of the handler, the path naming
//! the rule (`<url>/<rule id>`). A function URL has no AWS authentication, so a request
//! is checked from the cheapest test to the dearest, each one before anything costs more:
//!
//! 1. a body larger than [`MAX_BODY`]: 413, before it is decoded or parsed;
//! 2. a path that names no webhook rule: 404;
//! 3. signature headers missing (401) or not of the provider's shape, or a generic
//!    request's timestamp outside its replay window (400, 401): before the secret is
//!    fetched ([`patrol_aws::signature::check_headers`]);
//! 4. the signature checked with the secret's current value; on a mismatch with the value
//!    fetched past the cache, then with the previous value during a rotation
//!    ([`patrol_aws::secrets`]); an empty secret is a 500, never a key: 401;
//! 5. a signed request already received (a replay) is a 409 ([`patrol_aws::webhook_deliveries::WebhookDeliveries`]);
//! 6. the body wrapped as an event ([`patrol_core::event::wrap_webhook`]; not JSON: 400),
//!    and the rule decides and sends.
//!
//! Synchronous and never retried by Lambda: what could not be delivered goes to the
//! failure queue, and the caller gets a 500.

use aws_lambda_events::http::HeaderValue;
use aws_lambda_events::http::header::CONTENT_TYPE;
use aws_lambda_events::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlResponse,
};
use base64::Engine as _;
use patrol_aws::secrets::{SecretSource, SecretValue};
use patrol_aws::signature::{SignatureError, check_headers, signed_digest, verify_webhook};
use patrol_aws::sink::Deliver;
use patrol_aws::webhook_deliveries::{
    KEEP_TIMED, KEEP_UNTIMED, Receipt, Received, Request as Delivery,
};
use patrol_core::manifest::{Trigger, WebhookProvider};
use serde::Serialize;
use serde_json::{Value, json};

use crate::Runtime;
use crate::delivery::{RuleCall, event_id, now_ms};
use crate::eventbridge::Invoked;
use crate::failure::{RuntimeError, check};
use crate::handler::Handler;

/// The largest body accepted (decoded). GitHub's own limit is 25 MB, but no event a
/// rule needs comes near this, and the function parses what it accepts.
pub const MAX_BODY: usize = 1024 * 1024;

/// Whether the request's body, as the function URL passed it (base64 or not), is larger
/// than [`MAX_BODY`] once decoded.
fn oversized(payload: &Value) -> bool {
    let Some(body) = payload.get("body").and_then(Value::as_str) else {
        return false;
    };
    let base64 = payload.get("isBase64Encoded").and_then(Value::as_bool) == Some(true);
    let decoded = if base64 {
        body.len() / 4 * 3
    } else {
        body.len()
    };
    decoded > MAX_BODY
}

/// How a rejected signature is answered: 400 when no secret could ever have signed the
/// request as it is (a header of the wrong shape), 401 otherwise.
fn rejection(e: &SignatureError) -> i64 {
    match e {
        SignatureError::Malformed(_) | SignatureError::BadTimestamp(_) => 400,
        SignatureError::Missing(_) | SignatureError::Mismatch(_) | SignatureError::Stale(_) => 401,
    }
}

fn unix_now() -> i64 {
    now_ms().div_euclid(1000)
}

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

impl<H: Handler, D: Deliver + Sync, S: SecretSource + Sync> Runtime<H, D, S> {
    pub async fn function_url(
        &self,
        payload: Value,
        inv: Invoked<'_>,
    ) -> Result<LambdaFunctionUrlResponse, RuntimeError> {
        let request_id = inv.request_id;
        if oversized(&payload) {
            tracing::warn!(request_id, limit = MAX_BODY, "webhook body too large");
            return Ok(http_response(
                413,
                &json!({"error": format!("the body is larger than {MAX_BODY} bytes")}),
            ));
        }
        let mut req: LambdaFunctionUrlRequest = serde_json::from_value(payload)
            .map_err(|e| RuntimeError::Event(format!("not a Lambda function URL request: {e}")))?;
        let source_ip = req
            .request_context
            .http
            .source_ip
            .clone()
            .unwrap_or_default();
        let path = req.raw_path.clone().unwrap_or_default();
        let id = path.strip_prefix('/').unwrap_or(&path);
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
            return Err(RuntimeError::ConfigMismatch(format!(
                "rule `{id}` is not a webhook rule"
            )));
        };
        let provider = *provider;
        let rule = id;
        let raw = req.body.take().unwrap_or_default();
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
        let now = unix_now();
        let reject = |e: SignatureError| {
            tracing::warn!(rule, request_id, source_ip, provider = provider.as_str(), error = %e,
                "webhook rejected: bad or missing signature");
            http_response(rejection(&e), &json!({"error": e.to_string()}))
        };
        if let Err(e) = check_headers(provider, &header, now) {
            return Ok(reject(e));
        }
        let verified = match self
            .verify(provider, secret_name, &header, &body, now, rule, request_id)
            .await
        {
            Ok(v) => v,
            Err(Unverified::Signature(e)) => return Ok(reject(e)),
            Err(Unverified::Secret(why)) => {
                tracing::error!(rule, request_id, error = %why, "cannot verify webhook: signing secret unusable");
                return Ok(http_response(
                    500,
                    &json!({"error": "the signing secret is unavailable"}),
                ));
            }
        };
        let receipt = match self
            .receive(provider, rule, &header, &body, now, request_id)
            .await
        {
            Ok(receipt) => receipt,
            Err(()) => {
                tracing::warn!(
                    rule,
                    request_id,
                    source_ip,
                    "webhook rejected: this signed request was already received"
                );
                return Ok(http_response(
                    409,
                    &json!({"error": "this request was already received"}),
                ));
            }
        };
        if verified == Verified::Previous {
            tracing::warn!(rule, request_id, secret = %secret_name,
                "webhook signed with the previous version of its secret (a rotation in progress); update the sender");
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
        let id = event_id(&event);
        let today = patrol_core::date::today();
        let call = RuleCall {
            event: &event,
            event_id: id.as_deref(),
            request_id,
            deadline: inv.deadline,
            today: &today,
            metrics: inv.metrics,
        };
        let runs = self.run_rule(compiled, call).await;
        match check(&runs) {
            // One event (the request itself, for `notify`): its result, as before; a
            // handler that returned several: all of them.
            Ok(()) => Ok(match runs.as_slice() {
                [run] => http_response(200, &run.result),
                _ => http_response(
                    200,
                    &json!({"rule": rule, "results": runs.iter().map(|r| &r.result).collect::<Vec<_>>()}),
                ),
            }),
            Err(RuntimeError::Failed(failures)) => {
                let alert = runs
                    .iter()
                    .find(|r| !r.failures.is_empty())
                    .and_then(|r| r.alert.as_deref());
                let (queued, ()) = futures_util::future::join(
                    self.save_failure(&event, alert, &failures, request_id),
                    self.forget(receipt, rule, request_id),
                )
                .await;
                Ok(http_response(
                    500,
                    &json!({"rule": rule, "error": "the alert was not delivered", "saved_to_failure_queue": queued}),
                ))
            }
            Err(e) => Err(e),
        }
    }

    /// The request's signature, with the secret's current value, then that value fetched
    /// past the cache, then its previous value during a rotation.
    #[allow(clippy::too_many_arguments, reason = "one request's parts, used once")]
    async fn verify(
        &self,
        provider: WebhookProvider,
        secret_name: &str,
        header: &dyn Fn(&str) -> Option<String>,
        body: &[u8],
        now: i64,
        rule: &str,
        request_id: &str,
    ) -> Result<Verified, Unverified> {
        let key = |value: SecretValue| {
            let key = value.field("secret");
            if key.is_empty() {
                return Err(Unverified::Secret(format!(
                    "secret `{secret_name}` holds an empty signing key, which anybody could sign with"
                )));
            }
            Ok(key)
        };
        let check = |key: &SecretValue| {
            verify_webhook(provider, header, key.expose().as_bytes(), body, now)
        };
        let current = self
            .secrets
            .secret(secret_name)
            .await
            .map_err(Unverified::Secret)?;
        let current = key(current)?;
        let mismatch = match check(&current) {
            Ok(()) => return Ok(Verified::Current),
            Err(e) if e.is_malformed() => return Err(Unverified::Signature(e)),
            Err(e) => e,
        };
        match self.secrets.refresh(secret_name).await {
            Ok(fresh) => {
                let fresh = key(fresh)?;
                if fresh != current && check(&fresh).is_ok() {
                    tracing::info!(
                        rule,
                        request_id,
                        "the webhook secret changed since it was cached"
                    );
                    return Ok(Verified::Current);
                }
            }
            Err(why) => {
                tracing::warn!(rule, request_id, error = %why, "could not fetch the webhook secret again");
            }
        }
        match self.secrets.previous(secret_name).await {
            Ok(Some(previous)) => match key(previous) {
                Ok(previous) if check(&previous).is_ok() => Ok(Verified::Previous),
                _ => Err(Unverified::Signature(mismatch)),
            },
            Ok(None) => Err(Unverified::Signature(mismatch)),
            Err(why) => {
                tracing::warn!(rule, request_id, error = %why, "could not read the previous version of the webhook secret");
                Err(Unverified::Signature(mismatch))
            }
        }
    }

    /// Records a signed request in the state table: `Err(())` when it was received
    /// before. Fails open (and without a state table there is nothing to remember it in).
    async fn receive(
        &self,
        provider: WebhookProvider,
        rule: &str,
        header: &dyn Fn(&str) -> Option<String>,
        body: &[u8],
        now: i64,
        request_id: &str,
    ) -> Result<Option<Receipt>, ()> {
        let (Some(table), Some(digest)) = (
            &self.webhook_deliveries,
            signed_digest(provider, header, body),
        ) else {
            return Ok(None);
        };
        let delivery_id = match provider {
            WebhookProvider::Github => header("x-github-delivery"),
            WebhookProvider::Generic | WebhookProvider::Gitlab => None,
        };
        let keep = match provider {
            WebhookProvider::Generic => KEEP_TIMED,
            WebhookProvider::Github | WebhookProvider::Gitlab => KEEP_UNTIMED,
        };
        let request = Delivery {
            rule,
            digest: &digest,
            delivery_id: delivery_id.as_deref(),
            now,
            keep,
        };
        match table.receive(request).await {
            Ok(Received::First(receipt)) => Ok(Some(receipt)),
            Ok(Received::Again) => Err(()),
            Err(e) => {
                tracing::warn!(rule, request_id, error = %e,
                    "could not check this webhook request against those already received; processing it (fail open)");
                Ok(None)
            }
        }
    }

    /// Forgets a request whose alert was not delivered, so the sender's redelivery is
    /// processed.
    async fn forget(&self, receipt: Option<Receipt>, rule: &str, request_id: &str) {
        if let (Some(table), Some(receipt)) = (&self.webhook_deliveries, receipt)
            && let Err(e) = table.forget(&receipt).await
        {
            tracing::warn!(rule, request_id, error = %e,
                "could not forget an undelivered webhook request; its redelivery will be rejected as a replay");
        }
    }
}

/// Which version of the secret signed the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verified {
    Current,
    /// `AWSPREVIOUS`, during a rotation.
    Previous,
}

#[derive(Debug)]
enum Unverified {
    Signature(SignatureError),
    /// The secret could not be read, or is empty.
    Secret(String),
}
