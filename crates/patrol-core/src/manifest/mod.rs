//! The manifest: `rules.toml` as written ([`raw`]), checked ([`validate`]) into the
//! normalized [`Manifest`] (rules, routes, and where it is deployed: [`Deploy`]) that
//! everything else consumes — the CLI, the Lambda functions
//! (every rule of their handler, from the config file the CDK app bundles) and the CDK app (through
//! `patrol manifest --json`). Only this module parses `rules.toml`. [`handler`] parses the
//! handlers' declarations (`lambdas/<handler>/handler.toml`: kind, params, IAM statements),
//! [`params`] holds the parameter types, [`reference`] the shapes of `references`.

pub mod handler;
pub mod params;
pub mod parse;
pub mod raw;
pub mod reference;
pub mod validate;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use raw::{json_schema, json_schema_for};
pub use validate::{
    ValidateOptions, load, validate_str, validate_str_with_warnings, validate_with_declarations,
};

/// Version of the normalized JSON shape; bump when the CDK app must change with it.
pub const FORMAT_VERSION: u32 = 1;

/// A validated manifest, normalized: defaults applied, shorthands expanded, sorted by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    /// The manifest's path as given, for messages.
    pub source: String,
    pub routes: Vec<Route>,
    pub rules: Vec<Rule>,
    /// `[deploy]`; `None` (absent from the JSON) when the manifest has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<Deploy>,
    /// The declaration of every handler a rule uses (`lambdas/<handler>/handler.toml`): the
    /// CDK app grants each function role exactly its `permissions`, and builds the
    /// `patrol-audit` role from the audit handlers' `audit_permissions`.
    #[serde(default)]
    pub handlers: std::collections::BTreeMap<String, handler::HandlerDeclaration>,
}

impl Manifest {
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }
    pub fn route(&self, id: &str) -> Option<&Route> {
        self.routes.iter().find(|r| r.id == id)
    }
}

/// `[deploy]`, normalized: where Patrol runs and which accounts and regions forward their
/// events to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deploy {
    pub central: Central,
    /// Regions that forward: us-east-1 first (global services send their events there),
    /// then the central region, then the others as written; no duplicates.
    pub regions: Vec<String>,
    /// The AWS Organization; `None` for a single account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<Organization>,
    /// Email addresses subscribed to the operators' topic (failure alarms).
    #[serde(default)]
    pub operators: Vec<String>,
    /// Field paths (`deploy.central.account`) whose values are AWS's documented example
    /// ids; deploying them is refused.
    #[serde(default)]
    pub example_ids: Vec<String>,
}

/// The account and region where the rules run and alerts leave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Central {
    pub account: String,
    pub region: String,
}

/// The AWS Organization whose accounts forward their events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// `o-...`.
    pub id: String,
    pub management_account: String,
    /// OU ids (`ou-...`) or the root id (`r-...`) the member StackSet deploys to.
    pub targets: Vec<String>,
}

/// The region every deployment forwards from: global services (IAM, STS, sign-in,
/// Organizations, …) deliver their CloudTrail events to EventBridge only there.
pub const GLOBAL_REGION: &str = "us-east-1";

/// Where alerts go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub id: String,
    #[serde(flatten)]
    pub kind: RouteKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RouteKind {
    /// An SNS topic that Patrol creates; email and https subscribers confirm once.
    Sns {
        #[serde(default)]
        email: Vec<String>,
        #[serde(default)]
        https: Vec<String>,
    },
    /// A Slack incoming webhook. `secret` names the Secrets Manager secret whose value is
    /// the webhook URL (the URL is a credential, so it never appears in rules.toml).
    Slack { secret: String },
    /// PagerDuty Events API v2. `secret` names the Secrets Manager secret whose value is
    /// the integration's routing key.
    Pagerduty { secret: String },
    /// Any HTTPS endpoint, sent the alert as JSON. With `secret` (a Secrets Manager name)
    /// each request carries `X-Patrol-Signature: sha256=<HMAC-SHA256 of the body>`.
    Webhook {
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret: Option<String>,
    },
}

impl RouteKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            RouteKind::Sns { .. } => "sns",
            RouteKind::Slack { .. } => "slack",
            RouteKind::Pagerduty { .. } => "pagerduty",
            RouteKind::Webhook { .. } => "webhook",
        }
    }
    /// The Secrets Manager secret the route reads at delivery time, if any.
    pub fn secret(&self) -> Option<&str> {
        match self {
            RouteKind::Sns { .. } => None,
            RouteKind::Slack { secret } | RouteKind::Pagerduty { secret } => Some(secret),
            RouteKind::Webhook { secret, .. } => secret.as_deref(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule, normalized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub id: String,
    pub description: String,
    pub severity: Severity,
    /// What on-call should do; shown in every alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<String>,
    /// The Lambda crate under `lambdas/` that runs this rule.
    pub handler: String,
    pub trigger: Trigger,
    /// minijinja template of the alert's one-line message.
    pub message: String,
    /// CEL expression evaluated after the pattern; the rule fires only when it is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// Route ids.
    pub notify: Vec<String>,
    /// Checked against their types ([`params`]).
    #[serde(default)]
    pub params: Map<String, Value>,
    /// ATT&CK technique and tactic ids (`T1078.004`, `TA0005`), CIS AWS Foundations
    /// controls (`CIS-AWS-3.1`), https links; checked, shown in every alert.
    #[serde(default)]
    pub references: Vec<String>,
    /// Known-good events the rule must not alert on.
    #[serde(default)]
    pub suppress: Vec<Suppression>,
    /// At most one alert per rendered key per window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup: Option<Dedup>,
    #[serde(default)]
    pub tests: Vec<RuleTest>,
}

/// Alert deduplication: alerts whose `key` (a template, rendered like the message)
/// repeats within `window_seconds` of the first one are counted, not sent. Live, the
/// window is kept in DynamoDB; `patrol replay` simulates it over event time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dedup {
    pub key: String,
    pub window_seconds: u64,
}

/// A known-good case: events for which `condition` (CEL) is true raise no alert until
/// `expires` (inclusive, `YYYY-MM-DD`, UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    pub condition: String,
    pub owner: String,
    pub reason: String,
    pub expires: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Trigger {
    /// An EventBridge event pattern, verbatim as EventBridge takes it.
    Event {
        pattern: Value,
        /// Deliver read-only management events too (rule state
        /// `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`).
        #[serde(default)]
        include_read_only: bool,
    },
    /// An EventBridge schedule expression: `rate(...)` or `cron(...)`.
    Schedule { expression: String },
    /// Messages published to an existing SNS topic. The filter policy (if any) is applied
    /// by SNS before the rule runs; the rule sees each message wrapped as an event
    /// ([`crate::event::wrap_sns`]).
    Sns {
        topic_arn: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter_policy: Option<Value>,
        /// `MessageAttributes` (SNS's default) or `MessageBody`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter_policy_scope: Option<String>,
    },
    /// HTTPS requests from a third party (a Lambda function URL); each request's signature
    /// is checked with the secret before the rule sees it, wrapped as an event
    /// ([`crate::event::wrap_webhook`]).
    Webhook {
        provider: WebhookProvider,
        /// Secrets Manager name of the signing secret shared with the provider.
        secret: String,
    },
}

impl Trigger {
    /// The pattern that decides, offline, which events reach the rule: the event pattern
    /// itself; for `sns`, the topic (and the filter policy, applied to
    /// `detail.MessageAttributes` or `detail.Message` as its scope says, with event-pattern
    /// semantics, which SNS filter policies share); for `webhook`, the provider's source.
    /// `None` for schedules.
    pub fn delivery_pattern(&self) -> Option<Value> {
        match self {
            Trigger::Event { pattern, .. } => Some(pattern.clone()),
            Trigger::Schedule { .. } => None,
            Trigger::Sns {
                topic_arn,
                filter_policy,
                filter_policy_scope,
            } => {
                let mut p = serde_json::json!({
                    "source": ["patrol.sns"],
                    "resources": [topic_arn],
                });
                if let Some(policy) = filter_policy {
                    let field = if filter_policy_scope.as_deref() == Some("MessageBody") {
                        "Message"
                    } else {
                        "MessageAttributes"
                    };
                    p["detail"] = serde_json::json!({ field: policy });
                }
                Some(p)
            }
            Trigger::Webhook { provider, .. } => Some(serde_json::json!({
                "source": [format!("patrol.webhook.{}", provider.as_str())],
            })),
        }
    }

    /// Whether the rule evaluates events (and so needs tests, may have a condition,
    /// suppressions and dedup) rather than running on a schedule.
    pub fn evaluates_events(&self) -> bool {
        !matches!(self, Trigger::Schedule { .. })
    }
}

/// Who sends a webhook, which decides how its signature is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookProvider {
    /// `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.
    Github,
    /// `X-Gitlab-Token: <secret>`.
    Gitlab,
    /// `X-Signature-256: sha256=<hex HMAC-SHA256 of the body>` (the same scheme Patrol's
    /// own webhook route signs with).
    Generic,
}

impl WebhookProvider {
    pub const ALL: [WebhookProvider; 3] = [
        WebhookProvider::Github,
        WebhookProvider::Gitlab,
        WebhookProvider::Generic,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookProvider::Github => "github",
            WebhookProvider::Gitlab => "gitlab",
            WebhookProvider::Generic => "generic",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// An inline test: an event file (relative to the manifest's folder) and what the rule
/// must do with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleTest {
    pub event: String,
    pub expect: Expect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    Alert,
    Quiet,
}
