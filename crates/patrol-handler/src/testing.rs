//! What a handler's unit tests need: a [`Context`] for a rule and an event, without a
//! Lambda runtime or a config file. SDK calls go wherever [`TestContext::with_aws`] points
//! them (a local moto server); by default the SDK has no region and no credentials, so a
//! handler that calls AWS fails, loudly.
//!
//! ```
//! # use patrol_handler::testing::TestContext;
//! let test = TestContext::scheduled("stale-keys", "stale-access-keys")
//!     .with_param("max_age_days", serde_json::json!(90));
//! let ctx = test.context();
//! assert_eq!(ctx.rule.params["max_age_days"], 90);
//! assert_eq!(ctx.event["detail-type"], "Scheduled Event");
//! ```

use std::time::{Duration, SystemTime};

use patrol_core::manifest::Rule;
use serde_json::{Value, json};

use crate::{Context, Deadline};

/// The account and region of [`TestContext::scheduled`]'s tick.
pub const ACCOUNT: &str = "111122223333";
pub const REGION: &str = "us-east-1";
/// Its time: 2026-12-03T08:00:00Z, which [`Context::now`] is too.
pub const TIME: &str = "2026-12-03T08:00:00Z";
const TIME_UNIX: u64 = 1_796_284_800;

/// A rule, an input event and the rest of a [`Context`], owned.
#[derive(Debug, Clone)]
pub struct TestContext {
    pub rule: Rule,
    pub event: Value,
    pub aws: aws_config::SdkConfig,
    pub regions: Vec<String>,
    pub now: SystemTime,
    pub deadline: Deadline,
}

impl TestContext {
    /// Rule `rule_id` of `handler` on `trigger.schedule = "rate(1 day)"`, no params, and
    /// the scheduled event EventBridge sends it ([`ACCOUNT`], [`REGION`], [`TIME`]).
    pub fn scheduled(handler: &str, rule_id: &str) -> Self {
        let rule = json!({"id": rule_id, "description": format!("{rule_id} (test)"),
            "severity": "medium", "handler": handler,
            "trigger": {"type": "schedule", "expression": "rate(1 day)"},
            "message": "{{ detail.finding }}: {{ detail.key }}", "notify": ["security"]});
        let rule: Rule = match serde_json::from_value(rule) {
            Ok(rule) => rule,
            Err(e) => panic!("the test rule no longer matches the manifest's Rule: {e}"),
        };
        let event = json!({"version": "0", "id": "5f2a6c1e-0000-4000-8000-000000000001",
            "detail-type": "Scheduled Event", "source": "aws.events", "account": ACCOUNT,
            "time": TIME, "region": REGION,
            "resources": [format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/patrol-schedule-{handler}-rate-1-day")],
            "detail": {}});
        Self {
            rule,
            event,
            aws: aws_config::SdkConfig::builder().build(),
            regions: vec![REGION.to_owned()],
            now: SystemTime::UNIX_EPOCH + Duration::from_secs(TIME_UNIX),
            deadline: Deadline::none(),
        }
    }

    /// Sets `params.NAME` of the rule.
    pub fn with_param(mut self, name: &str, value: Value) -> Self {
        self.rule.params.insert(name.to_owned(), value);
        self
    }

    /// Another input event.
    pub fn with_event(mut self, event: Value) -> Self {
        self.event = event;
        self
    }

    /// The SDK configuration handed to the handler (e.g. a moto server's).
    pub fn with_aws(mut self, aws: aws_config::SdkConfig) -> Self {
        self.aws = aws;
        self
    }

    /// The deployment's regions.
    pub fn with_regions(mut self, regions: &[&str]) -> Self {
        self.regions = regions.iter().map(|r| (*r).to_owned()).collect();
        self
    }

    /// The context a handler gets.
    pub fn context(&self) -> Context<'_> {
        Context {
            rule: &self.rule,
            event: &self.event,
            aws: &self.aws,
            deadline: self.deadline,
            regions: &self.regions,
            now: self.now,
            request_id: "test-request",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tick_and_now_agree() {
        let test = TestContext::scheduled("h", "r").with_regions(&["eu-west-1"]);
        let ctx = test.context();
        assert_eq!(ctx.now_rfc3339(), TIME);
        assert_eq!(ctx.event["time"], TIME);
        assert_eq!(ctx.regions, ["eu-west-1"]);
        assert!(patrol_core::event::is_eventbridge_event(ctx.event));
    }
}
