//! The audit handler: a scheduled rule's `params.check` run in every account of the
//! organization ([`crate::walk::audit`]), each finding returned as an event for the rule
//! to decide on (suppressions, condition, message, alert-once dedup, routes: all in
//! [`patrol_handler`]).

use std::time::{Duration, UNIX_EPOCH};

use patrol_core::audit::AuditParams;
use patrol_handler::{Context, Handler, HandlerError};
use serde_json::Value;

use crate::Options;
use crate::walk::audit;

/// The handler's name: the crate, the binary, and the rules' `handler`.
pub const HANDLER: &str = "audit";

/// Time kept back from each account's audit for Patrol to deliver what was found (at
/// most a third of what is left, so a short invocation still audits).
const DELIVERY_RESERVE: Duration = Duration::from_secs(20);

/// Runs the rule's check across the organization.
#[derive(Debug, Clone, Default)]
pub struct Audit {
    pub options: Options,
}

impl Handler for Audit {
    const NAME: &'static str = HANDLER;

    async fn events(&self, ctx: &Context<'_>) -> Result<Vec<Value>, HandlerError> {
        let params = AuditParams::from_map(&ctx.rule.params)
            .map_err(|e| HandlerError::msg(format!("rule `{}`: {e}", ctx.rule.id)))?;
        let mut options = self.options.clone();
        // An account may take no longer than the invocation has left, less the time to
        // deliver: a slow account fails as a timeout finding, and the others still alert.
        if let Some(left) = ctx.deadline.left() {
            let budget = left.saturating_sub(DELIVERY_RESERVE.min(left / 3));
            options.account_deadline = options.account_deadline.min(budget);
            options.report_deadline = options.report_deadline.min(budget);
        }
        let now = ctx
            .now
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or_default();
        let report = audit(ctx.aws, &params, ctx.regions, now, &options).await;
        tracing::info!(
            rule = %ctx.rule.id,
            check = ?params.check,
            accounts = report.accounts,
            failed = report.failed,
            findings = report.findings.len(),
            "audit done"
        );
        Ok(report.findings.iter().map(|f| ctx.finding(f)).collect())
    }
}
