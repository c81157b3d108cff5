//! `s3-block-public-access`: a bucket is a finding (`bucket-public-access-not-blocked`) when
//! one of the four Block Public Access settings is on neither for the account (S3 Control
//! GetPublicAccessBlock) nor for the bucket (S3 GetPublicAccessBlock). S3 applies the most
//! restrictive combination of the two, setting by setting, so that is what is checked; the
//! finding names the settings that are off, and that list is its fingerprint.

use serde::{Deserialize, Serialize};
use serde_json::{Map, json};

use super::{Check, Scope};
use crate::finding::Finding;

/// The four settings, in the order AWS lists them.
pub const SETTINGS: [&str; 4] = [
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
];

/// `PublicAccessBlockConfiguration` as both APIs return it; a missing setting is off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PublicAccessBlock {
    #[serde(default)]
    pub block_public_acls: bool,
    #[serde(default)]
    pub ignore_public_acls: bool,
    #[serde(default)]
    pub block_public_policy: bool,
    #[serde(default)]
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    pub const ALL_ON: PublicAccessBlock = PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };

    fn values(self) -> [bool; 4] {
        [
            self.block_public_acls,
            self.ignore_public_acls,
            self.block_public_policy,
            self.restrict_public_buckets,
        ]
    }
}

/// One bucket of ListBuckets, with its own GetPublicAccessBlock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Bucket {
    pub name: String,
    /// ListBuckets' `BucketRegion` (or GetBucketLocation's), where the bucket lives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_region: Option<String>,
    /// `None`: NoSuchPublicAccessBlockConfiguration (the bucket has none).
    #[serde(default)]
    pub public_access_block_configuration: Option<PublicAccessBlock>,
}

/// The account's setting and every bucket's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Snapshot {
    /// S3 Control GetPublicAccessBlock; `None`: the account has none.
    #[serde(default)]
    pub account_public_access_block: Option<PublicAccessBlock>,
    pub buckets: Vec<Bucket>,
}

pub fn evaluate(snapshot: &Snapshot, scope: &Scope) -> Vec<Finding> {
    let account = snapshot.account_public_access_block.unwrap_or_default();
    snapshot
        .buckets
        .iter()
        .filter_map(|b| {
            let bucket = b.public_access_block_configuration.unwrap_or_default();
            let off: Vec<&str> = SETTINGS
                .iter()
                .zip(account.values().into_iter().zip(bucket.values()))
                .filter(|(_, (a, b))| !(*a || *b))
                .map(|(name, _)| *name)
                .collect();
            if off.is_empty() {
                return None;
            }
            let mut facts = Map::new();
            facts.insert("bucket".into(), json!(b.name));
            facts.insert("off".into(), json!(off));
            facts.insert("off_list".into(), json!(off.join(", ")));
            facts.insert(
                "account_block".into(),
                json!(snapshot.account_public_access_block.is_some()),
            );
            facts.insert(
                "bucket_block".into(),
                json!(b.public_access_block_configuration.is_some()),
            );
            Some(Finding {
                check: Check::S3BlockPublicAccess.as_str().into(),
                finding: "bucket-public-access-not-blocked".into(),
                key: format!("s3-bucket/{}", b.name),
                fingerprint: format!("off:{}", off.join(",")),
                account: scope.account.clone(),
                region: b
                    .bucket_region
                    .clone()
                    .unwrap_or_else(|| scope.region.clone()),
                resource: Some(format!("arn:{}:s3:::{}", scope.partition(), b.name)),
                facts,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(name: &str, block: Option<PublicAccessBlock>) -> Bucket {
        Bucket {
            name: name.into(),
            bucket_region: Some("eu-west-1".into()),
            public_access_block_configuration: block,
        }
    }

    fn scope() -> Scope {
        Scope::new("111122223333", "us-east-1")
    }

    #[test]
    fn a_bucket_without_any_block_names_all_four_settings() {
        let s = Snapshot {
            account_public_access_block: None,
            buckets: vec![bucket("open", None)],
        };
        let fs = evaluate(&s, &scope());
        assert_eq!(fs.len(), 1);
        assert_eq!(fs[0].key, "s3-bucket/open");
        assert_eq!(
            fs[0].fingerprint,
            "off:BlockPublicAcls,IgnorePublicAcls,BlockPublicPolicy,RestrictPublicBuckets"
        );
        assert_eq!(fs[0].region, "eu-west-1");
        assert_eq!(fs[0].resource.as_deref(), Some("arn:aws:s3:::open"));
        assert_eq!(fs[0].facts["off"].as_array().map(Vec::len), Some(4));
    }

    #[test]
    fn a_fully_blocked_bucket_or_account_is_fine() {
        let s = Snapshot {
            account_public_access_block: None,
            buckets: vec![bucket("closed", Some(PublicAccessBlock::ALL_ON))],
        };
        assert!(evaluate(&s, &scope()).is_empty());
        let s = Snapshot {
            account_public_access_block: Some(PublicAccessBlock::ALL_ON),
            buckets: vec![bucket("any", None)],
        };
        assert!(evaluate(&s, &scope()).is_empty());
    }

    #[test]
    fn settings_combine_account_and_bucket_setting_by_setting() {
        let account = PublicAccessBlock {
            block_public_acls: true,
            ignore_public_acls: true,
            ..Default::default()
        };
        let half = PublicAccessBlock {
            block_public_policy: true,
            ..Default::default()
        };
        let s = Snapshot {
            account_public_access_block: Some(account),
            buckets: vec![bucket("half", Some(half))],
        };
        let fs = evaluate(&s, &scope());
        assert_eq!(fs.len(), 1);
        assert_eq!(fs[0].fingerprint, "off:RestrictPublicBuckets");
        assert_eq!(fs[0].facts["off_list"], "RestrictPublicBuckets");
    }

    #[test]
    fn the_snapshot_reads_the_api_field_names() {
        let s: Result<Snapshot, _> = serde_json::from_value(json!({
            "AccountPublicAccessBlock": {"BlockPublicAcls": true, "IgnorePublicAcls": true,
                                         "BlockPublicPolicy": true, "RestrictPublicBuckets": false},
            "Buckets": [{"Name": "b", "PublicAccessBlockConfiguration": null}],
        }));
        let s = s.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            evaluate(&s, &scope())[0].fingerprint,
            "off:RestrictPublicBuckets"
        );
        assert_eq!(evaluate(&s, &scope())[0].region, "us-east-1");
    }
}
