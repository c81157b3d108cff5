//! `rules.toml` exactly as written: every field optional where a missing value deserves a
//! better message than serde's, spans kept so diagnostics can point at the text, unknown
//! keys rejected. [`super::validate`] turns this into the normalized model.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_spanned::Spanned;

pub type Str = Spanned<String>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawManifest {
    pub version: Option<Spanned<i64>>,
    #[serde(default)]
    pub defaults: Option<Spanned<RawDefaults>>,
    /// Alert routes, by id.
    #[serde(default)]
    pub notify: BTreeMap<Str, Spanned<RawRoute>>,
    /// Rules, by id.
    #[serde(default)]
    pub rules: BTreeMap<Str, Spanned<RawRule>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDefaults {
    pub notify: Option<Spanned<Vec<Str>>>,
    pub severity: Option<Str>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    #[serde(rename = "type")]
    pub kind: Option<Str>,
    pub email: Option<Vec<Str>>,
    pub https: Option<Vec<Str>>,
    /// Secrets Manager name (slack: the webhook URL; pagerduty: the routing key;
    /// webhook: the HMAC signing key).
    pub secret: Option<Str>,
    /// webhook routes: the HTTPS endpoint.
    pub url: Option<Str>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub description: Option<Str>,
    pub severity: Option<Str>,
    /// What on-call should do; shown in every alert.
    pub runbook: Option<Str>,
    pub trigger: Option<Spanned<RawTrigger>>,
    pub handler: Option<Str>,
    pub message: Option<Str>,
    /// A CEL expression evaluated on the event after the pattern matched.
    pub condition: Option<Str>,
    pub notify: Option<Spanned<Vec<Str>>>,
    pub params: Option<Spanned<toml::Table>>,
    pub permissions: Option<Vec<Str>>,
    pub include_read_only: Option<Spanned<bool>>,
    /// ATT&CK technique ids, CIS control ids, links.
    pub references: Option<Vec<Str>>,
    /// Known-good events the rule must not alert on, each owned and expiring.
    pub suppress: Option<Vec<Spanned<RawSuppression>>>,
    /// At most one alert per key per window.
    pub dedup: Option<Spanned<RawDedup>>,
    pub tests: Option<Spanned<Vec<Spanned<RawTest>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSuppression {
    /// CEL expression; the alert is suppressed when it is true.
    pub condition: Option<Str>,
    pub owner: Option<Str>,
    pub reason: Option<Str>,
    /// A TOML date (`2027-01-31`); after it the suppression stops applying.
    pub expires: Option<Spanned<toml::value::Datetime>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrigger {
    /// Any EventBridge pattern: a TOML table, or a string holding its JSON (needed for `null`).
    pub pattern: Option<Spanned<toml::Value>>,
    /// Shorthand for CloudTrail events: `eventSource`, `eventName` and more `detail` fields.
    pub cloudtrail: Option<Spanned<toml::Table>>,
    /// `rate(...)` or `cron(...)`.
    pub schedule: Option<Str>,
    /// Messages of an existing SNS topic.
    pub sns: Option<Spanned<RawSnsTrigger>>,
    /// Signed HTTPS requests from a third party.
    pub webhook: Option<Spanned<RawWebhookTrigger>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSnsTrigger {
    /// `arn:aws:sns:<region>:<account>:<name>`.
    pub topic: Option<Str>,
    /// An SNS filter policy, as a TOML table or a JSON string.
    pub filter_policy: Option<Spanned<toml::Value>>,
    /// `MessageAttributes` (default) or `MessageBody`.
    pub filter_policy_scope: Option<Str>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhookTrigger {
    /// `github`, `gitlab` or `generic`.
    pub provider: Option<Str>,
    /// Secrets Manager name of the signing secret.
    pub secret: Option<Str>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDedup {
    /// Template rendered like the message, e.g. `"{{ actor }}"`.
    pub key: Option<Str>,
    /// `30s`, `15m`, `1h`, `1d` (at most 7 days).
    pub window: Option<Str>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTest {
    pub event: Str,
    pub expect: Str,
}
