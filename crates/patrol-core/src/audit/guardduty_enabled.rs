//! `guardduty-enabled`: a region of an account where no GuardDuty detector is enabled
//! (`guardduty-off`): threats there go unseen. GuardDuty is regional, so the snapshot is
//! ListDetectors and each detector's GetDetector status, per region audited.

use serde::{Deserialize, Serialize};
use serde_json::{Map, json};

use super::{Check, Scope};
use crate::finding::Finding;

/// One detector: its id and GetDetector's `Status` (`ENABLED`, `DISABLED`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Detector {
    pub detector_id: String,
    pub status: String,
}

/// One region's detectors (ListDetectors, then GetDetector for each).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Region {
    pub region: String,
    pub detectors: Vec<Detector>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Snapshot {
    pub regions: Vec<Region>,
}

pub fn evaluate(snapshot: &Snapshot, scope: &Scope) -> Vec<Finding> {
    snapshot
        .regions
        .iter()
        .filter(|r| !r.detectors.iter().any(|d| d.status == "ENABLED"))
        .map(|r| {
            // No detector, or detectors that are all suspended: two states, two alerts.
            let state = if r.detectors.is_empty() {
                "no-detector"
            } else {
                "detector-disabled"
            };
            let mut facts = Map::new();
            facts.insert("region".into(), json!(r.region));
            facts.insert("state".into(), json!(state));
            let ids: Vec<&str> = r.detectors.iter().map(|d| d.detector_id.as_str()).collect();
            facts.insert("detectors".into(), json!(ids));
            Finding {
                check: Check::GuarddutyEnabled.as_str().into(),
                finding: "guardduty-off".into(),
                key: format!("guardduty/{}", r.region),
                fingerprint: state.into(),
                account: scope.account.clone(),
                region: r.region.clone(),
                resource: None,
                facts,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(name: &str, statuses: &[&str]) -> Region {
        Region {
            region: name.into(),
            detectors: statuses
                .iter()
                .enumerate()
                .map(|(i, s)| Detector {
                    detector_id: format!("d{i}"),
                    status: (*s).into(),
                })
                .collect(),
        }
    }

    #[test]
    fn each_region_without_an_enabled_detector_is_a_finding() {
        let s = Snapshot {
            regions: vec![
                region("eu-west-1", &["ENABLED"]),
                region("eu-central-1", &[]),
                region("us-east-1", &["DISABLED"]),
            ],
        };
        let fs = evaluate(&s, &Scope::new("111122223333", "eu-west-1"));
        let got: Vec<(&str, &str, &str)> = fs
            .iter()
            .map(|f| (f.key.as_str(), f.fingerprint.as_str(), f.region.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("guardduty/eu-central-1", "no-detector", "eu-central-1"),
                ("guardduty/us-east-1", "detector-disabled", "us-east-1"),
            ]
        );
        assert_eq!(fs[1].facts["detectors"], json!(["d0"]));
    }

    #[test]
    fn every_region_enabled_is_fine() {
        let s = Snapshot {
            regions: vec![region("eu-west-1", &["DISABLED", "ENABLED"])],
        };
        assert!(evaluate(&s, &Scope::new("1", "eu-west-1")).is_empty());
    }
}
