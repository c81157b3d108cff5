//! One `[rules.<id>]` table into a normalized [`Rule`]: description, severity, handler,
//! message, condition, routes and tests; its `params` are checked in `params`, its
//! `references` in `references`. The handler must be declared (handler.toml); a rule of an
//! audit handler may filter its findings with `condition`, `suppress` and `dedup` even on a
//! schedule.

use std::collections::BTreeSet;

use super::{Cx, DEFAULT_HANDLER, bad_severity, span};
use crate::diagnostic::Diagnostic;
use crate::manifest::handler::{FILE_NAME, HandlerKind};
use crate::manifest::raw::{RawRule, Spanned, Str};
use crate::manifest::{Expect, Rule, RuleTest, Severity, Suppression, Trigger};
use crate::template::{self, TemplateError};

const DEFAULT_MESSAGE: &str = "{{ rule.description }}: {{ detail.eventName }} by {{ actor }} in account {{ account }} ({{ region }}) from {{ source_ip }}";

impl Cx<'_> {
    pub(super) fn rule(
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
        let before = self.errors();

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
                let known = self.options.handlers.iter().any(|k| k == h.get_ref());
                if known && self.declaration(h.get_ref()).is_none() {
                    self.err(
                        Diagnostic::new(
                            "undeclared-handler",
                            format!("rule `{rid}` uses handler `{}`, which has no declaration", h.get_ref()),
                        )
                        .at(span(h))
                        .help(format!(
                            "add lambdas/{}/{FILE_NAME}: its `kind`, `description`, the `[params.NAME]` its rules take and the `[[permissions]]` it needs (see the README's \"handler.toml reference\")",
                            h.get_ref()
                        )),
                    );
                }
                if !known {
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
        let kind = self.declaration(&handler).map(|d| d.kind);
        // Findings of an audit handler are filtered like events, even on a schedule.
        let filters_on_schedule = kind == Some(HandlerKind::Audit);

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
        if let (Some(c), Some(Trigger::Schedule { .. }), false) =
            (&r.condition, &trigger, filters_on_schedule)
        {
            self.err(
                Diagnostic::new(
                    "condition-on-schedule",
                    format!("rule `{rid}`: `condition` applies only to event triggers"),
                )
                .at(span(c))
                .help("remove `condition`: a scheduled notify rule sends one alert per tick; only rules of an audit handler (`kind = \"audit\"` in its handler.toml) filter their findings"),
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

        let params = self.params(rid, span(id), r, &handler);

        if let Some(first) = r.permissions.as_ref().and_then(|p| p.first()) {
            self.err(
                Diagnostic::new(
                    "rule-permissions",
                    format!("rule `{rid}`: `permissions` is no longer a rule key: handler `{handler}` declares its permissions in lambdas/{handler}/{FILE_NAME}"),
                )
                .at(span(first))
                .help(format!(
                    "remove `permissions` here; if the handler needs these actions, add them to lambdas/{handler}/{FILE_NAME} as `[[permissions]]` statements with scoped `resources` (see the README's \"Least privilege\")"
                )),
            );
        } else if let Some(empty) = &r.permissions
            && empty.is_empty()
        {
            // `permissions = []` asks for nothing; it is just no longer a key.
            self.err(
                Diagnostic::new(
                    "rule-permissions",
                    format!("rule `{rid}`: `permissions` is no longer a rule key: handler `{handler}` declares its permissions in lambdas/{handler}/{FILE_NAME}"),
                )
                .at(span(id))
                .help("remove `permissions = []`"),
            );
        }

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

        let references = self.references(rid, r.references.as_ref());
        let suppress: Vec<Suppression> = r
            .suppress
            .iter()
            .flatten()
            .filter_map(|s| self.suppression(rid, s))
            .collect();
        if !suppress.is_empty()
            && !filters_on_schedule
            && matches!(trigger, Some(Trigger::Schedule { .. }))
        {
            self.err(
                Diagnostic::new(
                    "suppress-on-schedule",
                    format!("rule `{rid}`: `suppress` applies only to event triggers"),
                )
                .at(span(id))
                .help("remove `suppress`: a scheduled notify rule sends one alert per tick; only rules of an audit handler (`kind = \"audit\"` in its handler.toml) suppress findings"),
            );
        }

        let dedup = r.dedup.as_ref().and_then(|d| self.dedup(rid, d));
        if let (Some(d), Some(Trigger::Schedule { .. }), false) =
            (&r.dedup, &trigger, filters_on_schedule)
        {
            self.err(
                Diagnostic::new(
                    "dedup-on-schedule",
                    format!("rule `{rid}`: `dedup` applies only to rules that evaluate events"),
                )
                .at(span(d))
                .help("remove `dedup`: a scheduled notify rule sends one alert per tick; only rules of an audit handler (`kind = \"audit\"` in its handler.toml) deduplicate findings"),
            );
        }

        if self.errors() > before {
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
            references,
            suppress,
            dedup,
            tests,
        })
    }
}
