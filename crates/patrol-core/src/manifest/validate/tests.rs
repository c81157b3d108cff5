//! Validation end to end: manifests in, normalized models or diagnostics out.

use serde_json::json;

use super::*;
use crate::manifest::{Dedup, Trigger, WebhookProvider};

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
fn normalizes_a_good_manifest() {
    let m = check(GOOD).expect("valid");
    let rule = m.rule("root-console-login").expect("rule");
    assert_eq!(rule.notify, vec!["security"]);
    assert_eq!(rule.handler, "notify");
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
