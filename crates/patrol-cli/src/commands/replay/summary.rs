//! What a replay found, per rule and per day, and its two renderings: a table for people
//! and a JSON object for scripts. Summaries of separate inputs merge in any order to the
//! same result, so inputs can be read in parallel.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use patrol_core::alert::Alert;
use serde_json::{Value, json};

/// How many principals a rule's summary names.
const TOP_PRINCIPALS: usize = 3;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Inputs read (including broken ones).
    pub files: u64,
    /// Inputs that were not valid event files (reported one by one).
    pub bad_files: u64,
    /// Inputs skipped because their path's date is outside `--since`/`--until`.
    pub pruned_files: u64,
    /// Events that went through the rules.
    pub events: u64,
    /// Records or lines that were not events (reported one by one).
    pub bad_records: u64,
    /// CloudTrail records without `eventTime` or `userIdentity` (replayed all the same).
    pub incomplete_records: u64,
    /// Events whose time is outside `--since`/`--until`.
    pub outside_window: u64,
    /// Bytes read, as stored and decompressed.
    pub raw_bytes: u64,
    pub decoded_bytes: u64,
    pub rules: BTreeMap<String, RuleSummary>,
    pub days: BTreeMap<String, Day>,
    /// Alerts of rules with dedup, kept small (rule, key, time) until every input is
    /// read, because windows are decided in event-time order across files.
    pub dedup: Vec<DedupCandidate>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DedupCandidate {
    pub rule: String,
    pub key: String,
    pub time: Option<i64>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RuleSummary {
    pub severity: String,
    pub alerts: u64,
    pub suppressed: u64,
    pub failed: u64,
    /// Alerts per actor: the distinct actors and the top principals.
    pub actors: BTreeMap<String, u64>,
    pub accounts: BTreeSet<String>,
    pub regions: BTreeSet<String>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    /// Alerts left after the rule's dedup, simulated over event time (rules with dedup).
    pub after_dedup: Option<u64>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Day {
    pub events: u64,
    pub alerts: u64,
}

impl Summary {
    pub fn alerts(&self) -> u64 {
        self.rules.values().map(|r| r.alerts).sum()
    }

    /// Alerts that would have been sent: after each rule's dedup, where it has one.
    pub fn after_dedup(&self) -> u64 {
        self.rules
            .values()
            .map(|r| r.after_dedup.unwrap_or(r.alerts))
            .sum()
    }

    pub fn suppressed(&self) -> u64 {
        self.rules.values().map(|r| r.suppressed).sum()
    }

    pub fn failed(&self) -> u64 {
        self.rules.values().map(|r| r.failed).sum()
    }

    pub fn add_alert(&mut self, alert: &Alert, day: &str) {
        if let Some(key) = &alert.dedup_key {
            self.dedup.push(DedupCandidate {
                rule: alert.rule.clone(),
                key: key.clone(),
                time: alert
                    .time
                    .as_deref()
                    .and_then(patrol_core::date::unix_seconds),
            });
        }
        let r = self.rules.entry(alert.rule.clone()).or_default();
        alert.severity.as_str().clone_into(&mut r.severity);
        r.alerts += 1;
        let actor = alert.actor.as_deref().unwrap_or("-");
        *r.actors.entry(actor.to_owned()).or_default() += 1;
        if let Some(a) = &alert.account {
            r.accounts.insert(a.clone());
        }
        if let Some(g) = &alert.region {
            r.regions.insert(g.clone());
        }
        if let Some(t) = &alert.time {
            if r.first_seen.as_ref().is_none_or(|f| t < f) {
                r.first_seen = Some(t.clone());
            }
            if r.last_seen.as_ref().is_none_or(|l| t > l) {
                r.last_seen = Some(t.clone());
            }
        }
        self.days.entry(day.to_owned()).or_default().alerts += 1;
    }

    pub fn rule(&mut self, id: &str) -> &mut RuleSummary {
        self.rules.entry(id.to_owned()).or_default()
    }

    pub fn merge(&mut self, other: Summary) {
        self.files += other.files;
        self.bad_files += other.bad_files;
        self.pruned_files += other.pruned_files;
        self.events += other.events;
        self.bad_records += other.bad_records;
        self.incomplete_records += other.incomplete_records;
        self.outside_window += other.outside_window;
        self.raw_bytes += other.raw_bytes;
        self.decoded_bytes += other.decoded_bytes;
        for (id, o) in other.rules {
            let r = self.rules.entry(id).or_default();
            if r.severity.is_empty() {
                r.severity = o.severity;
            }
            r.alerts += o.alerts;
            r.suppressed += o.suppressed;
            r.failed += o.failed;
            for (actor, n) in o.actors {
                *r.actors.entry(actor).or_default() += n;
            }
            r.accounts.extend(o.accounts);
            r.regions.extend(o.regions);
            r.first_seen = pick(r.first_seen.take(), o.first_seen, |a, b| a <= b);
            r.last_seen = pick(r.last_seen.take(), o.last_seen, |a, b| a >= b);
        }
        self.dedup.extend(other.dedup);
        for (day, d) in other.days {
            let e = self.days.entry(day).or_default();
            e.events += d.events;
            e.alerts += d.alerts;
        }
    }

    /// Simulates every rule's dedup over event time, across all inputs: sets
    /// `after_dedup` for the rules `windows` names (rule id → window seconds). Alerts
    /// without a parseable time are always counted as sent, as live.
    pub fn apply_dedup(&mut self, windows: &BTreeMap<String, u64>) {
        let mut candidates = std::mem::take(&mut self.dedup);
        candidates.sort_by_key(|c| c.time);
        let mut open = patrol_core::dedup::Windows::new();
        let mut duplicates: BTreeMap<&str, u64> = BTreeMap::new();
        for c in &candidates {
            let (Some(t), Some(&w)) = (c.time, windows.get(&c.rule)) else {
                continue;
            };
            if open.decide_at(&c.rule, &c.key, t, w) == patrol_core::dedup::Decision::Duplicate {
                *duplicates.entry(c.rule.as_str()).or_default() += 1;
            }
        }
        for (id, r) in &mut self.rules {
            if windows.contains_key(id) {
                r.after_dedup = Some(r.alerts - duplicates.get(id.as_str()).copied().unwrap_or(0));
            }
        }
    }

    /// The JSON form (`--format json`).
    pub fn to_json(&self) -> Value {
        let rules: Vec<Value> = self
            .rules
            .iter()
            .map(|(id, r)| {
                json!({
                    "rule": id,
                    "severity": r.severity,
                    "alerts": r.alerts,
                    "after_dedup": r.after_dedup.unwrap_or(r.alerts),
                    "suppressed": r.suppressed,
                    "failed": r.failed,
                    "actors": r.actors.len(),
                    "accounts": r.accounts,
                    "regions": r.regions,
                    "top_principals": r.top_principals().into_iter()
                        .map(|(actor, alerts)| json!({"actor": actor, "alerts": alerts}))
                        .collect::<Vec<_>>(),
                    "first_seen": r.first_seen,
                    "last_seen": r.last_seen,
                })
            })
            .collect();
        let days: Vec<Value> = self
            .days
            .iter()
            .map(|(day, d)| json!({"day": day, "events": d.events, "alerts": d.alerts}))
            .collect();
        json!({
            "files": {"read": self.files, "bad": self.bad_files, "pruned": self.pruned_files},
            "events": {
                "replayed": self.events,
                "bad": self.bad_records,
                "incomplete": self.incomplete_records,
                "outside_window": self.outside_window,
            },
            "alerts": self.alerts(),
            "suppressed": self.suppressed(),
            "failed": self.failed(),
            "rules": rules,
            "days": days,
        })
    }

    /// The table form (`--format table`): one row per rule, then the per-day histogram.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let header = [
            "RULE",
            "SEVERITY",
            "ALERTS",
            "DEDUP",
            "SUPPR",
            "FAILED",
            "ACTORS",
            "ACCTS",
            "REGIONS",
            "FIRST SEEN",
            "LAST SEEN",
            "TOP PRINCIPALS",
        ];
        let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| (*h).to_owned()).collect()];
        for (id, r) in &self.rules {
            let top = r
                .top_principals()
                .into_iter()
                .map(|(a, n)| format!("{a} ({n})"))
                .collect::<Vec<_>>()
                .join(", ");
            rows.push(vec![
                id.clone(),
                r.severity.clone(),
                r.alerts.to_string(),
                r.after_dedup
                    .map_or_else(|| "-".to_owned(), |n| n.to_string()),
                r.suppressed.to_string(),
                r.failed.to_string(),
                r.actors.len().to_string(),
                r.accounts.len().to_string(),
                r.regions.len().to_string(),
                r.first_seen.clone().unwrap_or_else(|| "-".into()),
                r.last_seen.clone().unwrap_or_else(|| "-".into()),
                top,
            ]);
        }
        if self.rules.is_empty() {
            out.push_str("no rule matched\n");
        } else {
            write_table(&mut out, &rows, &[2, 3, 4, 5, 6, 7, 8]);
        }
        out.push('\n');
        let max = self.days.values().map(|d| d.alerts).max().unwrap_or(0);
        let mut rows = vec![vec![
            "DAY".to_owned(),
            "EVENTS".to_owned(),
            "ALERTS".to_owned(),
            String::new(),
        ]];
        for (day, d) in &self.days {
            let width = if max == 0 {
                0
            } else {
                usize::try_from((d.alerts * 40).div_ceil(max)).unwrap_or(40)
            };
            rows.push(vec![
                day.clone(),
                d.events.to_string(),
                d.alerts.to_string(),
                "#".repeat(width),
            ]);
        }
        write_table(&mut out, &rows, &[1, 2]);
        out.push('\n');
        let _ = writeln!(
            out,
            "{} alerts ({} suppressed, {} failed) from {} events in {} files",
            self.alerts(),
            self.suppressed(),
            self.failed(),
            self.events,
            self.files,
        );
        let _ = writeln!(
            out,
            "{} bad files, {} bad records, {} incomplete records, {} files pruned by date, {} events outside the window",
            self.bad_files,
            self.bad_records,
            self.incomplete_records,
            self.pruned_files,
            self.outside_window,
        );
        out
    }
}

impl RuleSummary {
    /// The actors with the most alerts, most first (ties by name).
    pub fn top_principals(&self) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> = self.actors.iter().map(|(a, n)| (a.as_str(), *n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v.truncate(TOP_PRINCIPALS);
        v
    }
}

fn pick(
    a: Option<String>,
    b: Option<String>,
    keep_a: impl Fn(&str, &str) -> bool,
) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if keep_a(&a, &b) { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// Columns padded to their widest cell; `right` columns (numbers) aligned right; the
/// last column is never padded.
fn write_table(out: &mut String, rows: &[Vec<String>], right: &[usize]) {
    let cols = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c > 0 {
                line.push_str("  ");
            }
            let pad = widths[c].saturating_sub(cell.chars().count());
            if right.contains(&c) {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else if c + 1 == cols {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use patrol_core::manifest::Severity;

    fn alert(rule: &str, actor: &str, time: &str) -> Alert {
        Alert {
            rule: rule.into(),
            severity: Severity::High,
            title: String::new(),
            message: String::new(),
            actor: Some(actor.into()),
            source_ip: None,
            account: Some("111122223333".into()),
            region: Some("us-east-1".into()),
            time: Some(time.into()),
            event_id: None,
            event_name: None,
            console_url: None,
            runbook: None,
            dedup_key: None,
            references: vec![],
        }
    }

    #[test]
    fn merging_in_any_order_gives_the_same_summary() {
        let mut a = Summary::default();
        a.add_alert(&alert("r", "alice", "2023-07-10T10:00:00Z"), "2023-07-10");
        let mut b = Summary::default();
        b.add_alert(&alert("r", "bob", "2023-07-09T10:00:00Z"), "2023-07-09");
        b.add_alert(&alert("r", "bob", "2023-07-11T10:00:00Z"), "2023-07-11");
        let mut ab = a.clone();
        ab.merge(b.clone());
        let mut ba = b;
        ba.merge(a);
        assert_eq!(ab, ba);
        let r = &ab.rules["r"];
        assert_eq!(r.first_seen.as_deref(), Some("2023-07-09T10:00:00Z"));
        assert_eq!(r.last_seen.as_deref(), Some("2023-07-11T10:00:00Z"));
        assert_eq!(r.top_principals(), vec![("bob", 2), ("alice", 1)]);
    }

    #[test]
    fn dedup_is_simulated_in_event_time_across_inputs() {
        let keyed = |actor: &str, time: &str| {
            let mut a = alert("noisy", actor, time);
            a.dedup_key = Some(actor.to_owned());
            a
        };
        // Two inputs read in the "wrong" order: windows still follow event time.
        let mut late = Summary::default();
        late.add_alert(&keyed("alice", "2023-07-10T10:50:00Z"), "2023-07-10");
        late.add_alert(&keyed("alice", "2023-07-10T11:05:00Z"), "2023-07-10");
        late.add_alert(&keyed("bob", "2023-07-10T10:55:00Z"), "2023-07-10");
        let mut early = Summary::default();
        early.add_alert(&keyed("alice", "2023-07-10T10:00:00Z"), "2023-07-10");
        early.add_alert(&keyed("alice", "2023-07-10T10:30:00Z"), "2023-07-10");
        let mut no_time = keyed("alice", "not a time");
        no_time.time = None;
        early.add_alert(&no_time, "2023-07-10");
        early.add_alert(
            &alert("plain", "carol", "2023-07-10T10:00:00Z"),
            "2023-07-10",
        );
        let mut total = Summary::default();
        total.merge(late);
        total.merge(early);
        total.apply_dedup(&BTreeMap::from([("noisy".to_owned(), 3600)]));
        let noisy = &total.rules["noisy"];
        assert_eq!(noisy.alerts, 6);
        // alice 10:00 sent, 10:30 and 10:50 dupes, 11:05 opens a new window; bob sent;
        // the alert without a time is always sent.
        assert_eq!(noisy.after_dedup, Some(4));
        assert_eq!(total.rules["plain"].after_dedup, None);
        assert_eq!(total.after_dedup(), 5);
        assert_eq!(total.to_json()["rules"][0]["after_dedup"], 4);
    }
}
