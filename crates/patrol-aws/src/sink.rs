//! Delivering an alert to one route's sink. Which routes a rule's alert goes to, the
//! delivery ledger and what a failure means are the handler's (`lambdas/notify`).
//!
//! A sink that answers 401, 403, 404 or 410 may have rejected a secret that was rotated
//! while this container cached it (a revoked Slack URL, a new signing key): the secret is
//! fetched once more past the cache and, if it changed, the alert sent once more with it.

use std::future::Future;

use patrol_core::alert::Alert;

use crate::config::SinkConfig;
use crate::http::{HttpSender, check_url};
use crate::secrets::{SecretCache, SecretSource as _, SecretValue};
use crate::sns::SnsSink;
use crate::{pagerduty, slack, webhook};

/// Something that can publish to an SNS topic. The real one is [`crate::sns::SnsSink`].
pub trait SnsPublish {
    fn publish(
        &self,
        topic_arn: &str,
        alert: &Alert,
    ) -> impl Future<Output = Result<String, String>> + Send;
}

/// Something that delivers an alert to one sink, returning an id for what it sent (a
/// message id, a PagerDuty dedup key, an HTTP status). The real one is [`Sinks`].
pub trait Deliver {
    fn deliver(
        &self,
        sink: &SinkConfig,
        alert: &Alert,
    ) -> impl Future<Output = Result<String, String>> + Send;
}

/// The real sinks: SNS, and Slack, PagerDuty and webhooks over HTTP with their secrets.
#[derive(Debug, Clone)]
pub struct Sinks {
    pub sns: SnsSink,
    pub secrets: SecretCache,
    pub http: HttpSender,
    pub pagerduty_events_url: String,
}

/// Answers that may mean the secret the request was made with is no longer valid.
const REJECTED_CREDENTIALS: [u16; 4] = [401, 403, 404, 410];

impl Sinks {
    /// One attempt (with the HTTP client's own retries) with the route's secret `value`.
    async fn send(
        &self,
        sink: &SinkConfig,
        value: Option<&SecretValue>,
        alert: &Alert,
    ) -> Result<String, String> {
        let secret = sink.secret().unwrap_or_default();
        match (sink, value) {
            (SinkConfig::Sns { topic_arn, .. }, _) => self.sns.publish(topic_arn, alert).await,
            (SinkConfig::Slack { .. }, Some(value)) => {
                slack::send(&self.http, secret, value, alert).await
            }
            (SinkConfig::Pagerduty { .. }, Some(value)) => {
                pagerduty::send(&self.http, &self.pagerduty_events_url, secret, value, alert).await
            }
            (SinkConfig::Webhook { url, .. }, value) => {
                let url = check_url(url)?;
                let key = value.map(|v| v.field("secret"));
                if key.as_ref().is_some_and(SecretValue::is_empty) {
                    return Err(format!(
                        "secret `{secret}` holds an empty signing key; refusing to send unsigned"
                    ));
                }
                webhook::send(&self.http, &url, key.as_ref(), alert).await
            }
            (SinkConfig::Slack { .. } | SinkConfig::Pagerduty { .. }, None) => {
                Err(format!("route `{}` has no secret", sink.route()))
            }
        }
    }
}

impl Deliver for Sinks {
    async fn deliver(&self, sink: &SinkConfig, alert: &Alert) -> Result<String, String> {
        let Some(name) = sink.secret() else {
            return self.send(sink, None, alert).await;
        };
        let value = self.secrets.secret(name).await?;
        let error = match self.send(sink, Some(&value), alert).await {
            Err(e)
                if crate::http::status_of(&e)
                    .is_some_and(|s| REJECTED_CREDENTIALS.contains(&s)) =>
            {
                e
            }
            other => return other,
        };
        let fresh = match self.secrets.refresh(name).await {
            Ok(fresh) if fresh != value => fresh,
            // Unchanged (or unreadable): sending again would be rejected again.
            _ => return Err(error),
        };
        tracing::warn!(route = sink.route(), secret = name, error = %error,
            "the sink rejected the cached secret, which has changed since; sending again with its current value");
        self.send(sink, Some(&fresh), alert).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::tests::{FakeSecret, fake_secrets_manager, now_seconds};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// A local endpoint answering 200 on `/new`, 404 elsewhere (a revoked Slack URL);
    /// the paths it was sent to.
    fn endpoint() -> (u16, Arc<Mutex<Vec<String>>>) {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind");
        let port = server.server_addr().to_ip().expect("ip").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for req in server.incoming_requests() {
                let path = req.url().to_owned();
                let status = if path == "/new" { 200 } else { 404 };
                log.lock().expect("lock").push(path);
                let _ = req.respond(
                    tiny_http::Response::from_string("no_service").with_status_code(status),
                );
            }
        });
        (port, seen)
    }

    fn sinks(secret: FakeSecret, min_refresh: Duration) -> (Sinks, Arc<Mutex<FakeSecret>>) {
        let state = Arc::new(Mutex::new(secret));
        let (client, _) = fake_secrets_manager(Arc::clone(&state));
        let sns = aws_sdk_sns::Config::builder()
            .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
            .region(aws_sdk_sns::config::Region::new("us-east-1"))
            .build();
        let sinks = Sinks {
            sns: SnsSink::new(aws_sdk_sns::Client::from_conf(sns)),
            secrets: SecretCache::with_intervals(client, crate::secrets::SECRET_TTL, min_refresh),
            http: HttpSender::with_backoff(Duration::from_millis(1), Duration::from_millis(2), 0)
                .expect("client"),
            pagerduty_events_url: "https://events.pagerduty.com/v2/enqueue".into(),
        };
        (sinks, state)
    }

    fn slack() -> SinkConfig {
        SinkConfig::Slack {
            route: "slack-sec".into(),
            secret: "patrol/slack".into(),
        }
    }

    #[tokio::test]
    async fn a_rotated_slack_url_is_fetched_again_after_a_404() {
        let (port, seen) = endpoint();
        let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
        let holding_old = FakeSecret {
            current: url("/old"),
            created: now_seconds(),
            ..FakeSecret::default()
        };
        let (sinks, state) = sinks(holding_old, Duration::ZERO);
        let alert = crate::slack::tests::alert();
        // Cached before the rotation.
        assert!(sinks.deliver(&slack(), &alert).await.is_err());
        state.lock().expect("lock").current = url("/new");
        assert_eq!(
            sinks.deliver(&slack(), &alert).await,
            Ok("slack:200".to_owned())
        );
        assert_eq!(*seen.lock().expect("lock"), ["/old", "/old", "/new"]);
    }

    #[tokio::test]
    async fn an_unchanged_secret_is_not_sent_again() {
        let (port, seen) = endpoint();
        let holding = FakeSecret {
            current: format!("http://127.0.0.1:{port}/revoked"),
            created: now_seconds(),
            ..FakeSecret::default()
        };
        let (sinks, _) = sinks(holding, Duration::ZERO);
        let err = sinks
            .deliver(&slack(), &crate::slack::tests::alert())
            .await
            .expect_err("revoked");
        assert!(err.starts_with("HTTP 404 from 127.0.0.1:"), "{err}");
        assert_eq!(seen.lock().expect("lock").len(), 1);
    }
}
