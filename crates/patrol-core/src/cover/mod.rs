//! Covers: a few EventBridge patterns that together let through every event some rule
//! could match, for the forwarding rules of member accounts (over every event rule) and
//! the central feeds of each handler (over its rules). Each event rule sits in exactly one
//! cover of a list, and that cover matches every event EventBridge would deliver to the
//! rule (read-only management events included: such rules get covers of their own, in
//! state `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`).
//!
//! Rule pattern → positive shapes ([`generalize`], over [`shape`]) → groups by service,
//! packed into covers within EventBridge's limits ([`group`]), merged ([`merge`]) and
//! written as patterns ([`render`]); ids from the group's key ([`id`]). [`CoverMatcher`]
//! says which covers would receive an event, for `patrol covers` and the tests.
//!
//! Every cover pattern is at most [`MAX_COVER_CHARS`] characters, never uses `wildcard`
//! (30 per bus), parses with [`Pattern::parse`], and uses `$or` only once.
//!
//! Not here: deploying them (the CDK app reads them from `patrol manifest --json`).

mod deliver;
mod generalize;
mod group;
mod id;
mod merge;
#[cfg(test)]
mod proptests;
mod render;
mod shape;
#[cfg(test)]
mod synthetic;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::manifest::{Manifest, Rule, Trigger};
use crate::pattern::{Pattern, PatternError};

pub use deliver::CoverMatcher;
pub use id::MAX_ID_CHARS;

/// EventBridge's default quota on a pattern's size, in characters.
pub const MAX_COVER_CHARS: usize = 2048;

/// One EventBridge rule's worth of event rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cover {
    /// Stable, `[a-z0-9-]`, at most [`MAX_ID_CHARS`]; unique within its list.
    pub id: String,
    /// An EventBridge pattern matching every event any of `rules` matches.
    pub pattern: Value,
    /// The rules want read-only management events (EventBridge state
    /// `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`); all or none of them do.
    pub include_read_only: bool,
    /// Rule ids, sorted.
    pub rules: Vec<String>,
}

impl Cover {
    /// The EventBridge rule state the cover needs.
    pub fn state(&self) -> &'static str {
        if self.include_read_only {
            "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
        } else {
            "ENABLED"
        }
    }
}

/// The two lists a deployment needs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Covers {
    /// Over every event rule: what member accounts forward to the central bus.
    pub forwarding: Vec<Cover>,
    /// Per handler, over its event rules: the central bus's rules feeding its function.
    pub feeds: BTreeMap<String, Vec<Cover>>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CoverError {
    #[error("rule `{rule}`: its pattern is invalid: {error}")]
    InvalidPattern { rule: String, error: PatternError },
    #[error("rule `{rule}`: no cover pattern EventBridge accepts could be built for it: {message}")]
    Unrepresentable { rule: String, message: String },
    #[error("two groups of rules got the same cover id `{id}`")]
    DuplicateId { id: String },
}

/// The covers of the event-triggered rules among `rules` (others are skipped).
pub fn covers<'a>(rules: impl IntoIterator<Item = &'a Rule>) -> Result<Vec<Cover>, CoverError> {
    let mut prepared = Vec::new();
    for rule in rules {
        let Trigger::Event {
            pattern,
            include_read_only,
        } = &rule.trigger
        else {
            continue;
        };
        let shapes = generalize::rule_shapes(pattern, MAX_COVER_CHARS).map_err(|error| {
            CoverError::InvalidPattern {
                rule: rule.id.clone(),
                error,
            }
        })?;
        prepared.push(group::Prepared {
            rule: rule.id.clone(),
            read_only: *include_read_only,
            shapes,
        });
    }
    group::build(prepared, MAX_COVER_CHARS)
}

/// The forwarding covers and, per handler with event rules, its feeds.
pub fn manifest_covers(manifest: &Manifest) -> Result<Covers, CoverError> {
    let forwarding = covers(&manifest.rules)?;
    let mut by_handler: BTreeMap<&str, Vec<&Rule>> = BTreeMap::new();
    for rule in &manifest.rules {
        if matches!(rule.trigger, Trigger::Event { .. }) {
            by_handler.entry(&rule.handler).or_default().push(rule);
        }
    }
    let mut feeds = BTreeMap::new();
    for (handler, rules) in by_handler {
        feeds.insert(handler.to_owned(), covers(rules)?);
    }
    Ok(Covers { forwarding, feeds })
}

/// Whether a pattern uses `wildcard` anywhere (covers never do).
fn uses_wildcard(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, v)| k == "wildcard" || uses_wildcard(v)),
        Value::Array(a) => a.iter().any(uses_wildcard),
        _ => false,
    }
}

/// Checks the limits every cover keeps (for tests and callers that build covers by hand):
/// size, no `wildcard`, a valid pattern, a valid id.
pub fn check(cover: &Cover) -> Result<(), String> {
    let chars = cover.pattern.to_string().chars().count();
    if chars > MAX_COVER_CHARS {
        return Err(format!("cover `{}` has {chars} characters", cover.id));
    }
    if uses_wildcard(&cover.pattern) {
        return Err(format!("cover `{}` uses `wildcard`", cover.id));
    }
    Pattern::parse(&cover.pattern).map_err(|e| format!("cover `{}`: {e}", cover.id))?;
    let id_ok = !cover.id.is_empty()
        && cover.id.len() <= MAX_ID_CHARS
        && cover
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !id_ok {
        return Err(format!("cover id `{}` is not [a-z0-9-]{{1,32}}", cover.id));
    }
    Ok(())
}
