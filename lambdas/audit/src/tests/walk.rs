//! The organization walk on moto: accounts from Organizations (suspended ones skipped) or
//! from params, each audited through the `patrol-audit` role, a failing account reported
//! while the others are audited.

use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};

use aws_config::SdkConfig;
use aws_sdk_sts::config::{Credentials, SharedCredentialsProvider};
use patrol_core::audit::{AuditParams, Check};
use patrol_tests::moto::{Moto, REGION};
use serde_json::json;

use super::{MANAGEMENT, iam_setup, in_account, now};
use crate::walk::audit;
use crate::{Options, ROLE_NAME};

fn fast() -> Options {
    Options {
        report_poll: std::time::Duration::from_millis(50),
        account_deadline: std::time::Duration::from_secs(30),
        ..Options::default()
    }
}

/// An organization with `n` member accounts; their ids.
async fn organization(sdk: &SdkConfig, n: usize) -> anyhow::Result<Vec<String>> {
    let org = aws_sdk_organizations::Client::new(sdk);
    org.create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await?;
    let mut ids = Vec::new();
    for i in 0..n {
        let out = org
            .create_account()
            .email(format!("member{i}@example.com"))
            .account_name(format!("member-{i}"))
            .send()
            .await?;
        let id = out
            .create_account_status()
            .and_then(|s| s.account_id())
            .ok_or_else(|| anyhow::anyhow!("no account id"))?;
        ids.push(id.to_owned());
    }
    Ok(ids)
}

fn found(report: &crate::walk::Report) -> BTreeSet<(String, String, String)> {
    report
        .findings
        .iter()
        .map(|f| (f.account.clone(), f.finding.clone(), f.key.clone()))
        .collect()
}

#[tokio::test]
async fn every_active_account_is_audited_in_its_own_account() -> anyhow::Result<()> {
    let moto = Moto::start()?;
    let sdk = moto.sdk_config().await;
    let members = organization(&sdk, 3).await?;
    let (a, b, closed) = (&members[0], &members[1], &members[2]);
    aws_sdk_organizations::Client::new(&sdk)
        .close_account()
        .account_id(closed)
        .send()
        .await?;
    iam_setup::console_user(&sdk, "root-ops", false).await?;
    iam_setup::console_user(&in_account(&sdk, a).await?, "alice", false).await?;
    iam_setup::console_user(&in_account(&sdk, b).await?, "bob", true).await?;
    iam_setup::console_user(&in_account(&sdk, closed).await?, "gone", false).await?;

    let params = AuditParams::new(Check::IamCredentialHygiene);
    let report = audit(&sdk, &params, &[REGION.to_owned()], now(), &fast()).await;
    assert_eq!((report.accounts, report.failed), (3, 0), "{report:#?}");
    let console = |acct: &str, user: &str| {
        (
            acct.to_owned(),
            "console-user-without-mfa".to_owned(),
            format!("iam-user/{user}/console"),
        )
    };
    assert_eq!(
        found(&report),
        BTreeSet::from([console(MANAGEMENT, "root-ops"), console(a, "alice")])
    );

    // `params.accounts` replaces the organization's list.
    let only_b = AuditParams {
        accounts: Some(vec![b.clone()]),
        ..params
    };
    let report = audit(&sdk, &only_b, &[], now(), &fast()).await;
    assert_eq!((report.accounts, report.failed), (1, 0));
    assert!(report.findings.is_empty(), "{report:#?}");
    Ok(())
}

/// moto lets anyone assume any role, existing or not, until IAM authorization is switched
/// on (`/moto-api/reset-auth`): then every request must be signed by a known key and be
/// allowed by its policies. A role's credentials whose role does not exist in the account
/// are refused, as an account without the `patrol-audit` role refuses the audit.
async fn enforce_iam(moto: &Moto) -> anyhow::Result<()> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", moto.port))?;
    write!(
        s,
        "POST /moto-api/reset-auth HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\nConnection: close\r\n\r\n0"
    )?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)?;
    anyhow::ensure!(answer.starts_with("HTTP/1.1 200"), "reset-auth: {answer}");
    Ok(())
}

/// The audit role in `account`, trusting the function's identity and, if `read`, allowed
/// what the cloudtrail-logging check reads.
async fn audit_role(sdk: &SdkConfig, account: &str, read: bool) -> anyhow::Result<()> {
    let iam = aws_sdk_iam::Client::new(&in_account(sdk, account).await?);
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{MANAGEMENT}:user/patrol-fn")}, "Action": "sts:AssumeRole"}]});
    iam.create_role()
        .role_name(ROLE_NAME)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await?;
    let actions = if read {
        json!(["cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus"])
    } else {
        json!(["s3:GetAccountPublicAccessBlock"])
    };
    let read = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": actions, "Resource": "*"}]});
    iam.put_role_policy()
        .role_name(ROLE_NAME)
        .policy_name("read")
        .policy_document(read.to_string())
        .send()
        .await?;
    Ok(())
}

#[tokio::test]
async fn an_account_that_refuses_the_audit_is_reported_and_the_others_are_audited()
-> anyhow::Result<()> {
    let moto = Moto::start()?;
    let sdk = moto.sdk_config().await;
    let members = organization(&sdk, 3).await?;
    let (with_role, read_denied, without_role) = (&members[0], &members[1], &members[2]);
    audit_role(&sdk, MANAGEMENT, true).await?;
    audit_role(&sdk, with_role, true).await?;
    audit_role(&sdk, read_denied, false).await?;

    // The function's own identity: may list the accounts and assume the audit role.
    let iam = aws_sdk_iam::Client::new(&sdk);
    iam.create_user().user_name("patrol-fn").send().await?;
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "organizations:ListAccounts", "Resource": "*"},
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": format!("arn:aws:iam::*:role/{ROLE_NAME}")}]});
    iam.put_user_policy()
        .user_name("patrol-fn")
        .policy_name("audit")
        .policy_document(policy.to_string())
        .send()
        .await?;
    let key = iam
        .create_access_key()
        .user_name("patrol-fn")
        .send()
        .await?;
    let key = key
        .access_key()
        .ok_or_else(|| anyhow::anyhow!("no access key"))?;
    let function = sdk
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            key.access_key_id(),
            key.secret_access_key(),
            None,
            None,
            "patrol-fn",
        )))
        .build();
    enforce_iam(&moto).await?;

    let params = AuditParams::new(Check::CloudtrailLogging);
    let report = audit(&function, &params, &[REGION.to_owned()], now(), &fast()).await;
    assert_eq!((report.accounts, report.failed), (4, 2), "{report:#?}");
    let no_trail = |acct: &str| {
        (
            acct.to_owned(),
            "no-multi-region-trail".to_owned(),
            format!("account/{acct}/cloudtrail"),
        )
    };
    let failed = |acct: &str| (acct.to_owned(), "audit-failed".to_owned(), acct.to_owned());
    assert_eq!(
        found(&report),
        BTreeSet::from([
            no_trail(MANAGEMENT),
            no_trail(with_role),
            failed(read_denied),
            failed(without_role),
        ])
    );
    let kind = |acct: &str| {
        report
            .findings
            .iter()
            .find(|f| f.account == acct)
            .map(|f| f.fingerprint.clone())
    };
    // A role without the permission: refused by IAM, as AWS refuses it (moto answers its
    // refusals as XML even to JSON APIs, so the SDK reads no code: the HTTP status names it).
    assert_eq!(
        kind(read_denied).as_deref(),
        Some("DescribeTrails/http-403")
    );
    // No role at all: AWS refuses the AssumeRole; moto grants it, then fails every call
    // made with its credentials (HTTP 500, no error code).
    assert_eq!(
        kind(without_role).as_deref(),
        Some("DescribeTrails/http-500")
    );
    Ok(())
}

/// The `patrol-audit` role's policy as `lambdas/audit/handler.toml` declares it
/// (`[[audit_permissions]]`), for `account`.
fn declared_audit_policy(account: &str) -> anyhow::Result<serde_json::Value> {
    let path = patrol_tests::paths::workspace().join("lambdas/audit/handler.toml");
    let handler: toml::Table = toml::from_str(&std::fs::read_to_string(&path)?)?;
    let statements = handler
        .get("audit_permissions")
        .and_then(toml::Value::as_array)
        .ok_or_else(|| anyhow::anyhow!("{}: no [[audit_permissions]]", path.display()))?
        .iter()
        .map(|p| {
            let list = |k: &str| -> Vec<String> {
                p.get(k)
                    .and_then(toml::Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(toml::Value::as_str)
                            .map(|s| {
                                s.replace("${AWS::Partition}", "aws")
                                    .replace("${AWS::AccountId}", account)
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let mut actions = list("actions");
            // moto 5.2.5 names S3 Control's action after the operation
            // (`s3:GetPublicAccessBlock`, IAM's is `s3:GetAccountPublicAccessBlock`), and
            // authorizes the bucket's GetPublicAccessBlock as `s3:ListBucket` (its action
            // map looks for `public_access_block` in a query string that has
            // `publicAccessBlock`): allow moto's names for the same resources.
            if actions
                .iter()
                .any(|a| a == "s3:GetAccountPublicAccessBlock")
            {
                actions.push("s3:GetPublicAccessBlock".into());
            }
            if actions.iter().any(|a| a == "s3:GetBucketPublicAccessBlock") {
                actions.push("s3:ListBucket".into());
            }
            // moto checks resources for S3 only: other services' requests are authorized
            // against `*`, which a scoped statement does not match. The actions are checked
            // everywhere, the resources where moto can.
            let resources = if actions.iter().all(|a| a.starts_with("s3:")) {
                list("resources")
            } else {
                vec!["*".to_owned()]
            };
            json!({"Effect": "Allow", "Action": actions, "Resource": resources})
        })
        .collect::<Vec<_>>();
    Ok(json!({"Version": "2012-10-17", "Statement": statements}))
}

/// The checks, run with IAM enforced and the role holding only what handler.toml declares:
/// the declared permissions are enough, and no check fails the account.
#[tokio::test]
async fn the_declared_audit_permissions_are_enough_for_every_check() -> anyhow::Result<()> {
    let moto = Moto::start()?;
    let sdk = moto.sdk_config().await;
    let member = organization(&sdk, 1).await?.remove(0);
    let in_member = in_account(&sdk, &member).await?;
    let iam = aws_sdk_iam::Client::new(&in_member);
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{MANAGEMENT}:user/patrol-fn")}, "Action": "sts:AssumeRole"}]});
    iam.create_role()
        .role_name(ROLE_NAME)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await?;
    iam.put_role_policy()
        .role_name(ROLE_NAME)
        .policy_name("audit")
        .policy_document(declared_audit_policy(&member)?.to_string())
        .send()
        .await?;
    // One problem per check in the member account.
    iam_setup::console_user(&in_member, "alice", false).await?;
    aws_sdk_s3::Client::new(&in_member)
        .create_bucket()
        .bucket("member-open")
        .send()
        .await?;
    aws_sdk_cloudtrail::Client::new(&in_member)
        .create_trail()
        .name("stopped")
        .s3_bucket_name("member-open")
        .is_multi_region_trail(true)
        .send()
        .await?;

    let user = aws_sdk_iam::Client::new(&sdk);
    user.create_user().user_name("patrol-fn").send().await?;
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": format!("arn:aws:iam::*:role/{ROLE_NAME}")}]});
    user.put_user_policy()
        .user_name("patrol-fn")
        .policy_name("audit")
        .policy_document(policy.to_string())
        .send()
        .await?;
    let key = user
        .create_access_key()
        .user_name("patrol-fn")
        .send()
        .await?;
    let key = key
        .access_key()
        .ok_or_else(|| anyhow::anyhow!("no access key"))?;
    let function = sdk
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            key.access_key_id(),
            key.secret_access_key(),
            None,
            None,
            "patrol-fn",
        )))
        .build();
    enforce_iam(&moto).await?;

    for (check, expected) in [
        (Check::IamCredentialHygiene, "console-user-without-mfa"),
        (
            Check::S3BlockPublicAccess,
            "bucket-public-access-not-blocked",
        ),
        (Check::CloudtrailLogging, "trail-not-logging"),
        // Not guardduty-enabled: with IAM enforced, moto 5.2.5 rejects the SDK's signature
        // of GuardDuty's ListDetectors (SignatureDoesNotMatch), whatever the policy.
    ] {
        let params = AuditParams {
            accounts: Some(vec![member.clone()]),
            ..AuditParams::new(check)
        };
        let report = audit(&function, &params, &[REGION.to_owned()], now(), &fast()).await;
        assert_eq!(report.failed, 0, "{check}: {report:#?}");
        assert!(
            report.findings.iter().any(|f| f.finding == expected),
            "{check}: {report:#?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn an_account_past_its_deadline_is_reported_as_a_timeout() -> anyhow::Result<()> {
    let moto = Moto::start()?;
    let sdk = moto.sdk_config().await;
    let params = AuditParams {
        accounts: Some(vec![MANAGEMENT.to_owned()]),
        ..AuditParams::new(Check::IamCredentialHygiene)
    };
    let options = Options {
        account_deadline: std::time::Duration::ZERO,
        ..fast()
    };
    let report = audit(&sdk, &params, &[], now(), &options).await;
    assert_eq!((report.accounts, report.failed), (1, 1));
    let f = &report.findings[0];
    assert_eq!(
        (f.finding.as_str(), f.key.as_str(), f.fingerprint.as_str()),
        ("audit-failed", MANAGEMENT, "audit/timeout")
    );
    Ok(())
}
