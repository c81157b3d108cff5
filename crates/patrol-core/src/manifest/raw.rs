//! `rules.toml` exactly as written: every field optional where a missing value deserves a
//! better message than serde's, spans kept so diagnostics can point at the text, unknown
//! keys rejected. [`super::validate`] turns this into the normalized model; [`super::parse`]
//! builds it piece by piece so one wrong type doesn't hide the others.
//!
//! The same types generate `rules.schema.json` (`patrol schema`): doc comments become
//! descriptions, and `schemars` attributes list the values a string key accepts.

use std::collections::BTreeMap;
use std::ops::{Deref, Range};

use schemars::{JsonSchema, json_schema};
use serde::Deserialize;

/// A value and where it is in the manifest's text. A wrapper around
/// [`serde_spanned::Spanned`] so the schema describes the value, not the span.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(transparent)]
pub struct Spanned<T>(serde_spanned::Spanned<T>);

impl<T> Spanned<T> {
    pub fn new(span: Range<usize>, value: T) -> Self {
        Self(serde_spanned::Spanned::new(span, value))
    }
}

impl<T> Deref for Spanned<T> {
    type Target = serde_spanned::Spanned<T>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

pub type Str = Spanned<String>;

/// Kebab-case ids: rule ids become CloudFormation logical ids.
pub const ID_PATTERN: &str = "^[a-z](-?[a-z0-9])*$";

/// Patrol's manifest: alert routes, rules and where they are deployed. Reference: the
/// README's "rules.toml reference".
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Patrol rules.toml")]
pub struct RawManifest {
    /// Version of the manifest format; this Patrol reads `1`.
    #[schemars(range(min = 1, max = 1))]
    pub version: Option<Spanned<i64>>,
    /// Values used by rules that don't set their own.
    #[serde(default)]
    pub defaults: Option<Spanned<RawDefaults>>,
    /// Alert routes, by id (kebab-case): where alerts go.
    #[serde(default)]
    #[schemars(extend("propertyNames" = { "pattern": ID_PATTERN, "maxLength": 64 }))]
    pub notify: BTreeMap<Str, Spanned<RawRoute>>,
    /// Rules, by id (kebab-case, names what is detected: `root-console-login`).
    #[serde(default)]
    #[schemars(extend("propertyNames" = { "pattern": ID_PATTERN, "maxLength": 64 }))]
    pub rules: BTreeMap<Str, Spanned<RawRule>>,
    /// Where Patrol is deployed: the central account and region, the regions that forward
    /// events, the AWS Organization and who hears failure alarms. Only `cdk deploy` needs it.
    #[serde(default)]
    pub deploy: Option<Spanned<RawDeploy>>,
}

/// Defaults for every rule.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Defaults")]
pub struct RawDefaults {
    /// Route ids used by rules that have no `notify`.
    pub notify: Option<Spanned<Vec<Str>>>,
    /// Severity of rules that have no `severity`.
    #[schemars(extend("enum" = SEVERITIES))]
    pub severity: Option<Str>,
}

/// Values of `severity`, least to most urgent.
pub const SEVERITIES: [&str; 5] = ["info", "low", "medium", "high", "critical"];
/// Values of a route's `type`.
pub const ROUTE_TYPES: [&str; 4] = ["sns", "slack", "pagerduty", "webhook"];
/// Values of a webhook trigger's `provider`.
pub const WEBHOOK_PROVIDERS: [&str; 3] = ["github", "gitlab", "generic"];

/// Where alerts go. `type` decides which other keys apply: sns takes `email`/`https`,
/// slack and pagerduty take `secret`, webhook takes `url` and optionally `secret`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Route")]
pub struct RawRoute {
    /// `sns` (a topic Patrol creates), `slack`, `pagerduty` or `webhook`.
    #[serde(rename = "type")]
    #[schemars(extend("enum" = ROUTE_TYPES))]
    pub kind: Option<Str>,
    /// sns routes: email addresses subscribed to the topic (each confirms once).
    pub email: Option<Vec<Str>>,
    /// sns routes: HTTPS endpoints subscribed to the topic.
    pub https: Option<Vec<Str>>,
    /// Secrets Manager name or ARN, never the value (slack: the webhook URL; pagerduty: the
    /// routing key; webhook: the HMAC signing key).
    #[schemars(extend("pattern" = SECRET_NAME_PATTERN))]
    pub secret: Option<Str>,
    /// webhook routes: the HTTPS endpoint.
    #[schemars(extend("pattern" = "^https://"))]
    pub url: Option<Str>,
}

/// A Secrets Manager name (letters, digits and `/_+=.@-`) or a secret's ARN.
pub const SECRET_NAME_PATTERN: &str = "^(arn:[^:]+:secretsmanager:.+|[A-Za-z0-9/_+=.@-]{1,512})$";

/// One detection: its trigger, how bad it is, what the alert says, where it goes, and the
/// events it is tested with.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Rule")]
pub struct RawRule {
    /// One line saying what the rule detects.
    pub description: Option<Str>,
    /// How urgent its alerts are (default: `defaults.severity`).
    #[schemars(extend("enum" = SEVERITIES))]
    pub severity: Option<Str>,
    /// What on-call should do; shown in every alert.
    pub runbook: Option<Str>,
    /// What runs the rule: exactly one of `pattern`, `cloudtrail`, `schedule`, `sns`, `webhook`.
    pub trigger: Option<Spanned<RawTrigger>>,
    /// The crate under `lambdas/` that runs the rule (default `notify`).
    pub handler: Option<Str>,
    /// Template of the alert's one-line message (Jinja syntax: `{{ detail.eventName }}`).
    pub message: Option<Str>,
    /// A CEL expression evaluated on the event after the pattern matched.
    pub condition: Option<Str>,
    /// Route ids the alerts go to (default: `defaults.notify`).
    pub notify: Option<Spanned<Vec<Str>>>,
    /// Parameters for the rule's handler, conditions and templates (`params.NAME = VALUE`),
    /// each typed by the handler, by `params_types` or by the condition function it is
    /// passed to.
    #[serde(default)]
    #[schemars(with = "Option<ParamsSchema>")]
    pub params: Option<Spanned<toml::Table>>,
    /// Types of the rule's own parameters, for names its handler does not declare
    /// (`params_types = { owners = "string_list" }`).
    #[schemars(with = "Option<ParamsTypesSchema>")]
    pub params_types: Option<Spanned<BTreeMap<Str, Str>>>,
    /// No longer accepted (and left out of the schema): a handler declares its IAM
    /// statements in `lambdas/<handler>/handler.toml`. Read only to say so.
    #[schemars(skip)]
    pub permissions: Option<Vec<Str>>,
    /// Also deliver read-only management events (EventBridge triggers only).
    pub include_read_only: Option<Spanned<bool>>,
    /// ATT&CK technique or tactic ids (`T1078.004`, `TA0005`), CIS AWS Foundations controls
    /// (`CIS-AWS-3.1`) and https links; shown in every alert.
    #[schemars(extend("uniqueItems" = true, "items" = { "type": "string", "pattern": REFERENCE_PATTERN }))]
    pub references: Option<Vec<Str>>,
    /// Known-good events the rule must not alert on, each owned and expiring.
    pub suppress: Option<Vec<Spanned<RawSuppression>>>,
    /// At most one alert per key per window.
    pub dedup: Option<Spanned<RawDedup>>,
    /// Events the rule must alert on and stay quiet on; `patrol test` runs them.
    pub tests: Option<Spanned<Vec<Spanned<RawTest>>>>,
}

/// The shape of a reference: an ATT&CK technique, sub-technique or tactic id, a CIS AWS
/// Foundations control, or an https link.
pub const REFERENCE_PATTERN: &str = "^(T[0-9]{4}(\\.[0-9]{3})?|TA[0-9]{4}|CIS-AWS-[0-9]{1,3}(\\.[0-9]{1,3}){1,2}|https://[^\\s<>|\"`]+)$";

/// A known-good case: events for which `condition` is true raise no alert until `expires`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Suppression")]
pub struct RawSuppression {
    /// CEL expression; the alert is suppressed when it is true.
    pub condition: Option<Str>,
    /// Who asked for the suppression and answers for it.
    pub owner: Option<Str>,
    /// Why these events are known-good.
    pub reason: Option<Str>,
    /// A TOML date (`2027-01-31`, no quotes); after it the suppression stops applying.
    #[serde(default)]
    #[schemars(with = "Option<String>", extend("format" = "date"))]
    pub expires: Option<Spanned<toml::value::Datetime>>,
}

/// What runs a rule. Exactly one key.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
#[schemars(rename = "Trigger")]
pub struct RawTrigger {
    /// Any EventBridge pattern: a TOML table, or a string holding its JSON (needed for `null`).
    #[serde(default)]
    #[schemars(with = "Option<PatternSchema>")]
    pub pattern: Option<Spanned<toml::Value>>,
    /// Shorthand for CloudTrail events: `eventSource`, `eventName` and more `detail` fields.
    #[serde(default)]
    #[schemars(with = "Option<CloudTrailSchema>")]
    pub cloudtrail: Option<Spanned<toml::Table>>,
    /// `rate(...)` or `cron(...)`, EventBridge syntax: `rate(1 day)`, `cron(0 8 * * ? *)`.
    #[schemars(extend("pattern" = "^(rate|cron)\\(.*\\)$"))]
    pub schedule: Option<Str>,
    /// Messages of an existing SNS topic.
    pub sns: Option<Spanned<RawSnsTrigger>>,
    /// Signed HTTPS requests from a third party.
    pub webhook: Option<Spanned<RawWebhookTrigger>>,
}

/// Messages of an existing SNS topic, optionally filtered.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SnsTrigger")]
pub struct RawSnsTrigger {
    /// `arn:aws:sns:<region>:<account>:<name>`.
    #[schemars(extend("pattern" = "^arn:aws[a-z-]*:sns:[^:]+:[0-9]{12}:[A-Za-z0-9_.-]+$"))]
    pub topic: Option<Str>,
    /// An SNS filter policy, as a TOML table or a JSON string.
    #[serde(default)]
    #[schemars(with = "Option<PatternSchema>")]
    pub filter_policy: Option<Spanned<toml::Value>>,
    /// `MessageAttributes` (default) or `MessageBody`.
    #[schemars(extend("enum" = ["MessageAttributes", "MessageBody"]))]
    pub filter_policy_scope: Option<Str>,
}

/// Signed HTTPS requests from a third party.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "WebhookTrigger")]
pub struct RawWebhookTrigger {
    /// Who sends the requests, which decides how signatures are checked.
    #[schemars(extend("enum" = WEBHOOK_PROVIDERS))]
    pub provider: Option<Str>,
    /// Secrets Manager name of the signing secret.
    #[schemars(extend("pattern" = SECRET_NAME_PATTERN))]
    pub secret: Option<Str>,
}

/// At most one alert per rendered key per window.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Dedup")]
pub struct RawDedup {
    /// Template rendered like the message, e.g. `"{{ actor }}"`.
    pub key: Option<Str>,
    /// `30s`, `15m`, `1h`, `1d` (at most 365 days).
    #[schemars(extend("pattern" = "^[0-9]+[smhd]$"))]
    pub window: Option<Str>,
}

/// An inline test: an event file and what the rule must do with it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Test")]
pub struct RawTest {
    /// Path of an EventBridge event (JSON), relative to the manifest's folder.
    pub event: Str,
    /// `alert`: the rule must raise an alert; `quiet`: it must not.
    #[schemars(extend("enum" = ["alert", "quiet"]))]
    pub expect: Str,
}

/// An AWS account id: 12 digits, written as a string.
pub const ACCOUNT_ID_PATTERN: &str = "^[0-9]{12}$";
/// An AWS region's shape: `eu-west-1`, `us-gov-west-1`, `cn-north-1`.
pub const REGION_PATTERN: &str = "^([a-z]{2}(-gov|-iso|-isob)?|eusc-[a-z]{2})-(central|north|south|east|west|northeast|northwest|southeast|southwest)-[0-9]{1,2}$";
/// An AWS Organizations organization id.
pub const ORGANIZATION_ID_PATTERN: &str = "^o-[a-z0-9]{10,32}$";
/// An organizational unit id (`ou-...`) or the organization's root id (`r-...`).
pub const TARGET_PATTERN: &str = "^(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32})$";

/// `[deploy]`: where Patrol runs and which accounts and regions send it their events.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Deploy")]
pub struct RawDeploy {
    /// The account and region where the rules run and alerts leave (required).
    pub central: Option<Spanned<RawCentral>>,
    /// Regions whose events are forwarded to the central region. us-east-1 (where global
    /// services such as IAM, STS and sign-in send their events) and the central region are
    /// always added.
    #[schemars(extend("uniqueItems" = true, "items" = { "type": "string", "pattern": REGION_PATTERN }))]
    pub regions: Option<Spanned<Vec<Str>>>,
    /// The AWS Organization whose accounts forward their events; omit for a single account.
    pub organization: Option<Spanned<RawOrganization>>,
    /// Email addresses that hear Patrol's own failure alarms (each confirms once).
    #[schemars(extend("uniqueItems" = true, "items" = { "type": "string", "format": "email" }))]
    pub operators: Option<Spanned<Vec<Str>>>,
}

/// The central account and region.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Central")]
pub struct RawCentral {
    /// The central (security tooling) account's id: 12 digits, in quotes.
    #[schemars(extend("pattern" = ACCOUNT_ID_PATTERN))]
    pub account: Option<Str>,
    /// The region where the rules run, e.g. `eu-west-1`.
    #[schemars(extend("pattern" = REGION_PATTERN))]
    pub region: Option<Str>,
}

/// The AWS Organization: members forward through a service-managed StackSet.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Organization")]
pub struct RawOrganization {
    /// The organization's id, `o-` and 10 to 32 lowercase letters or digits.
    #[schemars(extend("pattern" = ORGANIZATION_ID_PATTERN))]
    pub id: Option<Str>,
    /// The management account's id (12 digits, in quotes): StackSets never deploy there, so
    /// it gets plain forwarder stacks.
    #[schemars(extend("pattern" = ACCOUNT_ID_PATTERN))]
    pub management_account: Option<Str>,
    /// Where the member StackSet deploys: OU ids (`ou-ab12-cdef3456`) or the root id
    /// (`r-ab12`), at least one.
    #[schemars(extend("minItems" = 1, "uniqueItems" = true, "items" = { "type": "string", "pattern": TARGET_PATTERN }))]
    pub targets: Option<Spanned<Vec<Str>>>,
}

/// Schema-only: an EventBridge pattern as a TOML table, or its JSON in a string.
#[allow(dead_code)]
struct PatternSchema;

impl JsonSchema for PatternSchema {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "EventPattern".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        json_schema!({
            "description": "An EventBridge event pattern: a table of field names to lists of values or operators (`prefix`, `suffix`, `anything-but`, `numeric`, `exists`, `cidr`, `wildcard`, `equals-ignore-case`, `$or`), or the pattern's JSON in a string.",
            "type": ["object", "string"]
        })
    }
}

/// Schema-only: a rule's `params`, with every parameter a handler declares.
#[allow(dead_code)]
struct ParamsSchema;

impl JsonSchema for ParamsSchema {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Params".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // Replaced by the declared parameters in `json_schema_for`.
        schemars::Schema::try_from(super::params::params_schema(&Default::default()))
            .unwrap_or_default()
    }
}

/// Schema-only: a rule's `params_types`.
#[allow(dead_code)]
struct ParamsTypesSchema;

impl JsonSchema for ParamsTypesSchema {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ParamsTypes".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::Schema::try_from(super::params::params_types_schema()).unwrap_or_default()
    }
}

/// Schema-only: the `cloudtrail` shorthand.
#[allow(dead_code)]
struct CloudTrailSchema;

impl JsonSchema for CloudTrailSchema {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "CloudTrailShorthand".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names = json_schema!({
            "anyOf": [
                { "type": "string" },
                { "type": "array", "minItems": 1 }
            ]
        });
        json_schema!({
            "description": "CloudTrail events by `eventSource` (`iam.amazonaws.com`) and `eventName`; other keys match `detail` fields (scalars become one-value lists, lists are kept as written).",
            "type": "object",
            "properties": {
                "eventSource": {
                    "description": "The service's CloudTrail event source, e.g. `iam.amazonaws.com`.",
                    "anyOf": [
                        { "type": "string", "pattern": "\\.amazonaws\\.com$" },
                        { "type": "array", "items": { "type": "string", "pattern": "\\.amazonaws\\.com$" }, "minItems": 1 }
                    ]
                },
                "eventName": names
            },
            "required": ["eventSource"]
        })
    }
}

/// The JSON Schema of `rules.toml` (draft 2020-12) with the parameters of the handlers
/// shipped with Patrol ([`super::handler::shipped`]).
pub fn json_schema() -> serde_json::Value {
    json_schema_for(&super::handler::shipped())
}

/// The JSON Schema of `rules.toml` (draft 2020-12) whose `params` lists the parameters of
/// `declarations`, as `patrol schema` prints it from the handler.toml files it reads.
pub fn json_schema_for(declarations: &super::handler::Declarations) -> serde_json::Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let schema = generator.into_root_schema_for::<RawManifest>();
    let mut value = schema.to_value();
    if let Some(params) = value.pointer_mut("/$defs/Params") {
        *params = super::params::params_schema(declarations);
    }
    drop_null(&mut value);
    value
}

/// TOML has no null: `Option<T>` fields are simply absent, so `null` is removed from the
/// types schemars generates for them.
fn drop_null(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    map.insert("type".into(), only);
                }
            }
            for key in ["anyOf", "oneOf"] {
                if let Some(Value::Array(alts)) = map.get_mut(key) {
                    alts.retain(|a| a.get("type").is_none_or(|t| t != "null"));
                    if alts.len() == 1 {
                        let only = alts.remove(0);
                        map.remove(key);
                        if let Value::Object(inner) = only {
                            for (k, val) in inner {
                                map.entry(k).or_insert(val);
                            }
                        }
                    }
                }
            }
            for val in map.values_mut() {
                drop_null(val);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null),
        _ => {}
    }
}
