//! Patrol's scheduled audits, the AWS half: the collectors that read what each check needs
//! with the AWS SDK (one file per check), and the organization walk that runs a check in
//! every account through the `patrol-audit` role. The checks themselves are pure and live
//! in `patrol_core::audit`, where `patrol test` runs them on recorded snapshots.
//!
//! - [`walk`]: the accounts (Organizations or `params.accounts`), AssumeRole into each,
//!   bounded concurrency, a failed account reported as an `audit-failed` finding.
//! - [`assume`]: the role, its session and credentials.
//! - [`iam`], [`s3`], [`cloudtrail`], [`guardduty`]: `collect_<check>(sdk, account, regions)
//!   -> Snapshot`, one file per check.
//! - [`error`]: what went wrong where, as the stable kind an `audit-failed` finding carries.
//!
//! - [`handler`]: the Lambda handler (`patrol_handler::Handler`): a scheduled rule's
//!   check through [`walk::audit`], each finding returned as an event.

pub mod assume;
pub mod cloudtrail;
pub mod error;
pub mod guardduty;
pub mod handler;
pub mod iam;
pub mod s3;
pub mod walk;

#[cfg(test)]
mod tests;

use std::time::Duration;

use aws_config::SdkConfig;
use patrol_core::audit::{Check, Snapshot};

pub use error::CollectError;

/// The role the audit assumes in every account, its own included. The member-account
/// template (CDK) creates it with read-only permissions and a trust policy for the audit
/// function's role.
pub const ROLE_NAME: &str = "patrol-audit";
/// The session name of every AssumeRole, so CloudTrail shows what the audit did.
pub const SESSION_NAME: &str = "patrol-audit";

/// Limits of one audit run. The defaults fit a Lambda function's 15 minutes.
#[derive(Debug, Clone)]
pub struct Options {
    /// Accounts audited at the same time.
    pub concurrency: usize,
    /// One account's whole audit (AssumeRole and every call); past it the account fails
    /// with kind `timeout` and the others go on.
    pub account_deadline: Duration,
    /// How long to wait between GenerateCredentialReport calls while the report is built.
    pub report_poll: Duration,
    /// How long the credential report may take to build (AWS: seconds, a minute for a
    /// large account); past it the account fails with `GenerateCredentialReport/timeout`.
    pub report_deadline: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            concurrency: 8,
            account_deadline: Duration::from_secs(120),
            report_poll: Duration::from_secs(2),
            report_deadline: Duration::from_secs(90),
        }
    }
}

/// Collect `check`'s snapshot in the account `sdk`'s credentials act in.
pub async fn collect(
    check: Check,
    sdk: &SdkConfig,
    account: &str,
    regions: &[String],
    options: &Options,
) -> Result<Snapshot, CollectError> {
    Ok(match check {
        Check::IamCredentialHygiene => {
            Snapshot::IamCredentialHygiene(iam::collect_iam_credential_hygiene(sdk, options).await?)
        }
        Check::S3BlockPublicAccess => {
            Snapshot::S3BlockPublicAccess(s3::collect_s3_block_public_access(sdk, account).await?)
        }
        Check::GuarddutyEnabled => {
            Snapshot::GuarddutyEnabled(guardduty::collect_guardduty_enabled(sdk, regions).await?)
        }
        Check::CloudtrailLogging => {
            Snapshot::CloudtrailLogging(cloudtrail::collect_cloudtrail_logging(sdk, regions).await?)
        }
    })
}
