//! Why an account could not be audited, as the stable kind an `audit-failed` finding's
//! fingerprint carries (`AssumeRole/AccessDenied`, `GetCredentialReport/timeout`): what
//! failed and how, never the message, which holds request ids and changes every run.

use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

#[derive(Debug, thiserror::Error)]
#[error("{operation}: {message}")]
pub struct CollectError {
    /// The API operation (`AssumeRole`), or the stage (`audit`) for a deadline.
    pub operation: &'static str,
    /// The service's error code (`AccessDenied`), or `timeout`, `network`, `response`.
    pub code: String,
    pub message: String,
}

impl CollectError {
    pub fn new(
        operation: &'static str,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            operation,
            code: code.into(),
            message: message.into(),
        }
    }

    /// `operation/code`: the fingerprint of the account's `audit-failed` finding.
    pub fn kind(&self) -> String {
        format!("{}/{}", self.operation, self.code)
    }

    /// An SDK error of `operation`, by its service error code or its failure class.
    pub fn sdk<E>(operation: &'static str, e: SdkError<E>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let code = match &e {
            // An error without a code (an unexpected body) is named by its HTTP status.
            SdkError::ServiceError(s) => s.err().code().map_or_else(
                || format!("http-{}", s.raw().status().as_u16()),
                str::to_owned,
            ),
            SdkError::TimeoutError(_) => "timeout".into(),
            SdkError::DispatchFailure(_) => "network".into(),
            SdkError::ResponseError(_) => "response".into(),
            SdkError::ConstructionFailure(_) => "request".into(),
            _ => "unknown".into(),
        };
        Self::new(operation, code, DisplayErrorContext(&e).to_string())
    }

    /// The service error code of an SDK error, if the service answered with one.
    pub fn code_of<E, R>(e: &SdkError<E, R>) -> Option<&str>
    where
        E: ProvideErrorMetadata,
    {
        match e {
            SdkError::ServiceError(s) => s.err().code(),
            _ => None,
        }
    }
}
