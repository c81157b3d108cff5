//! Alert deduplication over event time, for offline runs (`patrol replay`, `patrol test`).
//!
//! A rule with `dedup = { key, window }` sends the first alert for a rendered key, then
//! counts (does not send) alerts with the same key until `window` seconds after that
//! first alert's event time; the next alert after the window opens a new one. The live
//! path keeps the same windows in DynamoDB (a conditional write per alert), keyed by
//! `rule id` + key; this module is the same decision made in memory, in event order.
//!
//! Alerts whose event has no parseable time are never deduplicated (they are sent): a
//! missing timestamp must not hide an alert. Nor are alerts whose key has a part that
//! renders empty on their event ([`empty_key_part`]): with `"{{ account }}/{{ actor }}"`
//! an event without an actor would share one window with every other such event, whoever
//! did it.

use std::collections::HashMap;

use serde_json::Value;

use crate::alert::Alert;
use crate::date;

/// The `{{ … }}` expressions of a template, as written (whitespace control marks removed).
fn expressions(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            break;
        };
        let expr = after[..end]
            .trim_start_matches(['-', '+'])
            .trim_end_matches(['-', '+'])
            .trim();
        if !expr.is_empty() {
            out.push(expr);
        }
        rest = &after[end + 2..];
    }
    out
}

/// The first part (`{{ … }}` expression) of a dedup key template that renders empty, or
/// fails to render, in `ctx` (the rule's context for the event,
/// [`crate::alert::context`]); `None` when every part has a value. A key with such a
/// part must not be deduplicated: it would lump unrelated events together.
pub fn empty_key_part(key: &str, ctx: &Value) -> Option<String> {
    expressions(key).into_iter().find_map(|expr| {
        // A fact Patrol could not derive (`actor` of an event without an identity) is
        // `none`, which renders as the text "none": asked as a test, not by its text.
        let probe = format!(
            "{{% if ({expr}) is undefined or ({expr}) is none or (({expr}) | string | trim) == \"\" %}}empty{{% endif %}}"
        );
        match crate::template::render(&probe, ctx) {
            Ok(answer) if answer.is_empty() => None,
            _ => Some(expr.to_owned()),
        }
    })
}

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
            alert.dedup_key.as_deref().filter(|k| !k.trim().is_empty()),
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
            references: vec![],
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
    fn key_parts_that_render_empty_are_named() {
        let ctx = serde_json::json!({"actor": null, "event": {"account": "111111111111",
            "detail": {"userIdentity": {"userName": ""}}}});
        assert_eq!(empty_key_part("{{ account }}", &ctx), None);
        assert_eq!(
            empty_key_part("{{ account }}/{{ actor }}", &ctx),
            Some("actor".to_owned())
        );
        assert_eq!(
            empty_key_part("{{- account -}}:{{ detail.userIdentity.userName }}", &ctx),
            Some("detail.userIdentity.userName".to_owned())
        );
        assert_eq!(
            empty_key_part("{{ detail.missing.field }}", &ctx),
            Some("detail.missing.field".to_owned())
        );
        assert_eq!(empty_key_part("fixed", &ctx), None);
    }

    #[test]
    fn an_empty_key_is_always_sent() {
        let mut w = Windows::new();
        for _ in 0..2 {
            assert_eq!(
                w.decide(&alert("r", Some(" "), Some("2026-11-22T10:00:00Z")), 60),
                Decision::Send
            );
        }
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
