//! `iam-credential-hygiene`'s collector: the IAM credential report. GenerateCredentialReport
//! starts (or reuses, if under four hours old) a report; it is polled until COMPLETE, up to
//! [`Options::report_deadline`], then read with GetCredentialReport.

use aws_config::SdkConfig;
use aws_sdk_iam::primitives::DateTimeFormat;
use aws_sdk_iam::types::ReportStateType;
use patrol_core::audit::iam_credential_hygiene::Snapshot;

use crate::{CollectError, Options};

/// The credential report of the account `sdk` acts in.
pub async fn collect_iam_credential_hygiene(
    sdk: &SdkConfig,
    options: &Options,
) -> Result<Snapshot, CollectError> {
    let iam = aws_sdk_iam::Client::new(sdk);
    let deadline = tokio::time::Instant::now() + options.report_deadline;
    loop {
        let state = iam
            .generate_credential_report()
            .send()
            .await
            .map_err(|e| CollectError::sdk("GenerateCredentialReport", e))?;
        if state.state() == Some(&ReportStateType::Complete) {
            break;
        }
        if tokio::time::Instant::now() + options.report_poll > deadline {
            return Err(CollectError::new(
                "GenerateCredentialReport",
                "timeout",
                format!(
                    "the credential report was not complete after {:?}",
                    options.report_deadline
                ),
            ));
        }
        tokio::time::sleep(options.report_poll).await;
    }
    let report = iam
        .get_credential_report()
        .send()
        .await
        .map_err(|e| CollectError::sdk("GetCredentialReport", e))?;
    let content = report.content().ok_or_else(|| {
        CollectError::new(
            "GetCredentialReport",
            "response",
            "the report has no content",
        )
    })?;
    let content = String::from_utf8(content.clone().into_inner()).map_err(|e| {
        CollectError::new(
            "GetCredentialReport",
            "response",
            format!("the report is not UTF-8: {e}"),
        )
    })?;
    Ok(Snapshot {
        content,
        report_format: report.report_format().map(|f| f.as_str().to_owned()),
        generated_time: report
            .generated_time()
            .and_then(|t| t.fmt(DateTimeFormat::DateTime).ok()),
    })
}
