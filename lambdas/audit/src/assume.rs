//! Credentials in one account: AssumeRole of `arn:<partition>:iam::<account>:role/patrol-audit`
//! with session name `patrol-audit`, as a new `SdkConfig` (same region, endpoint and HTTP
//! client). The function's own account is audited through the same role, so every account
//! is audited with exactly the permissions the member template grants.

use std::time::SystemTime;

use aws_config::SdkConfig;
use aws_sdk_sts::config::{Credentials, SharedCredentialsProvider};
use patrol_core::audit::partition;

use crate::{CollectError, ROLE_NAME, SESSION_NAME};

/// A session is used for one account's audit, bounded by [`crate::Options::account_deadline`].
const SESSION_SECONDS: i32 = 900;

/// The audit role's ARN in `account`, in the partition of `sdk`'s region.
pub fn role_arn(sdk: &SdkConfig, account: &str) -> String {
    let region = sdk.region().map_or("us-east-1", |r| r.as_ref());
    format!("arn:{}:iam::{account}:role/{ROLE_NAME}", partition(region))
}

/// `sdk` with the audit role's credentials in `account`.
pub async fn assume(sdk: &SdkConfig, account: &str) -> Result<SdkConfig, CollectError> {
    let out = aws_sdk_sts::Client::new(sdk)
        .assume_role()
        .role_arn(role_arn(sdk, account))
        .role_session_name(SESSION_NAME)
        .duration_seconds(SESSION_SECONDS)
        .send()
        .await
        .map_err(|e| CollectError::sdk("AssumeRole", e))?;
    let c = out.credentials().ok_or_else(|| {
        CollectError::new("AssumeRole", "response", "the response has no credentials")
    })?;
    let expiry = SystemTime::try_from(*c.expiration()).ok();
    let credentials = Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        expiry,
        "patrol-audit",
    );
    Ok(sdk
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build())
}
