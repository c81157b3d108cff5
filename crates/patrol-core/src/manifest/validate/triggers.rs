//! `trigger.*`: exactly one of `pattern`, `cloudtrail`, `schedule`, `sns`, `webhook`.

use serde_json::Value;

use super::patterns::{cloudtrail_pattern, toml_to_json};
use super::schedule::check_schedule;
use super::{Cx, span};
use crate::diagnostic::Diagnostic;
use crate::manifest::raw::{RawSnsTrigger, RawTrigger, Spanned};
use crate::manifest::{Trigger, WebhookProvider};
use crate::pattern::Pattern;

impl Cx<'_> {
    pub(super) fn trigger(
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

    fn sns_trigger(&mut self, rid: &str, t: &Spanned<RawSnsTrigger>) -> Option<Trigger> {
        let raw = t.get_ref();
        let before = self.errors();
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
        if self.errors() > before {
            return None;
        }
        Some(Trigger::Sns {
            topic_arn: topic_arn?,
            filter_policy,
            filter_policy_scope: scope,
        })
    }
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
