//! Routes: as the config file writes them ([`RawRoute`]) and resolved to where alerts go
//! ([`SinkConfig`]).

use serde::Deserialize;

use super::Problem;

/// One route as the config file writes it (`cdk/lib/handler-config.ts`'s `RouteConfig`).
/// `secret` is a Secrets Manager secret name or ARN; its value is read at run time.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub(super) enum RawRoute {
    /// `{"type":"sns","route":R,"topic_name":T}`: the topic ARN is
    /// `PATROL_TOPIC_ARN_PREFIX` followed by `T`.
    Sns {
        route: String,
        topic_name: String,
    },
    Slack {
        route: String,
        secret: String,
    },
    Pagerduty {
        route: String,
        secret: String,
    },
    Webhook {
        route: String,
        url: String,
        #[serde(default)]
        secret: Option<String>,
    },
}

impl RawRoute {
    pub(super) fn route(&self) -> &str {
        match self {
            RawRoute::Sns { route, .. }
            | RawRoute::Slack { route, .. }
            | RawRoute::Pagerduty { route, .. }
            | RawRoute::Webhook { route, .. } => route,
        }
    }

    pub(super) fn is_sns(&self) -> bool {
        matches!(self, RawRoute::Sns { .. })
    }

    /// What is wrong with it, at `path` (`routes[2]`).
    pub(super) fn problems(&self, path: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut problem = |field: &str, message: String| {
            problems.push(Problem {
                path: format!("{path}.{field}"),
                message,
            });
        };
        if self.route().is_empty() {
            problem("route", "empty route id".into());
        }
        let route = self.route();
        match self {
            RawRoute::Sns { topic_name, .. } => {
                let valid = !topic_name.is_empty()
                    && topic_name.len() <= 256
                    && topic_name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if !valid {
                    problem(
                        "topic_name",
                        format!(
                            "sns route `{route}`: `{topic_name}` is not an SNS topic name (1-256 of A-Z a-z 0-9 - _)"
                        ),
                    );
                }
            }
            RawRoute::Slack { secret, .. } | RawRoute::Pagerduty { secret, .. } => {
                if secret.is_empty() {
                    problem("secret", format!("route `{route}`: empty secret name"));
                }
            }
            RawRoute::Webhook { url, secret, .. } => {
                if let Err(e) = crate::http::check_url(url) {
                    problem("url", format!("webhook route `{route}`: {e}"));
                }
                if secret.as_deref() == Some("") {
                    problem("secret", format!("route `{route}`: empty secret name"));
                }
            }
        }
        problems
    }

    /// Resolved; `topic_arn_prefix` is set whenever an sns route exists (checked before).
    pub(super) fn resolve(self, topic_arn_prefix: Option<&str>) -> SinkConfig {
        match self {
            RawRoute::Sns { route, topic_name } => SinkConfig::Sns {
                route,
                topic_arn: format!("{}{topic_name}", topic_arn_prefix.unwrap_or_default()),
            },
            RawRoute::Slack { route, secret } => SinkConfig::Slack { route, secret },
            RawRoute::Pagerduty { route, secret } => SinkConfig::Pagerduty { route, secret },
            RawRoute::Webhook { route, url, secret } => SinkConfig::Webhook { route, url, secret },
        }
    }
}

/// Where one route's alerts go, resolved to AWS resources and endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkConfig {
    Sns {
        route: String,
        topic_arn: String,
    },
    /// The secret holds the incoming-webhook URL.
    Slack {
        route: String,
        secret: String,
    },
    /// The secret holds the Events API v2 integration (routing) key.
    Pagerduty {
        route: String,
        secret: String,
    },
    /// The secret, if any, holds the HMAC key that signs each request body.
    Webhook {
        route: String,
        url: String,
        secret: Option<String>,
    },
}

impl SinkConfig {
    pub fn route(&self) -> &str {
        match self {
            SinkConfig::Sns { route, .. }
            | SinkConfig::Slack { route, .. }
            | SinkConfig::Pagerduty { route, .. }
            | SinkConfig::Webhook { route, .. } => route,
        }
    }

    /// The Secrets Manager secret the route's sink reads, if any.
    pub fn secret(&self) -> Option<&str> {
        match self {
            SinkConfig::Sns { .. } => None,
            SinkConfig::Slack { secret, .. } | SinkConfig::Pagerduty { secret, .. } => Some(secret),
            SinkConfig::Webhook { secret, .. } => secret.as_deref(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            SinkConfig::Sns { .. } => "sns",
            SinkConfig::Slack { .. } => "slack",
            SinkConfig::Pagerduty { .. } => "pagerduty",
            SinkConfig::Webhook { .. } => "webhook",
        }
    }
}
