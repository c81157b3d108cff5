//! A rule's `references`: ATT&CK technique and tactic ids, CIS AWS Foundations controls and
//! https links ([`crate::manifest::reference::Reference`]), each once.

use std::collections::BTreeSet;

use super::{Cx, span};
use crate::diagnostic::Diagnostic;
use crate::manifest::raw::Str;
use crate::manifest::reference::Reference;

impl Cx<'_> {
    pub(super) fn references(&mut self, rid: &str, list: Option<&Vec<Str>>) -> Vec<String> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for s in list.into_iter().flatten() {
            let text = s.get_ref();
            if let Err(e) = Reference::parse(text) {
                self.err(
                    Diagnostic::new("invalid-reference", format!("rule `{rid}`: {}", e.message))
                        .at(span(s))
                        .help(e.help),
                );
                continue;
            }
            if !seen.insert(text.as_str()) {
                self.err(
                    Diagnostic::new(
                        "duplicate-reference",
                        format!("rule `{rid}` lists `{text}` twice in `references`"),
                    )
                    .at(span(s))
                    .help("remove the second one"),
                );
                continue;
            }
            out.push(text.clone());
        }
        out
    }
}
