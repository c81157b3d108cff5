//! The alert model: what a rule produces from an event, and how it reads in a message.
//!
//! An [`Alert`] says in one line what happened, who did it, from where, in which account
//! and region, with a link to the event and the rule's references. Sinks render it; this
//! module renders the plain text form used by SNS (email) and by the CLI, and cuts an alert
//! down to what a sink accepts ([`Alert::fit`], [`cut`]), saying so in the alert.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::condition::ConditionError;
use crate::manifest::{Rule, Severity, reference};
use crate::template::{self, TemplateError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub rule: String,
    pub severity: Severity,
    /// The rule's description.
    pub title: String,
    /// The rule's message template, rendered for this event.
    pub message: String,
    pub actor: Option<String>,
    pub source_ip: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    pub time: Option<String>,
    pub event_id: Option<String>,
    pub event_name: Option<String>,
    pub console_url: Option<String>,
    pub runbook: Option<String>,
    /// The rule's rendered dedup key, when it has `dedup`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_key: Option<String>,
    /// The rule's references (ATT&CK ids, CIS controls, links), as written.
    #[serde(default)]
    pub references: Vec<String>,
}

/// Why a rule whose pattern matched raised no alert. Never silent: callers log it and,
/// in Lambda, fail the invocation so the event is retried and then dead-lettered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Condition(#[from] ConditionError),
}

/// The template and condition context for a rule and an event.
pub fn context(rule: &Rule, event: &Value) -> Value {
    template::context(event, rule_context(rule), &rule.params)
}

/// What templates see as `rule`.
pub(crate) fn rule_context(rule: &Rule) -> Value {
    json!({
        "id": rule.id,
        "severity": rule.severity,
        "description": rule.description,
    })
}

/// Builds the alert a rule raises for an event (pattern and condition already passed).
pub fn build(rule: &Rule, event: &Value) -> Result<Alert, TemplateError> {
    build_in(rule, &std::sync::Arc::new(context(rule, event)))
}

/// The alert for the event in `ctx` (a context for `rule`: [`context`]).
pub(crate) fn build_in(rule: &Rule, ctx: &std::sync::Arc<Value>) -> Result<Alert, TemplateError> {
    let message = template::render_shared(&rule.message, ctx)?;
    let event = ctx.get("event").unwrap_or(&Value::Null);
    let s = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let fact = |name: &str| ctx.get(name).and_then(Value::as_str).map(str::to_owned);
    Ok(Alert {
        rule: rule.id.clone(),
        severity: rule.severity,
        title: rule.description.clone(),
        message,
        actor: fact("actor"),
        source_ip: fact("source_ip"),
        account: s(event.get("account")),
        region: s(event.get("region")),
        time: s(event.get("time")),
        event_id: s(event.pointer("/detail/eventID")).or_else(|| s(event.get("id"))),
        event_name: s(event.pointer("/detail/eventName")),
        console_url: fact("console_url"),
        runbook: rule.runbook.clone(),
        dedup_key: match &rule.dedup {
            Some(d) => Some(template::render_shared(&d.key, ctx)?),
            None => None,
        },
        references: rule.references.clone(),
    })
}

impl Alert {
    /// An SNS subject: at most 100 characters, no line breaks (SNS rejects both).
    pub fn subject(&self) -> String {
        let raw = format!(
            "[{}] {}: {}",
            self.severity.as_str().to_uppercase(),
            self.rule,
            self.title
        );
        let clean: String = raw
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        truncate_chars(&clean, 100)
    }

    /// The plain-text body: the one-line message first, then the facts, then the link.
    pub fn text(&self) -> String {
        let dash = "-".to_owned();
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| dash.clone());
        let mut out = format!(
            "{}\n\nRule:     {} ({})\nSeverity: {}\nActor:    {}\nSource:   {}\nAccount:  {}\nRegion:   {}\nTime:     {}\nEvent:    {} {}\n",
            self.message,
            self.rule,
            self.title,
            self.severity,
            opt(&self.actor),
            opt(&self.source_ip),
            opt(&self.account),
            opt(&self.region),
            opt(&self.time),
            opt(&self.event_name),
            opt(&self.event_id),
        );
        if let Some(url) = &self.console_url {
            out.push_str(&format!("Link:     {url}\n"));
        }
        if let Some(runbook) = &self.runbook {
            out.push_str(&format!("Runbook:  {runbook}\n"));
        }
        if !self.references.is_empty() {
            let refs: Vec<String> = self
                .references
                .iter()
                .map(|r| match reference::link(r) {
                    (text, Some(url)) if url != text => format!("{text} ({url})"),
                    (text, _) => text,
                })
                .collect();
            out.push_str(&format!("References: {}\n", refs.join(", ")));
        }
        out
    }

    /// The references with their links, where they have one
    /// ([`crate::manifest::reference`]).
    pub fn reference_links(&self) -> Vec<(String, Option<String>)> {
        self.references.iter().map(|r| reference::link(r)).collect()
    }

    /// The alert cut down so that `size` of it is at most `limit` bytes: the largest text
    /// fields are cut first, to a common length (the longest one that fits), each ending in
    /// [`note`] with the number of bytes it lost. The rule id and severity are never cut.
    /// When even empty fields do not fit, the alert with every field emptied is returned.
    pub fn fit(&self, limit: usize, size: impl Fn(&Alert) -> usize) -> Alert {
        if size(self) <= limit {
            return self.clone();
        }
        let longest = self.cuttable().map(String::len).max().unwrap_or(0);
        // The largest common cap that fits: fields shorter than it are untouched.
        let (mut lo, mut hi) = (0usize, longest);
        let mut best = self.capped(0);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            let candidate = self.capped(mid);
            if size(&candidate) <= limit {
                best = candidate;
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        best
    }

    /// The alert with every cuttable field longer than `cap` bytes cut to `cap`, plus a note.
    fn capped(&self, cap: usize) -> Alert {
        let mut out = self.clone();
        for field in out.cuttable_mut() {
            // Only where cutting makes it shorter: the note has a length of its own.
            if field.len() > cap + note(field.len()).len() {
                *field = cut_bytes(field, cap);
            }
        }
        out
    }

    fn cuttable(&self) -> impl Iterator<Item = &String> {
        [
            Some(&self.message),
            Some(&self.title),
            self.actor.as_ref(),
            self.source_ip.as_ref(),
            self.account.as_ref(),
            self.region.as_ref(),
            self.time.as_ref(),
            self.event_id.as_ref(),
            self.event_name.as_ref(),
            self.console_url.as_ref(),
            self.runbook.as_ref(),
            self.dedup_key.as_ref(),
        ]
        .into_iter()
        .flatten()
        .chain(&self.references)
    }

    fn cuttable_mut(&mut self) -> impl Iterator<Item = &mut String> {
        [
            Some(&mut self.message),
            Some(&mut self.title),
            self.actor.as_mut(),
            self.source_ip.as_mut(),
            self.account.as_mut(),
            self.region.as_mut(),
            self.time.as_mut(),
            self.event_id.as_mut(),
            self.event_name.as_mut(),
            self.console_url.as_mut(),
            self.runbook.as_mut(),
            self.dedup_key.as_mut(),
        ]
        .into_iter()
        .flatten()
        .chain(&mut self.references)
    }
}

/// What ends a value that was cut: `… (truncated: N bytes)`, N the bytes it lost.
pub fn note(bytes: usize) -> String {
    format!("… (truncated: {bytes} bytes)")
}

/// Whether `s` was cut by [`cut`], [`cut_bytes`] or [`Alert::fit`].
pub fn was_cut(s: &str) -> bool {
    s.contains("… (truncated: ") && s.ends_with(" bytes)")
}

/// `s` in at most `max` characters: as it is, or its start followed by [`note`].
pub fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut keep = max.saturating_sub(note(s.len()).chars().count());
    loop {
        let end = s.char_indices().nth(keep).map_or(s.len(), |(i, _)| i);
        let out = format!("{}{}", &s[..end], note(s.len() - end));
        if out.chars().count() <= max || keep == 0 {
            return out;
        }
        keep -= 1;
    }
}

/// `s` cut to its first `max` bytes (on a character boundary), followed by [`note`].
pub fn cut_bytes(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{}", &s[..end], note(s.len() - end))
}

fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Trigger;
    use serde_json::Map;

    fn rule() -> Rule {
        Rule {
            id: "root-console-login".into(),
            description: "The root user signed in to the AWS console".into(),
            severity: Severity::Critical,
            runbook: None,
            handler: "notify".into(),
            trigger: Trigger::Schedule {
                expression: "rate(1 day)".into(),
            },
            message: "Root console sign-in to {{ account }} from {{ source_ip }}".into(),
            condition: None,
            references: vec![],
            suppress: vec![],
            dedup: None,
            notify: vec!["security".into()],
            params: Map::new(),
            tests: vec![],
        }
    }

    #[test]
    fn builds_and_renders_an_alert() {
        let event = json!({"account": "111111111111", "region": "us-east-1", "time": "2026-11-01T08:00:00Z",
            "detail": {"eventName": "ConsoleLogin", "eventID": "e-1", "sourceIPAddress": "203.0.113.7",
                "userIdentity": {"type": "Root", "accountId": "111111111111"}}});
        let alert = build(&rule(), &event).expect("renders");
        assert_eq!(
            alert.message,
            "Root console sign-in to 111111111111 from 203.0.113.7"
        );
        insta::assert_snapshot!(alert.text());
        assert_eq!(
            alert.subject(),
            "[CRITICAL] root-console-login: The root user signed in to the AWS console"
        );
    }

    #[test]
    fn references_are_a_line_of_the_text_with_attack_links() {
        let mut r = rule();
        r.references = vec![
            "T1078.004".into(),
            "CIS-AWS-3.1".into(),
            "https://docs.aws.amazon.com/x".into(),
        ];
        let alert = build(&r, &json!({})).expect("renders");
        assert_eq!(alert.references, r.references);
        assert!(
            alert.text().ends_with("References: T1078.004 (https://attack.mitre.org/techniques/T1078/004/), CIS-AWS-3.1, https://docs.aws.amazon.com/x\n"),
            "{}",
            alert.text()
        );
    }

    #[test]
    fn fit_cuts_the_largest_fields_first_and_says_so() {
        let event = json!({"account": "1", "detail": {"eventID": "e-1", "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/x"}}});
        let mut r = rule();
        r.message = "{{ 'm' * 100000 }}".into();
        r.runbook = Some("r".repeat(5000));
        let alert = build(&r, &event).expect("renders");
        let size = |a: &Alert| a.text().len();
        let fitted = alert.fit(20_000, size);
        assert!(size(&fitted) <= 20_000, "{}", size(&fitted));
        assert!(was_cut(&fitted.message), "{}", &fitted.message[..50]);
        assert!(
            fitted.message.len() > 10_000,
            "only the largest field is cut"
        );
        assert_eq!(fitted.runbook, alert.runbook);
        let lost = alert.message.len() - fitted.message.find('…').expect("note");
        assert!(
            fitted
                .message
                .ends_with(&format!("… (truncated: {lost} bytes)")),
            "{}",
            &fitted.message[fitted.message.len() - 40..]
        );
        // Two large fields: both cut to the same length.
        let both = alert.fit(6_000, size);
        assert!(size(&both) <= 6_000);
        assert!(was_cut(&both.message) && both.runbook.as_deref().is_some_and(was_cut));
        assert_eq!(both.rule, alert.rule);
        // A fitting alert is unchanged.
        assert_eq!(alert.fit(usize::MAX, size), alert);
    }

    #[test]
    fn cut_keeps_characters_whole_and_within_the_limit() {
        assert_eq!(cut("short", 10), "short");
        let long = "é".repeat(100);
        let c = cut(&long, 40);
        assert!(c.chars().count() <= 40, "{c}");
        assert!(c.starts_with('é') && was_cut(&c), "{c}");
        let b = cut_bytes(&long, 11);
        assert!(
            b.starts_with(&"é".repeat(5)) && b.ends_with("(truncated: 190 bytes)"),
            "{b}"
        );
    }

    #[test]
    fn subject_is_capped_at_100_chars_without_newlines() {
        let mut r = rule();
        r.description = "x\n".repeat(80);
        let alert = build(&r, &json!({})).expect("renders");
        let subject = alert.subject();
        assert_eq!(subject.chars().count(), 100);
        assert!(!subject.contains('\n'));
    }
}
