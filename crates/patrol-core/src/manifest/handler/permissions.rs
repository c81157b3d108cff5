//! A handler's IAM statements (`[[permissions]]` for its own function role,
//! `[[audit_permissions]]` for the read-only `patrol-audit` role in every account): exact
//! actions only, never wildcards; an audit handler only reads; every `*` resource says why.

use super::raw::RawStatement;
use super::{HandlerKind, PermissionStatement};
use crate::diagnostic::Diagnostic;
use crate::manifest::raw::Spanned;

/// The placeholders a resource may use; the CDK app substitutes them per account and region.
pub const PLACEHOLDERS: [&str; 3] = ["${AWS::Partition}", "${AWS::AccountId}", "${AWS::Region}"];

/// Action name prefixes that only read (AWS's List and Read access levels use these verbs).
pub const READ_PREFIXES: [&str; 8] = [
    "Get",
    "List",
    "Describe",
    "BatchGet",
    "BatchDescribe",
    "Lookup",
    "Search",
    "View",
];

/// Actions an audit handler may use although their names do not read, and why each is safe.
pub const AUDIT_EXCEPTIONS: [(&str, &str); 3] = [
    (
        "iam:GenerateCredentialReport",
        "starts the account's credential report, a read of IAM users and their credentials; it changes nothing else",
    ),
    (
        "iam:GenerateServiceLastAccessedDetails",
        "starts a report of when services were last used; it changes nothing else",
    ),
    (
        "sts:AssumeRole",
        "steps into each account's read-only `patrol-audit` role",
    ),
];

/// Whether an audit handler may use `action` (already of the `service:Action` shape).
pub fn is_read_only(action: &str) -> bool {
    if AUDIT_EXCEPTIONS.iter().any(|(a, _)| *a == action) {
        return true;
    }
    let Some((_, name)) = action.split_once(':') else {
        return false;
    };
    READ_PREFIXES.iter().any(|p| {
        name.strip_prefix(p).is_some_and(|rest| {
            rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_uppercase())
        })
    })
}

/// Why `action` is not one exact IAM action, as (code, message, help).
pub fn check_action(action: &str) -> Result<(), (&'static str, String, String)> {
    if action.contains(['*', '?']) {
        return Err((
            "wildcard-action",
            format!("`{action}` is a wildcard: it grants every action it matches, today's and those AWS adds later"),
            "list each action the handler calls by its full name, as the Service Authorization Reference spells it (`s3:GetBucketPolicy`, not `s3:Get*`)".to_owned(),
        ));
    }
    let shape = action.split_once(':').is_some_and(|(service, name)| {
        !service.is_empty()
            && service
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && name.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
            && name.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    if shape {
        Ok(())
    } else {
        Err((
            "invalid-action",
            format!("`{action}` is not an IAM action"),
            "write IAM actions as `service:Action`: the service prefix in lowercase, the action in PascalCase, e.g. `iam:ListUsers`".to_owned(),
        ))
    }
}

/// Why `resource` is not `*` or an ARN (with known placeholders), as (code, message, help).
fn check_resource(resource: &str) -> Result<(), (&'static str, String, String)> {
    if resource == "*" {
        return Ok(());
    }
    let mut rest = resource;
    while let Some(start) = rest.find("${") {
        let after = &rest[start..];
        let end = after.find('}').map_or(after.len(), |e| e + 1);
        let placeholder = &after[..end];
        if !PLACEHOLDERS.contains(&placeholder) {
            return Err((
                "unknown-placeholder",
                format!("`{resource}` uses `{placeholder}`, which Patrol does not substitute"),
                format!("placeholders: {}", PLACEHOLDERS.join(", ")),
            ));
        }
        rest = &after[end..];
    }
    if resource.starts_with("arn:") && resource.split(':').count() >= 6 {
        Ok(())
    } else {
        Err((
            "invalid-resource",
            format!("`{resource}` is not an ARN"),
            "write `*` or an ARN, `arn:${AWS::Partition}:<service>:<region>:<account>:<resource>`, e.g. `arn:${AWS::Partition}:s3:::*`".to_owned(),
        ))
    }
}

/// Checks one statement of `list` (`permissions` or `audit_permissions`).
pub(super) fn statement(
    diags: &mut Vec<Diagnostic>,
    handler: &str,
    kind: Option<HandlerKind>,
    list: &str,
    raw: &Spanned<RawStatement>,
) -> Option<PermissionStatement> {
    let before = diags.len();
    let s = raw.get_ref();
    let actions: Vec<String> = match &s.actions {
        Some(a) if !a.get_ref().is_empty() => {
            a.get_ref().iter().map(|x| x.get_ref().clone()).collect()
        }
        other => {
            diags.push(
                Diagnostic::new(
                    "missing-actions",
                    format!("handler `{handler}`: a `[[{list}]]` statement lists no actions"),
                )
                .at(other.as_ref().map_or_else(|| raw.span(), |a| a.span()))
                .help("add `actions = [\"service:Action\", ...]`: the exact IAM actions the handler calls"),
            );
            Vec::new()
        }
    };
    for a in s.actions.iter().flat_map(|a| a.get_ref()) {
        let action = a.get_ref();
        if let Err((code, message, help)) = check_action(action) {
            diags.push(
                Diagnostic::new(code, format!("handler `{handler}`: {message}"))
                    .at(a.span())
                    .help(help),
            );
            continue;
        }
        if kind == Some(HandlerKind::Audit) && !is_read_only(action) {
            let exceptions: Vec<&str> = AUDIT_EXCEPTIONS.iter().map(|(a, _)| *a).collect();
            diags.push(
                Diagnostic::new(
                    "audit-write-action",
                    format!("handler `{handler}` is an audit handler, which must never write, but `{action}` is not a read action"),
                )
                .at(a.span())
                .help(format!(
                    "audit handlers read: actions named {}…, and {}; a handler that changes things is `kind = \"notify\"`",
                    READ_PREFIXES.join("/"),
                    exceptions.join(", ")
                )),
            );
        }
    }

    let resources: Vec<String> = match &s.resources {
        Some(r) if !r.get_ref().is_empty() => {
            r.get_ref().iter().map(|x| x.get_ref().clone()).collect()
        }
        other => {
            diags.push(
                Diagnostic::new(
                    "missing-resources",
                    format!("handler `{handler}`: a `[[{list}]]` statement lists no resources"),
                )
                .at(other.as_ref().map_or_else(|| raw.span(), |r| r.span()))
                .help("add `resources = [\"arn:${AWS::Partition}:...\"]`, scoped as far as the actions allow; `*` only for actions without resource-level permissions, with `why`"),
            );
            Vec::new()
        }
    };
    for r in s.resources.iter().flat_map(|r| r.get_ref()) {
        if let Err((code, message, help)) = check_resource(r.get_ref()) {
            diags.push(
                Diagnostic::new(code, format!("handler `{handler}`: {message}"))
                    .at(r.span())
                    .help(help),
            );
        }
    }
    let why = s
        .why
        .as_ref()
        .map(|w| w.get_ref().trim().to_owned())
        .filter(|w| !w.is_empty());
    if why.is_none()
        && let Some(star) = s
            .resources
            .iter()
            .flat_map(|r| r.get_ref())
            .find(|r| r.get_ref() == "*")
    {
        diags.push(
            Diagnostic::new(
                "missing-why",
                format!("handler `{handler}`: a `[[{list}]]` statement grants {} on every resource (`*`) without saying why", actions.join(", ")),
            )
            .at(star.span())
            .help("scope `resources` to ARNs, or add `why = \"...\"` saying which of these actions have no resource-level permissions (their \"Resource types\" column is empty in the Service Authorization Reference); the reason is shown to cdk-nag and reviewers"),
        );
    }
    (diags.len() == before).then_some(PermissionStatement {
        actions,
        resources,
        why,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_actions_pass_and_wildcards_or_bad_shapes_do_not() {
        for good in [
            "iam:ListUsers",
            "s3:GetBucketPublicAccessBlock",
            "access-analyzer:ListAnalyzers",
            "ec2:DescribeSecurityGroups",
        ] {
            assert_eq!(check_action(good), Ok(()), "{good}");
        }
        for (bad, code) in [
            ("*", "wildcard-action"),
            ("s3:*", "wildcard-action"),
            ("iam:Get*", "wildcard-action"),
            ("iam:GetUse?", "wildcard-action"),
            ("ListAccessKeys", "invalid-action"),
            ("IAM:ListUsers", "invalid-action"),
            ("iam:listUsers", "invalid-action"),
            ("iam:", "invalid-action"),
            ("iam:List Users", "invalid-action"),
        ] {
            assert_eq!(check_action(bad).map_err(|e| e.0), Err(code), "{bad}");
        }
    }

    #[test]
    fn audit_handlers_only_read() {
        for read in [
            "iam:GetCredentialReport",
            "iam:ListUsers",
            "cloudtrail:DescribeTrails",
            "cloudtrail:LookupEvents",
            "dynamodb:BatchGetItem",
            "iam:GenerateCredentialReport",
            "sts:AssumeRole",
        ] {
            assert!(is_read_only(read), "{read}");
        }
        for write in [
            "iam:DeleteUser",
            "s3:PutBucketPolicy",
            "iam:Getaway",
            "iam:UpdateAccessKey",
            "sts:AssumeRoleWithSAML",
            "iam:GenerateOrganizationsAccessReport",
        ] {
            assert!(!is_read_only(write), "{write}");
        }
    }

    #[test]
    fn resources_are_star_or_arns_with_known_placeholders() {
        for good in [
            "*",
            "arn:${AWS::Partition}:s3:::*",
            "arn:aws:iam::*:role/patrol-audit",
            "arn:${AWS::Partition}:cloudtrail:${AWS::Region}:${AWS::AccountId}:trail/*",
        ] {
            assert_eq!(check_resource(good), Ok(()), "{good}");
        }
        for (bad, code) in [
            ("arn:${AWS::Partiton}:s3:::*", "unknown-placeholder"),
            ("arn:${Partition:s3:::*", "unknown-placeholder"),
            ("my-bucket", "invalid-resource"),
            ("arn:aws:s3", "invalid-resource"),
        ] {
            assert_eq!(check_resource(bad).map_err(|e| e.0), Err(code), "{bad}");
        }
    }
}
