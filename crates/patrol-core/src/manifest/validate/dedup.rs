//! A rule's `dedup` table: the key template and the window.

use super::{Cx, span};
use crate::diagnostic::Diagnostic;
use crate::manifest::Dedup;
use crate::manifest::raw::{RawDedup, Spanned};
use crate::template;

impl Cx<'_> {
    pub(super) fn dedup(&mut self, rid: &str, d: &Spanned<RawDedup>) -> Option<Dedup> {
        let raw = d.get_ref();
        let before = self.errors();
        let key = match &raw.key {
            Some(k) => {
                for e in template::check(k.get_ref()) {
                    self.err(
                        Diagnostic::new("invalid-dedup-key", format!("rule `{rid}`: dedup key: {e}"))
                            .at(span(k))
                            .help(format!(
                                "the dedup key is a template like the message, e.g. `key = \"{{{{ actor }}}}\"`; it can use: {}",
                                template::KNOWN_VARIABLES.join(", ")
                            )),
                    );
                }
                Some(k.get_ref().clone())
            }
            None => {
                self.err(
                    Diagnostic::new("missing-key", format!("rule `{rid}`: `dedup` has no `key`"))
                        .at(span(d))
                        .help("add `key = \"{{ actor }}\"`: alerts with the same rendered key within the window are sent once"),
                );
                None
            }
        };
        let window_seconds = match &raw.window {
            Some(w) => match parse_window(w.get_ref()) {
                Ok(secs) => Some(secs),
                Err(msg) => {
                    self.err(
                        Diagnostic::new("invalid-dedup-window", format!("rule `{rid}`: {msg}"))
                            .at(span(w))
                            .help("write a window as a number and a unit: `30s`, `15m`, `1h`, `1d` (at most 365d)"),
                    );
                    None
                }
            },
            None => {
                self.err(
                    Diagnostic::new(
                        "missing-key",
                        format!("rule `{rid}`: `dedup` has no `window`"),
                    )
                    .at(span(d))
                    .help("add `window = \"1h\"`"),
                );
                None
            }
        };
        if self.errors() > before {
            return None;
        }
        Some(Dedup {
            key: key?,
            window_seconds: window_seconds?,
        })
    }
}

/// `30s`, `15m`, `1h`, `1d` → seconds; at least 1 second, at most 365 days (an audit's
/// alert-once window is a month or more; the state table's TTL removes old windows).
/// The longest dedup window.
pub const MAX_WINDOW_DAYS: u64 = 365;

pub fn parse_window(s: &str) -> Result<u64, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("dedup window `{s}` does not start with a whole number"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("dedup window `{s}` has no unit (s, m, h or d)")),
    };
    let secs = n.saturating_mul(mult);
    if secs == 0 || secs > MAX_WINDOW_DAYS * 86_400 {
        return Err(format!(
            "dedup window `{s}` must be between 1s and {MAX_WINDOW_DAYS}d"
        ));
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_windows_parse() {
        assert_eq!(parse_window("30s"), Ok(30));
        assert_eq!(parse_window("15m"), Ok(900));
        assert_eq!(parse_window("7d"), Ok(604_800));
        for bad in [
            "",
            "0s",
            "366d",
            "1w",
            "h",
            "1.5h",
            "-1h",
            "99999999999999999999d",
        ] {
            assert!(parse_window(bad).is_err(), "{bad}");
        }
    }
}
