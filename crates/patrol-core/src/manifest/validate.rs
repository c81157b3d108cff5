//! Raw manifest → normalized [`Manifest`], collecting every problem as a [`Diagnostic`]
//! instead of stopping at the first.

use std::collections::BTreeSet;
use std::ops::Range;

use serde_json::{Map, Value, json};

use super::parse::Broken;
use super::raw::{RawDedup, RawManifest, RawRoute, RawRule, RawTrigger, Spanned, Str};
use super::{
    Dedup, Expect, FORMAT_VERSION, Manifest, Route, RouteKind, Rule, RuleTest, Severity,
    Suppression, Trigger, WebhookProvider,
};
use crate::diagnostic::Diagnostic;
use crate::pattern::Pattern;
use crate::template::{self, TemplateError};

/// What validation needs to know about the world outside the manifest's text.
#[derive(Debug, Clone)]
pub struct ValidateOptions {
    /// Handler crates that exist (folders under `lambdas/`).
    pub handlers: Vec<String>,
    /// The manifest's folder: when set, every test event file must exist under it.
    pub base_dir: Option<std::path::PathBuf>,
    /// Today (`YYYY-MM-DD`): when set, expired suppressions are errors.
    pub today: Option<String>,
}

impl Default for ValidateOptions {
    fn default() -> Self {
        Self {
            handlers: vec![DEFAULT_HANDLER.to_owned()],
            base_dir: None,
            today: None,
        }
    }
}

pub const DEFAULT_HANDLER: &str = "notify";
const DEFAULT_MESSAGE: &str = "{{ rule.description }}: {{ detail.eventName }} by {{ actor }} in account {{ account }} ({{ region }}) from {{ source_ip }}";

/// Event sources whose CloudTrail events reach EventBridge only in us-east-1.
const GLOBAL_SOURCES: &[&str] = &[
    "aws.iam",
    "aws.sts",
    "aws.signin",
    "aws.organizations",
    "aws.cloudfront",
    "aws.route53",
    "aws.globalaccelerator",
];
const GLOBAL_REGION: &str = "us-east-1";

/// Parses and validates a manifest's text. `source` is the path shown in messages.
pub fn validate_str(
    text: &str,
    source: &str,
    options: &ValidateOptions,
) -> Result<Manifest, Vec<Diagnostic>> {
    let (raw, diags, broken) = super::parse::parse(text).map_err(|d| vec![d])?;
    let mut cx = Cx {
        diags,
        text,
        options,
        broken,
    };
    let manifest = cx.manifest(raw, source);
    if cx.diags.is_empty() {
        Ok(manifest)
    } else {
        cx.diags
            .sort_by_key(|d| d.span.as_ref().map_or(usize::MAX, |s| s.start));
        Err(cx.diags)
    }
}

/// Like [`validate_str`], reading the file first.
pub fn load(path: &std::path::Path, options: &ValidateOptions) -> Result<Manifest, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let source = path.display().to_string();
    validate_str(&text, &source, options).map_err(|diagnostics| LoadError::Invalid {
        rendered: crate::diagnostic::render_all(&diagnostics, &source, &text),
        diagnostics,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read manifest {path}: {message}")]
    Io { path: String, message: String },
    #[error("{rendered}")]
    Invalid {
        diagnostics: Vec<Diagnostic>,
        rendered: String,
    },
}

struct Cx<'a> {
    diags: Vec<Diagnostic>,
    /// The manifest's text, to point inside values (patterns).
    text: &'a str,
    options: &'a ValidateOptions,
    /// Parts with type errors (already reported): not to be called missing.
    broken: Broken,
}

fn span<T>(s: &Spanned<T>) -> Range<usize> {
    s.span()
}

impl Cx<'_> {
    fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn manifest(&mut self, raw: RawManifest, source: &str) -> Manifest {
        if let Some(v) = &raw.version
            && *v.get_ref() != 1
        {
            {
                self.err(
                    Diagnostic::new(
                        "unsupported-version",
                        format!("manifest version {} is not supported", v.get_ref()),
                    )
                    .at(span(v))
                    .help("this Patrol reads `version = 1`"),
                );
            }
        }
        let routes: Vec<Route> = raw
            .notify
            .iter()
            .filter_map(|(id, route)| self.route(id, route))
            .collect();
        // Routes with type errors (already reported) still count as defined.
        let broken_routes = std::mem::take(&mut self.broken.routes);
        let route_ids: BTreeSet<&str> = raw
            .notify
            .keys()
            .map(|k| k.get_ref().as_str())
            .chain(broken_routes.iter().map(String::as_str))
            .collect();

        let defaults = raw.defaults.as_ref().map(|d| d.get_ref());
        let default_notify = defaults.and_then(|d| d.notify.as_ref());
        if let Some(list) = default_notify {
            for r in list.get_ref() {
                self.check_route_ref(None, r, &route_ids);
            }
        }
        let default_severity = defaults.and_then(|d| d.severity.as_ref()).and_then(|s| {
            let parsed = Severity::parse(s.get_ref());
            if parsed.is_none() {
                self.err(bad_severity(s));
            }
            parsed
        });

        let mut rules = Vec::new();
        for (id, rule) in &raw.rules {
            if let Some(rule) = self.rule(
                id,
                rule,
                &route_ids,
                default_notify.map(|l| l.get_ref().as_slice()),
                default_severity,
            ) {
                rules.push(rule);
            }
        }
        if raw.rules.is_empty() && !self.broken.rules {
            self.err(
                Diagnostic::new("no-rules", "the manifest defines no rules")
                    .help("add a `[rules.<id>]` table; see the README's \"Adding a rule\""),
            );
        }
        Manifest {
            format_version: FORMAT_VERSION,
            source: source.to_owned(),
            routes,
            rules,
        }
    }

    fn route(&mut self, id: &Str, route: &Spanned<RawRoute>) -> Option<Route> {
        self.check_id("route", id);
        let r = route.get_ref();
        let Some(kind) = &r.kind else {
            self.err(
                Diagnostic::new(
                    "missing-key",
                    format!("route `{}` has no `type`", id.get_ref()),
                )
                .at(span(route))
                .help("add `type = \"sns\"`"),
            );
            return None;
        };
        match kind.get_ref().as_str() {
            "sns" => {
                self.route_keys_unused(
                    id,
                    "sns",
                    &[("secret", r.secret.is_some()), ("url", r.url.is_some())],
                    route,
                );
                let strings = |v: &Option<Vec<Str>>| -> Vec<String> {
                    v.iter().flatten().map(|s| s.get_ref().clone()).collect()
                };
                for email in r.email.iter().flatten() {
                    let e = email.get_ref();
                    if !e.contains('@') || e.starts_with('@') || e.ends_with('@') {
                        self.err(
                            Diagnostic::new(
                                "invalid-email",
                                format!("route `{}`: `{e}` is not an email address", id.get_ref()),
                            )
                            .at(span(email))
                            .help("write the full address, e.g. `secops@example.com`; each subscriber confirms once"),
                        );
                    }
                }
                for url in r.https.iter().flatten() {
                    if !url.get_ref().starts_with("https://") {
                        self.err(
                            Diagnostic::new(
                                "invalid-url",
                                format!(
                                    "route `{}`: https subscriber `{}` must start with https://",
                                    id.get_ref(),
                                    url.get_ref()
                                ),
                            )
                            .at(span(url)),
                        );
                    }
                }
                Some(Route {
                    id: id.get_ref().clone(),
                    kind: RouteKind::Sns {
                        email: strings(&r.email),
                        https: strings(&r.https),
                    },
                })
            }
            t @ ("slack" | "pagerduty") => {
                self.route_keys_unused(
                    id,
                    t,
                    &[
                        ("email", r.email.is_some()),
                        ("https", r.https.is_some()),
                        ("url", r.url.is_some()),
                    ],
                    route,
                );
                let what = if t == "slack" {
                    "the Slack incoming-webhook URL"
                } else {
                    "the PagerDuty Events API v2 routing key"
                };
                let secret = self.secret_name(
                    &format!("route `{}`", id.get_ref()),
                    r.secret.as_ref(),
                    span(route),
                    what,
                )?;
                Some(Route {
                    id: id.get_ref().clone(),
                    kind: if t == "slack" {
                        RouteKind::Slack { secret }
                    } else {
                        RouteKind::Pagerduty { secret }
                    },
                })
            }
            "webhook" => {
                self.route_keys_unused(
                    id,
                    "webhook",
                    &[("email", r.email.is_some()), ("https", r.https.is_some())],
                    route,
                );
                let url = match &r.url {
                    Some(u) if u.get_ref().starts_with("https://") && u.get_ref().len() > 8 => {
                        Some(u.get_ref().clone())
                    }
                    Some(u) => {
                        self.err(
                            Diagnostic::new(
                                "invalid-url",
                                format!(
                                    "route `{}`: webhook url `{}` must start with https://",
                                    id.get_ref(),
                                    u.get_ref()
                                ),
                            )
                            .at(span(u))
                            .help("alerts carry account ids and principals; Patrol only sends them over TLS"),
                        );
                        None
                    }
                    None => {
                        self.err(
                            Diagnostic::new(
                                "missing-key",
                                format!("webhook route `{}` has no `url`", id.get_ref()),
                            )
                            .at(span(route))
                            .help("add `url = \"https://...\"`"),
                        );
                        None
                    }
                };
                let secret = match &r.secret {
                    Some(_) => Some(self.secret_name(
                        &format!("route `{}`", id.get_ref()),
                        r.secret.as_ref(),
                        span(route),
                        "the HMAC signing key",
                    )?),
                    None => None,
                };
                Some(Route {
                    id: id.get_ref().clone(),
                    kind: RouteKind::Webhook { url: url?, secret },
                })
            }
            other => {
                self.err(
                    Diagnostic::new(
                        "unknown-route-type",
                        format!("route `{}` has unknown type `{other}`", id.get_ref()),
                    )
                    .at(span(kind))
                    .help("supported route types: sns, slack, pagerduty, webhook"),
                );
                None
            }
        }
    }

    /// Keys that belong to other route types are errors, not silently ignored.
    fn route_keys_unused(
        &mut self,
        id: &Str,
        kind: &str,
        keys: &[(&str, bool)],
        route: &Spanned<RawRoute>,
    ) {
        for (key, present) in keys {
            if *present {
                self.err(
                    Diagnostic::new(
                        "unused-key",
                        format!("route `{}` ({kind}) does not use `{key}`", id.get_ref()),
                    )
                    .at(span(route))
                    .help(format!(
                        "remove `{key}`; the README's \"Alert routes\" section lists each type's keys"
                    )),
                );
            }
        }
    }

    /// A Secrets Manager secret name (or ARN), never a secret's value.
    fn secret_name(
        &mut self,
        who: &str,
        secret: Option<&Str>,
        whole: Range<usize>,
        holds: &str,
    ) -> Option<String> {
        let Some(secret) = secret else {
            self.err(
                Diagnostic::new("missing-secret", format!("{who} has no `secret`"))
                    .at(whole)
                    .help(format!(
                        "store {holds} in AWS Secrets Manager and name it: `secret = \"patrol/...\"`"
                    )),
            );
            return None;
        };
        match check_secret_name(secret.get_ref()) {
            Ok(()) => Some(secret.get_ref().clone()),
            Err(msg) => {
                self.err(
                    Diagnostic::new("invalid-secret", format!("{who}: {msg}"))
                        .at(span(secret))
                        .help(format!(
                            "store {holds} in AWS Secrets Manager and give its name here (letters, digits and /_+=.@-), never the value"
                        )),
                );
                None
            }
        }
    }

    fn check_id(&mut self, what: &str, id: &Str) {
        let s = id.get_ref();
        if !is_kebab_id(s) {
            self.err(
                Diagnostic::new(
                    "invalid-id",
                    format!("{what} id `{s}` is not kebab-case"),
                )
                .at(span(id))
                .help("use lowercase letters, digits and single dashes, starting with a letter, at most 64 characters (it becomes part of CloudFormation names)"),
            );
        }
    }

    fn check_route_ref(&mut self, rule: Option<&str>, r: &Str, known: &BTreeSet<&str>) {
        if !known.contains(r.get_ref().as_str()) {
            let who = match rule {
                Some(id) => format!("rule `{id}`"),
                None => "`defaults.notify`".to_owned(),
            };
            let known_list = if known.is_empty() {
                "none defined; add a `[notify.<id>]` table".to_owned()
            } else {
                known.iter().copied().collect::<Vec<_>>().join(", ")
            };
            self.err(
                Diagnostic::new(
                    "unknown-route",
                    format!("{who} sends to unknown route `{}`", r.get_ref()),
                )
                .at(span(r))
                .help(format!("known routes: {known_list}")),
            );
        }
    }

    fn rule(
        &mut self,
        id: &Str,
        rule: &Spanned<RawRule>,
        route_ids: &BTreeSet<&str>,
        default_notify: Option<&[Str]>,
        default_severity: Option<Severity>,
    ) -> Option<Rule> {
        self.check_id("rule", id);
        let rid = id.get_ref().as_str();
        if self.broken.rule_field(rid, "*") {
            // Not a table at all; the type error says so.
            return None;
        }
        let r = rule.get_ref();
        let before = self.diags.len();

        let description = match &r.description {
            Some(d) if !d.get_ref().trim().is_empty() => d.get_ref().trim().to_owned(),
            _ if self.broken.rule_field(rid, "description") => String::new(),
            _ => {
                self.err(
                    Diagnostic::new(
                        "missing-description",
                        format!("rule `{rid}` has no description"),
                    )
                    .at(span(id))
                    .help("add `description = \"...\"`: one line saying what the rule detects"),
                );
                String::new()
            }
        };

        let severity = match &r.severity {
            Some(s) => Severity::parse(s.get_ref()).or_else(|| {
                self.err(bad_severity(s));
                None
            }),
            None if self.broken.rule_field(rid, "severity")
                || self.broken.default_field("severity") =>
            {
                None
            }
            None => default_severity.or_else(|| {
                self.err(
                    Diagnostic::new("missing-severity", format!("rule `{rid}` has no severity"))
                        .at(span(id))
                        .help("add `severity = \"high\"` (info, low, medium, high, critical) or set `defaults.severity`"),
                );
                None
            }),
        };

        let handler = match &r.handler {
            Some(h) => {
                if !self.options.handlers.iter().any(|k| k == h.get_ref()) {
                    self.err(
                        Diagnostic::new(
                            "unknown-handler",
                            format!("rule `{rid}` uses unknown handler `{}`", h.get_ref()),
                        )
                        .at(span(h))
                        .help(format!(
                            "known handlers (crates under lambdas/): {}",
                            self.options.handlers.join(", ")
                        )),
                    );
                }
                h.get_ref().clone()
            }
            None => DEFAULT_HANDLER.to_owned(),
        };

        let include_read_only = r.include_read_only.as_ref().is_some_and(|b| *b.get_ref());
        let trigger = match &r.trigger {
            Some(t) => self.trigger(rid, t, include_read_only),
            None if self.broken.rule_field(rid, "trigger") => None,
            None => {
                self.err(
                    Diagnostic::new("missing-trigger", format!("rule `{rid}` has no trigger"))
                        .at(span(id))
                        .help("add one of `trigger.pattern`, `trigger.cloudtrail`, `trigger.schedule`, `trigger.sns` or `trigger.webhook`"),
                );
                None
            }
        };
        if let (
            Some(b),
            Some(Trigger::Schedule { .. } | Trigger::Sns { .. } | Trigger::Webhook { .. }),
        ) = (&r.include_read_only, &trigger)
        {
            self.err(
                Diagnostic::new(
                    "read-only-on-schedule",
                    format!("rule `{rid}`: `include_read_only` applies only to EventBridge triggers (`pattern`, `cloudtrail`)"),
                )
                .at(span(b))
                .help("remove `include_read_only`"),
            );
        }

        let message = match &r.message {
            Some(m) => {
                for e in template::check(m.get_ref()) {
                    let (code, help) = match &e {
                        TemplateError::UnknownVariable(_) => (
                            "unknown-template-variable",
                            format!(
                                "templates can use: {}",
                                template::KNOWN_VARIABLES.join(", ")
                            ),
                        ),
                        _ => (
                            "template-syntax",
                            "templates use Jinja syntax: `{{ detail.eventName }}`".to_owned(),
                        ),
                    };
                    self.err(
                        Diagnostic::new(code, format!("rule `{rid}`: {e}"))
                            .at(span(m))
                            .help(help),
                    );
                }
                m.get_ref().clone()
            }
            None => DEFAULT_MESSAGE.to_owned(),
        };

        let condition = r.condition.as_ref().map(|c| {
            if let Err(errors) = crate::condition::Condition::compile(c.get_ref()) {
                for e in errors {
                    let (code, help) = match &e {
                        crate::condition::ConditionError::UnknownVariable(_) => (
                            "unknown-condition-variable",
                            format!(
                                "conditions can use: {}",
                                template::KNOWN_VARIABLES.join(", ")
                            ),
                        ),
                        _ => (
                            "condition-syntax",
                            "conditions are CEL expressions, e.g. `detail.userIdentity.arn.endsWith(\"/break-glass\")`".to_owned(),
                        ),
                    };
                    self.err(
                        Diagnostic::new(code, format!("rule `{rid}`: {e}"))
                            .at(span(c))
                            .help(help),
                    );
                }
            }
            c.get_ref().clone()
        });
        if let (Some(c), Some(Trigger::Schedule { .. })) = (&r.condition, &trigger) {
            self.err(
                Diagnostic::new(
                    "condition-on-schedule",
                    format!("rule `{rid}`: `condition` applies only to event triggers"),
                )
                .at(span(c))
                .help("remove `condition`; a scheduled handler decides in its own code"),
            );
        }

        let notify: Vec<String> = match (&r.notify, default_notify) {
            (Some(list), _) => {
                if list.get_ref().is_empty() {
                    self.err(
                        Diagnostic::new(
                            "no-route",
                            format!("rule `{rid}` sends its alerts nowhere (`notify = []`)"),
                        )
                        .at(span(list))
                        .help("name at least one route from the `[notify.*]` tables"),
                    );
                }
                for x in list.get_ref() {
                    self.check_route_ref(Some(rid), x, route_ids);
                }
                list.get_ref().iter().map(|s| s.get_ref().clone()).collect()
            }
            (None, Some(defaults)) => defaults.iter().map(|s| s.get_ref().clone()).collect(),
            (None, None)
                if self.broken.rule_field(rid, "notify") || self.broken.default_field("notify") =>
            {
                Vec::new()
            }
            (None, None) => {
                self.err(
                    Diagnostic::new("no-route", format!("rule `{rid}` sends its alerts nowhere"))
                        .at(span(id))
                        .help("add `notify = [\"<route>\"]` or set `defaults.notify`"),
                );
                Vec::new()
            }
        };

        let params = match &r.params {
            Some(p) => match serde_json::to_value(p.get_ref()) {
                Ok(Value::Object(map)) => map,
                _ => {
                    self.err(
                        Diagnostic::new(
                            "invalid-params",
                            format!("rule `{rid}`: params cannot be represented as JSON"),
                        )
                        .at(span(p)),
                    );
                    Map::new()
                }
            },
            None => Map::new(),
        };

        let permissions: Vec<String> = r
            .permissions
            .iter()
            .flatten()
            .map(|p| {
                let s = p.get_ref();
                let valid = s.split_once(':').is_some_and(|(svc, action)| {
                    !svc.is_empty()
                        && svc.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        && !action.is_empty()
                        && action
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'*')
                });
                if !valid {
                    self.err(
                        Diagnostic::new(
                            "invalid-permission",
                            format!("rule `{rid}`: `{s}` is not an IAM action"),
                        )
                        .at(span(p))
                        .help("write IAM actions as `service:Action`, e.g. `iam:ListUsers`"),
                    );
                }
                s.clone()
            })
            .collect();

        let mut bad_expect = false;
        let tests: Vec<RuleTest> = r
            .tests
            .iter()
            .flat_map(|t| t.get_ref())
            .filter_map(|t| {
                let t = t.get_ref();
                let expect = match t.expect.get_ref().as_str() {
                    "alert" => Expect::Alert,
                    "quiet" => Expect::Quiet,
                    other => {
                        bad_expect = true;
                        self.err(
                            Diagnostic::new(
                                "invalid-expect",
                                format!("rule `{rid}`: test expects `{other}`"),
                            )
                            .at(span(&t.expect))
                            .help("`expect` is \"alert\" or \"quiet\""),
                        );
                        return None;
                    }
                };
                if let Some(base) = &self.options.base_dir
                    && !base.join(t.event.get_ref()).is_file()
                {
                    self.err(
                        Diagnostic::new(
                            "missing-test-event",
                            format!(
                                "rule `{rid}`: test event `{}` does not exist",
                                t.event.get_ref()
                            ),
                        )
                        .at(span(&t.event))
                        .help("test event paths are relative to the manifest's folder"),
                    );
                }
                Some(RuleTest {
                    event: t.event.get_ref().clone(),
                    expect,
                })
            })
            .collect();
        if trigger.as_ref().is_some_and(Trigger::evaluates_events) {
            let has = |e: Expect| tests.iter().any(|t| t.expect == e);
            let missing: Vec<&str> = [(Expect::Alert, "\"alert\""), (Expect::Quiet, "\"quiet\"")]
                .into_iter()
                .filter(|(e, _)| !has(*e))
                .map(|(_, name)| name)
                .collect();
            if !missing.is_empty() && !bad_expect && !self.broken.rule_field(rid, "tests") {
                let at = r.tests.as_ref().map_or_else(|| span(id), span);
                self.err(
                    Diagnostic::new(
                        "missing-tests",
                        format!(
                            "rule `{rid}` has no test expecting {}",
                            missing.join(" and none expecting ")
                        ),
                    )
                    .at(at)
                    .help("every rule that evaluates events needs at least one event that raises an alert and one that must not: `tests = [{ event = \"tests/events/...\", expect = \"alert\" }, { event = \"...\", expect = \"quiet\" }]`"),
                );
            }
        }

        let references: Vec<String> = r
            .references
            .iter()
            .flatten()
            .map(|s| s.get_ref().clone())
            .collect();
        let suppress: Vec<Suppression> = r
            .suppress
            .iter()
            .flatten()
            .filter_map(|s| self.suppression(rid, s))
            .collect();
        if !suppress.is_empty() && matches!(trigger, Some(Trigger::Schedule { .. })) {
            self.err(
                Diagnostic::new(
                    "suppress-on-schedule",
                    format!("rule `{rid}`: `suppress` applies only to event triggers"),
                )
                .at(span(id))
                .help("remove `suppress`; a scheduled handler decides in its own code"),
            );
        }

        let dedup = r.dedup.as_ref().and_then(|d| self.dedup(rid, d));
        if let (Some(d), Some(Trigger::Schedule { .. })) = (&r.dedup, &trigger) {
            self.err(
                Diagnostic::new(
                    "dedup-on-schedule",
                    format!("rule `{rid}`: `dedup` applies only to rules that evaluate events"),
                )
                .at(span(d))
                .help("remove `dedup`; a scheduled handler decides in its own code"),
            );
        }

        let regions = match &trigger {
            Some(Trigger::Event { pattern, .. }) => regions_for(pattern),
            _ => Vec::new(),
        };

        if self.diags.len() > before {
            return None;
        }
        Some(Rule {
            id: rid.to_owned(),
            description,
            severity: severity?,
            runbook: r
                .runbook
                .as_ref()
                .map(|s| s.get_ref().trim().to_owned())
                .filter(|s| !s.is_empty()),
            handler,
            trigger: trigger?,
            message,
            condition,
            notify,
            params,
            permissions,
            regions,
            references,
            suppress,
            dedup,
            tests,
        })
    }

    fn dedup(&mut self, rid: &str, d: &Spanned<RawDedup>) -> Option<Dedup> {
        let raw = d.get_ref();
        let before = self.diags.len();
        let key = match &raw.key {
            Some(k) => {
                for e in template::check(k.get_ref()) {
                    self.err(
                        Diagnostic::new("invalid-dedup-key", format!("rule `{rid}`: dedup key: {e}"))
                            .at(span(k))
                            .help(format!(
                                "the dedup key is a template like the message, e.g. `key = \"{{{{ actor }}}}\"`; it can use: {}",
                                template::KNOWN_VARIABLES.join(", ")
                            )),
                    );
                }
                Some(k.get_ref().clone())
            }
            None => {
                self.err(
                    Diagnostic::new("missing-key", format!("rule `{rid}`: `dedup` has no `key`"))
                        .at(span(d))
                        .help("add `key = \"{{ actor }}\"`: alerts with the same rendered key within the window are sent once"),
                );
                None
            }
        };
        let window_seconds = match &raw.window {
            Some(w) => match parse_window(w.get_ref()) {
                Ok(secs) => Some(secs),
                Err(msg) => {
                    self.err(
                        Diagnostic::new("invalid-dedup-window", format!("rule `{rid}`: {msg}"))
                            .at(span(w))
                            .help("write a window as a number and a unit: `30s`, `15m`, `1h`, `1d` (at most 7d)"),
                    );
                    None
                }
            },
            None => {
                self.err(
                    Diagnostic::new(
                        "missing-key",
                        format!("rule `{rid}`: `dedup` has no `window`"),
                    )
                    .at(span(d))
                    .help("add `window = \"1h\"`"),
                );
                None
            }
        };
        if self.diags.len() > before {
            return None;
        }
        Some(Dedup {
            key: key?,
            window_seconds: window_seconds?,
        })
    }

    fn suppression(
        &mut self,
        rid: &str,
        s: &Spanned<super::raw::RawSuppression>,
    ) -> Option<Suppression> {
        let raw = s.get_ref();
        let mut missing = |key: &str, example: &str| {
            self.err(
                Diagnostic::new(
                    "incomplete-suppression",
                    format!("rule `{rid}`: a suppression has no `{key}`"),
                )
                .at(span(s))
                .help(format!(
                    "every suppression needs `condition`, `owner`, `reason` and `expires`, e.g. `{key} = {example}`"
                )),
            );
        };
        let (Some(condition), Some(owner), Some(reason), Some(expires)) =
            (&raw.condition, &raw.owner, &raw.reason, &raw.expires)
        else {
            if raw.condition.is_none() {
                missing(
                    "condition",
                    "'detail.userIdentity.arn == \"arn:aws:iam::111122223333:role/ci\"'",
                );
            }
            if raw.owner.is_none() {
                missing("owner", "\"platform-team\"");
            }
            if raw.reason.is_none() {
                missing("reason", "\"CI deploys create these keys\"");
            }
            if raw.expires.is_none() {
                missing("expires", "2027-01-31");
            }
            return None;
        };
        let before = self.diags.len();
        if let Err(errors) = crate::condition::Condition::compile(condition.get_ref()) {
            for e in errors {
                self.err(
                    Diagnostic::new(
                        "invalid-suppression",
                        format!("rule `{rid}`: suppression condition: {e}"),
                    )
                    .at(span(condition))
                    .help("suppression conditions are CEL expressions over the event, like rule conditions"),
                );
            }
        }
        let date = expires.get_ref().to_string();
        if !crate::date::is_date(&date) {
            self.err(
                Diagnostic::new(
                    "invalid-expiry",
                    format!("rule `{rid}`: suppression expiry `{date}` is not a date"),
                )
                .at(span(expires))
                .help("write a TOML date without quotes: `expires = 2027-01-31`"),
            );
        } else if let Some(today) = &self.options.today
            && date.as_str() < today.as_str()
        {
            self.err(
                Diagnostic::new(
                    "expired-suppression",
                    format!(
                        "rule `{rid}`: the suppression owned by `{}` expired on {date}",
                        owner.get_ref()
                    ),
                )
                .at(span(expires))
                .help("remove it, or extend `expires` after checking with its owner that it is still needed"),
            );
        }
        if self.diags.len() > before {
            return None;
        }
        Some(Suppression {
            condition: condition.get_ref().clone(),
            owner: owner.get_ref().clone(),
            reason: reason.get_ref().clone(),
            expires: date,
        })
    }

    fn trigger(
        &mut self,
        rid: &str,
        t: &Spanned<RawTrigger>,
        include_read_only: bool,
    ) -> Option<Trigger> {
        let raw = t.get_ref();
        let given = [
            raw.pattern.is_some(),
            raw.cloudtrail.is_some(),
            raw.schedule.is_some(),
            raw.sns.is_some(),
            raw.webhook.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if given != 1 {
            self.err(
                Diagnostic::new(
                    "trigger-count",
                    format!("rule `{rid}` must have exactly one trigger, found {given}"),
                )
                .at(span(t))
                .help("use one of `trigger.pattern`, `trigger.cloudtrail`, `trigger.schedule`, `trigger.sns` or `trigger.webhook`"),
            );
            return None;
        }
        if let Some(sns) = &raw.sns {
            return self.sns_trigger(rid, sns);
        }
        if let Some(w) = &raw.webhook {
            let who = format!("rule `{rid}`: webhook trigger");
            let provider = match &w.get_ref().provider {
                Some(p) => WebhookProvider::parse(p.get_ref()).or_else(|| {
                    self.err(
                        Diagnostic::new(
                            "invalid-webhook-provider",
                            format!("{who}: unknown provider `{}`", p.get_ref()),
                        )
                        .at(span(p))
                        .help("supported providers: github, gitlab, generic"),
                    );
                    None
                }),
                None => {
                    self.err(
                        Diagnostic::new("missing-key", format!("{who} has no `provider`"))
                            .at(span(w))
                            .help("add `provider = \"github\"` (github, gitlab or generic)"),
                    );
                    None
                }
            };
            let secret = self.secret_name(
                &who,
                w.get_ref().secret.as_ref(),
                span(w),
                "the webhook's signing secret",
            );
            return Some(Trigger::Webhook {
                provider: provider?,
                secret: secret?,
            });
        }
        if let Some(p) = &raw.pattern {
            let json = match p.get_ref() {
                toml::Value::String(s) => match serde_json::from_str::<Value>(s) {
                    Ok(v) => v,
                    Err(e) => {
                        self.err(
                            Diagnostic::new(
                                "invalid-pattern",
                                format!(
                                    "rule `{rid}`: the pattern string is not valid JSON: {e}"
                                ),
                            )
                            .at(span(p))
                            .help("write the pattern as a TOML table, or as a JSON object in a string"),
                        );
                        return None;
                    }
                },
                other => toml_to_json(other),
            };
            return self.event_pattern(rid, json, span(p), include_read_only, false);
        }
        if let Some(ct) = &raw.cloudtrail {
            let json = match cloudtrail_pattern(ct.get_ref()) {
                Ok(v) => v,
                Err(msg) => {
                    self.err(
                        Diagnostic::new("invalid-cloudtrail-trigger", format!("rule `{rid}`: {msg}"))
                            .at(span(ct))
                            .help("write `trigger.cloudtrail = { eventSource = \"iam.amazonaws.com\", eventName = [\"CreateUser\"] }`"),
                    );
                    return None;
                }
            };
            return self.event_pattern(rid, json, span(ct), include_read_only, true);
        }
        if let Some(s) = &raw.schedule {
            if let Err(msg) = check_schedule(s.get_ref()) {
                self.err(
                    Diagnostic::new("invalid-schedule", format!("rule `{rid}`: {msg}"))
                        .at(span(s))
                        .help("use `rate(5 minutes)`, `rate(1 day)` or `cron(0 8 * * ? *)` (EventBridge syntax)"),
                );
                return None;
            }
            return Some(Trigger::Schedule {
                expression: s.get_ref().clone(),
            });
        }
        None
    }

    fn sns_trigger(
        &mut self,
        rid: &str,
        t: &Spanned<super::raw::RawSnsTrigger>,
    ) -> Option<Trigger> {
        let raw = t.get_ref();
        let before = self.diags.len();
        let topic_arn = match &raw.topic {
            Some(a) => {
                if let Err(msg) = check_topic_arn(a.get_ref()) {
                    self.err(
                        Diagnostic::new("invalid-topic-arn", format!("rule `{rid}`: {msg}"))
                            .at(span(a))
                            .help("write the topic's ARN: `arn:aws:sns:<region>:<account-id>:<topic-name>`"),
                    );
                }
                Some(a.get_ref().clone())
            }
            None => {
                self.err(
                    Diagnostic::new(
                        "missing-key",
                        format!("rule `{rid}`: the sns trigger has no `topic`"),
                    )
                    .at(span(t))
                    .help("add `topic = \"arn:aws:sns:us-east-1:111122223333:alarms\"`"),
                );
                None
            }
        };
        let scope = raw.filter_policy_scope.as_ref().map(|s| {
            if !matches!(s.get_ref().as_str(), "MessageAttributes" | "MessageBody") {
                self.err(
                    Diagnostic::new(
                        "invalid-filter-policy",
                        format!(
                            "rule `{rid}`: unknown filter_policy_scope `{}`",
                            s.get_ref()
                        ),
                    )
                    .at(span(s))
                    .help("use `MessageAttributes` (SNS's default) or `MessageBody`"),
                );
            }
            s.get_ref().clone()
        });
        let filter_policy = raw.filter_policy.as_ref().and_then(|p| {
            let json = match p.get_ref() {
                toml::Value::String(s) => serde_json::from_str::<Value>(s).map_err(|e| e.to_string()),
                other => Ok(toml_to_json(other)),
            };
            let checked = json.and_then(|v| {
                if !v.is_object() {
                    return Err("a filter policy is a JSON object".to_owned());
                }
                Pattern::parse(&v).map(|_| v).map_err(|e| {
                    if e.path.is_empty() {
                        e.message
                    } else {
                        format!("at `{}`: {}", e.path, e.message)
                    }
                })
            });
            match checked {
                Ok(v) => Some(v),
                Err(msg) => {
                    self.err(
                        Diagnostic::new(
                            "invalid-filter-policy",
                            format!("rule `{rid}`: invalid SNS filter policy: {msg}"),
                        )
                        .at(span(p))
                        .help("filter policies use the same operators as event patterns (exact values, prefix, anything-but, numeric, exists, cidr, $or)"),
                    );
                    None
                }
            }
        });
        if self.diags.len() > before {
            return None;
        }
        Some(Trigger::Sns {
            topic_arn: topic_arn?,
            filter_policy,
            filter_policy_scope: scope,
        })
    }

    fn event_pattern(
        &mut self,
        rid: &str,
        json: Value,
        at: Range<usize>,
        include_read_only: bool,
        shorthand: bool,
    ) -> Option<Trigger> {
        match Pattern::parse(&json) {
            Ok(_) => Some(Trigger::Event {
                pattern: json,
                include_read_only,
            }),
            Err(e) => {
                let place = if e.path.is_empty() {
                    "the pattern".to_owned()
                } else {
                    format!("`{}`", e.path)
                };
                self.err(
                    Diagnostic::new(
                        "invalid-pattern",
                        format!(
                            "rule `{rid}`: invalid event pattern at {place}: {}",
                            e.message
                        ),
                    )
                    .at(pattern_span(self.text, at, &e.path, shorthand))
                    .help(format!(
                        "see the README's \"Event patterns\" section for supported operators ({})",
                        e.code
                    )),
                );
                None
            }
        }
    }
}

/// Where `path` (`detail.userIdentity.type[1]`) is inside a pattern written as an inline
/// TOML table at `at`, so the caret points at the bad value; `at` when it can't be found
/// (a JSON string, a `[...trigger.pattern]` section). For the `cloudtrail` shorthand the
/// pattern's `detail.` is the table itself.
fn pattern_span(text: &str, at: Range<usize>, path: &str, shorthand: bool) -> Range<usize> {
    let Some(Ok(root)) = text.get(at.clone()).map(toml::de::DeValue::parse) else {
        return at;
    };
    let mut steps: Vec<Result<&str, usize>> = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut pieces = part.split('[');
        if let Some(key) = pieces.next().filter(|k| !k.is_empty()) {
            steps.push(Ok(key));
        }
        for index in pieces {
            match index.trim_end_matches(']').parse() {
                Ok(i) => steps.push(Err(i)),
                Err(_) => break,
            }
        }
    }
    if shorthand {
        match steps.first() {
            Some(Ok("detail")) => {
                let _ = steps.remove(0);
            }
            _ => return at,
        }
    }
    let mut node = &root;
    for step in steps {
        let next = match (step, node.get_ref()) {
            (Ok(key), toml::de::DeValue::Table(t)) => t
                .iter()
                .find(|(k, _)| k.get_ref().as_ref() == key)
                .map(|(_, v)| v),
            (Err(i), toml::de::DeValue::Array(a)) => a.get(i),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => break,
        }
    }
    let inner = node.span();
    (at.start + inner.start)..(at.start + inner.end)
}

fn bad_severity(s: &Str) -> Diagnostic {
    Diagnostic::new(
        "invalid-severity",
        format!("unknown severity `{}`", s.get_ref()),
    )
    .at(span(s))
    .help("use one of: info, low, medium, high, critical")
}

/// TOML → JSON; dates become strings (EventBridge patterns have no date type).
pub fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => json!(i),
        toml::Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

/// Expands the `cloudtrail` shorthand into a full EventBridge pattern. Scalars become
/// one-element lists, tables nest into `detail`, lists are kept as written (so operators go
/// inside lists: `sourceIPAddress = [{ cidr = "10.0.0.0/8" }]`).
fn cloudtrail_pattern(table: &toml::Table) -> Result<Value, String> {
    fn expand(v: &toml::Value) -> Value {
        match v {
            toml::Value::Table(t) => {
                Value::Object(t.iter().map(|(k, v)| (k.clone(), expand(v))).collect())
            }
            toml::Value::Array(_) => toml_to_json(v),
            scalar => Value::Array(vec![toml_to_json(scalar)]),
        }
    }
    let sources: Vec<String> = match table.get("eventSource") {
        Some(toml::Value::String(s)) => vec![s.clone()],
        Some(toml::Value::Array(a)) if !a.is_empty() => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_owned)
                    .ok_or("`eventSource` must list strings")
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("`eventSource` must be a string or a list of strings".into()),
        None => return Err("the cloudtrail shorthand needs `eventSource`".into()),
    };
    for s in &sources {
        if !s.ends_with(".amazonaws.com") {
            return Err(format!(
                "`eventSource` `{s}` is not a CloudTrail event source (e.g. `iam.amazonaws.com`)"
            ));
        }
    }
    let mut eb_sources: Vec<String> = sources
        .iter()
        .map(|s| crate::event::source_for(s))
        .collect();
    eb_sources.dedup();
    let signin = sources.iter().any(|s| s == "signin.amazonaws.com");
    let api = sources.iter().any(|s| s != "signin.amazonaws.com");
    let mut detail_types = Vec::new();
    if api {
        detail_types.push("AWS API Call via CloudTrail");
    }
    if signin {
        detail_types.push("AWS Console Sign In via CloudTrail");
    }
    let mut detail = Map::new();
    for (k, v) in table {
        detail.insert(k.clone(), expand(v));
    }
    Ok(json!({
        "source": eb_sources,
        "detail-type": detail_types,
        "detail": detail,
    }))
}

/// Rule and route ids: lowercase letters, digits and single dashes, starting with a letter,
/// at most 64 characters (they become parts of CloudFormation logical ids).
pub fn is_kebab_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.ends_with('-')
        && !s.contains("--")
}

/// Secrets Manager names: 1–512 of `A-Za-z0-9/_+=.@-`, or a secret's ARN. Values that
/// look like the secret itself (URLs, Slack tokens) are rejected so they never land in git.
fn check_secret_name(s: &str) -> Result<(), String> {
    if s.starts_with("https://") || s.starts_with("http://") {
        return Err("`secret` holds a URL: that is the secret's value, not its name".to_owned());
    }
    if s.starts_with("xox") {
        return Err(
            "`secret` looks like a Slack token: that is the secret's value, not its name"
                .to_owned(),
        );
    }
    if s.starts_with("arn:") {
        let parts: Vec<&str> = s.splitn(7, ':').collect();
        if parts.len() == 7
            && parts[2] == "secretsmanager"
            && parts[5] == "secret"
            && !parts[6].is_empty()
        {
            return Ok(());
        }
        return Err(format!("`{s}` is not a Secrets Manager secret ARN"));
    }
    if s.is_empty() || s.len() > 512 {
        return Err("a secret name has 1 to 512 characters".to_owned());
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "/_+=.@-".contains(*c)))
    {
        return Err(format!(
            "`{s}` is not a Secrets Manager name: `{c}` is not allowed"
        ));
    }
    Ok(())
}

/// `arn:<partition>:sns:<region>:<12-digit account>:<topic name>`.
fn check_topic_arn(s: &str) -> Result<(), String> {
    let parts: Vec<&str> = s.split(':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "sns"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && !parts[5].is_empty()
        && parts[5].len() <= 256
        && parts[5]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(format!("`{s}` is not an SNS topic ARN"))
    }
}

/// `30s`, `15m`, `1h`, `1d` → seconds; at least 1 second, at most 7 days.
pub fn parse_window(s: &str) -> Result<u64, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("dedup window `{s}` does not start with a whole number"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("dedup window `{s}` has no unit (s, m, h or d)")),
    };
    let secs = n.saturating_mul(mult);
    if secs == 0 || secs > 7 * 86_400 {
        return Err(format!("dedup window `{s}` must be between 1s and 7d"));
    }
    Ok(secs)
}

/// Rules whose pattern only admits global-service sources can only fire in us-east-1.
fn regions_for(pattern: &Value) -> Vec<String> {
    let Some(Value::Array(sources)) = pattern.get("source") else {
        return Vec::new();
    };
    let all_global = !sources.is_empty()
        && sources
            .iter()
            .all(|s| s.as_str().is_some_and(|s| GLOBAL_SOURCES.contains(&s)));
    if all_global {
        vec![GLOBAL_REGION.to_owned()]
    } else {
        Vec::new()
    }
}

/// EventBridge schedule expressions: `rate(value unit)` and 6-field `cron(...)`.
fn check_schedule(expr: &str) -> Result<(), String> {
    if let Some(inner) = expr.strip_prefix("rate(").and_then(|s| s.strip_suffix(')')) {
        let mut parts = inner.split_whitespace();
        let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("`{expr}` is not `rate(<value> <unit>)`"));
        };
        let n: u64 = n
            .parse()
            .map_err(|_| format!("`{n}` in `{expr}` is not a positive whole number"))?;
        if n == 0 {
            return Err(format!("`{expr}`: the rate must be at least 1"));
        }
        let singular = ["minute", "hour", "day"];
        let plural = ["minutes", "hours", "days"];
        let ok = if n == 1 {
            singular.contains(&unit)
        } else {
            plural.contains(&unit)
        };
        if !ok {
            return Err(format!(
                "`{expr}`: the unit must be {} for a value of {n}",
                if n == 1 {
                    "minute, hour or day"
                } else {
                    "minutes, hours or days"
                }
            ));
        }
        return Ok(());
    }
    if let Some(inner) = expr.strip_prefix("cron(").and_then(|s| s.strip_suffix(')')) {
        let fields: Vec<&str> = inner.split_whitespace().collect();
        if fields.len() != 6 {
            return Err(format!(
                "`{expr}` has {} fields; EventBridge cron takes 6 (minutes hours day-of-month month day-of-week year)",
                fields.len()
            ));
        }
        if fields[2] != "?" && fields[4] != "?" {
            return Err(format!(
                "`{expr}`: one of day-of-month and day-of-week must be `?`"
            ));
        }
        return Ok(());
    }
    Err(format!("`{expr}` is neither `rate(...)` nor `cron(...)`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<Manifest, String> {
        validate_str(text, "rules.toml", &ValidateOptions::default())
            .map_err(|d| crate::diagnostic::render_all(&d, "rules.toml", text))
    }

    const GOOD: &str = r#"
version = 1
[defaults]
notify = ["security"]

[notify.security]
type = "sns"
email = ["secops@example.com"]

[rules.root-console-login]
description = "Root signed in"
severity = "critical"
trigger.pattern = { source = ["aws.signin"], detail-type = ["AWS Console Sign In via CloudTrail"], detail = { eventName = ["ConsoleLogin"], userIdentity = { type = ["Root"] } } }
message = "Root console sign-in by {{ actor }} from {{ source_ip }}"
tests = [{ event = "root.json", expect = "alert" }, { event = "user.json", expect = "quiet" }]
"#;

    #[test]
    fn routes_triggers_and_dedup_normalize() {
        let text = r#"
[defaults]
notify = ["slack"]
severity = "high"
[notify.slack]
type = "slack"
secret = "patrol/slack-webhook"
[notify.pager]
type = "pagerduty"
secret = "arn:aws:secretsmanager:us-east-1:111122223333:secret:patrol/pd-AbCdEf"
[notify.hook]
type = "webhook"
url = "https://siem.example.com/patrol"
secret = "patrol/hook-signing"
[rules.alarm-fired]
description = "A CloudWatch alarm fired"
trigger.sns = { topic = "arn:aws:sns:eu-west-1:111122223333:alarms", filter_policy = { severity = ["critical"] } }
condition = 'detail.Message.NewStateValue == "ALARM"'
dedup = { key = "{{ detail.Message.AlarmName }}", window = "1h" }
notify = ["pager", "hook"]
tests = [{ event = "a.json", expect = "alert" }, { event = "b.json", expect = "quiet" }]
[rules.repo-deleted]
description = "A GitHub repository was deleted"
trigger.webhook = { provider = "github", secret = "patrol/github-webhook" }
condition = 'detail.action == "deleted"'
tests = [{ event = "a.json", expect = "alert" }, { event = "b.json", expect = "quiet" }]
"#;
        let m = check(text).unwrap_or_else(|e| panic!("{e}"));
        let json = serde_json::to_value(&m).expect("serializes");
        assert_eq!(
            json.pointer("/routes/0"),
            Some(
                &json!({"id": "hook", "type": "webhook", "url": "https://siem.example.com/patrol", "secret": "patrol/hook-signing"})
            )
        );
        assert_eq!(json.pointer("/routes/2/type"), Some(&json!("slack")));
        let alarm = m.rule("alarm-fired").expect("rule");
        assert_eq!(
            alarm.dedup,
            Some(Dedup {
                key: "{{ detail.Message.AlarmName }}".into(),
                window_seconds: 3600
            })
        );
        assert_eq!(
            serde_json::to_value(&alarm.trigger).expect("json"),
            json!({"type": "sns", "topic_arn": "arn:aws:sns:eu-west-1:111122223333:alarms", "filter_policy": {"severity": ["critical"]}})
        );
        let repo = m.rule("repo-deleted").expect("rule");
        assert_eq!(
            repo.trigger,
            Trigger::Webhook {
                provider: WebhookProvider::Github,
                secret: "patrol/github-webhook".into()
            }
        );
    }

    #[test]
    fn routes_triggers_and_dedup_are_checked() {
        let text = r#"
[notify.slack]
type = "slack"
secret = "https://hooks.slack.com/services/T000/B000/XXXX"
[notify.pager]
type = "pagerduty"
[notify.hook]
type = "webhook"
url = "http://insecure.example.com"
email = ["a@example.com"]
[rules.alarm-fired]
description = "A CloudWatch alarm fired"
severity = "high"
notify = ["slack"]
trigger.sns = { topic = "arn:aws:sqs:eu-west-1:111122223333:alarms", filter_policy = { severity = [] } }
dedup = { key = "{{ nope }}", window = "3w" }
tests = [{ event = "a.json", expect = "alert" }, { event = "b.json", expect = "quiet" }]
[rules.repo-deleted]
description = "A GitHub repository was deleted"
severity = "high"
notify = ["slack"]
trigger.webhook = { provider = "bitbucket" }
tests = [{ event = "a.json", expect = "alert" }]
"#;
        let out = check(text).expect_err("invalid");
        for code in [
            "error[invalid-secret]",
            "error[missing-secret]",
            "error[invalid-url]",
            "error[unused-key]",
            "error[invalid-topic-arn]",
            "error[invalid-filter-policy]",
            "error[invalid-dedup-key]",
            "error[invalid-dedup-window]",
            "error[invalid-webhook-provider]",
        ] {
            assert!(out.contains(code), "{code} missing from:\n{out}");
        }
        assert!(
            out.contains("that is the secret's value, not its name"),
            "{out}"
        );
    }

    #[test]
    fn dedup_windows_parse() {
        assert_eq!(parse_window("30s"), Ok(30));
        assert_eq!(parse_window("15m"), Ok(900));
        assert_eq!(parse_window("7d"), Ok(604_800));
        for bad in [
            "",
            "0s",
            "8d",
            "1w",
            "h",
            "1.5h",
            "-1h",
            "99999999999999999999d",
        ] {
            assert!(parse_window(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn normalizes_a_good_manifest() {
        let m = check(GOOD).expect("valid");
        let rule = m.rule("root-console-login").expect("rule");
        assert_eq!(rule.notify, vec!["security"]);
        assert_eq!(rule.handler, "notify");
        assert_eq!(rule.regions, vec!["us-east-1"]);
        insta::assert_json_snapshot!(m);
    }

    #[test]
    fn cloudtrail_shorthand_expands() {
        let text = GOOD.replace(
            "trigger.pattern = { source = [\"aws.signin\"], detail-type = [\"AWS Console Sign In via CloudTrail\"], detail = { eventName = [\"ConsoleLogin\"], userIdentity = { type = [\"Root\"] } } }",
            "trigger.cloudtrail = { eventSource = \"cloudtrail.amazonaws.com\", eventName = [\"StopLogging\", \"DeleteTrail\"], userIdentity = { type = \"Root\" } }",
        );
        let m = check(&text).expect("valid");
        let Trigger::Event { pattern, .. } = &m.rules[0].trigger else {
            panic!("event trigger expected")
        };
        assert_eq!(
            pattern,
            &json!({"source": ["aws.cloudtrail"], "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {"eventSource": ["cloudtrail.amazonaws.com"], "eventName": ["StopLogging", "DeleteTrail"], "userIdentity": {"type": ["Root"]}}})
        );
        assert!(m.rules[0].regions.is_empty());
    }

    #[test]
    fn unknown_route_is_reported_with_place_and_hint() {
        let text = GOOD.replace("message = ", "notify = [\"secuirty\"]\nmessage = ");
        insta::assert_snapshot!(check(&text).expect_err("invalid"));
    }

    #[test]
    fn unknown_key_is_reported() {
        let text = GOOD.replace(
            "severity = \"critical\"",
            "severity = \"critical\"\nseverty = \"x\"",
        );
        insta::assert_snapshot!(check(&text).expect_err("invalid"));
    }

    #[test]
    fn bad_toml_is_reported() {
        let text = GOOD.replace(
            "description = \"Root signed in\"",
            "description = \"Root signed in",
        );
        insta::assert_snapshot!(check(&text).expect_err("invalid"));
    }

    #[test]
    fn many_problems_are_reported_in_one_run() {
        let text = GOOD
            .replace("severity = \"critical\"", "severity = \"urgent\"")
            .replace("{{ actor }}", "{{ actr }}")
            + "\n[rules.Bad_Id]\ndescription = \"x\"\nseverity = \"low\"\ntrigger.schedule = \"rate(1 days)\"\n";
        let err = check(&text).expect_err("invalid");
        insta::assert_snapshot!(err);
    }

    #[test]
    fn event_rules_need_positive_and_negative_tests() {
        let text = GOOD.replace(", { event = \"user.json\", expect = \"quiet\" }", "");
        insta::assert_snapshot!(check(&text).expect_err("invalid"));
    }

    #[test]
    fn suppressions_are_checked() {
        let text = GOOD.to_owned()
            + r#"suppress = [
  { condition = 'detail.userIdentity.arn == "arn:aws:iam::1:role/ci"', owner = "platform", reason = "CI", expires = 2027-01-31 },
  { condition = 'detail.userIdentity.arn == "x"', owner = "secops", reason = "old", expires = 2026-01-01 },
  { condition = 'detial.x == 1', owner = "secops", reason = "typo", expires = 2027-01-31 },
  { condition = 'true', reason = "no owner", expires = 2027-01-01 },
]
"#;
        let options = ValidateOptions {
            today: Some("2026-11-22".into()),
            ..ValidateOptions::default()
        };
        let err = validate_str(&text, "rules.toml", &options)
            .map_err(|d| crate::diagnostic::render_all(&d, "rules.toml", &text))
            .expect_err("invalid");
        insta::assert_snapshot!(err);
        let ok = GOOD.to_owned()
            + "suppress = [{ condition = 'true', owner = \"o\", reason = \"r\", expires = 2027-01-31 }]\n";
        let m = validate_str(&ok, "rules.toml", &options).expect("valid");
        assert_eq!(m.rules[0].suppress[0].expires, "2027-01-31");
    }

    #[test]
    fn schedules_are_checked() {
        assert!(check_schedule("rate(1 day)").is_ok());
        assert!(check_schedule("rate(5 minutes)").is_ok());
        assert!(check_schedule("cron(0 8 * * ? *)").is_ok());
        assert!(check_schedule("rate(1 days)").is_err());
        assert!(check_schedule("rate(0 minutes)").is_err());
        assert!(check_schedule("cron(0 8 * * *)").is_err());
        assert!(check_schedule("every day").is_err());
    }
}
