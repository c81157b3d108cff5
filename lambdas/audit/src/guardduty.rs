//! `guardduty-enabled`'s collector: in each region, ListDetectors and each detector's
//! GetDetector status.

use aws_config::SdkConfig;
use patrol_core::audit::guardduty_enabled::{Detector, Region, Snapshot};

use crate::CollectError;

/// The detectors of `regions` (the client's own region when empty).
pub async fn collect_guardduty_enabled(
    sdk: &SdkConfig,
    regions: &[String],
) -> Result<Snapshot, CollectError> {
    let regions: Vec<String> = if regions.is_empty() {
        sdk.region()
            .map(|r| r.as_ref().to_owned())
            .into_iter()
            .collect()
    } else {
        regions.to_vec()
    };
    let mut out = Vec::new();
    for region in regions {
        let config = aws_sdk_guardduty::config::Builder::from(sdk)
            .region(aws_sdk_guardduty::config::Region::new(region.clone()))
            .build();
        let gd = aws_sdk_guardduty::Client::from_conf(config);
        let pages = gd
            .list_detectors()
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| CollectError::sdk("ListDetectors", e))?;
        let mut detectors = Vec::new();
        for id in pages.iter().flat_map(|p| p.detector_ids()) {
            let d = gd
                .get_detector()
                .detector_id(id)
                .send()
                .await
                .map_err(|e| CollectError::sdk("GetDetector", e))?;
            detectors.push(Detector {
                detector_id: id.clone(),
                status: d
                    .status()
                    .map_or_else(|| "UNKNOWN".to_owned(), |s| s.as_str().to_owned()),
            });
        }
        out.push(Region { region, detectors });
    }
    Ok(Snapshot { regions: out })
}
