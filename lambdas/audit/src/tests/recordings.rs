//! The recordings `patrol test` evaluates (`tests/recordings/<check>/<case>.json`) are what
//! the collectors read from moto: each case is set up on moto, collected, and compared with
//! its file (same findings, same fingerprints), and the collected snapshot is written and
//! read back through the recording format, so a recording cannot drift from the
//! collector's shape. `PATROL_RECORD=1 cargo test -p audit recordings` rewrites the files;
//! otherwise the test writes nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;

use aws_config::SdkConfig;
use aws_sdk_s3::types::PublicAccessBlockConfiguration as BucketBlock;
use aws_sdk_s3control::types::PublicAccessBlockConfiguration as ControlBlock;
use patrol_core::audit::recording::Recording;
use patrol_core::audit::{AuditParams, Check, Scope};
use patrol_core::finding::Finding;
use patrol_tests::moto::{Moto, REGION};

use super::{LATER, MANAGEMENT, iam_setup, now};
use crate::{Options, collect};

struct Case {
    check: Check,
    name: &'static str,
    /// Evaluated [`LATER`] (moto's keys are created "now").
    later: bool,
    alert: bool,
}

const CASES: [Case; 8] = [
    Case {
        check: Check::IamCredentialHygiene,
        name: "stale-key-and-console-without-mfa",
        later: true,
        alert: true,
    },
    Case {
        check: Check::IamCredentialHygiene,
        name: "clean",
        later: false,
        alert: false,
    },
    Case {
        check: Check::S3BlockPublicAccess,
        name: "bucket-without-block",
        later: false,
        alert: true,
    },
    Case {
        check: Check::S3BlockPublicAccess,
        name: "account-blocks-all",
        later: false,
        alert: false,
    },
    Case {
        check: Check::CloudtrailLogging,
        name: "trail-stopped",
        later: false,
        alert: true,
    },
    Case {
        check: Check::CloudtrailLogging,
        name: "multi-region-trail-logging",
        later: false,
        alert: false,
    },
    Case {
        check: Check::GuarddutyEnabled,
        name: "detector-off-in-a-region",
        later: false,
        alert: true,
    },
    Case {
        check: Check::GuarddutyEnabled,
        name: "enabled-everywhere",
        later: false,
        alert: false,
    },
];

/// The regions the recordings' regional checks look at.
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

fn all_on() -> BucketBlock {
    BucketBlock::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build()
}

async fn trail(sdk: &SdkConfig, logging: bool) -> anyhow::Result<()> {
    aws_sdk_s3::Client::new(sdk)
        .create_bucket()
        .bucket("org-trail-logs")
        .send()
        .await?;
    let ct = aws_sdk_cloudtrail::Client::new(sdk);
    ct.create_trail()
        .name("org-trail")
        .s3_bucket_name("org-trail-logs")
        .is_multi_region_trail(true)
        .send()
        .await?;
    if logging {
        ct.start_logging().name("org-trail").send().await?;
    }
    Ok(())
}

async fn setup(name: &str, sdk: &SdkConfig) -> anyhow::Result<()> {
    let s3 = aws_sdk_s3::Client::new(sdk);
    match name {
        "stale-key-and-console-without-mfa" => {
            iam_setup::console_user(sdk, "alice", false).await?;
            iam_setup::console_user(sdk, "carol", true).await?;
            iam_setup::key_user(sdk, "ci").await?;
        }
        "clean" => {
            iam_setup::console_user(sdk, "carol", true).await?;
            iam_setup::key_user(sdk, "ci").await?;
        }
        "bucket-without-block" => {
            s3.create_bucket().bucket("public-site").send().await?;
            s3.create_bucket().bucket("private-data").send().await?;
            s3.put_public_access_block()
                .bucket("private-data")
                .public_access_block_configuration(all_on())
                .send()
                .await?;
        }
        "account-blocks-all" => {
            s3.create_bucket().bucket("public-site").send().await?;
            crate::s3::control_client(sdk)
                .put_public_access_block()
                .account_id(MANAGEMENT)
                .public_access_block_configuration(
                    ControlBlock::builder()
                        .block_public_acls(true)
                        .ignore_public_acls(true)
                        .block_public_policy(true)
                        .restrict_public_buckets(true)
                        .build(),
                )
                .send()
                .await?;
        }
        "trail-stopped" => trail(sdk, false).await?,
        "multi-region-trail-logging" => trail(sdk, true).await?,
        "detector-off-in-a-region" => {
            super::collectors::detector(sdk, "us-east-1", true).await?;
            super::collectors::detector(sdk, "eu-west-1", false).await?;
        }
        "enabled-everywhere" => {
            for region in REGIONS {
                super::collectors::detector(sdk, region, true).await?;
            }
        }
        other => anyhow::bail!("no setup for case `{other}`"),
    }
    Ok(())
}

fn recordings_dir() -> PathBuf {
    patrol_tests::paths::workspace().join("tests/recordings")
}

/// What a rule sees of the findings: kind and state, counted.
fn states(fs: &[Finding]) -> BTreeMap<(String, String), usize> {
    let mut m = BTreeMap::new();
    for f in fs {
        *m.entry((f.finding.clone(), f.fingerprint.clone()))
            .or_default() += 1;
    }
    m
}

#[tokio::test]
async fn recordings_are_what_the_collectors_read_from_moto() -> anyhow::Result<()> {
    let write = std::env::var_os("PATROL_RECORD").is_some();
    let options = Options {
        report_poll: std::time::Duration::from_millis(50),
        ..Options::default()
    };
    for case in &CASES {
        let moto = Moto::start()?;
        let sdk = moto.sdk_config().await;
        setup(case.name, &sdk).await?;
        let snapshot = collect(
            case.check,
            &sdk,
            MANAGEMENT,
            &REGIONS.map(str::to_owned),
            &options,
        )
        .await?;
        let at = now() + if case.later { LATER } else { 0 };
        let collected = Recording::new(snapshot, Scope::new(MANAGEMENT, REGION), at);
        let json = collected.to_json();
        assert_eq!(Recording::from_json(&json)?, collected, "{}", case.name);

        let path = recordings_dir()
            .join(case.check.as_str())
            .join(format!("{}.json", case.name));
        if write {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&path, serde_json::to_string_pretty(&json)? + "\n")?;
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("{}: {e} (PATROL_RECORD=1 writes it)", path.display()))?;
        let recorded = Recording::from_json(&serde_json::from_str(&text)?)?;
        let params = AuditParams::new(case.check);
        let (now_states, file_states) = (
            states(&collected.findings(&params)?),
            states(&recorded.findings(&params)?),
        );
        assert_eq!(now_states, file_states, "{}", path.display());
        assert_eq!(!file_states.is_empty(), case.alert, "{}", path.display());
    }
    Ok(())
}

#[test]
fn every_recording_is_a_snapshot_of_its_check() -> anyhow::Result<()> {
    let mut n = 0;
    for check in Check::ALL {
        let dir = recordings_dir().join(check.as_str());
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let text = std::fs::read_to_string(&path)?;
            let r = Recording::from_json(&serde_json::from_str(&text)?)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            assert_eq!(r.snapshot.check(), check, "{}", path.display());
            n += 1;
        }
    }
    assert!(n >= CASES.len(), "{n} recordings");
    Ok(())
}
