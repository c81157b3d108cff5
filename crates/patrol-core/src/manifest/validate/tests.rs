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

/// A rule with two event tests, for appending rules to [`GOOD`].
fn rule(id: &str, body: &str) -> String {
    format!(
        "\n[rules.{id}]\ndescription = \"{id}\"\nseverity = \"high\"\ntrigger.cloudtrail = {{ eventSource = \"iam.amazonaws.com\", eventName = [\"PutRolePolicy\"] }}\ntests = [{{ event = \"a.json\", expect = \"alert\" }}, {{ event = \"b.json\", expect = \"quiet\" }}]\n{body}\n"
    )
}

#[test]
fn param_values_are_checked_against_their_types() {
    let text = GOOD.to_owned()
        + &rule(
            "admin-role-granted",
            r#"condition = 'policy_grants(detail.requestParameters.policyDocument, [], params.disallowed_arns) && size(policy_external_accounts(detail.requestParameters.policyDocument, params.trusted_accounts)) > 0 && params.max_age_days > 0'
params.disallowed_arns = ["arn:aws:iam::*:role/admin*", "arn:aws:iam:*:role/x", "role/admin"]
params.trusted_accounts = ["111122223333", 444455556666, "1111-2222-3333"]
params.max_age_days = 0"#,
        );
    insta::assert_snapshot!(check(&text).expect_err("invalid"));
}

#[test]
fn params_without_a_type_are_errors_with_a_hint() {
    let text = GOOD.to_owned()
        + &rule(
            "typed-by-nothing",
            r#"message = "{{ params.owners }} {{ params.team }} {{ params.disallowed_arns }}"
params.owners = ["secops"]
params.team = "secops"
params.disallowed_arns = ["arn:aws:iam::*:role/admin*"]
params.Bad-Name = 1
params_types = { team = "strng", disallowed_arns = "string_list", ghost = "string" }"#,
        );
    insta::assert_snapshot!(check(&text).expect_err("invalid"));
}

#[test]
fn params_read_by_conditions_and_templates_must_be_set() {
    let text = GOOD.to_owned()
        + &rule(
            "shared-outside",
            r#"condition = 'size(policy_external_accounts(detail.requestParameters.policyDocument, params.trusted_acounts)) > 0 && (!has(params.optional) || params.optional)'
message = "{{ params.owner }} shares with {{ detail.x }}"
params.trusted_accounts = ["111122223333"]
params.optional = true
params_types = { optional = "boolean" }"#,
        );
    insta::assert_snapshot!(check(&text).expect_err("invalid"));
}

#[test]
fn param_types_come_from_handlers_declarations_and_condition_functions() {
    let text = GOOD.to_owned()
        + &rule(
            "payroll-granted",
            r#"condition = 'policy_grants(detail.requestParameters.policyDocument, params.actions, params.payroll) && size(policy_external_accounts(detail.requestParameters.policyDocument, params.trusted_accounts)) == 0 && !(actor in params.owners)'
message = "{{ actor }} granted payroll access; owners: {{ params.owners | join(', ') }}"
params.payroll = ["arn:aws:s3:::payroll-*"]
params.actions = ["s3:GetObject"]
params.trusted_accounts = ["111122223333"]
params.owners = ["arn:aws:iam::111122223333:role/payroll-admin"]
params_types = { owners = "string_list" }"#,
        );
    let m = check(&text).unwrap_or_else(|e| panic!("{e}"));
    let r = m.rule("payroll-granted").expect("rule");
    assert_eq!(r.params["payroll"], json!(["arn:aws:s3:::payroll-*"]));
    assert_eq!(r.params["trusted_accounts"], json!(["111122223333"]));
    // `payroll` is typed `arn_globs` by `policy_grants`: a bad glob is reported.
    let bad = text.replace("arn:aws:s3:::payroll-*", "s3://payroll");
    let err = check(&bad).expect_err("invalid");
    assert!(
        err.contains(
            "error[invalid-param]: rule `payroll-granted`: `params.payroll[0]` (arn_globs)"
        ),
        "{err}"
    );
    // A string list where `policy_external_accounts` takes account ids.
    let conflict = text
        .replace(
            "owners = \"string_list\" }",
            "owners = \"string_list\", trusted = \"string_list\" }\nparams.trusted = [\"x\"]",
        )
        .replace("params.trusted_accounts))", "params.trusted))");
    let err = check(&conflict).expect_err("invalid");
    assert!(err.contains("error[param-type-conflict]"), "{err}");
}

#[test]
fn a_custom_handler_takes_only_what_it_or_the_rule_declares() {
    let text = GOOD.to_owned()
        + r#"
[rules.stale-access-key]
description = "An access key is older than the limit"
severity = "medium"
handler = "stale-access-keys"
trigger.schedule = "rate(1 day)"
params.max_age_days = 90
"#;
    let err = with_handlers(&text, &[("stale-access-keys", STALE_KEYS)]).expect_err("invalid");
    assert!(
        err.contains(
            "error[undeclared-param]: rule `stale-access-key`: `params.max_age_days` has no type"
        ),
        "{err}"
    );
    assert!(
        err.contains("handler `stale-access-keys` declares no parameters"),
        "{err}"
    );
    let declared = text.replace(
        "params.max_age_days = 90",
        "params.max_age_days = 90\nparams_types = { max_age_days = \"positive_integer\" }",
    );
    let m = with_handlers(&declared, &[("stale-access-keys", STALE_KEYS)])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        m.rule("stale-access-key").expect("rule").params["max_age_days"],
        json!(90)
    );
}

#[test]
fn references_are_checked_for_shape() {
    let text = GOOD.to_owned()
        + r#"references = ["T1078.004", "TA0001", "CIS-AWS-1.7", "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user.html", "t1078", "T1078/004", "CIS 1.7", "http://example.com", "MITRE", "T1078.004"]
"#;
    insta::assert_snapshot!(check(&text).expect_err("invalid"));
    let ok = GOOD.to_owned() + "references = [\"T1078.004\", \"CIS-AWS-1.7\"]\n";
    let m = check(&ok).expect("valid");
    assert_eq!(m.rules[0].references, ["T1078.004", "CIS-AWS-1.7"]);
}

/// Regression: webhook route URLs carrying credentials were accepted, and so committed
/// to git and deployed in clear text.
#[test]
fn webhook_route_urls_with_credentials_are_rejected() {
    let text = GOOD.to_owned()
        + r#"
[notify.siem-userinfo]
type = "webhook"
url = "https://patrol:hunter2@siem.example.com/ingest"
[notify.siem-token]
type = "webhook"
url = "https://siem.example.com/ingest?source=patrol&token=abc123"
[notify.slack-hook]
type = "webhook"
url = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
[notify.siem]
type = "webhook"
url = "https://siem.example.com/ingest?source=patrol"
secret = "patrol/siem-signing"
"#;
    insta::assert_snapshot!(check(&text).expect_err("invalid"));
}

/// A declaration with no parameters and no permissions.
const STALE_KEYS: &str = r#"kind = "audit"
description = "Finds old access keys"
"#;

/// Validates `text` with the shipped declarations plus `extra` (name, handler.toml text),
/// every one of them a known handler.
fn with_handlers(text: &str, extra: &[(&str, &str)]) -> Result<Manifest, String> {
    let mut declarations = crate::manifest::handler::shipped();
    for (name, toml) in extra {
        let d =
            crate::manifest::handler::parse(name, toml).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        declarations.insert((*name).to_owned(), d);
    }
    let options = ValidateOptions {
        handlers: declarations.keys().cloned().collect(),
        ..ValidateOptions::default()
    };
    validate_with_declarations(text, "rules.toml", &options, &declarations)
        .map(|(m, _)| m)
        .map_err(|d| crate::diagnostic::render_all(&d, "rules.toml", text))
}

/// A scheduled rule of the shipped audit handler.
const AUDIT_RULE: &str = r#"
[rules.access-keys-stale]
description = "Access keys older than the limit"
severity = "medium"
handler = "audit"
trigger.schedule = "rate(1 day)"
"#;

#[test]
fn rules_no_longer_list_permissions() {
    let text = GOOD.to_owned() + "permissions = [\"iam:ListUsers\", \"s3:*\"]\n";
    insta::assert_snapshot!(check(&text).expect_err("invalid"));
    let empty = GOOD.to_owned() + "permissions = []\n";
    let err = check(&empty).expect_err("invalid");
    assert!(err.contains("error[rule-permissions]"), "{err}");
}

#[test]
fn a_handler_without_a_declaration_is_an_error() {
    let text = GOOD.to_owned()
        + r#"
[rules.old-keys]
description = "Old keys"
severity = "low"
handler = "inventory"
trigger.schedule = "rate(1 day)"
"#;
    let options = ValidateOptions {
        handlers: vec!["notify".into(), "inventory".into()],
        ..ValidateOptions::default()
    };
    let err = validate_str(&text, "rules.toml", &options)
        .map_err(|d| crate::diagnostic::render_all(&d, "rules.toml", &text))
        .expect_err("invalid");
    insta::assert_snapshot!(err);
}

#[test]
fn declared_params_are_required_or_defaulted() {
    // `check` is required by the audit handler.
    let text = GOOD.to_owned() + AUDIT_RULE;
    insta::assert_snapshot!(with_handlers(&text, &[]).expect_err("invalid"));
    // Defaults fill what the rule does not set; what it sets wins.
    let ok = text + "params = { check = \"access-keys\", max_unused_days = 30 }\n";
    let m = with_handlers(&ok, &[]).unwrap_or_else(|e| panic!("{e}"));
    let params = &m.rule("access-keys-stale").expect("rule").params;
    assert_eq!(params["check"], json!("access-keys"));
    assert_eq!(params["max_age_days"], json!(90));
    assert_eq!(params["max_unused_days"], json!(30));
    assert!(!params.contains_key("accounts"));
    // The manifest carries the declarations of the handlers its rules use.
    assert_eq!(m.handlers.keys().collect::<Vec<_>>(), ["audit", "notify"]);
    let json = serde_json::to_value(&m).expect("serializes");
    assert_eq!(json.pointer("/handlers/audit/kind"), Some(&json!("audit")));
    assert_eq!(
        json.pointer("/handlers/audit/permissions/1/resources/0"),
        Some(&json!("arn:${AWS::Partition}:iam::*:role/patrol-audit"))
    );
    assert!(json.pointer("/rules/0/permissions").is_none());
}

#[test]
fn audit_rules_filter_their_findings_on_a_schedule() {
    let filters = r#"params.check = "access-keys"
condition = 'detail.ageDays > 365'
suppress = [{ condition = 'account == "111122223333"', owner = "secops", reason = "sandbox", expires = 2099-01-01 }]
dedup = { key = "{{ detail.resource }}", window = "7d" }
"#;
    let audit = GOOD.to_owned() + AUDIT_RULE + filters;
    let m = with_handlers(&audit, &[]).unwrap_or_else(|e| panic!("{e}"));
    let rule = m.rule("access-keys-stale").expect("rule");
    assert!(rule.condition.is_some() && rule.dedup.is_some() && rule.suppress.len() == 1);
    // The same keys on a notify rule's schedule are still errors.
    let notify = audit
        .replace("handler = \"audit\"\n", "")
        .replace("params.check = \"access-keys\"\n", "");
    insta::assert_snapshot!(with_handlers(&notify, &[]).expect_err("invalid"));
}
