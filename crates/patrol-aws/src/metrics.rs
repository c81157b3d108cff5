//! CloudWatch metrics as embedded metric format (EMF) log lines: a function prints one JSON
//! line on stdout and CloudWatch Logs turns it into metric values, with no `PutMetricData`
//! call, no SDK client and no permission beyond writing its own log.
//!
//! One [`MetricLine`] is one log event: a namespace, one dimension set (possibly empty) and
//! the metrics recorded under it, rendered as
//!
//! ```json
//! {"_aws":{"Timestamp":1793520000000,"CloudWatchMetrics":[{"Namespace":"Patrol",
//!   "Dimensions":[["Rule"]],"Metrics":[{"Name":"Alerts","Unit":"Count"}]}]},
//!  "Rule":"root-console-login","Alerts":1}
//! ```
//!
//! (on one line), per the EMF specification: `Timestamp` in milliseconds since the epoch,
//! dimension values and metric values as top-level members named like the dimension or the
//! metric. With no dimension the set is empty (`"Dimensions":[[]]`), which publishes the
//! metric with no dimensions at all: one alarm watches it.
//!
//! [`MetricLine::emit`] prints with `println!`, never through `tracing`, whose JSON
//! formatter would wrap the line in its own object and hide it from CloudWatch. Lambda's
//! default (text) log format passes the line through as the log event.
//!
//! Limits the caller keeps (EMF's): at most 30 dimensions and 100 metrics per line. Names
//! are the caller's constants; a dimension or metric named like an earlier one replaces it
//! (they share the top level), and one named `_aws` (the metadata's member) is ignored.

use std::fmt;

use serde::Serialize;
use serde_json::{Number, Value};

/// The namespace of every Patrol metric.
pub const NAMESPACE: &str = "Patrol";

/// The member holding the metadata; never a dimension or metric name.
const RESERVED: &str = "_aws";

/// A metric's unit, as CloudWatch names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Seconds,
    Milliseconds,
    Bytes,
    None,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Seconds => "Seconds",
            Unit::Milliseconds => "Milliseconds",
            Unit::Bytes => "Bytes",
            Unit::None => "None",
        }
    }
}

/// `_aws`, in the specification's member order.
#[derive(Serialize)]
struct Metadata<'a> {
    #[serde(rename = "Timestamp")]
    timestamp: i64,
    #[serde(rename = "CloudWatchMetrics")]
    cloudwatch_metrics: [Directive<'a>; 1],
}

#[derive(Serialize)]
struct Directive<'a> {
    #[serde(rename = "Namespace")]
    namespace: &'a str,
    #[serde(rename = "Dimensions")]
    dimensions: [Vec<&'a str>; 1],
    #[serde(rename = "Metrics")]
    metrics: Vec<Definition<'a>>,
}

#[derive(Serialize)]
struct Definition<'a> {
    #[serde(rename = "Name")]
    name: &'a str,
    #[serde(rename = "Unit")]
    unit: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
struct Metric {
    name: String,
    unit: Unit,
    value: Number,
}

/// One EMF log event: metrics under one dimension set.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricLine {
    namespace: String,
    timestamp_ms: i64,
    /// (name, value), in the order added.
    dimensions: Vec<(String, String)>,
    metrics: Vec<Metric>,
}

/// Milliseconds since the epoch, now.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

impl MetricLine {
    /// A line for `namespace`, its values measured at `timestamp_ms` (ms since the epoch).
    pub fn new(namespace: impl Into<String>, timestamp_ms: i64) -> Self {
        Self {
            namespace: namespace.into(),
            timestamp_ms,
            dimensions: Vec::new(),
            metrics: Vec::new(),
        }
    }

    /// A line for `namespace`, measured now.
    pub fn now(namespace: impl Into<String>) -> Self {
        Self::new(namespace, now_ms())
    }

    fn forget(&mut self, name: &str) {
        self.dimensions.retain(|(n, _)| n != name);
        self.metrics.retain(|m| m.name != name);
    }

    /// Adds dimension `name` with `value` to the line's dimension set.
    pub fn dimension(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        if name == RESERVED {
            return self;
        }
        self.forget(&name);
        self.dimensions.push((name, value.into()));
        self
    }

    /// Records `value` for metric `name`.
    pub fn metric(mut self, name: impl Into<String>, unit: Unit, value: impl Into<Number>) -> Self {
        let name = name.into();
        if name == RESERVED {
            return self;
        }
        self.forget(&name);
        self.metrics.push(Metric {
            name,
            unit,
            value: value.into(),
        });
        self
    }

    /// Records a count.
    pub fn count(self, name: impl Into<String>, n: u64) -> Self {
        self.metric(name, Unit::Count, n)
    }

    /// The line as JSON, `_aws` first, then the dimensions, then the metrics, each in the
    /// order added.
    pub fn render(&self) -> String {
        let metadata = Metadata {
            timestamp: self.timestamp_ms,
            cloudwatch_metrics: [Directive {
                namespace: &self.namespace,
                dimensions: [self.dimensions.iter().map(|(n, _)| n.as_str()).collect()],
                metrics: self
                    .metrics
                    .iter()
                    .map(|m| Definition {
                        name: &m.name,
                        unit: m.unit.as_str(),
                    })
                    .collect(),
            }],
        };
        // Serializing these plain structs and strings cannot fail.
        let mut line = format!(
            "{{\"{RESERVED}\":{}",
            serde_json::to_string(&metadata).unwrap_or_default()
        );
        let members = self
            .dimensions
            .iter()
            .map(|(n, v)| (n, Value::String(v.clone())))
            .chain(
                self.metrics
                    .iter()
                    .map(|m| (&m.name, Value::Number(m.value.clone()))),
            );
        for (name, value) in members {
            line.push_str(&format!(",{}:{value}", Value::String(name.clone())));
        }
        line.push('}');
        line
    }

    /// Prints the line on stdout, where CloudWatch Logs extracts it.
    pub fn emit(&self) {
        println!("{self}");
    }
}

impl fmt::Display for MetricLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const AT: i64 = 1_793_520_000_123;

    fn parsed(line: &MetricLine) -> Value {
        serde_json::from_str(&line.render()).expect("the line is JSON")
    }

    #[test]
    fn a_metric_without_dimensions_has_an_empty_dimension_set() {
        let line = MetricLine::new(NAMESPACE, AT).count("Heartbeats", 1);
        assert_eq!(
            line.render(),
            r#"{"_aws":{"Timestamp":1793520000123,"CloudWatchMetrics":[{"Namespace":"Patrol","Dimensions":[[]],"Metrics":[{"Name":"Heartbeats","Unit":"Count"}]}]},"Heartbeats":1}"#
        );
        assert!(!line.render().contains('\n'));
    }

    #[test]
    fn dimension_values_and_metric_values_are_top_level_members() {
        let line = MetricLine::new("Patrol", AT)
            .dimension("Rule", "root-console-login")
            .dimension("Route", "security")
            .count("Alerts", 2)
            .metric(
                "Latency",
                Unit::Milliseconds,
                Number::from_f64(12.5).expect("finite"),
            )
            .metric("Age", Unit::Seconds, -3_i64);
        assert_eq!(
            parsed(&line),
            json!({
                "_aws": {"Timestamp": AT, "CloudWatchMetrics": [{
                    "Namespace": "Patrol",
                    "Dimensions": [["Rule", "Route"]],
                    "Metrics": [
                        {"Name": "Alerts", "Unit": "Count"},
                        {"Name": "Latency", "Unit": "Milliseconds"},
                        {"Name": "Age", "Unit": "Seconds"},
                    ],
                }]},
                "Rule": "root-console-login", "Route": "security",
                "Alerts": 2, "Latency": 12.5, "Age": -3,
            })
        );
        assert!(line.render().starts_with(r#"{"_aws":"#), "{line}");
    }

    #[test]
    fn several_metrics_share_one_line() {
        let line = MetricLine::new(NAMESPACE, AT)
            .count("SilentForwarders", 0)
            .count("ForwardersSeen", 7);
        let v = parsed(&line);
        assert_eq!(v["SilentForwarders"], 0);
        assert_eq!(v["ForwardersSeen"], 7);
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"],
            json!([{"Name": "SilentForwarders", "Unit": "Count"},
                {"Name": "ForwardersSeen", "Unit": "Count"}])
        );
    }

    #[test]
    fn names_and_values_are_json_escaped() {
        let line = MetricLine::new(NAMESPACE, AT)
            .dimension("Rule", "a \"quoted\"\nrule")
            .count("Alerts", 1);
        assert_eq!(parsed(&line)["Rule"], "a \"quoted\"\nrule");
        assert_eq!(line.render().lines().count(), 1);
    }

    #[test]
    fn a_name_used_again_replaces_the_earlier_member() {
        let line = MetricLine::new(NAMESPACE, AT)
            .dimension("Alerts", "x")
            .count("Alerts", 1)
            .count("Alerts", 3);
        let v = parsed(&line);
        assert_eq!(v["Alerts"], 3);
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Dimensions"], json!([[]]));
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "Alerts", "Unit": "Count"}])
        );
    }

    #[test]
    fn aws_is_reserved() {
        let line = MetricLine::new(NAMESPACE, AT)
            .count("_aws", 1)
            .dimension("_aws", "x");
        assert_eq!(
            line.render(),
            r#"{"_aws":{"Timestamp":1793520000123,"CloudWatchMetrics":[{"Namespace":"Patrol","Dimensions":[[]],"Metrics":[]}]}}"#
        );
    }

    #[test]
    fn now_stamps_the_current_time_in_milliseconds() {
        let before = now_ms();
        let v = parsed(&MetricLine::now(NAMESPACE).count("Heartbeats", 1));
        let stamp = v["_aws"]["Timestamp"].as_i64().expect("a number");
        assert!((before..before + 60_000).contains(&stamp), "{stamp}");
    }

    #[test]
    fn units_are_cloudwatch_names() {
        let names: Vec<&str> = [
            Unit::Count,
            Unit::Seconds,
            Unit::Milliseconds,
            Unit::Bytes,
            Unit::None,
        ]
        .map(Unit::as_str)
        .to_vec();
        assert_eq!(names, ["Count", "Seconds", "Milliseconds", "Bytes", "None"]);
    }
}
