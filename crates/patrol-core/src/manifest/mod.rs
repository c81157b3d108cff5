//! The manifest: `rules.toml` as written ([`raw`]), checked ([`validate`]) into the
//! normalized [`Manifest`] that everything else consumes — the CLI, the Lambda functions
//! (one rule each, through `PATROL_RULE`) and the CDK app (through
//! `patrol manifest --json`). Only this module parses `rules.toml`.

pub mod raw;
pub mod validate;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use validate::{ValidateOptions, load, validate_str};

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
}

impl Manifest {
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }
    pub fn route(&self, id: &str) -> Option<&Route> {
        self.routes.iter().find(|r| r.id == id)
    }
}

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
    #[serde(default)]
    pub params: Map<String, Value>,
    /// IAM actions the handler needs, beyond publishing its alerts.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Regions whose events can trigger the rule; empty = any. Global-service events
    /// (IAM, STS, sign-in, Organizations, …) reach EventBridge only in us-east-1.
    #[serde(default)]
    pub regions: Vec<String>,
    /// ATT&CK technique ids, CIS control ids, links.
    #[serde(default)]
    pub references: Vec<String>,
    /// Known-good events the rule must not alert on.
    #[serde(default)]
    pub suppress: Vec<Suppression>,
    #[serde(default)]
    pub tests: Vec<RuleTest>,
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
