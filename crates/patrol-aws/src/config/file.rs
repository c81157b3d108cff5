//! The config file as written (`cdk/lib/handler-config.ts`'s `HandlerConfig`):
//!
//! ```jsonc
//! { "format_version": 1, "handler": "notify",
//!   "rules": [ Rule, ... ],      // normalized, as `patrol manifest --json` writes them
//!   "routes": [ {"type":"sns","route":"security","topic_name":"patrol-security"}, ... ],
//!   "feeds": { "<cover id>": ["rule-id", ...] },
//!   "schedules": { "<group id>": ["rule-id", ...] },
//!   "regions": ["us-east-1", "eu-west-1"] }   // optional: `[deploy]`'s regions, in order
//! ```

use std::collections::BTreeMap;

use patrol_core::manifest::Rule;
use serde::Deserialize;
use serde_json::Value;

use super::route::RawRoute;
use super::{FORMAT_VERSION, Problem};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHandlerConfig {
    #[allow(dead_code, reason = "checked before the typed parse, in `parse`")]
    pub format_version: u64,
    pub handler: String,
    pub rules: Vec<Rule>,
    pub routes: Vec<RawRoute>,
    #[serde(default)]
    pub feeds: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub schedules: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub regions: Vec<String>,
}

/// The file's text as a [`RawHandlerConfig`]: the format version first (a file from
/// another release is named as such, not as a list of shape errors), then the shape, with
/// the JSON path of what does not fit.
pub(super) fn parse(text: &str) -> Result<RawHandlerConfig, Problem> {
    let value: Value = serde_json::from_str(text).map_err(|e| Problem {
        path: ".".into(),
        message: format!("not JSON: {e}"),
    })?;
    match value.get("format_version").and_then(Value::as_u64) {
        Some(FORMAT_VERSION) => {}
        other => {
            let found = other.map_or_else(
                || {
                    value
                        .get("format_version")
                        .map_or("nothing".into(), Value::to_string)
                },
                |v| v.to_string(),
            );
            return Err(Problem {
                path: "format_version".into(),
                message: format!(
                    "expected {FORMAT_VERSION}, found {found}: the function and the CDK app that wrote this file come from different Patrol releases"
                ),
            });
        }
    }
    serde_path_to_error::deserialize(value).map_err(|e| Problem {
        path: e.path().to_string(),
        message: e.inner().to_string(),
    })
}
