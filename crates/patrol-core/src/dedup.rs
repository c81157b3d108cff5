//! Alert deduplication over event time, for offline runs (`patrol replay`, `patrol test`).
//!
//! A rule with `dedup = { key, window }` sends the first alert for a rendered key, then
//! counts (does not send) alerts with the same key until `window` seconds after that
//! first alert's event time; the next alert after the window opens a new one. The live
//! path keeps the same windows in DynamoDB (a conditional write per alert), keyed by
//! `rule id` + key; this module is the same decision made in memory, in event order.
//!
//! Alerts whose event has no parseable time are never deduplicated (they are sent): a
//! missing timestamp must not hide an alert.

use std::collections::HashMap;

use crate::alert::Alert;
use crate::date;

/// What dedup decided for one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Send it (first in its window, or the rule has no dedup).
    Send,
    /// Counted against an open window; not sent.
    Duplicate,
}

/// Open windows by (rule id, key): the event time the window ends (exclusive).
#[derive(Debug, Default)]
pub struct Windows {
    open: HashMap<(String, String), i64>,
}

impl Windows {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decides for an alert built by a rule whose `dedup` window is `window_seconds`
    /// (the alert carries the rendered key in `dedup_key`).
    pub fn decide(&mut self, alert: &Alert, window_seconds: u64) -> Decision {
        let (Some(key), Some(t)) = (
            alert.dedup_key.as_deref(),
            alert.time.as_deref().and_then(date::unix_seconds),
        ) else {
            return Decision::Send;
        };
        self.decide_at(&alert.rule, key, t, window_seconds)
    }

    /// The same decision from its parts: rule id, rendered key, event time (Unix seconds).
    /// Calls must come in event-time order.
    pub fn decide_at(&mut self, rule: &str, key: &str, t: i64, window_seconds: u64) -> Decision {
        let window = i64::try_from(window_seconds).unwrap_or(i64::MAX);
        let slot = (rule.to_owned(), key.to_owned());
        match self.open.get(&slot) {
            Some(&end) if t < end => Decision::Duplicate,
            _ => {
                self.open.insert(slot, t.saturating_add(window));
                Decision::Send
            }
        }
    }

    /// Drops windows that ended before `now` (event time), bounding memory on long
    /// replays whose events come roughly in time order.
    pub fn expire_before(&mut self, now: i64) {
        self.open.retain(|_, end| *end > now);
    }

    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Severity;

    fn alert(rule: &str, key: Option<&str>, time: Option<&str>) -> Alert {
        Alert {
            rule: rule.into(),
            severity: Severity::High,
            title: String::new(),
            message: String::new(),
            actor: None,
            source_ip: None,
            account: None,
            region: None,
            time: time.map(str::to_owned),
            event_id: None,
            event_name: None,
            console_url: None,
            runbook: None,
            dedup_key: key.map(str::to_owned),
        }
    }

    #[test]
    fn one_alert_per_key_per_window() {
        let mut w = Windows::new();
        let at = |t: &str| format!("2026-11-22T{t}Z");
        let d = |w: &mut Windows, rule: &str, key: &str, t: &str| {
            w.decide(&alert(rule, Some(key), Some(&at(t))), 3600)
        };
        assert_eq!(d(&mut w, "r", "alice", "10:00:00"), Decision::Send);
        assert_eq!(d(&mut w, "r", "alice", "10:30:00"), Decision::Duplicate);
        assert_eq!(d(&mut w, "r", "bob", "10:30:00"), Decision::Send);
        assert_eq!(d(&mut w, "other", "alice", "10:30:00"), Decision::Send);
        // The window is measured from the first alert, not extended by duplicates.
        assert_eq!(d(&mut w, "r", "alice", "10:59:59"), Decision::Duplicate);
        assert_eq!(d(&mut w, "r", "alice", "11:00:00"), Decision::Send);
        assert_eq!(d(&mut w, "r", "alice", "11:30:00"), Decision::Duplicate);
        w.expire_before(1_000_000_000_000);
        assert!(w.is_empty());
    }

    #[test]
    fn no_key_or_no_time_is_always_sent() {
        let mut w = Windows::new();
        for _ in 0..3 {
            assert_eq!(
                w.decide(&alert("r", None, Some("2026-11-22T10:00:00Z")), 60),
                Decision::Send
            );
            assert_eq!(w.decide(&alert("r", Some("k"), None), 60), Decision::Send);
            assert_eq!(
                w.decide(&alert("r", Some("k"), Some("yesterday")), 60),
                Decision::Send
            );
        }
    }
}
