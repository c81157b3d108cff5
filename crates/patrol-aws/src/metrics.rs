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
//! Per-rule metrics ([`RuleMetrics`]): one line per rule an invocation touched, with
//! dimensions `Handler` and `Rule`: [`EVENTS_EVALUATED`], [`ALERTS_SENT`], [`SUPPRESSED`],
//! [`DEDUPLICATED`], [`DELIVERY_ERRORS`], [`DURATION_MS`], and for a scheduled rule
//! [`SCHEDULED_RUNS`] (1 per run: the heartbeat an alarm on missing data watches).
//!
//! Limits the caller keeps (EMF's): at most 30 dimensions and 100 metrics per line. Names
//! are the caller's constants; a dimension or metric named like an earlier one replaces it
//! (they share the top level), and one named `_aws` (the metadata's member) is ignored.

use std::fmt;

use serde::Serialize;
use serde_json::{Number, Value};

/// The namespace of every Patrol metric.
pub const NAMESPACE: &str = "Patrol";

/// Dimension: the handler (crate and function) that ran the rule.
pub const HANDLER_DIMENSION: &str = "Handler";
/// Dimension: the rule's id.
pub const RULE_DIMENSION: &str = "Rule";
/// Events the rule decided on: those its handler returned (an event rule's own event, an
/// audit's findings).
pub const EVENTS_EVALUATED: &str = "EventsEvaluated";
/// Alerts that reached every route of the rule (now or in an earlier attempt).
pub const ALERTS_SENT: &str = "AlertsSent";
/// Events a suppression of the rule silenced.
pub const SUPPRESSED: &str = "Suppressed";
/// Alerts not sent because their dedup window was open.
pub const DEDUPLICATED: &str = "Deduplicated";
/// Routes that did not accept an alert, and handler errors.
pub const DELIVERY_ERRORS: &str = "DeliveryErrors";
/// Time spent on the rule in the invocation (its handler, decisions and delivery).
pub const DURATION_MS: &str = "DurationMs";
/// Runs of a scheduled rule: 1 per invocation that ran it.
pub const SCHEDULED_RUNS: &str = "ScheduledRuns";

/// What one invocation did for one rule, summed over its events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuleMetrics {
    pub events_evaluated: u64,
    pub alerts_sent: u64,
    pub suppressed: u64,
    pub deduplicated: u64,
    pub delivery_errors: u64,
    pub duration_ms: u64,
    /// `Some(runs)` for a scheduled rule, `None` otherwise (no metric at all).
    pub scheduled_runs: Option<u64>,
}

impl RuleMetrics {
    /// Adds `other`'s counts to these (the same rule, another event or SNS record).
    pub fn add(&mut self, other: &RuleMetrics) {
        self.events_evaluated += other.events_evaluated;
        self.alerts_sent += other.alerts_sent;
        self.suppressed += other.suppressed;
        self.deduplicated += other.deduplicated;
        self.delivery_errors += other.delivery_errors;
        self.duration_ms += other.duration_ms;
        self.scheduled_runs = match (self.scheduled_runs, other.scheduled_runs) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        };
    }

    /// The line of rule `rule` of handler `handler`, in [`NAMESPACE`], at `timestamp_ms`.
    /// Every count is written, zeros included, so each alarm always has data.
    pub fn line(&self, handler: &str, rule: &str, timestamp_ms: i64) -> MetricLine {
        let line = MetricLine::new(NAMESPACE, timestamp_ms)
            .dimension(HANDLER_DIMENSION, handler)
            .dimension(RULE_DIMENSION, rule)
            .count(EVENTS_EVALUATED, self.events_evaluated)
            .count(ALERTS_SENT, self.alerts_sent)
            .count(SUPPRESSED, self.suppressed)
            .count(DEDUPLICATED, self.deduplicated)
            .count(DELIVERY_ERRORS, self.delivery_errors)
            .metric(DURATION_MS, Unit::Milliseconds, self.duration_ms);
        match self.scheduled_runs {
            Some(runs) => line.count(SCHEDULED_RUNS, runs),
            None => line,
        }
    }
}

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
    fn a_rule_line_has_handler_and_rule_dimensions_and_every_count() {
        let m = RuleMetrics {
            events_evaluated: 3,
            alerts_sent: 1,
            suppressed: 1,
            deduplicated: 1,
            delivery_errors: 0,
            duration_ms: 42,
            scheduled_runs: Some(1),
        };
        assert_eq!(
            m.line("audit", "iam-access-key-too-old", AT).render(),
            concat!(
                r#"{"_aws":{"Timestamp":1793520000123,"CloudWatchMetrics":[{"Namespace":"Patrol","#,
                r#""Dimensions":[["Handler","Rule"]],"Metrics":[{"Name":"EventsEvaluated","Unit":"Count"},"#,
                r#"{"Name":"AlertsSent","Unit":"Count"},{"Name":"Suppressed","Unit":"Count"},"#,
                r#"{"Name":"Deduplicated","Unit":"Count"},{"Name":"DeliveryErrors","Unit":"Count"},"#,
                r#"{"Name":"DurationMs","Unit":"Milliseconds"},{"Name":"ScheduledRuns","Unit":"Count"}]}]},"#,
                r#""Handler":"audit","Rule":"iam-access-key-too-old","EventsEvaluated":3,"AlertsSent":1,"#,
                r#""Suppressed":1,"Deduplicated":1,"DeliveryErrors":0,"DurationMs":42,"ScheduledRuns":1}"#
            )
        );
        // An event rule has no ScheduledRuns at all, not a zero.
        let event_rule = RuleMetrics::default().line("notify", "root-console-login", AT);
        let v = parsed(&event_rule);
        assert_eq!(v["EventsEvaluated"], 0);
        assert!(v.get(SCHEDULED_RUNS).is_none(), "{v}");
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .map(Vec::len),
            Some(6)
        );
    }

    #[test]
    fn rule_metrics_add_up() {
        let mut a = RuleMetrics {
            events_evaluated: 1,
            alerts_sent: 1,
            duration_ms: 5,
            ..RuleMetrics::default()
        };
        a.add(&RuleMetrics {
            events_evaluated: 2,
            delivery_errors: 1,
            duration_ms: 7,
            scheduled_runs: Some(1),
            ..RuleMetrics::default()
        });
        assert_eq!(
            a,
            RuleMetrics {
                events_evaluated: 3,
                alerts_sent: 1,
                suppressed: 0,
                deduplicated: 0,
                delivery_errors: 1,
                duration_ms: 12,
                scheduled_runs: Some(1),
            }
        );
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
