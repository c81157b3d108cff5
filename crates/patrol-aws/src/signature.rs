//! Webhook signatures, both ways: signing what the webhook sink sends
//! (`X-Patrol-Signature: sha256=<hex HMAC-SHA256 of the body>`) and verifying what a
//! webhook trigger receives, per provider:
//!
//! - GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`;
//! - GitLab: `X-Gitlab-Token: <the secret>`;
//! - generic: `X-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`.
//!
//! Every comparison is constant-time (`hmac`'s `verify_slice`).

use hmac::{Hmac, KeyInit as _, Mac as _};
use patrol_core::manifest::WebhookProvider;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Header the webhook sink signs with.
pub const PATROL_SIGNATURE_HEADER: &str = "x-patrol-signature";

/// Why a request's signature was not accepted. Never contains the secret or the
/// signature received.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing header {0}")]
    Missing(&'static str),
    #[error("header {0} is not `sha256=<64 hex digits>`")]
    Malformed(&'static str),
    #[error("header {0} does not match the request body and the shared secret")]
    Mismatch(&'static str),
}

fn mac(secret: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length: this cannot fail.
    match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

/// `sha256=<hex HMAC-SHA256(secret, body)>`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut m = mac(secret);
    m.update(body);
    format!("sha256={}", hex::encode(m.finalize().into_bytes()))
}

/// Checks `sha256=<hex>` against the body's HMAC, in constant time.
pub fn verify_hmac(
    header: &'static str,
    value: Option<&str>,
    secret: &[u8],
    body: &[u8],
) -> Result<(), SignatureError> {
    let value = value.ok_or(SignatureError::Missing(header))?;
    let hex_digest = value
        .trim()
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed(header))?;
    let expected = hex::decode(hex_digest).map_err(|_| SignatureError::Malformed(header))?;
    let mut m = mac(secret);
    m.update(body);
    m.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch(header))
}

/// Checks a token sent as is (GitLab) in constant time: both sides are put through the
/// same HMAC, so the comparison does not depend on where they first differ or on length.
pub fn verify_token(
    header: &'static str,
    value: Option<&str>,
    secret: &[u8],
) -> Result<(), SignatureError> {
    let value = value.ok_or(SignatureError::Missing(header))?;
    let mut expected = mac(b"patrol-token-compare");
    expected.update(secret);
    let expected = expected.finalize().into_bytes();
    let mut got = mac(b"patrol-token-compare");
    got.update(value.as_bytes());
    got.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch(header))
}

/// Verifies a webhook request from `provider`; `header` looks a header up by lowercase name.
pub fn verify_webhook(
    provider: WebhookProvider,
    header: &dyn Fn(&str) -> Option<String>,
    secret: &[u8],
    body: &[u8],
) -> Result<(), SignatureError> {
    match provider {
        WebhookProvider::Github => {
            let h = "X-Hub-Signature-256";
            verify_hmac(h, header("x-hub-signature-256").as_deref(), secret, body)
        }
        WebhookProvider::Gitlab => {
            let h = "X-Gitlab-Token";
            verify_token(h, header("x-gitlab-token").as_deref(), secret)
        }
        WebhookProvider::Generic => {
            let h = "X-Signature-256";
            verify_hmac(h, header("x-signature-256").as_deref(), secret, body)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // GitHub's documented test values ("Validating webhook deliveries" → "Testing the
    // webhook payload validation", docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries).
    const GITHUB_SECRET: &[u8] = b"It's a Secret to Everybody";
    const GITHUB_BODY: &[u8] = b"Hello, World!";
    const GITHUB_SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    fn headers(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn signs_githubs_documented_example() {
        assert_eq!(sign(GITHUB_SECRET, GITHUB_BODY), GITHUB_SIGNATURE);
    }

    #[test]
    fn github_signature_verifies_and_tampering_fails() {
        let h = headers(&[("x-hub-signature-256", GITHUB_SIGNATURE)]);
        let gh = WebhookProvider::Github;
        assert_eq!(verify_webhook(gh, &h, GITHUB_SECRET, GITHUB_BODY), Ok(()));
        assert_eq!(
            verify_webhook(gh, &h, GITHUB_SECRET, b"Hello, World?"),
            Err(SignatureError::Mismatch("X-Hub-Signature-256"))
        );
        assert_eq!(
            verify_webhook(gh, &h, b"another secret", GITHUB_BODY),
            Err(SignatureError::Mismatch("X-Hub-Signature-256"))
        );
        assert_eq!(
            verify_webhook(gh, &headers(&[]), GITHUB_SECRET, GITHUB_BODY),
            Err(SignatureError::Missing("X-Hub-Signature-256"))
        );
        let sha1 = headers(&[("x-hub-signature-256", "sha1=abc")]);
        assert_eq!(
            verify_webhook(gh, &sha1, GITHUB_SECRET, GITHUB_BODY),
            Err(SignatureError::Malformed("X-Hub-Signature-256"))
        );
        let short = headers(&[("x-hub-signature-256", "sha256=757107ea")]);
        assert_eq!(
            verify_webhook(gh, &short, GITHUB_SECRET, GITHUB_BODY),
            Err(SignatureError::Mismatch("X-Hub-Signature-256"))
        );
    }

    #[test]
    fn generic_uses_x_signature_256() {
        let sig = sign(b"k", b"{}");
        let h = headers(&[("x-signature-256", &sig)]);
        assert_eq!(
            verify_webhook(WebhookProvider::Generic, &h, b"k", b"{}"),
            Ok(())
        );
        let gh_header_only = headers(&[("x-hub-signature-256", &sig)]);
        assert_eq!(
            verify_webhook(WebhookProvider::Generic, &gh_header_only, b"k", b"{}"),
            Err(SignatureError::Missing("X-Signature-256"))
        );
    }

    #[test]
    fn gitlab_token_must_equal_the_secret() {
        let gl = WebhookProvider::Gitlab;
        let ok = headers(&[("x-gitlab-token", "tok-123")]);
        assert_eq!(verify_webhook(gl, &ok, b"tok-123", b"{}"), Ok(()));
        for bad in ["tok-12", "tok-1234", "", "TOK-123"] {
            let h = headers(&[("x-gitlab-token", bad)]);
            assert_eq!(
                verify_webhook(gl, &h, b"tok-123", b"{}"),
                Err(SignatureError::Mismatch("X-Gitlab-Token")),
                "{bad}"
            );
        }
    }
}
