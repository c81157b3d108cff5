//! Per-rule metrics of one invocation: what each rule it touched did, summed over the
//! rule's events (and an SNS invocation's records), emitted as one EMF line per rule when
//! the invocation ends, whatever its outcome ([`patrol_aws::metrics::RuleMetrics`]).
//!
//! Counted from each run's [`Decided`]: an alert counts as sent when every route has it
//! (now or from an earlier attempt); each route that refused it, and a handler error,
//! count as delivery errors.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use patrol_aws::metrics::RuleMetrics;

use crate::delivery::{Decided, RuleRun};

/// The invocation's counts, by rule id.
#[derive(Debug, Default)]
pub struct Metrics {
    rules: Mutex<BTreeMap<String, RuleMetrics>>,
}

/// What `runs` (one rule's, one call) count.
pub fn count(scheduled: bool, runs: &[RuleRun], elapsed: Duration) -> RuleMetrics {
    let mut m = RuleMetrics {
        duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        scheduled_runs: scheduled.then_some(1),
        ..RuleMetrics::default()
    };
    for run in runs {
        m.delivery_errors += run.failures.len() as u64;
        match run.decided {
            Decided::Alert => {
                m.events_evaluated += 1;
                if run.failures.is_empty() {
                    m.alerts_sent += 1;
                }
            }
            Decided::Suppressed => {
                m.events_evaluated += 1;
                m.suppressed += 1;
            }
            Decided::Duplicate => {
                m.events_evaluated += 1;
                m.deduplicated += 1;
            }
            Decided::ConditionFalse => m.events_evaluated += 1,
            Decided::NoEvents | Decided::HandlerFailed => {}
        }
    }
    m
}

impl Metrics {
    /// Adds what `runs` of rule `rule` count.
    pub fn record(&self, rule: &str, scheduled: bool, runs: &[RuleRun], elapsed: Duration) {
        let counted = count(scheduled, runs, elapsed);
        // A poisoned lock only means another rule's task panicked; its counts still add.
        let mut rules = self.rules.lock().unwrap_or_else(|p| p.into_inner());
        rules.entry(rule.to_owned()).or_default().add(&counted);
    }

    /// The counts so far, by rule id.
    pub fn snapshot(&self) -> BTreeMap<String, RuleMetrics> {
        self.rules.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// One EMF line per rule on stdout, dimensions `Handler` = `handler` and `Rule`.
    pub fn emit(&self, handler: &str) {
        let now = crate::delivery::now_ms();
        for (rule, m) in self.snapshot() {
            m.line(handler, &rule, now).emit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::RuleResult;
    use crate::failure::{Failure, FailureKind};

    fn run(decided: Decided, failures: usize) -> RuleRun {
        RuleRun {
            result: RuleResult::default(),
            failures: (0..failures)
                .map(|_| Failure {
                    rule: "r".into(),
                    route: Some("security".into()),
                    kind: FailureKind::Delivery,
                    error: "e".into(),
                })
                .collect(),
            alert: None,
            decided,
        }
    }

    #[test]
    fn each_decision_counts_where_it_belongs() {
        let runs = [
            run(Decided::Alert, 0),
            run(Decided::Alert, 2),
            run(Decided::Suppressed, 0),
            run(Decided::Duplicate, 0),
            run(Decided::ConditionFalse, 0),
        ];
        let m = count(true, &runs, Duration::from_millis(12));
        assert_eq!(
            m,
            RuleMetrics {
                events_evaluated: 5,
                alerts_sent: 1,
                suppressed: 1,
                deduplicated: 1,
                delivery_errors: 2,
                duration_ms: 12,
                scheduled_runs: Some(1),
            }
        );
        let failed = count(false, &[run(Decided::HandlerFailed, 1)], Duration::ZERO);
        assert_eq!((failed.events_evaluated, failed.delivery_errors), (0, 1));
        assert_eq!(failed.scheduled_runs, None);
    }

    #[test]
    fn records_of_one_rule_add_up() {
        let metrics = Metrics::default();
        metrics.record(
            "a",
            false,
            &[run(Decided::Alert, 0)],
            Duration::from_millis(3),
        );
        metrics.record(
            "a",
            false,
            &[run(Decided::Alert, 0)],
            Duration::from_millis(4),
        );
        metrics.record("b", true, &[run(Decided::NoEvents, 0)], Duration::ZERO);
        let all = metrics.snapshot();
        assert_eq!(all["a"].alerts_sent, 2);
        assert_eq!(all["a"].duration_ms, 7);
        assert_eq!(all["b"].scheduled_runs, Some(1));
        assert_eq!(all.len(), 2);
    }
}
