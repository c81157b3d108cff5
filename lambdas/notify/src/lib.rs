//! The generic handler: each rule decides on the event that triggered it, as is. Its
//! pattern (or topic, or webhook path) selected it; its suppressions, condition, message,
//! dedup and routes do the rest, all in [`patrol_handler`].

use patrol_handler::{Context, Handler, HandlerError};
use serde_json::Value;

/// The handler's name: the crate, the binary, and the rules' `handler`.
pub const HANDLER: &str = "notify";

/// Returns the input event itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct Notify;

impl Handler for Notify {
    const NAME: &'static str = HANDLER;

    async fn events(&self, ctx: &Context<'_>) -> Result<Vec<Value>, HandlerError> {
        Ok(vec![ctx.event.clone()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn the_event_is_decided_on_as_is() {
        let rule: patrol_core::manifest::Rule = serde_json::from_value(json!({
            "id": "root-console-login", "description": "d", "severity": "critical",
            "handler": "notify", "trigger": {"type": "event", "pattern": {"source": ["aws.signin"]}},
            "message": "m", "notify": ["security"]}))
        .expect("a rule");
        let event = json!({"id": "e-1", "source": "aws.signin", "detail-type": "t", "detail": {}});
        let aws = aws_config::SdkConfig::builder().build();
        let ctx = Context {
            rule: &rule,
            event: &event,
            aws: &aws,
            deadline: patrol_handler::Deadline::none(),
            regions: &[],
            now: std::time::SystemTime::now(),
            request_id: "r-1",
        };
        assert_eq!(Notify.events(&ctx).await, Ok(vec![event.clone()]));
    }
}
