//! The generic webhook sink: the [`Alert`] as JSON, signed when the route has a secret
//! (`X-Patrol-Signature: sha256=<hex HMAC-SHA256 of the body>`, the secret's value or its
//! `secret` field as the key). It is also signed the way a Patrol `webhook` trigger with
//! `provider = "generic"` verifies (`X-Patrol-Timestamp` and `X-Signature-256` over
//! `"<timestamp>.<body>"`, [`crate::signature::sign_generic`]), so one Patrol deployment
//! can feed another. The JSON has every field of the alert, `references` (a list of
//! strings) included, and is cut to [`DEFAULT_MAX_BODY_BYTES`].

use patrol_core::alert::Alert;
use reqwest::Url;

use crate::http::HttpSender;
use crate::secrets::SecretValue;
use crate::signature::{PATROL_SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, sign_generic};

/// The largest body sent: 256 KiB, what receivers commonly accept (API Gateway-fronted
/// endpoints, SQS- and SNS-backed ones). A larger alert has its largest fields cut, each
/// saying so ([`Alert::fit`]).
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;

/// The alert's JSON, cut to at most `max` bytes.
pub fn body(alert: &Alert, max: usize) -> Vec<u8> {
    let json = |a: &Alert| serde_json::to_vec(a).unwrap_or_default();
    json(&alert.fit(max, |a| json(a).len()))
}

/// The body and headers of one delivery.
pub fn request(alert: &Alert, key: Option<&SecretValue>) -> (Vec<u8>, Vec<(&'static str, String)>) {
    let body = body(alert, DEFAULT_MAX_BODY_BYTES);
    let mut headers = vec![("x-patrol-rule", alert.rule.clone())];
    if let Some(key) = key {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let key = key.expose().as_bytes();
        headers.push((PATROL_SIGNATURE_HEADER, sign(key, &body)));
        headers.push((TIMESTAMP_HEADER, now.to_string()));
        headers.push(("x-signature-256", sign_generic(key, now, &body)));
    }
    (body, headers)
}

pub async fn send(
    http: &HttpSender,
    url: &Url,
    key: Option<&SecretValue>,
    alert: &Alert,
) -> Result<String, String> {
    let (body, headers) = request(alert, key);
    let redact: Vec<&str> = key.map(SecretValue::expose).into_iter().collect();
    let answer = http
        .post_json(url, body, &headers, &redact)
        .await
        .map_err(|e| e.to_string())?;
    Ok(format!("webhook:{}", answer.status))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::verify_hmac;
    use crate::slack::tests::{alert, huge_alert};

    #[test]
    fn signed_body_is_the_alert_json() {
        let key = SecretValue::new("shh");
        let (body, headers) = request(&alert(), Some(&key));
        let back: Alert = serde_json::from_slice(&body).expect("alert JSON");
        assert_eq!(back, alert());
        let sig = headers
            .iter()
            .find(|(k, _)| *k == PATROL_SIGNATURE_HEADER)
            .map(|(_, v)| v.as_str());
        assert_eq!(
            verify_hmac("X-Patrol-Signature", sig, b"shh", &body),
            Ok(())
        );
    }

    /// A template that renders a huge event field: the body stays under the limit, is
    /// still the alert's JSON, and says what was cut.
    #[test]
    fn huge_template_output_is_cut_to_the_body_limit() {
        let a = huge_alert();
        let (body, _) = request(&a, None);
        assert!(body.len() <= DEFAULT_MAX_BODY_BYTES, "{}", body.len());
        assert!(
            body.len() > DEFAULT_MAX_BODY_BYTES - 10_000,
            "{}",
            body.len()
        );
        let back: Alert = serde_json::from_slice(&body).expect("alert JSON");
        assert!(patrol_core::alert::was_cut(&back.message));
        assert_eq!(back.rule, a.rule);
        assert_eq!(back.references, a.references);
    }

    #[test]
    fn references_are_a_list_of_strings() {
        let (body, _) = request(&alert(), None);
        let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(
            json["references"],
            serde_json::json!(["T1078.004", "CIS-AWS-1.7"])
        );
    }

    #[test]
    fn unsigned_without_a_secret() {
        let (_, headers) = request(&alert(), None);
        assert!(headers.iter().all(|(k, _)| *k != PATROL_SIGNATURE_HEADER));
    }
}
