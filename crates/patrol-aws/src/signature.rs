//! Webhook signatures, both ways: signing what the webhook sink sends
//! (`X-Patrol-Signature: sha256=<hex HMAC-SHA256 of the body>`) and verifying what a
//! webhook trigger receives, per provider:
//!
//! - GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`;
//! - GitLab: `X-Gitlab-Token: <the secret>`;
//! - generic: `X-Patrol-Timestamp: <unix seconds>` and
//!   `X-Signature-256: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">`; a timestamp
//!   more than [`REPLAY_WINDOW`] away from now is rejected, so a captured request cannot
//!   be replayed later.
//!
//! [`check_headers`] says whether a request carries well-formed signature headers at all,
//! without the secret, so that a request without them is rejected before the secret is
//! fetched. Every comparison is constant-time (`hmac`'s `verify_slice`).

use hmac::{Hmac, KeyInit as _, Mac as _};
use patrol_core::manifest::WebhookProvider;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Header the webhook sink signs with.
pub const PATROL_SIGNATURE_HEADER: &str = "x-patrol-signature";
/// The generic scheme's signed timestamp (unix seconds).
pub const TIMESTAMP_HEADER: &str = "x-patrol-timestamp";
/// How far a generic request's timestamp may be from now, either way.
pub const REPLAY_WINDOW: i64 = 5 * 60;
/// The longest GitLab token accepted (GitLab allows far less).
const MAX_TOKEN: usize = 1024;

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
    #[error("header {0} is not a whole number of unix seconds")]
    BadTimestamp(&'static str),
    #[error("header {0} is more than 5 minutes away from now: a replayed or delayed request")]
    Stale(&'static str),
}

impl SignatureError {
    /// Whether the request could not have been signed with any secret (no header, or one
    /// of the wrong shape, or outside the replay window), as opposed to signed with another
    /// secret ([`SignatureError::Mismatch`]).
    pub fn is_malformed(&self) -> bool {
        !matches!(self, SignatureError::Mismatch(_))
    }
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

/// The generic scheme's signature: `sign` of `"<timestamp>.<body>"`.
pub fn sign_generic(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    sign(secret, &timestamped(timestamp, body))
}

fn timestamped(timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    signed
}

/// The 32 bytes of `sha256=<64 hex digits>`.
fn digest_of(header: &'static str, value: Option<&str>) -> Result<Vec<u8>, SignatureError> {
    let value = value.ok_or(SignatureError::Missing(header))?;
    let hex_digest = value
        .trim()
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed(header))?;
    match hex::decode(hex_digest) {
        Ok(d) if d.len() == 32 => Ok(d),
        _ => Err(SignatureError::Malformed(header)),
    }
}

/// The generic scheme's timestamp, if within [`REPLAY_WINDOW`] of `now` (unix seconds).
fn timestamp(value: Option<&str>, now: i64) -> Result<i64, SignatureError> {
    let h = "X-Patrol-Timestamp";
    let value = value.ok_or(SignatureError::Missing(h))?.trim();
    if value.is_empty() || value.len() > 12 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::BadTimestamp(h));
    }
    let t: i64 = value.parse().map_err(|_| SignatureError::BadTimestamp(h))?;
    if (t - now).abs() > REPLAY_WINDOW {
        return Err(SignatureError::Stale(h));
    }
    Ok(t)
}

/// Whether a request from `provider` carries its signature headers in the right shape
/// (and, for `generic`, a timestamp inside the replay window of `now`, unix seconds):
/// everything that can be checked without the secret.
pub fn check_headers(
    provider: WebhookProvider,
    header: &dyn Fn(&str) -> Option<String>,
    now: i64,
) -> Result<(), SignatureError> {
    match provider {
        WebhookProvider::Github => digest_of(
            "X-Hub-Signature-256",
            header("x-hub-signature-256").as_deref(),
        )
        .map(drop),
        WebhookProvider::Gitlab => {
            let h = "X-Gitlab-Token";
            match header("x-gitlab-token") {
                None => Err(SignatureError::Missing(h)),
                Some(t) if t.is_empty() || t.len() > MAX_TOKEN => Err(SignatureError::Malformed(h)),
                Some(_) => Ok(()),
            }
        }
        WebhookProvider::Generic => {
            digest_of("X-Signature-256", header("x-signature-256").as_deref())?;
            timestamp(header(TIMESTAMP_HEADER).as_deref(), now).map(drop)
        }
    }
}

/// The hex SHA-256 of what `provider`'s signature covers (GitHub: the body; generic: the
/// timestamp and the body), which a replay cannot change without the secret; `None` for
/// GitLab, whose token signs nothing. For requests whose headers passed
/// [`check_headers`].
pub fn signed_digest(
    provider: WebhookProvider,
    header: &dyn Fn(&str) -> Option<String>,
    body: &[u8],
) -> Option<String> {
    use sha2::Digest as _;
    let signed = match provider {
        WebhookProvider::Github => body.to_vec(),
        WebhookProvider::Generic => {
            let t: i64 = header(TIMESTAMP_HEADER)?.trim().parse().ok()?;
            timestamped(t, body)
        }
        WebhookProvider::Gitlab => return None,
    };
    Some(hex::encode(Sha256::digest(&signed)))
}

/// Checks `sha256=<hex>` against the body's HMAC, in constant time.
pub fn verify_hmac(
    header: &'static str,
    value: Option<&str>,
    secret: &[u8],
    body: &[u8],
) -> Result<(), SignatureError> {
    let expected = digest_of(header, value)?;
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

/// Verifies a webhook request from `provider` at `now` (unix seconds); `header` looks a
/// header up by lowercase name.
pub fn verify_webhook(
    provider: WebhookProvider,
    header: &dyn Fn(&str) -> Option<String>,
    secret: &[u8],
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    check_headers(provider, header, now)?;
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
            let t = timestamp(header(TIMESTAMP_HEADER).as_deref(), now)?;
            let signed = timestamped(t, body);
            verify_hmac(h, header("x-signature-256").as_deref(), secret, &signed)
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
    const NOW: i64 = 1_793_520_000;
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
        assert_eq!(
            verify_webhook(gh, &h, GITHUB_SECRET, GITHUB_BODY, NOW),
            Ok(())
        );
        assert_eq!(
            verify_webhook(gh, &h, GITHUB_SECRET, b"Hello, World?", NOW),
            Err(SignatureError::Mismatch("X-Hub-Signature-256"))
        );
        assert_eq!(
            verify_webhook(gh, &h, b"another secret", GITHUB_BODY, NOW),
            Err(SignatureError::Mismatch("X-Hub-Signature-256"))
        );
        assert_eq!(
            verify_webhook(gh, &headers(&[]), GITHUB_SECRET, GITHUB_BODY, NOW),
            Err(SignatureError::Missing("X-Hub-Signature-256"))
        );
        let sha1 = headers(&[("x-hub-signature-256", "sha1=abc")]);
        assert_eq!(
            verify_webhook(gh, &sha1, GITHUB_SECRET, GITHUB_BODY, NOW),
            Err(SignatureError::Malformed("X-Hub-Signature-256"))
        );
        let short = headers(&[("x-hub-signature-256", "sha256=757107ea")]);
        assert_eq!(
            verify_webhook(gh, &short, GITHUB_SECRET, GITHUB_BODY, NOW),
            Err(SignatureError::Malformed("X-Hub-Signature-256"))
        );
    }

    #[test]
    fn generic_uses_x_signature_256() {
        let sig = sign_generic(b"k", NOW, b"{}");
        let ts = NOW.to_string();
        let h = headers(&[("x-signature-256", &sig), ("x-patrol-timestamp", &ts)]);
        assert_eq!(
            verify_webhook(WebhookProvider::Generic, &h, b"k", b"{}", NOW),
            Ok(())
        );
        let gh_header_only = headers(&[("x-hub-signature-256", &sig), ("x-patrol-timestamp", &ts)]);
        assert_eq!(
            verify_webhook(WebhookProvider::Generic, &gh_header_only, b"k", b"{}", NOW),
            Err(SignatureError::Missing("X-Signature-256"))
        );
    }

    #[test]
    fn gitlab_token_must_equal_the_secret() {
        let gl = WebhookProvider::Gitlab;
        let ok = headers(&[("x-gitlab-token", "tok-123")]);
        assert_eq!(verify_webhook(gl, &ok, b"tok-123", b"{}", NOW), Ok(()));
        for bad in ["tok-12", "tok-1234", "TOK-123"] {
            let h = headers(&[("x-gitlab-token", bad)]);
            assert_eq!(
                verify_webhook(gl, &h, b"tok-123", b"{}", NOW),
                Err(SignatureError::Mismatch("X-Gitlab-Token")),
                "{bad}"
            );
        }
    }

    #[test]
    fn generic_signs_its_timestamp_and_rejects_replays_outside_the_window() {
        let body = br#"{"service":"payments"}"#;
        let at = |t: i64, sig: &str| {
            let (t, sig) = (t.to_string(), sig.to_owned());
            headers(&[("x-patrol-timestamp", &t), ("x-signature-256", &sig)])
        };
        let g = WebhookProvider::Generic;
        let signed_then = |t: i64| sign_generic(b"k", t, body);
        for skew in [-300, 0, 300] {
            let h = at(NOW + skew, &signed_then(NOW + skew));
            assert_eq!(verify_webhook(g, &h, b"k", body, NOW), Ok(()), "{skew}");
        }
        for skew in [-301, 301, -86_400] {
            let h = at(NOW + skew, &signed_then(NOW + skew));
            assert_eq!(
                verify_webhook(g, &h, b"k", body, NOW),
                Err(SignatureError::Stale("X-Patrol-Timestamp")),
                "{skew}"
            );
        }
        // A fresh timestamp on an old signature: the timestamp is signed.
        let h = at(NOW, &signed_then(NOW - 3600));
        assert_eq!(
            verify_webhook(g, &h, b"k", body, NOW),
            Err(SignatureError::Mismatch("X-Signature-256"))
        );
        // The body alone, signed as before timestamps: no longer accepted.
        let h = at(NOW, &sign(b"k", body));
        assert_eq!(
            verify_webhook(g, &h, b"k", body, NOW),
            Err(SignatureError::Mismatch("X-Signature-256"))
        );
        let sig = signed_then(NOW);
        let no_time = headers(&[("x-signature-256", &sig)]);
        assert_eq!(
            verify_webhook(g, &no_time, b"k", body, NOW),
            Err(SignatureError::Missing("X-Patrol-Timestamp"))
        );
        for bad in ["", "soon", "1.5", "-1", "99999999999999999999"] {
            let h = headers(&[("x-signature-256", &sig), ("x-patrol-timestamp", bad)]);
            assert_eq!(
                check_headers(g, &h, NOW),
                Err(SignatureError::BadTimestamp("X-Patrol-Timestamp")),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_signed_digest_covers_what_is_signed() {
        let none = headers(&[]);
        // SHA-256 of "Hello, World!".
        assert_eq!(
            signed_digest(WebhookProvider::Github, &none, GITHUB_BODY).as_deref(),
            Some("dffd6021bb2bd5b0af676290809ec3a53191dd81c7f70a4b28688a362182986f")
        );
        let at = |t: &str| headers(&[("x-patrol-timestamp", t)]);
        let g = WebhookProvider::Generic;
        let d1 = signed_digest(g, &at("1793520000"), b"{}");
        assert!(d1.is_some());
        assert_ne!(d1, signed_digest(g, &at("1793520001"), b"{}"));
        assert_eq!(signed_digest(g, &none, b"{}"), None);
        assert_eq!(signed_digest(WebhookProvider::Gitlab, &none, b"{}"), None);
    }

    #[test]
    fn headers_are_checked_for_shape_without_the_secret() {
        let gh = WebhookProvider::Github;
        let ok = headers(&[("x-hub-signature-256", GITHUB_SIGNATURE)]);
        assert_eq!(check_headers(gh, &ok, NOW), Ok(()));
        for (value, expected) in [
            (None, SignatureError::Missing("X-Hub-Signature-256")),
            (
                Some("sha1=abc"),
                SignatureError::Malformed("X-Hub-Signature-256"),
            ),
            (
                Some("sha256=zz"),
                SignatureError::Malformed("X-Hub-Signature-256"),
            ),
            (
                Some("sha256="),
                SignatureError::Malformed("X-Hub-Signature-256"),
            ),
        ] {
            let h = headers(
                &value
                    .map(|v| vec![("x-hub-signature-256", v)])
                    .unwrap_or_default(),
            );
            assert_eq!(
                check_headers(gh, &h, NOW),
                Err(expected.clone()),
                "{value:?}"
            );
            assert!(expected.is_malformed());
        }
        let gl = WebhookProvider::Gitlab;
        let long = "t".repeat(MAX_TOKEN + 1);
        for (h, expected) in [
            (headers(&[]), SignatureError::Missing("X-Gitlab-Token")),
            (
                headers(&[("x-gitlab-token", "")]),
                SignatureError::Malformed("X-Gitlab-Token"),
            ),
            (
                headers(&[("x-gitlab-token", &long)]),
                SignatureError::Malformed("X-Gitlab-Token"),
            ),
        ] {
            assert_eq!(check_headers(gl, &h, NOW), Err(expected));
        }
        assert!(!SignatureError::Mismatch("X").is_malformed());
    }
}
