//! `patrol test` for scheduled audit rules: a test whose file is a recording
//! (`{"recording": {"check", "now", "account", "region", "snapshot"}}`, see
//! `patrol_core::audit::recording`) is evaluated with the pure check for the rule's
//! `params`, and each finding's event goes through the rule like any event (suppressions,
//! condition, template). `alert` passes when at least one finding alerts, `quiet` when
//! none does.

use std::path::Path;

use patrol_core::audit::AuditParams;
use patrol_core::audit::recording::Recording;
use patrol_core::manifest::{Expect, Rule, Trigger};
use patrol_core::rule::{CompiledRule, Verdict};
use serde_json::Value;

/// The file's document if it is a recording (plain JSON whose only key is `recording`).
pub fn read(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    let doc: Value = serde_json::from_str(&text).ok()?;
    Recording::is_recording(&doc).then_some(doc)
}

/// One recording test of `rule`: `Ok` with what happened (a parenthesized tally, then one
/// line per alert), `Err` with why it failed.
pub fn check(rule: &Rule, doc: &Value, expect: Expect, today: &str) -> Result<String, String> {
    if !matches!(rule.trigger, Trigger::Schedule { .. }) {
        return Err("a recording tests a scheduled audit rule, and this rule is triggered by events: give it an event file".into());
    }
    let recording = Recording::from_json(doc).map_err(|e| e.to_string())?;
    let params = AuditParams::from_map(&rule.params).map_err(|e| format!("rule params: {e}"))?;
    let events = recording.events(&params).map_err(|e| e.to_string())?;
    let compiled = CompiledRule::new(rule.clone())?;
    let (mut alerts, mut suppressed, mut dropped) = (Vec::new(), 0usize, 0usize);
    for event in &events {
        let key = event["detail"]["key"].as_str().unwrap_or_default();
        match compiled.evaluate(event, today) {
            Ok(Verdict::Alert(a)) => alerts.push(a.message),
            Ok(Verdict::Suppressed { .. }) => suppressed += 1,
            Ok(Verdict::ConditionFalse) => dropped += 1,
            Err(e) => return Err(format!("finding `{key}`: the alert failed: {e}")),
        }
    }
    let tally = format!(
        "{} finding(s), {} alert(s), {suppressed} suppressed, {dropped} condition false",
        events.len(),
        alerts.len()
    );
    // Every alert, one per line under the test's line: what on-call would read.
    let messages: String = alerts
        .iter()
        .map(|m| format!("\n      alert: {m}"))
        .collect();
    match (expect, alerts.is_empty()) {
        (Expect::Alert, false) => Ok(format!("({tally}){messages}")),
        (Expect::Alert, true) => Err(format!("expected an alert, got none ({tally})")),
        (Expect::Quiet, true) => Ok(format!("(quiet: {tally})")),
        (Expect::Quiet, false) => Err(format!(
            "expected no alert, but the rule fired ({tally}){messages}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use patrol_core::manifest::Severity;
    use patrol_core::manifest::Suppression;
    use serde_json::json;

    fn rule(condition: Option<&str>, suppress: Vec<Suppression>) -> Rule {
        Rule {
            id: "cloudtrail-not-logging".into(),
            description: "CloudTrail is not recording every region".into(),
            severity: Severity::High,
            runbook: None,
            handler: "audit".into(),
            trigger: Trigger::Schedule {
                expression: "rate(1 day)".into(),
            },
            message: "{{ detail.finding }} in {{ detail.account }}: {{ detail.facts.trail_count }} trail(s)".into(),
            condition: condition.map(str::to_owned),
            notify: vec!["security".into()],
            params: json!({"check": "cloudtrail-logging"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            references: vec![],
            suppress,
            dedup: None,
            tests: vec![],
        }
    }

    fn no_trails() -> Value {
        json!({"recording": {"check": "cloudtrail-logging", "now": "2026-12-03T00:00:00Z",
            "account": "111122223333", "region": "us-east-1", "snapshot": {"TrailList": []}}})
    }

    #[test]
    fn a_recording_with_findings_alerts_through_the_template() {
        let r = check(
            &rule(None, vec![]),
            &no_trails(),
            Expect::Alert,
            "2026-12-03",
        );
        assert_eq!(
            r,
            Ok("(1 finding(s), 1 alert(s), 0 suppressed, 0 condition false)\n      alert: no-multi-region-trail in 111122223333: 0 trail(s)".into())
        );
        let r = check(
            &rule(None, vec![]),
            &no_trails(),
            Expect::Quiet,
            "2026-12-03",
        );
        assert!(matches!(&r, Err(e) if e.contains("rule fired")), "{r:?}");
    }

    #[test]
    fn suppressions_and_conditions_apply_to_findings() {
        let sandbox = Suppression {
            condition: r#"detail.account == "111122223333""#.into(),
            owner: "platform".into(),
            reason: "sandbox account".into(),
            expires: "2099-01-01".into(),
        };
        let r = check(
            &rule(None, vec![sandbox]),
            &no_trails(),
            Expect::Quiet,
            "2026-12-03",
        );
        assert!(matches!(&r, Ok(s) if s.contains("1 suppressed")), "{r:?}");
        let cond = rule(Some(r#"detail.finding == "trail-not-logging""#), vec![]);
        let r = check(&cond, &no_trails(), Expect::Alert, "2026-12-03");
        assert!(
            matches!(&r, Err(e) if e.contains("1 condition false")),
            "{r:?}"
        );
    }

    #[test]
    fn a_recording_for_another_check_or_an_event_rule_fails() {
        let mut s3 = rule(None, vec![]);
        s3.params = json!({"check": "s3-block-public-access"})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let r = check(&s3, &no_trails(), Expect::Alert, "2026-12-03");
        assert!(
            matches!(&r, Err(e) if e.contains("runs `s3-block-public-access`")),
            "{r:?}"
        );
        let mut events = rule(None, vec![]);
        events.trigger = Trigger::Event {
            pattern: json!({"source": ["aws.iam"]}),
            include_read_only: false,
        };
        let r = check(&events, &no_trails(), Expect::Alert, "2026-12-03");
        assert!(matches!(&r, Err(e) if e.contains("scheduled")), "{r:?}");
    }
}
