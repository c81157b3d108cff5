//! `s3-block-public-access`'s collector: the account's Block Public Access (S3 Control
//! GetPublicAccessBlock), every bucket (ListBuckets, with its region) and each bucket's own
//! (S3 GetPublicAccessBlock, asked in the bucket's region). "No configuration" is an answer
//! (`None`), any other error fails the account.

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_s3control::config::endpoint::{
    Endpoint, EndpointFuture, Params as ControlParams, ResolveEndpoint,
};
use patrol_core::audit::s3_block_public_access::{Bucket, PublicAccessBlock, Snapshot};

use crate::CollectError;

/// The error code of "this account or bucket has no Public Access Block".
const NO_CONFIGURATION: &str = "NoSuchPublicAccessBlockConfiguration";

pub async fn collect_s3_block_public_access(
    sdk: &SdkConfig,
    account: &str,
) -> Result<Snapshot, CollectError> {
    let account_public_access_block = account_block(sdk, account).await?;
    let s3 = aws_sdk_s3::Client::new(sdk);
    let listed = s3
        .list_buckets()
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| CollectError::sdk("ListBuckets", e))?;
    let mut clients: HashMap<String, aws_sdk_s3::Client> = HashMap::new();
    let mut buckets = Vec::new();
    for page in listed {
        for b in page.buckets() {
            let Some(name) = b.name() else { continue };
            let region = b.bucket_region().map(str::to_owned);
            let client = match &region {
                Some(r) if Some(r.as_str()) != sdk.region().map(|x| x.as_ref()) => clients
                    .entry(r.clone())
                    .or_insert_with(|| {
                        let config = aws_sdk_s3::config::Builder::from(sdk)
                            .region(aws_sdk_s3::config::Region::new(r.clone()))
                            .build();
                        aws_sdk_s3::Client::from_conf(config)
                    })
                    .clone(),
                _ => s3.clone(),
            };
            let block = match client.get_public_access_block().bucket(name).send().await {
                Ok(out) => out
                    .public_access_block_configuration()
                    .map(|c| PublicAccessBlock {
                        block_public_acls: c.block_public_acls().unwrap_or(false),
                        ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
                        block_public_policy: c.block_public_policy().unwrap_or(false),
                        restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
                    }),
                Err(e) if CollectError::code_of(&e) == Some(NO_CONFIGURATION) => None,
                Err(e) => return Err(CollectError::sdk("GetPublicAccessBlock", e)),
            };
            buckets.push(Bucket {
                name: name.to_owned(),
                bucket_region: region,
                public_access_block_configuration: block,
            });
        }
    }
    Ok(Snapshot {
        account_public_access_block,
        buckets,
    })
}

/// The account-level setting, from S3 Control.
async fn account_block(
    sdk: &SdkConfig,
    account: &str,
) -> Result<Option<PublicAccessBlock>, CollectError> {
    match control_client(sdk)
        .get_public_access_block()
        .account_id(account)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .public_access_block_configuration()
            .map(|c| PublicAccessBlock {
                block_public_acls: c.block_public_acls().unwrap_or(false),
                ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
                block_public_policy: c.block_public_policy().unwrap_or(false),
                restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
            })),
        Err(e) if CollectError::code_of(&e) == Some(NO_CONFIGURATION) => Ok(None),
        Err(e) => Err(CollectError::sdk("GetPublicAccessBlock (account)", e)),
    }
}

/// An S3 Control client. S3 Control puts the account id in front of the endpoint's host
/// (`111122223333.s3-control...`); an overridden endpoint (a local emulator, a proxy) is
/// used as it is.
pub fn control_client(sdk: &SdkConfig) -> aws_sdk_s3control::Client {
    let mut config = aws_sdk_s3control::config::Builder::from(sdk);
    if let Some(url) = sdk.endpoint_url() {
        config = config.endpoint_resolver(Fixed(url.to_owned()));
    }
    aws_sdk_s3control::Client::from_conf(config.build())
}

/// An endpoint resolver that always answers the overridden endpoint.
#[derive(Debug)]
struct Fixed(String);

impl ResolveEndpoint for Fixed {
    fn resolve_endpoint<'a>(&'a self, _: &'a ControlParams) -> EndpointFuture<'a> {
        EndpointFuture::ready(Ok(Endpoint::builder().url(self.0.clone()).build()))
    }
}
