//! The organization walk: which accounts (every ACTIVE account of the organization, from
//! Organizations ListAccounts, or `params.accounts`), then in each, at most
//! [`Options::concurrency`] at a time: AssumeRole, collect, evaluate, all within
//! [`Options::account_deadline`]. An account that fails (AssumeRole denied, an API error, the
//! deadline) becomes an `audit-failed` finding (key = the account, fingerprint = what
//! failed), and the other accounts are still audited.

use aws_config::SdkConfig;
use futures_util::stream::{self, StreamExt as _};
use patrol_core::audit::{AuditParams, Scope, audit_failed};
use patrol_core::finding::Finding;

use crate::{CollectError, Options, assume, collect};

/// What one run of a check found across the accounts.
#[derive(Debug, Default)]
pub struct Report {
    /// Every account's findings, in account order, `audit-failed` ones included.
    pub findings: Vec<Finding>,
    /// Accounts audited (failed ones included).
    pub accounts: usize,
    /// Accounts that could not be audited.
    pub failed: usize,
}

/// Run `params.check` in every account. `deploy_regions` are the regions regional checks
/// look at when the rule names none; `now` is Unix seconds.
pub async fn audit(
    sdk: &SdkConfig,
    params: &AuditParams,
    deploy_regions: &[String],
    now: i64,
    options: &Options,
) -> Report {
    let home = sdk
        .region()
        .map_or_else(|| "us-east-1".to_owned(), |r| r.as_ref().to_owned());
    let accounts = match &params.accounts {
        Some(a) => a.clone(),
        None => match active_accounts(sdk).await {
            Ok(a) => a,
            Err(e) => {
                // Nothing to walk: one finding for the organization, so the failure alerts.
                let scope = Scope::new("organization", home);
                return Report {
                    findings: vec![audit_failed(params.check, &scope, &e.kind(), &e.message)],
                    accounts: 0,
                    failed: 1,
                };
            }
        },
    };
    let regions = params
        .regions
        .clone()
        .unwrap_or_else(|| deploy_regions.to_vec());
    let results: Vec<(String, Result<Vec<Finding>, CollectError>)> = stream::iter(accounts)
        .map(|account| {
            let (regions, home) = (&regions, &home);
            async move {
                let scope = Scope::new(account.clone(), home.clone());
                let run = audit_account(sdk, &scope, params, regions, now, options);
                let result = match tokio::time::timeout(options.account_deadline, run).await {
                    Ok(r) => r,
                    Err(_) => Err(CollectError::new(
                        "audit",
                        "timeout",
                        format!(
                            "the account's audit took longer than {:?}",
                            options.account_deadline
                        ),
                    )),
                };
                (account, result)
            }
        })
        .buffered(options.concurrency.max(1))
        .collect()
        .await;
    let mut report = Report {
        accounts: results.len(),
        ..Report::default()
    };
    for (account, result) in results {
        match result {
            Ok(fs) => report.findings.extend(fs),
            Err(e) => {
                tracing::warn!(account, kind = %e.kind(), error = %e.message, "account not audited");
                report.failed += 1;
                let scope = Scope::new(account, home.clone());
                report
                    .findings
                    .push(audit_failed(params.check, &scope, &e.kind(), &e.message));
            }
        }
    }
    report
}

async fn audit_account(
    sdk: &SdkConfig,
    scope: &Scope,
    params: &AuditParams,
    regions: &[String],
    now: i64,
    options: &Options,
) -> Result<Vec<Finding>, CollectError> {
    let creds = assume::assume(sdk, &scope.account).await?;
    let snapshot = collect(params.check, &creds, &scope.account, regions, options).await?;
    snapshot
        .evaluate(scope, params, now)
        .map_err(|e| CollectError::new("evaluate", "snapshot", e.to_string()))
}

/// Every ACTIVE account of the organization (suspended and closing ones are skipped).
pub async fn active_accounts(sdk: &SdkConfig) -> Result<Vec<String>, CollectError> {
    use aws_sdk_organizations::types::{AccountState, AccountStatus};
    let pages = aws_sdk_organizations::Client::new(sdk)
        .list_accounts()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| CollectError::sdk("ListAccounts", e))?;
    Ok(pages
        .iter()
        .flat_map(|p| p.accounts())
        .filter(|a| {
            // `State` replaces the deprecated `Status`; an older response has only `Status`.
            #[allow(deprecated)]
            let status = a.status();
            match a.state() {
                Some(s) => *s == AccountState::Active,
                None => status == Some(&AccountStatus::Active),
            }
        })
        .filter_map(|a| a.id().map(str::to_owned))
        .collect())
}
