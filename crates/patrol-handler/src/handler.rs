//! What a handler crate implements: [`Handler`], called once per rule an invocation
//! reaches, with a [`Context`], returning the events that rule decides on.
//!
//! Everything else is Patrol's: which rules an invocation reaches, then for each event the
//! handler returns the rule's suppressions and condition, its message template, dedup,
//! every route through the delivery ledger, the degraded alert when a template or the
//! condition fails, failure records and per-rule metrics ([`crate::delivery`]).

use std::future::Future;
use std::time::SystemTime;

use patrol_core::finding::Finding;
use patrol_core::manifest::Rule;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::deadline::Deadline;

/// A rule function. `NAME` is the crate, the binary and the rules' `handler` value.
///
/// `events` returns the events the rule then decides on: `notify` returns the input
/// event itself; an audit returns its findings as events ([`Context::finding`]). An error
/// fails this rule only: the others still run, and the invocation's error names the rule
/// (a scheduled invocation is retried, then lands in the failure queue).
pub trait Handler: Send + Sync + 'static {
    /// The handler's name: its crate under `lambdas/`, its binary, the rules' `handler`.
    const NAME: &'static str;

    /// The events `ctx.rule` decides on, for this invocation.
    fn events(
        &self,
        ctx: &Context<'_>,
    ) -> impl Future<Output = Result<Vec<Value>, HandlerError>> + Send;
}

/// What a handler gets for one rule of one invocation.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The rule: its id, severity, `params` (typed by `patrol validate`), message, routes.
    pub rule: &'a Rule,
    /// The trigger's input: the EventBridge event (a feed's), the scheduled event (a
    /// schedule's: `time` is the tick), the SNS message or the webhook request wrapped as
    /// an event ([`patrol_core::event::wrap_sns`], [`patrol_core::event::wrap_webhook`]).
    pub event: &'a Value,
    /// The AWS SDK configuration every client should be built from: region, credentials,
    /// endpoint overrides and Patrol's SDK timeouts.
    pub aws: &'a aws_config::SdkConfig,
    /// When the invocation must stop working; [`Deadline::run`] bounds a call with it.
    /// Patrol also bounds the whole `events` call with it.
    pub deadline: Deadline,
    /// The deployment's regions (`[deploy]`), in order; empty when not configured.
    pub regions: &'a [String],
    /// Now, for the whole invocation (findings are stamped with it).
    pub now: SystemTime,
    /// The Lambda request id, for logs.
    pub request_id: &'a str,
}

impl Context<'_> {
    /// The rule's `params` as `T` (a struct with `#[derive(Deserialize)]`).
    pub fn params<T: DeserializeOwned>(&self) -> Result<T, HandlerError> {
        let params = Value::Object(self.rule.params.clone());
        serde_path_to_error::deserialize(params).map_err(|e| {
            HandlerError::msg(format!(
                "rule `{}`: params.{}: {}",
                self.rule.id,
                e.path(),
                e.inner()
            ))
        })
    }

    /// [`Context::now`] as RFC 3339 UTC (`2026-12-03T08:00:00Z`).
    pub fn now_rfc3339(&self) -> String {
        let ms = self
            .now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or_default();
        crate::webhook::rfc3339(ms)
    }

    /// `finding` as the event its rule decides on, stamped now.
    pub fn finding(&self, finding: &Finding) -> Value {
        finding.to_event(&self.now_rfc3339())
    }
}

/// Why a handler could not produce its events. Any error converts into one with `?`
/// (its message and the messages of its sources), so SDK errors say what failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerError {
    message: String,
}

impl HandlerError {
    pub fn msg(message: impl std::fmt::Display) -> Self {
        Self {
            message: message.to_string(),
        }
    }
}

impl std::fmt::Display for HandlerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E: std::error::Error> From<E> for HandlerError {
    /// The error and its sources, `: `-joined (the AWS SDK's own message is often just
    /// "service error"; its source names the code).
    fn from(e: E) -> Self {
        let mut message = e.to_string();
        let mut source = e.source();
        while let Some(s) = source {
            let text = s.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            source = s.source();
        }
        Self { message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    fn rule(params: Value) -> Rule {
        serde_json::from_value(
            json!({"id": "stale-keys", "description": "d", "severity": "high",
            "handler": "audit", "trigger": {"type": "schedule", "expression": "rate(1 day)"},
            "message": "m", "notify": ["security"], "params": params}),
        )
        .expect("a rule")
    }

    fn with<T>(rule: &Rule, f: impl FnOnce(&Context<'_>) -> T) -> T {
        let aws = aws_config::SdkConfig::builder().build();
        let event = json!({});
        let ctx = Context {
            rule,
            event: &event,
            aws: &aws,
            deadline: Deadline::none(),
            regions: &[],
            now: SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_793_520_000),
            request_id: "r-1",
        };
        f(&ctx)
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Params {
        max_age_days: u32,
    }

    #[test]
    fn params_are_typed_and_a_bad_one_is_named() {
        let r = rule(json!({"max_age_days": 90}));
        assert_eq!(
            with(&r, |c| c.params::<Params>()),
            Ok(Params { max_age_days: 90 })
        );
        let r = rule(json!({"max_age_days": "ninety"}));
        let err = with(&r, |c| c.params::<Params>()).expect_err("a string");
        assert!(
            err.to_string()
                .starts_with("rule `stale-keys`: params.max_age_days: invalid type"),
            "{err}"
        );
    }

    #[test]
    fn a_finding_is_stamped_now() {
        let r = rule(json!({}));
        let finding = Finding {
            check: "c".into(),
            finding: "f".into(),
            key: "k".into(),
            fingerprint: "p".into(),
            account: "111122223333".into(),
            region: "us-east-1".into(),
            resource: None,
            facts: Default::default(),
        };
        let event = with(&r, |c| c.finding(&finding));
        assert_eq!(event["time"], "2026-11-01T08:00:00Z");
        assert_eq!(event["id"], finding.id());
    }

    #[test]
    fn an_error_keeps_its_sources() {
        #[derive(Debug, thiserror::Error)]
        #[error("service error")]
        struct Outer(#[source] std::io::Error);
        let e: HandlerError = Outer(std::io::Error::other("AccessDenied: not allowed")).into();
        assert_eq!(e.to_string(), "service error: AccessDenied: not allowed");
    }
}
