//! Which covers EventBridge would deliver an event to: the pattern matches, and a
//! read-only management event goes only to covers in the state that admits it.

use serde_json::Value;

use super::{Cover, CoverError};
use crate::event;
use crate::pattern::{Matcher, Pattern};

/// Covers compiled into one matcher.
#[derive(Debug)]
pub struct CoverMatcher {
    matcher: Matcher,
    read_only: Vec<bool>,
}

impl CoverMatcher {
    pub fn new(covers: &[Cover]) -> Result<Self, CoverError> {
        let mut patterns = Vec::with_capacity(covers.len());
        for c in covers {
            let p = Pattern::parse(&c.pattern).map_err(|e| CoverError::Unrepresentable {
                rule: c.rules.first().cloned().unwrap_or_default(),
                message: format!("cover `{}`: {e}", c.id),
            })?;
            patterns.push(p);
        }
        Ok(Self {
            matcher: Matcher::new(&patterns),
            read_only: covers.iter().map(|c| c.include_read_only).collect(),
        })
    }

    /// Indices (into the covers given to [`CoverMatcher::new`]) of the covers EventBridge
    /// would deliver this EventBridge event to, ascending.
    pub fn delivered(&self, event: &Value) -> Vec<usize> {
        let read_only = event::is_read_only_management_event(event);
        let mut hits: Vec<usize> = self
            .matcher
            .matches(event)
            .into_iter()
            .filter(|&i| !read_only || self.read_only.get(i).copied().unwrap_or(false))
            .collect();
        hits.sort_unstable();
        hits
    }
}
