//! Secrets from Secrets Manager, cached per warm container for a short time so a rotated
//! secret is picked up within minutes without a redeploy.
//!
//! A secret's value is either the plain value (a URL, a key) or a JSON object holding it
//! under a well-known field (`webhook_url`, `routing_key`, `secret`), so secrets created by
//! other tooling as key/value pairs work too. Values never reach a log line or an error.
//!
//! Rotation, from both sides:
//!
//! - a sink that rejects what the cache holds (a revoked Slack URL) or a webhook signature
//!   that does not match asks for the value past the cache ([`SecretSource::refresh`]), at
//!   most once per [`MIN_REFRESH_INTERVAL`] per secret, so a flood of forged signatures
//!   cannot turn into a flood of Secrets Manager calls;
//! - a webhook sender still signing with the old secret right after a rotation is accepted
//!   with the `AWSPREVIOUS` version ([`SecretSource::previous`]) for [`PREVIOUS_GRACE`]
//!   after the current version was created;
//! - when Secrets Manager fails, the value fetched last is used, however old: a secret
//!   that worked minutes ago is better than no alert.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata as _;

/// How long a fetched value is reused.
pub const SECRET_TTL: Duration = Duration::from_secs(300);
/// A value fetched more recently than this is not fetched again past the cache.
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(10);
/// How long after a rotation (the `AWSCURRENT` version's creation) webhook signatures made
/// with the `AWSPREVIOUS` version are still accepted.
pub const PREVIOUS_GRACE: Duration = Duration::from_secs(24 * 3600);

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

    /// Whether the value is empty or only white space: never a usable key (an HMAC with
    /// an empty key is one anybody can compute).
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
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
    /// The current value (`AWSCURRENT`), cached.
    fn secret(&self, name: &str) -> impl Future<Output = Result<SecretValue, String>> + Send;
    /// The current value fetched past the cache, because the cached one was rejected
    /// (unless it was fetched less than [`MIN_REFRESH_INTERVAL`] ago).
    fn refresh(&self, name: &str) -> impl Future<Output = Result<SecretValue, String>> + Send;
    /// The previous value (`AWSPREVIOUS`) while a rotation is recent: `None` when there is
    /// none, or the current version is older than [`PREVIOUS_GRACE`].
    fn previous(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<SecretValue>, String>> + Send;
}

/// The current value as last fetched.
#[derive(Debug, Clone)]
struct Current {
    fetched: Instant,
    value: SecretValue,
    /// When this version was created (Secrets Manager's `CreatedDate`).
    created: Option<SystemTime>,
}

/// The previous value as last fetched: `None` when there is none.
#[derive(Debug, Clone)]
struct Previous {
    fetched: Instant,
    value: Option<SecretValue>,
}

/// One version as Secrets Manager answered.
struct Fetched {
    value: SecretValue,
    created: Option<SystemTime>,
}

enum FetchError {
    /// No version has the stage asked for.
    NotFound,
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct SecretCache {
    client: Client,
    ttl: Duration,
    min_refresh: Duration,
    current: Arc<Mutex<HashMap<String, Current>>>,
    /// `AWSPREVIOUS` by secret name, `None` when there is none, with when it was fetched.
    previous: Arc<Mutex<HashMap<String, Previous>>>,
}

impl SecretCache {
    pub fn new(client: Client) -> Self {
        Self::with_ttl(client, SECRET_TTL)
    }

    pub fn with_ttl(client: Client, ttl: Duration) -> Self {
        Self::with_intervals(client, ttl, MIN_REFRESH_INTERVAL)
    }

    /// [`SECRET_TTL`] and [`MIN_REFRESH_INTERVAL`] as given (tests).
    pub fn with_intervals(client: Client, ttl: Duration, min_refresh: Duration) -> Self {
        Self {
            client,
            ttl,
            min_refresh,
            current: Arc::default(),
            previous: Arc::default(),
        }
    }

    fn cached(&self, name: &str) -> Option<Current> {
        self.current.lock().ok()?.get(name).cloned()
    }

    async fn fetch(&self, name: &str, stage: Option<&str>) -> Result<Fetched, FetchError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(name)
            .set_version_stage(stage.map(str::to_owned))
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception())
                    && stage.is_some()
                {
                    return FetchError::NotFound;
                }
                let why = match (e.code(), e.message()) {
                    (Some(code), m) => format!("{code}: {}", m.unwrap_or("(no message)")),
                    (None, _) => aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
                };
                FetchError::Failed(format!(
                    "cannot read secret `{name}` from Secrets Manager: {why}"
                ))
            })?;
        let value = match (out.secret_string(), out.secret_binary()) {
            (Some(s), _) => SecretValue::new(s),
            (None, Some(b)) => std::str::from_utf8(b.as_ref())
                .map(SecretValue::new)
                .map_err(|_| {
                    FetchError::Failed(format!("secret `{name}` is binary and not UTF-8 text"))
                })?,
            (None, None) => {
                return Err(FetchError::Failed(format!("secret `{name}` has no value")));
            }
        };
        if value.is_empty() {
            return Err(FetchError::Failed(format!("secret `{name}` is empty")));
        }
        let created = out
            .created_date()
            .and_then(|d| SystemTime::try_from(*d).ok());
        Ok(Fetched { value, created })
    }

    /// Fetches the current value and caches it; on failure, the value fetched last.
    async fn fetch_current(
        &self,
        name: &str,
        stale: Option<Current>,
    ) -> Result<SecretValue, String> {
        match self.fetch(name, None).await {
            Ok(f) => {
                if let Ok(mut cache) = self.current.lock() {
                    cache.insert(
                        name.to_owned(),
                        Current {
                            fetched: Instant::now(),
                            value: f.value.clone(),
                            created: f.created,
                        },
                    );
                }
                Ok(f.value)
            }
            Err(e) => {
                let message = match e {
                    FetchError::NotFound => format!("secret `{name}` not found"),
                    FetchError::Failed(m) => m,
                };
                match stale {
                    Some(c) => {
                        tracing::warn!(secret = name, error = %message, age_seconds = c.fetched.elapsed().as_secs(),
                            "Secrets Manager failed; using the value fetched last");
                        Ok(c.value)
                    }
                    None => Err(message),
                }
            }
        }
    }
}

impl SecretSource for SecretCache {
    async fn secret(&self, name: &str) -> Result<SecretValue, String> {
        let cached = self.cached(name);
        match cached {
            Some(c) if c.fetched.elapsed() < self.ttl => Ok(c.value),
            stale => self.fetch_current(name, stale).await,
        }
    }

    async fn refresh(&self, name: &str) -> Result<SecretValue, String> {
        let cached = self.cached(name);
        match cached {
            Some(c) if c.fetched.elapsed() < self.min_refresh => Ok(c.value),
            stale => self.fetch_current(name, stale).await,
        }
    }

    async fn previous(&self, name: &str) -> Result<Option<SecretValue>, String> {
        let recent = self
            .cached(name)
            .and_then(|c| c.created)
            .and_then(|created| SystemTime::now().duration_since(created).ok())
            .is_some_and(|age| age < PREVIOUS_GRACE);
        if !recent {
            return Ok(None);
        }
        let cached = self.previous.lock().ok().and_then(|p| p.get(name).cloned());
        if let Some(p) = &cached
            && p.fetched.elapsed() < self.ttl
        {
            return Ok(p.value.clone());
        }
        let value = match self.fetch(name, Some("AWSPREVIOUS")).await {
            Ok(f) => Some(f.value),
            Err(FetchError::NotFound) => None,
            Err(FetchError::Failed(m)) => match cached {
                Some(stale) => stale.value,
                None => return Err(m),
            },
        };
        if let Ok(mut p) = self.previous.lock() {
            p.insert(
                name.to_owned(),
                Previous {
                    fetched: Instant::now(),
                    value: value.clone(),
                },
            );
        }
        Ok(value)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
    use serde_json::{Value, json};

    /// What the fake Secrets Manager holds and how it answers.
    #[derive(Debug, Clone, Default)]
    pub(crate) struct FakeSecret {
        pub current: String,
        pub previous: Option<String>,
        /// `AWSCURRENT`'s `CreatedDate`, unix seconds.
        pub created: f64,
        /// Answer every request with a 500.
        pub down: bool,
    }

    /// Requests seen: (`SecretId`, `VersionStage`).
    pub(crate) type Requests = Arc<Mutex<Vec<(String, Option<String>)>>>;

    pub(crate) fn now_seconds() -> f64 {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default()
    }

    /// A local stand-in for Secrets Manager answering `GetSecretValue` from `state` (which
    /// the test may change between calls), and a client for it that never retries.
    pub(crate) fn fake_secrets_manager(state: Arc<Mutex<FakeSecret>>) -> (Client, Requests) {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind");
        let port = server.server_addr().to_ip().expect("ip").port();
        let seen = Requests::default();
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for mut req in server.incoming_requests() {
                let mut b = String::new();
                let _ = req.as_reader().read_to_string(&mut b);
                let body: Value = serde_json::from_str(&b).unwrap_or(Value::Null);
                let id = body["SecretId"].as_str().unwrap_or_default().to_owned();
                let stage = body["VersionStage"].as_str().map(str::to_owned);
                log.lock().expect("lock").push((id.clone(), stage.clone()));
                let s = state.lock().expect("lock").clone();
                let not_found = json!({"__type": "ResourceNotFoundException",
                    "message": "Secrets Manager can't find the specified secret value for staging label: AWSPREVIOUS"});
                let (status, answer) = match stage.as_deref() {
                    _ if s.down => (
                        500,
                        json!({"__type": "InternalServiceError", "message": "down"}),
                    ),
                    Some("AWSPREVIOUS") => match &s.previous {
                        Some(p) => (
                            200,
                            json!({"Name": id, "SecretString": p, "VersionId": "v0",
                            "VersionStages": ["AWSPREVIOUS"], "CreatedDate": s.created - 86_400.0}),
                        ),
                        None => (400, not_found),
                    },
                    _ => (
                        200,
                        json!({"Name": id, "SecretString": s.current, "VersionId": "v1",
                        "VersionStages": ["AWSCURRENT"], "CreatedDate": s.created}),
                    ),
                };
                let response = tiny_http::Response::from_string(answer.to_string())
                    .with_status_code(status)
                    .with_header(
                        tiny_http::Header::from_bytes("Content-Type", "application/x-amz-json-1.1")
                            .expect("header"),
                    );
                let _ = req.respond(response);
            }
        });
        let config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(format!("http://127.0.0.1:{port}"))
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .retry_config(aws_sdk_secretsmanager::config::retry::RetryConfig::disabled())
            .build();
        (Client::from_conf(config), seen)
    }

    fn fake(secret: FakeSecret) -> (Arc<Mutex<FakeSecret>>, Client, Requests) {
        let state = Arc::new(Mutex::new(secret));
        let (client, seen) = fake_secrets_manager(Arc::clone(&state));
        (state, client, seen)
    }

    fn holding(current: &str) -> FakeSecret {
        FakeSecret {
            current: current.into(),
            created: now_seconds() - 7.0 * 86_400.0,
            ..FakeSecret::default()
        }
    }

    #[tokio::test]
    async fn the_stale_value_is_served_when_secrets_manager_fails() {
        let (state, client, seen) = fake(holding("v1"));
        let cache = SecretCache::with_intervals(client, Duration::ZERO, Duration::ZERO);
        assert_eq!(cache.secret("s").await, Ok(SecretValue::new("v1")));
        state.lock().expect("lock").down = true;
        assert_eq!(cache.secret("s").await, Ok(SecretValue::new("v1")));
        assert_eq!(cache.refresh("s").await, Ok(SecretValue::new("v1")));
        assert_eq!(seen.lock().expect("lock").len(), 3, "each one asked");
        let cold = SecretCache::with_ttl(
            fake(FakeSecret {
                down: true,
                ..holding("v1")
            })
            .1,
            Duration::ZERO,
        );
        let err = cold.secret("s").await.expect_err("nothing to fall back on");
        assert!(
            err.starts_with("cannot read secret `s` from Secrets Manager: InternalServiceError"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn refresh_goes_past_the_cache_at_most_once_per_interval() {
        let (state, client, seen) = fake(holding("v1"));
        let cache = SecretCache::with_intervals(client.clone(), SECRET_TTL, Duration::ZERO);
        assert_eq!(cache.secret("s").await, Ok(SecretValue::new("v1")));
        state.lock().expect("lock").current = "v2".into();
        assert_eq!(
            cache.secret("s").await,
            Ok(SecretValue::new("v1")),
            "cached"
        );
        assert_eq!(cache.refresh("s").await, Ok(SecretValue::new("v2")));
        assert_eq!(
            cache.secret("s").await,
            Ok(SecretValue::new("v2")),
            "cached again"
        );
        assert_eq!(seen.lock().expect("lock").len(), 2);

        let patient = SecretCache::with_intervals(client, SECRET_TTL, Duration::from_secs(3600));
        assert_eq!(patient.secret("s").await, Ok(SecretValue::new("v2")));
        state.lock().expect("lock").current = "v3".into();
        assert_eq!(
            patient.refresh("s").await,
            Ok(SecretValue::new("v2")),
            "fetched just now"
        );
        assert_eq!(seen.lock().expect("lock").len(), 3);
    }

    #[tokio::test]
    async fn the_previous_version_counts_only_after_a_recent_rotation() {
        let rotated = FakeSecret {
            previous: Some("old".into()),
            created: now_seconds() - 60.0,
            ..holding("new")
        };
        let (_, client, seen) = fake(rotated);
        let cache = SecretCache::new(client);
        assert_eq!(cache.previous("s").await, Ok(None), "current not read yet");
        assert_eq!(cache.secret("s").await, Ok(SecretValue::new("new")));
        assert_eq!(cache.previous("s").await, Ok(Some(SecretValue::new("old"))));
        assert_eq!(
            cache.previous("s").await,
            Ok(Some(SecretValue::new("old"))),
            "cached"
        );
        assert_eq!(
            *seen.lock().expect("lock"),
            [
                ("s".to_owned(), None),
                ("s".to_owned(), Some("AWSPREVIOUS".to_owned()))
            ]
        );

        let long_ago = FakeSecret {
            previous: Some("old".into()),
            ..holding("new")
        };
        let (_, client, seen) = fake(long_ago);
        let cache = SecretCache::new(client);
        cache.secret("s").await.expect("current");
        assert_eq!(cache.previous("s").await, Ok(None), "rotated a week ago");
        assert_eq!(seen.lock().expect("lock").len(), 1);

        let never = FakeSecret {
            created: now_seconds(),
            ..holding("only")
        };
        let cache = SecretCache::new(fake(never).1);
        cache.secret("s").await.expect("current");
        assert_eq!(cache.previous("s").await, Ok(None), "no AWSPREVIOUS");
    }

    #[tokio::test]
    async fn an_empty_secret_is_an_error() {
        let cache = SecretCache::new(fake(holding(" \n")).1);
        assert_eq!(
            cache.secret("s").await,
            Err("secret `s` is empty".to_owned())
        );
        assert!(
            SecretValue::new(r#"{"secret": ""}"#)
                .field("secret")
                .is_empty()
        );
    }

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
