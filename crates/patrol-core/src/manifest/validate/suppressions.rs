//! A rule's `suppress` list: known-good cases, each owned and expiring.

use super::{Cx, span};
use crate::diagnostic::Diagnostic;
use crate::manifest::Suppression;
use crate::manifest::raw::{RawSuppression, Spanned};

impl Cx<'_> {
    pub(super) fn suppression(
        &mut self,
        rid: &str,
        s: &Spanned<RawSuppression>,
    ) -> Option<Suppression> {
        let raw = s.get_ref();
        let mut missing = |key: &str, example: &str| {
            self.err(
                Diagnostic::new(
                    "incomplete-suppression",
                    format!("rule `{rid}`: a suppression has no `{key}`"),
                )
                .at(span(s))
                .help(format!(
                    "every suppression needs `condition`, `owner`, `reason` and `expires`, e.g. `{key} = {example}`"
                )),
            );
        };
        let (Some(condition), Some(owner), Some(reason), Some(expires)) =
            (&raw.condition, &raw.owner, &raw.reason, &raw.expires)
        else {
            if raw.condition.is_none() {
                missing(
                    "condition",
                    "'detail.userIdentity.arn == \"arn:aws:iam::111122223333:role/ci\"'",
                );
            }
            if raw.owner.is_none() {
                missing("owner", "\"platform-team\"");
            }
            if raw.reason.is_none() {
                missing("reason", "\"CI deploys create these keys\"");
            }
            if raw.expires.is_none() {
                missing("expires", "2027-01-31");
            }
            return None;
        };
        let before = self.errors();
        if let Err(errors) = crate::condition::Condition::compile(condition.get_ref()) {
            for e in errors {
                self.err(
                    Diagnostic::new(
                        "invalid-suppression",
                        format!("rule `{rid}`: suppression condition: {e}"),
                    )
                    .at(span(condition))
                    .help("suppression conditions are CEL expressions over the event, like rule conditions"),
                );
            }
        }
        let date = expires.get_ref().to_string();
        if !crate::date::is_date(&date) {
            self.err(
                Diagnostic::new(
                    "invalid-expiry",
                    format!("rule `{rid}`: suppression expiry `{date}` is not a date"),
                )
                .at(span(expires))
                .help("write a TOML date without quotes: `expires = 2027-01-31`"),
            );
        } else if let Some(today) = &self.options.today
            && date.as_str() < today.as_str()
        {
            self.err(
                Diagnostic::new(
                    "expired-suppression",
                    format!(
                        "rule `{rid}`: the suppression owned by `{}` expired on {date}",
                        owner.get_ref()
                    ),
                )
                .at(span(expires))
                .help("remove it, or extend `expires` after checking with its owner that it is still needed"),
            );
        }
        if self.errors() > before {
            return None;
        }
        Some(Suppression {
            condition: condition.get_ref().clone(),
            owner: owner.get_ref().clone(),
            reason: reason.get_ref().clone(),
            expires: date,
        })
    }
}
