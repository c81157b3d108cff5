//! `cloudtrail-logging`:
//! - `no-multi-region-trail`: no multi-region trail is logging in the account (CIS AWS
//!   Foundations 3.1): API activity in some region is recorded nowhere;
//! - `trail-not-logging`: a trail exists but is stopped (StopLogging, or never started).
//!
//! The snapshot is DescribeTrails (shadow trails included: a multi-region or organization
//! trail shows in every region) with each trail's GetTrailStatus. A trail whose status
//! could not be read (an organization trail seen from a member account may not allow it)
//! is neither reported as stopped nor counted as logging.

use serde::{Deserialize, Serialize};
use serde_json::{Map, json};

use super::{Check, Scope};
use crate::finding::Finding;

/// One trail of DescribeTrails' `trailList`, with its GetTrailStatus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Trail {
    pub name: String,
    #[serde(rename = "TrailARN")]
    pub trail_arn: String,
    pub home_region: String,
    #[serde(default)]
    pub is_multi_region_trail: bool,
    #[serde(default)]
    pub is_organization_trail: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_bucket_name: Option<String>,
    /// GetTrailStatus; `None` when it could not be read.
    #[serde(default)]
    pub status: Option<TrailStatus>,
}

/// The part of GetTrailStatus the check reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct TrailStatus {
    pub is_logging: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_delivery_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Snapshot {
    pub trail_list: Vec<Trail>,
}

impl Trail {
    fn logging(&self) -> Option<bool> {
        self.status.as_ref().map(|s| s.is_logging)
    }
}

pub fn evaluate(snapshot: &Snapshot, scope: &Scope) -> Vec<Finding> {
    let mut out = Vec::new();
    let trails = &snapshot.trail_list;
    if !trails
        .iter()
        .any(|t| t.is_multi_region_trail && t.logging() == Some(true))
    {
        let mut facts = Map::new();
        let names: Vec<&str> = trails.iter().map(|t| t.name.as_str()).collect();
        facts.insert("trails".into(), json!(names));
        facts.insert("trail_count".into(), json!(names.len()));
        out.push(Finding {
            check: Check::CloudtrailLogging.as_str().into(),
            finding: "no-multi-region-trail".into(),
            key: format!("account/{}/cloudtrail", scope.account),
            fingerprint: "no-multi-region-trail-logging".into(),
            account: scope.account.clone(),
            region: scope.region.clone(),
            resource: None,
            facts,
        });
    }
    let mut seen = std::collections::HashSet::new();
    for t in trails {
        // A multi-region trail is listed once per region it shadows when the collector
        // looks at several regions: one finding per trail.
        if t.logging() != Some(false) || !seen.insert(t.trail_arn.as_str()) {
            continue;
        }
        let mut facts = Map::new();
        facts.insert("trail".into(), json!(t.name));
        facts.insert("multi_region".into(), json!(t.is_multi_region_trail));
        facts.insert("organization_trail".into(), json!(t.is_organization_trail));
        facts.insert("bucket".into(), json!(t.s3_bucket_name));
        out.push(Finding {
            check: Check::CloudtrailLogging.as_str().into(),
            finding: "trail-not-logging".into(),
            key: format!("cloudtrail-trail/{}", t.trail_arn),
            fingerprint: "not-logging".into(),
            account: scope.account.clone(),
            region: t.home_region.clone(),
            resource: Some(t.trail_arn.clone()),
            facts,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trail(name: &str, multi: bool, logging: Option<bool>) -> Trail {
        Trail {
            name: name.into(),
            trail_arn: format!("arn:aws:cloudtrail:us-east-1:111122223333:trail/{name}"),
            home_region: "us-east-1".into(),
            is_multi_region_trail: multi,
            is_organization_trail: false,
            s3_bucket_name: Some("logs".into()),
            status: logging.map(|is_logging| TrailStatus {
                is_logging,
                latest_delivery_error: None,
            }),
        }
    }

    fn run(trails: Vec<Trail>) -> Vec<(String, String)> {
        let s = Snapshot { trail_list: trails };
        evaluate(&s, &Scope::new("111122223333", "eu-west-1"))
            .into_iter()
            .map(|f| (f.finding, f.key))
            .collect()
    }

    #[test]
    fn a_logging_multi_region_trail_is_fine() {
        assert!(run(vec![trail("main", true, Some(true))]).is_empty());
    }

    #[test]
    fn an_account_without_trails_is_a_finding() {
        assert_eq!(
            run(vec![]),
            [(
                "no-multi-region-trail".into(),
                "account/111122223333/cloudtrail".into()
            )]
        );
    }

    #[test]
    fn a_stopped_trail_is_reported_and_does_not_count() {
        let fs = run(vec![
            trail("main", true, Some(false)),
            trail("regional", false, Some(true)),
        ]);
        assert_eq!(
            fs,
            [
                (
                    "no-multi-region-trail".into(),
                    "account/111122223333/cloudtrail".into()
                ),
                (
                    "trail-not-logging".into(),
                    "cloudtrail-trail/arn:aws:cloudtrail:us-east-1:111122223333:trail/main".into()
                ),
            ]
        );
    }

    #[test]
    fn an_unreadable_status_is_neither_stopped_nor_logging() {
        let fs = run(vec![
            trail("org", true, None),
            trail("main", true, Some(true)),
        ]);
        assert!(fs.is_empty(), "{fs:?}");
        let fs = run(vec![trail("org", true, None)]);
        assert_eq!(fs.len(), 1);
        assert_eq!(fs[0].0, "no-multi-region-trail");
    }

    #[test]
    fn a_trail_listed_twice_is_reported_once() {
        let fs = run(vec![
            trail("main", true, Some(true)),
            trail("old", true, Some(false)),
            trail("old", true, Some(false)),
        ]);
        assert_eq!(fs.len(), 1, "{fs:?}");
    }
}
