//! A function's configuration, read once at cold start. The CDK app sets these variables
//! (`cdk/lib/env.ts` defines the same names).

use patrol_core::manifest::{Rule, Trigger};
use serde::{Deserialize, Serialize};

/// The rule's id.
pub const ENV_RULE_ID: &str = "PATROL_RULE_ID";
/// The normalized rule, as JSON (one element of `patrol manifest --json`'s `rules`).
pub const ENV_RULE: &str = "PATROL_RULE";
/// The rule's sinks, as a JSON array of [`SinkConfig`]s (`{"type", "route", ...}`).
pub const ENV_SINKS: &str = "PATROL_SINKS";
/// The DynamoDB table that holds dedup windows (partition key `pk` (S), TTL attribute
/// `expires_at` (N)). Required for rules with `dedup`.
pub const ENV_DEDUP_TABLE: &str = "PATROL_DEDUP_TABLE";
/// The SQS queue URL where a webhook-triggered function puts what it could not deliver
/// (function URL calls are synchronous: Lambda has no retry or on-failure destination for
/// them). Required for rules with a `webhook` trigger.
pub const ENV_FAILURE_QUEUE_URL: &str = "PATROL_FAILURE_QUEUE_URL";
/// Overrides the PagerDuty Events API v2 endpoint, for PagerDuty's EU service region
/// (`https://events.eu.pagerduty.com/v2/enqueue`) or an egress proxy.
pub const ENV_PAGERDUTY_EVENTS_URL: &str = "PATROL_PAGERDUTY_EVENTS_URL";
/// PagerDuty's Events API v2 endpoint (US service region).
pub const DEFAULT_PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set; the CDK app sets it on every Patrol function")]
    Missing(&'static str),
    #[error("environment variable {var} is not valid: {message}")]
    Invalid { var: &'static str, message: String },
    #[error("environment variable {var} is not set: {why}")]
    Required { var: &'static str, why: String },
}

/// Where one route's alerts go, resolved to AWS resources at deploy time. `secret` is a
/// Secrets Manager secret name or ARN; its value is read at run time, never put here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SinkConfig {
    /// `{"type":"sns","route":R,"topic_arn":A}`
    Sns { route: String, topic_arn: String },
    /// `{"type":"slack","route":R,"secret":NAME}`: the secret holds the incoming-webhook URL.
    Slack { route: String, secret: String },
    /// `{"type":"pagerduty","route":R,"secret":NAME}`: the secret holds the Events API v2
    /// integration (routing) key.
    Pagerduty { route: String, secret: String },
    /// `{"type":"webhook","route":R,"url":U,"secret":NAME}` (`secret` optional): the secret
    /// holds the HMAC key that signs each request body.
    Webhook {
        route: String,
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
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

    pub fn kind(&self) -> &'static str {
        match self {
            SinkConfig::Sns { .. } => "sns",
            SinkConfig::Slack { .. } => "slack",
            SinkConfig::Pagerduty { .. } => "pagerduty",
            SinkConfig::Webhook { .. } => "webhook",
        }
    }
}

#[derive(Debug, Clone)]
pub struct RuleConfig {
    pub rule: Rule,
    pub sinks: Vec<SinkConfig>,
    /// [`ENV_DEDUP_TABLE`]; always set when the rule has `dedup`.
    pub dedup_table: Option<String>,
    /// [`ENV_FAILURE_QUEUE_URL`]; always set when the rule has a `webhook` trigger.
    pub failure_queue_url: Option<String>,
    /// [`ENV_PAGERDUTY_EVENTS_URL`], or [`DEFAULT_PAGERDUTY_EVENTS_URL`].
    pub pagerduty_events_url: String,
}

impl RuleConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the configuration through `get`, so tests need not touch the process env.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let need = |k: &'static str| {
            get(k)
                .filter(|v| !v.is_empty())
                .ok_or(ConfigError::Missing(k))
        };
        let id = need(ENV_RULE_ID)?;
        let rule: Rule =
            serde_json::from_str(&need(ENV_RULE)?).map_err(|e| ConfigError::Invalid {
                var: ENV_RULE,
                message: format!("not a normalized Patrol rule: {e}"),
            })?;
        if rule.id != id {
            return Err(ConfigError::Invalid {
                var: ENV_RULE,
                message: format!("holds rule `{}` but {ENV_RULE_ID} is `{id}`", rule.id),
            });
        }
        let sinks: Vec<SinkConfig> =
            serde_json::from_str(&need(ENV_SINKS)?).map_err(|e| ConfigError::Invalid {
                var: ENV_SINKS,
                message: format!(
                    "expected a JSON array of {{\"type\": \"sns\"|\"slack\"|\"pagerduty\"|\"webhook\", \"route\", ...}}: {e}"
                ),
            })?;
        if sinks.is_empty() {
            return Err(ConfigError::Invalid {
                var: ENV_SINKS,
                message: "no sinks: the rule's alerts would go nowhere".into(),
            });
        }
        for sink in &sinks {
            if let SinkConfig::Webhook { route, url, .. } = sink {
                crate::http::check_url(url).map_err(|e| ConfigError::Invalid {
                    var: ENV_SINKS,
                    message: format!("webhook route `{route}`: {e}"),
                })?;
            }
        }
        let optional = |k: &str| get(k).filter(|v| !v.is_empty());
        let dedup_table = optional(ENV_DEDUP_TABLE);
        if rule.dedup.is_some() && dedup_table.is_none() {
            return Err(ConfigError::Required {
                var: ENV_DEDUP_TABLE,
                why: format!("rule `{id}` has `dedup` and needs the dedup table's name"),
            });
        }
        let failure_queue_url = optional(ENV_FAILURE_QUEUE_URL);
        if matches!(rule.trigger, Trigger::Webhook { .. }) && failure_queue_url.is_none() {
            return Err(ConfigError::Required {
                var: ENV_FAILURE_QUEUE_URL,
                why: format!(
                    "rule `{id}` has a webhook trigger and needs a queue for alerts it cannot deliver"
                ),
            });
        }
        let pagerduty_events_url = optional(ENV_PAGERDUTY_EVENTS_URL)
            .unwrap_or_else(|| DEFAULT_PAGERDUTY_EVENTS_URL.to_owned());
        crate::http::check_url(&pagerduty_events_url).map_err(|message| ConfigError::Invalid {
            var: ENV_PAGERDUTY_EVENTS_URL,
            message,
        })?;
        Ok(Self {
            rule,
            sinks,
            dedup_table,
            failure_queue_url,
            pagerduty_events_url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const RULE: &str = r#"{"id":"r","description":"d","severity":"high","handler":"notify",
        "trigger":{"type":"schedule","expression":"rate(1 day)"},"message":"m","notify":["security"]}"#;
    const SINKS: &str =
        r#"[{"type":"sns","route":"security","topic_arn":"arn:aws:sns:us-east-1:1:t"}]"#;

    #[test]
    fn reads_a_complete_config() {
        let c = RuleConfig::from_lookup(env(&[
            (ENV_RULE_ID, "r"),
            (ENV_RULE, RULE),
            (ENV_SINKS, SINKS),
        ]))
        .expect("valid");
        assert_eq!(c.rule.id, "r");
        assert_eq!(c.sinks.len(), 1);
    }

    #[test]
    fn missing_variable_is_named() {
        let err = RuleConfig::from_lookup(env(&[(ENV_RULE_ID, "r"), (ENV_RULE, RULE)]))
            .expect_err("missing sinks");
        assert!(err.to_string().contains("PATROL_SINKS"), "{err}");
    }

    #[test]
    fn mismatched_rule_id_is_rejected() {
        let err = RuleConfig::from_lookup(env(&[
            (ENV_RULE_ID, "other"),
            (ENV_RULE, RULE),
            (ENV_SINKS, SINKS),
        ]))
        .expect_err("mismatch");
        assert!(err.to_string().contains("PATROL_RULE"), "{err}");
    }

    const ALL_SINKS: &str = r#"[
        {"type":"sns","route":"security","topic_arn":"arn:aws:sns:us-east-1:1:t"},
        {"type":"slack","route":"slack-sec","secret":"patrol/slack"},
        {"type":"pagerduty","route":"oncall","secret":"arn:aws:secretsmanager:us-east-1:1:secret:pd-AbCdEf"},
        {"type":"webhook","route":"siem","url":"https://siem.example.com/in","secret":"patrol/siem"},
        {"type":"webhook","route":"plain","url":"https://example.com/hook"}
    ]"#;

    #[test]
    fn reads_every_sink_type_as_the_cdk_app_writes_it() {
        let c = RuleConfig::from_lookup(env(&[
            (ENV_RULE_ID, "r"),
            (ENV_RULE, RULE),
            (ENV_SINKS, ALL_SINKS),
        ]))
        .expect("valid");
        let kinds: Vec<_> = c.sinks.iter().map(|s| (s.kind(), s.route())).collect();
        assert_eq!(
            kinds,
            [
                ("sns", "security"),
                ("slack", "slack-sec"),
                ("pagerduty", "oncall"),
                ("webhook", "siem"),
                ("webhook", "plain")
            ]
        );
        assert_eq!(
            c.sinks[4],
            SinkConfig::Webhook {
                route: "plain".into(),
                url: "https://example.com/hook".into(),
                secret: None
            }
        );
        assert_eq!(c.pagerduty_events_url, DEFAULT_PAGERDUTY_EVENTS_URL);
        assert_eq!(c.dedup_table, None);
    }

    #[test]
    fn plain_http_webhooks_are_only_for_loopback() {
        let sinks = |url: &str| format!(r#"[{{"type":"webhook","route":"siem","url":"{url}"}}]"#);
        for ok in [
            "http://127.0.0.1:8080/x",
            "http://localhost/x",
            "http://[::1]:9/",
        ] {
            let s = sinks(ok);
            RuleConfig::from_lookup(env(&[
                (ENV_RULE_ID, "r"),
                (ENV_RULE, RULE),
                (ENV_SINKS, &s),
            ]))
            .expect(ok);
        }
        let s = sinks("http://siem.example.com/in");
        let err = RuleConfig::from_lookup(env(&[
            (ENV_RULE_ID, "r"),
            (ENV_RULE, RULE),
            (ENV_SINKS, &s),
        ]))
        .expect_err("plain http");
        assert!(err.to_string().contains("https"), "{err}");
    }

    #[test]
    fn dedup_without_a_table_names_the_variable() {
        let rule = RULE.replace(
            r#""message":"m""#,
            r#""message":"m","dedup":{"key":"{{ actor }}","window_seconds":3600}"#,
        );
        let err = RuleConfig::from_lookup(env(&[
            (ENV_RULE_ID, "r"),
            (ENV_RULE, &rule),
            (ENV_SINKS, SINKS),
        ]))
        .expect_err("no table");
        assert!(err.to_string().contains(ENV_DEDUP_TABLE), "{err}");
        let c = RuleConfig::from_lookup(env(&[
            (ENV_RULE_ID, "r"),
            (ENV_RULE, &rule),
            (ENV_SINKS, SINKS),
            (ENV_DEDUP_TABLE, "patrol-dedup"),
        ]))
        .expect("with table");
        assert_eq!(c.dedup_table.as_deref(), Some("patrol-dedup"));
    }

    #[test]
    fn webhook_trigger_needs_a_failure_queue() {
        let rule = RULE.replace(
            r#"{"type":"schedule","expression":"rate(1 day)"}"#,
            r#"{"type":"webhook","provider":"github","secret":"patrol/gh"}"#,
        );
        let err = RuleConfig::from_lookup(env(&[
            (ENV_RULE_ID, "r"),
            (ENV_RULE, &rule),
            (ENV_SINKS, SINKS),
        ]))
        .expect_err("no queue");
        assert!(err.to_string().contains(ENV_FAILURE_QUEUE_URL), "{err}");
    }

    #[test]
    fn pagerduty_endpoint_can_be_overridden() {
        let c = RuleConfig::from_lookup(env(&[
            (ENV_RULE_ID, "r"),
            (ENV_RULE, RULE),
            (ENV_SINKS, SINKS),
            (
                ENV_PAGERDUTY_EVENTS_URL,
                "https://events.eu.pagerduty.com/v2/enqueue",
            ),
        ]))
        .expect("valid");
        assert_eq!(
            c.pagerduty_events_url,
            "https://events.eu.pagerduty.com/v2/enqueue"
        );
        let err = RuleConfig::from_lookup(env(&[
            (ENV_RULE_ID, "r"),
            (ENV_RULE, RULE),
            (ENV_SINKS, SINKS),
            (ENV_PAGERDUTY_EVENTS_URL, "events.pagerduty.com"),
        ]))
        .expect_err("not a URL");
        assert!(err.to_string().contains(ENV_PAGERDUTY_EVENTS_URL), "{err}");
    }

    #[test]
    fn invalid_json_is_explained() {
        let err = RuleConfig::from_lookup(env(&[
            (ENV_RULE_ID, "r"),
            (ENV_RULE, "{"),
            (ENV_SINKS, SINKS),
        ]))
        .expect_err("bad json");
        assert!(
            err.to_string().contains("not a normalized Patrol rule"),
            "{err}"
        );
    }
}
