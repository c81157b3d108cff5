//! Secrets from Secrets Manager, cached per warm container for a short time so a rotated
//! secret is picked up within minutes without a redeploy.
//!
//! A secret's value is either the plain value (a URL, a key) or a JSON object holding it
//! under a well-known field (`webhook_url`, `routing_key`, `secret`), so secrets created by
//! other tooling as key/value pairs work too. Values never reach a log line or an error.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata as _;

/// How long a fetched value is reused.
pub const SECRET_TTL: Duration = Duration::from_secs(300);

/// A secret's value. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Arc<str>);

impl SecretValue {
    pub fn new(value: &str) -> Self {
        Self(Arc::from(value))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The value itself, or its `field` when it is a JSON object holding that field as a
    /// string (trimmed either way).
    pub fn field(&self, field: &str) -> SecretValue {
        let raw = self.0.trim();
        if raw.starts_with('{')
            && let Ok(serde_json::Value::Object(map)) = serde_json::from_str(raw)
            && let Some(v) = map.get(field).and_then(serde_json::Value::as_str)
        {
            return SecretValue::new(v.trim());
        }
        SecretValue::new(raw)
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretValue(***)")
    }
}

/// Something that resolves secret names to values. The real one is [`SecretCache`].
pub trait SecretSource {
    fn secret(&self, name: &str) -> impl Future<Output = Result<SecretValue, String>> + Send;
}

#[derive(Debug, Clone)]
pub struct SecretCache {
    client: Client,
    ttl: Duration,
    cache: Arc<Mutex<HashMap<String, (Instant, SecretValue)>>>,
}

impl SecretCache {
    pub fn new(client: Client) -> Self {
        Self::with_ttl(client, SECRET_TTL)
    }

    pub fn with_ttl(client: Client, ttl: Duration) -> Self {
        Self {
            client,
            ttl,
            cache: Arc::default(),
        }
    }

    fn cached(&self, name: &str) -> Option<SecretValue> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(name)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }
}

impl SecretSource for SecretCache {
    async fn secret(&self, name: &str) -> Result<SecretValue, String> {
        if let Some(v) = self.cached(name) {
            return Ok(v);
        }
        let out = self
            .client
            .get_secret_value()
            .secret_id(name)
            .send()
            .await
            .map_err(|e| {
                let why = match (e.code(), e.message()) {
                    (Some(code), m) => format!("{code}: {}", m.unwrap_or("(no message)")),
                    (None, _) => aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
                };
                format!("cannot read secret `{name}` from Secrets Manager: {why}")
            })?;
        let value = match (out.secret_string(), out.secret_binary()) {
            (Some(s), _) => SecretValue::new(s),
            (None, Some(b)) => std::str::from_utf8(b.as_ref())
                .map(SecretValue::new)
                .map_err(|_| format!("secret `{name}` is binary and not UTF-8 text"))?,
            (None, None) => return Err(format!("secret `{name}` has no value")),
        };
        if value.expose().trim().is_empty() {
            return Err(format!("secret `{name}` is empty"));
        }
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(name.to_owned(), (Instant::now(), value.clone()));
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_and_json_fields() {
        let plain = SecretValue::new(" https://hooks.slack.com/services/T/B/x\n");
        assert_eq!(
            plain.field("webhook_url").expose(),
            "https://hooks.slack.com/services/T/B/x"
        );
        let json = SecretValue::new(r#"{"webhook_url": "https://hooks.slack.com/services/T/B/y"}"#);
        assert_eq!(
            json.field("webhook_url").expose(),
            "https://hooks.slack.com/services/T/B/y"
        );
        // A JSON object without the field is used as is (it may be the key itself).
        assert_eq!(json.field("routing_key").expose(), json.expose());
    }

    #[test]
    fn debug_never_shows_the_value() {
        let v = SecretValue::new("hunter2");
        assert_eq!(format!("{v:?}"), "SecretValue(***)");
    }
}
