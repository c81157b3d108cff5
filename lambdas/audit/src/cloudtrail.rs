//! `cloudtrail-logging`'s collector: DescribeTrails in each region (shadow trails included,
//! so multi-region and organization trails show everywhere), each trail once, with its
//! GetTrailStatus. A status that cannot be read (an organization trail seen from a member
//! account) is recorded as unknown, not as an error.

use std::collections::HashSet;

use aws_config::SdkConfig;
use patrol_core::audit::cloudtrail_logging::{Snapshot, Trail, TrailStatus};

use crate::CollectError;

/// The trails visible from `regions` (the client's own region when empty).
pub async fn collect_cloudtrail_logging(
    sdk: &SdkConfig,
    regions: &[String],
) -> Result<Snapshot, CollectError> {
    let own = sdk.region().map(|r| r.as_ref().to_owned());
    let regions: Vec<Option<String>> = if regions.is_empty() {
        vec![own]
    } else {
        regions.iter().cloned().map(Some).collect()
    };
    let mut seen = HashSet::new();
    let mut trail_list = Vec::new();
    for region in regions {
        let mut config = aws_sdk_cloudtrail::config::Builder::from(sdk);
        if let Some(r) = region {
            config = config.region(aws_sdk_cloudtrail::config::Region::new(r));
        }
        let ct = aws_sdk_cloudtrail::Client::from_conf(config.build());
        let out = ct
            .describe_trails()
            .include_shadow_trails(true)
            .send()
            .await
            .map_err(|e| CollectError::sdk("DescribeTrails", e))?;
        for t in out.trail_list() {
            let (Some(name), Some(arn)) = (t.name(), t.trail_arn()) else {
                continue;
            };
            if !seen.insert(arn.to_owned()) {
                continue;
            }
            let status = match ct.get_trail_status().name(arn).send().await {
                Ok(s) => Some(TrailStatus {
                    is_logging: s.is_logging().unwrap_or(false),
                    latest_delivery_error: s.latest_delivery_error().map(str::to_owned),
                }),
                Err(e) => {
                    tracing::warn!(trail = arn, error = %CollectError::sdk("GetTrailStatus", e), "trail status unknown");
                    None
                }
            };
            trail_list.push(Trail {
                name: name.to_owned(),
                trail_arn: arn.to_owned(),
                home_region: t.home_region().unwrap_or_default().to_owned(),
                is_multi_region_trail: t.is_multi_region_trail().unwrap_or(false),
                is_organization_trail: t.is_organization_trail().unwrap_or(false),
                s3_bucket_name: t.s3_bucket_name().map(str::to_owned),
                status,
            });
        }
    }
    Ok(Snapshot { trail_list })
}
