//! handler.toml end to end: the shipped declarations parse, and each problem is reported
//! the way a handler author reads it (snapshots of the rendered diagnostics).

use super::*;
use crate::diagnostic::render_all;

/// The rendered diagnostics of a declaration that must fail.
fn errors(handler: &str, text: &str) -> String {
    let shown = format!("lambdas/{handler}/handler.toml");
    match parse(handler, text) {
        Ok(d) => panic!("{shown} parsed: {d:?}"),
        Err(diags) => render_all(&diags, &shown, text),
    }
}

#[test]
fn shipped_declarations_parse() {
    for (name, text) in SHIPPED {
        if let Err(diags) = parse(name, text) {
            panic!(
                "{}",
                render_all(&diags, &format!("lambdas/{name}/handler.toml"), text)
            );
        }
    }
    let d = shipped();
    assert_eq!(d.len(), SHIPPED.len());
    let audit = &d["audit"];
    assert_eq!(audit.kind, HandlerKind::Audit);
    assert!(audit.params["check"].required);
    assert_eq!(
        audit.params["max_age_days"].default,
        Some(serde_json::json!(90))
    );
    assert!(
        audit
            .permissions
            .iter()
            .any(|s| s.actions == ["sts:AssumeRole"]
                && s.resources == ["arn:${AWS::Partition}:iam::*:role/patrol-audit"])
    );
    // Every `*` says why; every other statement is scoped.
    for s in audit.permissions.iter().chain(&audit.audit_permissions) {
        assert_eq!(
            s.resources.iter().any(|r| r == "*"),
            s.why.is_some(),
            "{s:?}"
        );
    }
    let notify = &d["notify"];
    assert_eq!(notify.kind, HandlerKind::Notify);
    assert!(notify.permissions.is_empty() && notify.audit_permissions.is_empty());
    assert_eq!(notify.params["trusted_accounts"].ty, ParamType::AccountIds);
}

#[test]
fn wildcard_actions_are_rejected() {
    insta::assert_snapshot!(errors(
        "inventory",
        r#"kind = "notify"
description = "Lists things"

[[permissions]]
actions = ["s3:*", "iam:Get*", "*", "ec2:DescribeInstance?"]
resources = ["arn:${AWS::Partition}:s3:::inventory-*"]
"#
    ));
}

#[test]
fn malformed_actions_are_rejected() {
    insta::assert_snapshot!(errors(
        "inventory",
        r#"kind = "notify"
description = "Lists things"

[[permissions]]
actions = ["ListAccessKeys", "IAM:ListUsers", "iam:list_users"]
resources = ["arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*"]
"#
    ));
}

#[test]
fn audit_handlers_may_not_write() {
    insta::assert_snapshot!(errors(
        "cleanup",
        r#"kind = "audit"
description = "Finds and deletes old keys"

[[permissions]]
actions = ["sts:AssumeRole"]
resources = ["arn:${AWS::Partition}:iam::*:role/patrol-audit"]

[[audit_permissions]]
actions = ["iam:ListAccessKeys", "iam:DeleteAccessKey", "iam:GenerateCredentialReport"]
resources = ["arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*"]
"#
    ));
}

#[test]
fn star_resources_need_a_reason() {
    insta::assert_snapshot!(errors(
        "audit",
        r#"kind = "audit"
description = "Audits"

[[permissions]]
actions = ["organizations:ListAccounts"]
resources = ["*"]

[[audit_permissions]]
actions = ["cloudtrail:DescribeTrails"]
resources = ["*"]
why = "  "
"#
    ));
}

#[test]
fn resources_are_arns_with_known_placeholders() {
    insta::assert_snapshot!(errors(
        "inventory",
        r#"kind = "notify"
description = "Lists things"

[[permissions]]
actions = ["s3:GetBucketPolicy"]
resources = ["arn:${AWS::Partiton}:s3:::*", "my-bucket"]

[[permissions]]
actions = []
"#
    ));
}

#[test]
fn params_declare_a_type_a_description_and_a_default_of_that_type() {
    insta::assert_snapshot!(errors(
        "audit",
        r#"kind = "audit"
description = "Audits"

[params.check]
type = "text"
description = "Which check"

[params.max_age_days]
type = "positive_integer"
default = 0
description = "Age"

[params.regions]
type = "regions"
required = true
default = ["eu-west-1"]
description = "Regions"

[params.Accounts]
type = "account_ids"
"#
    ));
}

#[test]
fn kind_and_description_are_required_and_notify_has_no_audit_role() {
    insta::assert_snapshot!(errors(
        "inventory",
        r#"kind = "scanner"

[[audit_permissions]]
actions = ["iam:ListUsers"]
resources = ["arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*"]
"#
    ));
    insta::assert_snapshot!(errors(
        "inventory",
        r#"kind = "notify"
description = "Lists things"

[[audit_permissions]]
actions = ["iam:ListUsers"]
resources = ["arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*"]
"#
    ));
}

#[test]
fn unknown_keys_and_wrong_types_are_reported() {
    insta::assert_snapshot!(errors(
        "inventory",
        r#"kind = "notify"
description = "Lists things"

[[permissions]]
actions = ["iam:ListUsers"]
resource = ["*"]
"#
    ));
}
