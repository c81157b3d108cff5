//! Each collector on moto, evaluated by the pure check.

use std::collections::BTreeSet;

use aws_config::SdkConfig;
use aws_sdk_s3::types::PublicAccessBlockConfiguration as BucketBlock;
use aws_sdk_s3control::types::PublicAccessBlockConfiguration as ControlBlock;
use patrol_core::audit::{AuditParams, Check, Scope};
use patrol_core::finding::Finding;
use patrol_tests::moto::{Moto, REGION};

use super::{LATER, MANAGEMENT, iam_setup, now};
use crate::{Options, collect};

fn kinds(fs: &[Finding], fact: &str) -> BTreeSet<(String, String)> {
    fs.iter()
        .map(|f| {
            let who = f
                .facts
                .get(fact)
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            (f.finding.clone(), who.to_owned())
        })
        .collect()
}

fn set(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

fn fast() -> Options {
    Options {
        report_poll: std::time::Duration::from_millis(50),
        ..Options::default()
    }
}

#[tokio::test]
async fn credential_hygiene_finds_console_users_without_mfa_and_stale_keys() -> anyhow::Result<()> {
    let moto = Moto::start()?;
    let sdk = moto.sdk_config().await;
    iam_setup::console_user(&sdk, "alice", false).await?;
    iam_setup::console_user(&sdk, "carol", true).await?;
    iam_setup::key_user(&sdk, "ci").await?;
    let off = iam_setup::key_user(&sdk, "dave").await?;
    aws_sdk_iam::Client::new(&sdk)
        .update_access_key()
        .user_name("dave")
        .access_key_id(off)
        .status(aws_sdk_iam::types::StatusType::Inactive)
        .send()
        .await?;

    let snapshot = collect(Check::IamCredentialHygiene, &sdk, MANAGEMENT, &[], &fast()).await?;
    let scope = Scope::new(MANAGEMENT, REGION);
    let params = AuditParams::new(Check::IamCredentialHygiene);
    let today = snapshot.evaluate(&scope, &params, now())?;
    assert_eq!(
        kinds(&today, "user"),
        set(&[("console-user-without-mfa", "alice")]),
        "{today:#?}"
    );
    let later = snapshot.evaluate(&scope, &params, now() + LATER)?;
    assert_eq!(
        kinds(&later, "user"),
        set(&[
            ("console-user-without-mfa", "alice"),
            ("access-key-too-old", "ci"),
            ("access-key-unused", "ci"),
        ]),
        "{later:#?}"
    );
    let unused = later
        .iter()
        .find(|f| f.finding == "access-key-unused")
        .map(|f| f.fingerprint.as_str());
    assert_eq!(unused, Some("never-used-for-90-days"));
    Ok(())
}

fn bucket_block(acls: bool, policy: bool) -> BucketBlock {
    BucketBlock::builder()
        .block_public_acls(acls)
        .ignore_public_acls(acls)
        .block_public_policy(policy)
        .restrict_public_buckets(policy)
        .build()
}

#[tokio::test]
async fn buckets_without_block_public_access_are_found_with_the_settings_off() -> anyhow::Result<()>
{
    let moto = Moto::start()?;
    let sdk = moto.sdk_config().await;
    let s3 = aws_sdk_s3::Client::new(&sdk);
    for (name, block) in [
        ("open-bucket", None),
        ("closed-bucket", Some(bucket_block(true, true))),
        ("half-bucket", Some(bucket_block(true, false))),
    ] {
        s3.create_bucket().bucket(name).send().await?;
        if let Some(b) = block {
            s3.put_public_access_block()
                .bucket(name)
                .public_access_block_configuration(b)
                .send()
                .await?;
        }
    }
    let scope = Scope::new(MANAGEMENT, REGION);
    let params = AuditParams::new(Check::S3BlockPublicAccess);
    let snapshot = collect(Check::S3BlockPublicAccess, &sdk, MANAGEMENT, &[], &fast()).await?;
    let fs = snapshot.evaluate(&scope, &params, now())?;
    let fingerprints: BTreeSet<(String, String)> = fs
        .iter()
        .map(|f| (f.key.clone(), f.fingerprint.clone()))
        .collect();
    assert_eq!(
        fingerprints,
        set(&[
            (
                "s3-bucket/open-bucket",
                "off:BlockPublicAcls,IgnorePublicAcls,BlockPublicPolicy,RestrictPublicBuckets"
            ),
            (
                "s3-bucket/half-bucket",
                "off:BlockPublicPolicy,RestrictPublicBuckets"
            ),
        ])
    );

    // The account's setting covers what the buckets leave off.
    crate::s3::control_client(&sdk)
        .put_public_access_block()
        .account_id(MANAGEMENT)
        .public_access_block_configuration(
            ControlBlock::builder()
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await?;
    let snapshot = collect(Check::S3BlockPublicAccess, &sdk, MANAGEMENT, &[], &fast()).await?;
    let fs = snapshot.evaluate(&scope, &params, now())?;
    let fingerprints: BTreeSet<(String, String)> = fs
        .iter()
        .map(|f| (f.key.clone(), f.fingerprint.clone()))
        .collect();
    assert_eq!(
        fingerprints,
        set(&[(
            "s3-bucket/open-bucket",
            "off:BlockPublicAcls,IgnorePublicAcls"
        )])
    );
    Ok(())
}

#[tokio::test]
async fn trails_missing_or_stopped_are_found() -> anyhow::Result<()> {
    let moto = Moto::start()?;
    let sdk = moto.sdk_config().await;
    let regions = vec![REGION.to_owned()];
    let scope = Scope::new(MANAGEMENT, REGION);
    let params = AuditParams::new(Check::CloudtrailLogging);
    let run = async |sdk| -> anyhow::Result<BTreeSet<(String, String)>> {
        let s = collect(Check::CloudtrailLogging, sdk, MANAGEMENT, &regions, &fast()).await?;
        Ok(kinds(&s.evaluate(&scope, &params, now())?, "trail"))
    };
    assert_eq!(run(&sdk).await?, set(&[("no-multi-region-trail", "")]));

    aws_sdk_s3::Client::new(&sdk)
        .create_bucket()
        .bucket("trail-logs")
        .send()
        .await?;
    let ct = aws_sdk_cloudtrail::Client::new(&sdk);
    for (name, multi) in [("main", true), ("regional", false)] {
        ct.create_trail()
            .name(name)
            .s3_bucket_name("trail-logs")
            .is_multi_region_trail(multi)
            .send()
            .await?;
    }
    ct.start_logging().name("main").send().await?;
    assert_eq!(run(&sdk).await?, set(&[("trail-not-logging", "regional")]));

    ct.stop_logging().name("main").send().await?;
    ct.start_logging().name("regional").send().await?;
    assert_eq!(
        run(&sdk).await?,
        set(&[("no-multi-region-trail", ""), ("trail-not-logging", "main")])
    );
    Ok(())
}

/// A GuardDuty detector in `region`, enabled or suspended.
pub(crate) async fn detector(sdk: &SdkConfig, region: &str, enable: bool) -> anyhow::Result<()> {
    let config = aws_sdk_guardduty::config::Builder::from(sdk)
        .region(aws_sdk_guardduty::config::Region::new(region.to_owned()))
        .build();
    aws_sdk_guardduty::Client::from_conf(config)
        .create_detector()
        .enable(enable)
        .send()
        .await?;
    Ok(())
}

#[tokio::test]
async fn regions_without_an_enabled_guardduty_detector_are_found() -> anyhow::Result<()> {
    let moto = Moto::start()?;
    let sdk = moto.sdk_config().await;
    detector(&sdk, "us-east-1", true).await?;
    detector(&sdk, "eu-west-1", false).await?;
    let regions: Vec<String> = ["us-east-1", "eu-west-1", "eu-central-1"]
        .map(str::to_owned)
        .to_vec();
    let snapshot = collect(Check::GuarddutyEnabled, &sdk, MANAGEMENT, &regions, &fast()).await?;
    let fs = snapshot.evaluate(
        &Scope::new(MANAGEMENT, REGION),
        &AuditParams::new(Check::GuarddutyEnabled),
        now(),
    )?;
    let got: BTreeSet<(String, String)> = fs
        .iter()
        .map(|f| (f.region.clone(), f.fingerprint.clone()))
        .collect();
    assert_eq!(
        got,
        set(&[
            ("eu-west-1", "detector-disabled"),
            ("eu-central-1", "no-detector")
        ])
    );
    Ok(())
}

#[tokio::test]
async fn the_credential_report_is_awaited_no_longer_than_its_deadline() -> anyhow::Result<()> {
    let moto = Moto::start()?;
    let sdk = moto.sdk_config().await;
    // moto answers STARTED to the first GenerateCredentialReport, COMPLETE afterwards.
    let impatient = Options {
        report_deadline: std::time::Duration::ZERO,
        ..fast()
    };
    let e = collect(
        Check::IamCredentialHygiene,
        &sdk,
        MANAGEMENT,
        &[],
        &impatient,
    )
    .await;
    assert_eq!(
        e.err().map(|e| e.kind()).as_deref(),
        Some("GenerateCredentialReport/timeout")
    );
    let ok = collect(
        Check::IamCredentialHygiene,
        &sdk,
        MANAGEMENT,
        &[],
        &impatient,
    )
    .await;
    assert!(ok.is_ok(), "{ok:?}");
    Ok(())
}
