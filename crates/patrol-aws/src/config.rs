//! A function's configuration, read once at cold start. The CDK app sets these variables
//! (`cdk/lib/env.ts` defines the same names).

use patrol_core::manifest::Rule;
use serde::{Deserialize, Serialize};

/// The rule's id.
pub const ENV_RULE_ID: &str = "PATROL_RULE_ID";
/// The normalized rule, as JSON (one element of `patrol manifest --json`'s `rules`).
pub const ENV_RULE: &str = "PATROL_RULE";
/// The rule's sinks, as a JSON array of `{"route", "type", "topic_arn"}`.
pub const ENV_SINKS: &str = "PATROL_SINKS";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set; the CDK app sets it on every Patrol function")]
    Missing(&'static str),
    #[error("environment variable {var} is not valid: {message}")]
    Invalid { var: &'static str, message: String },
}

/// Where one route's alerts go, resolved to AWS resources at deploy time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SinkConfig {
    Sns { route: String, topic_arn: String },
}

#[derive(Debug, Clone)]
pub struct RuleConfig {
    pub rule: Rule,
    pub sinks: Vec<SinkConfig>,
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
                    "expected a JSON array of {{\"route\", \"type\", \"topic_arn\"}}: {e}"
                ),
            })?;
        if sinks.is_empty() {
            return Err(ConfigError::Invalid {
                var: ENV_SINKS,
                message: "no sinks: the rule's alerts would go nowhere".into(),
            });
        }
        Ok(Self { rule, sinks })
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
