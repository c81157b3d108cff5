//! The generic webhook sink: the [`Alert`] as JSON, signed when the route has a secret
//! (`X-Patrol-Signature: sha256=<hex HMAC-SHA256 of the body>`, the secret's value or its
//! `secret` field as the key). The same signature is also sent as `X-Signature-256`, the
//! header a Patrol `webhook` trigger with `provider = "generic"` verifies, so one Patrol
//! deployment can feed another.

use patrol_core::alert::Alert;
use reqwest::Url;

use crate::http::HttpSender;
use crate::secrets::SecretValue;
use crate::signature::{PATROL_SIGNATURE_HEADER, sign};

/// The body and headers of one delivery.
pub fn request(alert: &Alert, key: Option<&SecretValue>) -> (Vec<u8>, Vec<(&'static str, String)>) {
    let body = serde_json::to_vec(alert).unwrap_or_default();
    let mut headers = vec![("x-patrol-rule", alert.rule.clone())];
    if let Some(key) = key {
        let sig = sign(key.expose().as_bytes(), &body);
        headers.push((PATROL_SIGNATURE_HEADER, sig.clone()));
        headers.push(("x-signature-256", sig));
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
    use crate::slack::tests::alert;

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

    #[test]
    fn unsigned_without_a_secret() {
        let (_, headers) = request(&alert(), None);
        assert!(headers.iter().all(|(k, _)| *k != PATROL_SIGNATURE_HEADER));
    }
}
