//! A handler function's configuration, read once at cold start:
//!
//! - its rules, routes, feeds and schedules from the JSON file at [`ENV_CONFIG`] (the CDK
//!   app bundles it as a layer, `/opt/patrol/config.json`; `cdk/lib/handler-config.ts`
//!   writes the same shape), parsed in [`file`] and checked and compiled in [`validate`];
//! - its AWS resources from `PATROL_*` environment variables (`cdk/lib/env.ts` defines the
//!   same names).
//!
//! Every problem in the file is reported at once, each with its JSON path
//! (`rules[3].notify[0]: route `x` is not in routes`), so a bad deployment fails its cold
//! start loudly instead of losing alerts later.

mod event_rules;
mod file;
mod route;
mod validate;

use std::collections::BTreeMap;
use std::time::Duration;

use patrol_core::manifest::Rule;
use patrol_core::rule::CompiledRule;

pub use event_rules::EventRules;
pub use route::SinkConfig;

/// Path of the handler's config file (rules, routes, feeds, schedules).
pub const ENV_CONFIG: &str = "PATROL_CONFIG";
/// `arn:<partition>:sns:<region>:<account>:`; an `sns` route's topic ARN is this followed
/// by its `topic_name`. Required when some route is an SNS topic.
pub const ENV_TOPIC_ARN_PREFIX: &str = "PATROL_TOPIC_ARN_PREFIX";
/// The DynamoDB table (partition key `pk` (S), TTL attribute `expires_at` (N)) holding the
/// delivery ledger and the dedup windows. Required when some rule has `dedup`; without it
/// a retried event may send an alert again to a route that already accepted it.
pub const ENV_STATE_TABLE: &str = "PATROL_STATE_TABLE";
/// The SQS queue URL where the function puts what a webhook request could not deliver
/// (function URL calls are synchronous: Lambda has no retry or on-failure destination for
/// them). Required when some rule has a `webhook` trigger.
pub const ENV_FAILURE_QUEUE_URL: &str = "PATROL_FAILURE_QUEUE_URL";
/// Overrides the PagerDuty Events API v2 endpoint, for PagerDuty's EU service region
/// (`https://events.eu.pagerduty.com/v2/enqueue`) or an egress proxy.
pub const ENV_PAGERDUTY_EVENTS_URL: &str = "PATROL_PAGERDUTY_EVENTS_URL";
/// PagerDuty's Events API v2 endpoint (US service region).
pub const DEFAULT_PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// The function's timeout in whole seconds, as configured on the function (`cdk/lib/env.ts`
/// sets it from the same value). Lambda does not tell a function its timeout: each
/// invocation's deadline is in its context, but how long another invocation may still be
/// running (a dedup claim in flight) needs the timeout itself. Without it, that is taken as
/// Lambda's maximum, [`MAX_FUNCTION_TIMEOUT`].
pub const ENV_FUNCTION_TIMEOUT_SECONDS: &str = "PATROL_FUNCTION_TIMEOUT_SECONDS";
/// Lambda's longest timeout.
pub const MAX_FUNCTION_TIMEOUT: Duration = Duration::from_secs(900);
/// How long one AWS SDK call (every attempt and its retries) may take. Without it a service
/// that accepts the connection and never answers holds the call until Lambda stops the
/// invocation, before the failure is recorded and the dedup claim released.
pub const SDK_OPERATION_TIMEOUT: Duration = Duration::from_secs(4);
/// How long one attempt of an AWS SDK call may take.
pub const SDK_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long connecting to an AWS endpoint may take.
pub const SDK_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// The config file's shape; the CDK app writes the same number.
pub const FORMAT_VERSION: u64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set; the CDK app sets it on every Patrol function")]
    Missing(&'static str),
    #[error("environment variable {var} is not valid: {message}")]
    Invalid { var: &'static str, message: String },
    #[error("environment variable {var} is not set: {why}")]
    Required { var: &'static str, why: String },
    #[error("cannot read the config file {path} (from {ENV_CONFIG}): {message}")]
    Unreadable { path: String, message: String },
    #[error("the config file {path} is not valid:{}", list(problems))]
    File {
        path: String,
        problems: Vec<Problem>,
    },
}

fn list(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("\n  {p}")).collect()
}

/// One thing wrong in the config file, at a JSON path (`rules[3].notify[0]`, `feeds.iam`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct Problem {
    pub path: String,
    pub message: String,
}

/// The run-time resources, from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Environment {
    config_path: String,
    topic_arn_prefix: Option<String>,
    state_table: Option<String>,
    failure_queue_url: Option<String>,
    pagerduty_events_url: String,
    function_timeout: Option<Duration>,
}

impl Environment {
    fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let optional = |k: &str| get(k).filter(|v| !v.is_empty());
        let config_path = optional(ENV_CONFIG).ok_or(ConfigError::Missing(ENV_CONFIG))?;
        let topic_arn_prefix = optional(ENV_TOPIC_ARN_PREFIX);
        if let Some(prefix) = &topic_arn_prefix {
            check_topic_arn_prefix(prefix).map_err(|message| ConfigError::Invalid {
                var: ENV_TOPIC_ARN_PREFIX,
                message,
            })?;
        }
        let pagerduty_events_url = optional(ENV_PAGERDUTY_EVENTS_URL)
            .unwrap_or_else(|| DEFAULT_PAGERDUTY_EVENTS_URL.to_owned());
        crate::http::check_url(&pagerduty_events_url).map_err(|message| ConfigError::Invalid {
            var: ENV_PAGERDUTY_EVENTS_URL,
            message,
        })?;
        let function_timeout = optional(ENV_FUNCTION_TIMEOUT_SECONDS)
            .map(|v| parse_function_timeout(&v))
            .transpose()
            .map_err(|message| ConfigError::Invalid {
                var: ENV_FUNCTION_TIMEOUT_SECONDS,
                message,
            })?;
        Ok(Self {
            config_path,
            topic_arn_prefix,
            state_table: optional(ENV_STATE_TABLE),
            failure_queue_url: optional(ENV_FAILURE_QUEUE_URL),
            pagerduty_events_url,
            function_timeout,
        })
    }
}

/// Whole seconds from 1 to Lambda's maximum.
fn parse_function_timeout(value: &str) -> Result<Duration, String> {
    let max = MAX_FUNCTION_TIMEOUT.as_secs();
    match value.trim().parse::<u64>() {
        Ok(s) if (1..=max).contains(&s) => Ok(Duration::from_secs(s)),
        _ => Err(format!(
            "`{value}` is not a whole number of seconds from 1 to {max} (the function's timeout)"
        )),
    }
}

/// The timeouts of every AWS SDK client of a Patrol function: [`SDK_CONNECT_TIMEOUT`],
/// [`SDK_ATTEMPT_TIMEOUT`], [`SDK_OPERATION_TIMEOUT`].
pub fn sdk_timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(SDK_CONNECT_TIMEOUT)
        .operation_attempt_timeout(SDK_ATTEMPT_TIMEOUT)
        .operation_timeout(SDK_OPERATION_TIMEOUT)
        .build()
}

/// `eu-west-1`, `us-gov-west-1`, `cn-north-1`: lowercase words and a number, joined by
/// hyphens.
pub fn is_region(s: &str) -> bool {
    let mut parts = s.split('-');
    let first_is_word = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()));
    let rest: Vec<&str> = parts.collect();
    first_is_word
        && s.len() <= 32
        && rest.len() >= 2
        && rest.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && rest
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

/// `arn:<partition>:sns:<region>:<account>:`, the trailing colon included.
fn check_topic_arn_prefix(prefix: &str) -> Result<(), String> {
    let parts: Vec<&str> = prefix.split(':').collect();
    match parts.as_slice() {
        ["arn", partition, "sns", region, account, ""]
            if !partition.is_empty() && !region.is_empty() && !account.is_empty() =>
        {
            Ok(())
        }
        _ => Err(format!(
            "`{prefix}` is not `arn:<partition>:sns:<region>:<account>:` (with the trailing colon)"
        )),
    }
}

/// Everything a handler function serves, validated and compiled: each rule sits in
/// exactly one place, by how it is invoked.
#[derive(Debug)]
pub struct HandlerConfig {
    /// The config file's path, for messages.
    pub source: String,
    pub handler: String,
    /// Route id → where its alerts go.
    pub routes: BTreeMap<String, SinkConfig>,
    /// Feed (cover) id → its event rules, matched with Patrol's exact engine.
    pub feeds: BTreeMap<String, EventRules>,
    /// Schedule group id → the rules that run on its schedule.
    pub schedules: BTreeMap<String, Vec<CompiledRule>>,
    /// Every rule with an `sns` trigger: its topic and filter policy are its pattern.
    pub sns: EventRules,
    /// Rule id → a rule with a `webhook` trigger (its function URL path is `/<rule id>`).
    pub webhooks: BTreeMap<String, CompiledRule>,
    /// [`ENV_STATE_TABLE`]; always set when some rule has `dedup`.
    pub state_table: Option<String>,
    /// [`ENV_FAILURE_QUEUE_URL`]; always set when some rule has a `webhook` trigger.
    pub failure_queue_url: Option<String>,
    /// [`ENV_PAGERDUTY_EVENTS_URL`], or [`DEFAULT_PAGERDUTY_EVENTS_URL`].
    pub pagerduty_events_url: String,
    /// [`ENV_FUNCTION_TIMEOUT_SECONDS`], or [`MAX_FUNCTION_TIMEOUT`] when it is not set.
    pub function_timeout: Duration,
    /// The file's `regions`: the deployment's forwarding regions (`[deploy]`), in order;
    /// empty when the file has none. Handlers that walk regions (audits) read them.
    pub regions: Vec<String>,
}

impl HandlerConfig {
    /// The configuration of handler `handler` (the function's crate and binary name).
    pub fn from_env(handler: &str) -> Result<Self, ConfigError> {
        Self::from_lookup(handler, &|k| std::env::var(k).ok())
    }

    /// Reads the environment through `get`, so tests need not touch the process env.
    pub fn from_lookup(
        handler: &str,
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let env = Environment::from_lookup(get)?;
        let text =
            std::fs::read_to_string(&env.config_path).map_err(|e| ConfigError::Unreadable {
                path: env.config_path.clone(),
                message: e.to_string(),
            })?;
        validate::handler_config(handler, &text, env)
    }

    /// The file's text, with [`ENV_CONFIG`] naming it (not read) and the rest of the
    /// environment through `get`.
    pub fn from_json(
        handler: &str,
        text: &str,
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        validate::handler_config(handler, text, Environment::from_lookup(get)?)
    }

    /// Where the rule's alerts go, in its `notify` order.
    pub fn sinks<'a>(&'a self, rule: &'a Rule) -> impl Iterator<Item = &'a SinkConfig> + 'a {
        // Validation checked that every route exists.
        rule.notify.iter().filter_map(|r| self.routes.get(r))
    }

    /// Every rule that EventBridge events reach, over all feeds.
    pub fn event_rules(&self) -> impl Iterator<Item = &Rule> {
        self.feeds.values().flat_map(EventRules::rules)
    }

    pub fn rule_count(&self) -> usize {
        self.event_rules().count()
            + self.schedules.values().map(Vec::len).sum::<usize>()
            + self.sns.rules().len()
            + self.webhooks.len()
    }
}

#[cfg(test)]
mod tests;
