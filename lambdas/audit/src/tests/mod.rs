//! Collectors and the organization walk against moto in server mode: everything the
//! checks look at is created through the SDK inside each test.

mod collectors;
mod recordings;
mod walk;

use aws_config::SdkConfig;

/// moto's default account: the one the test's own credentials act in.
pub(crate) const MANAGEMENT: &str = "123456789012";

pub(crate) fn now() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// moto writes every key as created and never used "now": the age rules are tested by
/// evaluating 200 days later.
pub(crate) const LATER: i64 = 200 * 86_400;

/// Credentials acting in `account` (moto accepts AssumeRole of any role, and the
/// credentials it returns act in the role's account).
pub(crate) async fn in_account(sdk: &SdkConfig, account: &str) -> anyhow::Result<SdkConfig> {
    Ok(crate::assume::assume(sdk, account).await?)
}

/// IAM setup: users with and without problems.
pub(crate) mod iam_setup {
    use aws_config::SdkConfig;

    /// A user with a console password, and MFA if `mfa`.
    pub async fn console_user(sdk: &SdkConfig, name: &str, mfa: bool) -> anyhow::Result<()> {
        let iam = aws_sdk_iam::Client::new(sdk);
        iam.create_user().user_name(name).send().await?;
        iam.create_login_profile()
            .user_name(name)
            .password("Correct-Horse-Battery-9")
            .send()
            .await?;
        if mfa {
            let device = iam
                .create_virtual_mfa_device()
                .virtual_mfa_device_name(format!("{name}-mfa"))
                .send()
                .await?;
            let serial = device
                .virtual_mfa_device()
                .map(|d| d.serial_number().to_owned())
                .unwrap_or_default();
            iam.enable_mfa_device()
                .user_name(name)
                .serial_number(serial)
                .authentication_code1("123456")
                .authentication_code2("654321")
                .send()
                .await?;
        }
        Ok(())
    }

    /// A user with one active access key; its id.
    pub async fn key_user(sdk: &SdkConfig, name: &str) -> anyhow::Result<String> {
        let iam = aws_sdk_iam::Client::new(sdk);
        iam.create_user().user_name(name).send().await?;
        let key = iam.create_access_key().user_name(name).send().await?;
        Ok(key
            .access_key()
            .map(|k| k.access_key_id().to_owned())
            .unwrap_or_default())
    }
}
