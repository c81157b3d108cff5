//! A rule's `references`: what the rule detects in the words of ATT&CK and the CIS AWS
//! Foundations Benchmark, or a page about it. Checked for shape when the manifest is
//! validated ([`Reference::parse`]) and shown in every alert, as links where the sink's format
//! allows ([`Reference::url`]).

/// One reference, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// An ATT&CK technique or sub-technique: `T1078`, `T1078.004`.
    Technique { id: String, sub: Option<String> },
    /// An ATT&CK tactic: `TA0005`.
    Tactic(String),
    /// A CIS AWS Foundations Benchmark control: `CIS-AWS-3.1` (its number is kept: `3.1`).
    Cis(String),
    /// An https page.
    Url(String),
}

/// Why a string is not a reference, and how to write it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceError {
    pub message: String,
    pub help: String,
}

const FORMS: &str = "write an ATT&CK technique (`T1078`, `T1078.004`) or tactic (`TA0005`), a CIS AWS Foundations control (`CIS-AWS-3.1`), or an https:// link";

fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

impl Reference {
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        let err = |message: String, help: String| Err(ReferenceError { message, help });
        if let Some(rest) = s.strip_prefix("TA") {
            if digits(rest, 4) {
                return Ok(Reference::Tactic(s.to_owned()));
            }
        } else if let Some(rest) = s.strip_prefix('T') {
            let (id, sub) = match rest.split_once('.') {
                Some((id, sub)) => (id, Some(sub)),
                None => (rest, None),
            };
            if digits(id, 4) && sub.is_none_or(|s| digits(s, 3)) {
                return Ok(Reference::Technique {
                    id: format!("T{id}"),
                    sub: sub.map(str::to_owned),
                });
            }
        }
        if let Some(number) = s.strip_prefix("CIS-AWS-") {
            let parts: Vec<&str> = number.split('.').collect();
            if (2..=3).contains(&parts.len())
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
            {
                return Ok(Reference::Cis(number.to_owned()));
            }
            return err(
                format!("`{s}` is not a CIS control id"),
                "write the control's number after `CIS-AWS-`, e.g. `CIS-AWS-3.1` or `CIS-AWS-2.1.1`"
                    .to_owned(),
            );
        }
        if let Some(rest) = s.strip_prefix("https://") {
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            let bad_char = s.chars().find(|c| {
                c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '|' | '"' | '`')
            });
            if let Some(c) = bad_char {
                return err(
                    format!("link `{s}` contains {c:?}"),
                    "percent-encode it (a space is `%20`): the link is shown in Slack, PagerDuty and email".to_owned(),
                );
            }
            if host.is_empty() || host.contains('@') || !host.contains('.') {
                return err(
                    format!("`{s}` is not a link to a web page"),
                    "write the whole address, e.g. `https://docs.aws.amazon.com/...`".to_owned(),
                );
            }
            return Ok(Reference::Url(s.to_owned()));
        }
        err(format!("`{s}` is not a reference Patrol knows"), hint(s))
    }

    /// Where the reference is read: ATT&CK's page for techniques and tactics, the link
    /// itself for URLs; `None` for CIS controls (the benchmark is a document behind a
    /// sign-in, not a page per control).
    pub fn url(&self) -> Option<String> {
        match self {
            Reference::Technique { id, sub: None } => {
                Some(format!("https://attack.mitre.org/techniques/{id}/"))
            }
            Reference::Technique { id, sub: Some(sub) } => {
                Some(format!("https://attack.mitre.org/techniques/{id}/{sub}/"))
            }
            Reference::Tactic(id) => Some(format!("https://attack.mitre.org/tactics/{id}/")),
            Reference::Cis(_) => None,
            Reference::Url(u) => Some(u.clone()),
        }
    }
}

/// A reference as an alert shows it: its text and, where it has one, its link. A string
/// that is not a reference (only possible for a manifest that skipped validation) is shown
/// as text.
pub fn link(s: &str) -> (String, Option<String>) {
    (s.to_owned(), Reference::parse(s).ok().and_then(|r| r.url()))
}

/// How to write what was probably meant.
fn hint(s: &str) -> String {
    let upper = s.trim().to_ascii_uppercase();
    if upper != s && Reference::parse(&upper).is_ok() {
        return format!("write it as `{upper}`");
    }
    if let Some(dotted) = Some(upper.replacen('/', ".", 1)).filter(|d| d != &upper)
        && matches!(Reference::parse(&dotted), Ok(Reference::Technique { .. }))
    {
        return format!("write a sub-technique with a dot: `{dotted}`");
    }
    if s.starts_with("http://") {
        return format!("use https: `{}`", s.replacen("http://", "https://", 1));
    }
    let cis = upper
        .trim_start_matches("CIS")
        .trim_start_matches([' ', '-', '_'])
        .trim_start_matches("AWS")
        .trim_start_matches([' ', '-', '_'])
        .trim_start_matches("CONTROL")
        .trim_start_matches([' ', '-', '_']);
    if upper.starts_with("CIS") && Reference::parse(&format!("CIS-AWS-{cis}")).is_ok() {
        return format!("write CIS controls as `CIS-AWS-{cis}`");
    }
    if upper.starts_with('T') && upper.len() >= 5 {
        return format!(
            "ATT&CK techniques are `T` and 4 digits, sub-techniques add `.` and 3 digits (`T1078.004`), tactics are `TA` and 4 digits; {FORMS}"
        );
    }
    FORMS.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_each_kind() {
        assert_eq!(
            Reference::parse("T1078.004").map(|r| r.url()),
            Ok(Some(
                "https://attack.mitre.org/techniques/T1078/004/".to_owned()
            ))
        );
        assert_eq!(
            Reference::parse("T1562").map(|r| r.url()),
            Ok(Some(
                "https://attack.mitre.org/techniques/T1562/".to_owned()
            ))
        );
        assert_eq!(
            Reference::parse("TA0005").map(|r| r.url()),
            Ok(Some("https://attack.mitre.org/tactics/TA0005/".to_owned()))
        );
        assert_eq!(
            Reference::parse("CIS-AWS-3.1"),
            Ok(Reference::Cis("3.1".to_owned()))
        );
        assert_eq!(
            Reference::parse("CIS-AWS-2.1.1"),
            Ok(Reference::Cis("2.1.1".to_owned()))
        );
        let url =
            "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-concepts.html#x";
        assert_eq!(
            Reference::parse(url).map(|r| r.url()),
            Ok(Some(url.to_owned()))
        );
    }

    #[test]
    fn rejects_near_misses_with_a_fix() {
        for (bad, help) in [
            ("t1078", "write it as `T1078`"),
            ("T1078/004", "`T1078.004`"),
            ("T1078.04", "sub-techniques add `.` and 3 digits"),
            ("T107", "write an ATT&CK technique"),
            ("CIS 3.1", "`CIS-AWS-3.1`"),
            ("CIS-3.1", "`CIS-AWS-3.1`"),
            ("CIS-AWS-3", "CIS-AWS-3.1"),
            ("http://example.com/x", "`https://example.com/x`"),
            ("https://exa mple.com", "percent-encode"),
            ("https://localhost", "the whole address"),
            ("https://user@example.com/", "the whole address"),
            ("see the runbook", "write an ATT&CK technique"),
            ("", "write an ATT&CK technique"),
        ] {
            match Reference::parse(bad) {
                Ok(r) => panic!("{bad:?} accepted as {r:?}"),
                Err(e) => assert!(e.help.contains(help), "{bad:?}: {e:?}"),
            }
        }
    }

    #[test]
    fn links_are_shown_with_their_text() {
        assert_eq!(
            link("T1098.001"),
            (
                "T1098.001".to_owned(),
                Some("https://attack.mitre.org/techniques/T1098/001/".to_owned())
            )
        );
        assert_eq!(link("CIS-AWS-1.7"), ("CIS-AWS-1.7".to_owned(), None));
        assert_eq!(link("not one"), ("not one".to_owned(), None));
    }
}
