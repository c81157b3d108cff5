//! Compiler-style diagnostics for problems in a manifest: a stable kebab-case code, the
//! file, line and column, the rule it concerns, a message and a hint on how to fix it.
//! Errors make the manifest invalid; warnings are printed and change nothing else.
//!
//! Spans are byte ranges into the manifest's text; line and column are computed when the
//! diagnostic is rendered, so the parser only has to keep spans.

use std::fmt::Write as _;
use std::ops::Range;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// The manifest is invalid: nothing runs or deploys until it is fixed.
    Error,
    /// Worth fixing (before deploying, say), but the manifest is valid.
    Warning,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
        }
    }
}

/// One problem found in a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub level: Level,
    /// Stable, kebab-case; documented in the README and safe to grep for.
    pub code: &'static str,
    pub message: String,
    /// Byte range in the manifest's text, when the problem has a place.
    pub span: Option<Range<usize>>,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error: the manifest is invalid.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            level: Level::Error,
            code,
            message: message.into(),
            span: None,
            help: None,
        }
    }

    /// A warning: printed, but the manifest stays valid.
    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            level: Level::Warning,
            ..Self::new(code, message)
        }
    }

    pub fn is_error(&self) -> bool {
        self.level == Level::Error
    }

    #[must_use]
    pub fn at(mut self, span: Range<usize>) -> Self {
        self.span = Some(span);
        self
    }

    #[must_use]
    pub fn at_opt(mut self, span: Option<Range<usize>>) -> Self {
        self.span = span;
        self
    }

    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Renders the diagnostic as
    /// ```text
    /// error[unknown-route]: rule `x` sends to unknown route `secuirty`
    ///   --> rules.toml:14:10
    ///    = help: known routes: security
    /// ```
    pub fn render(&self, file: &str, source: &str) -> String {
        let mut out = format!("{}[{}]: {}\n", self.level.as_str(), self.code, self.message);
        match &self.span {
            Some(span) => {
                let (line, col) = line_col(source, span.start);
                let _ = writeln!(out, "  --> {file}:{line}:{col}");
                if let Some(text) = source.lines().nth(line - 1) {
                    let width = line.to_string().len();
                    let pad = " ".repeat(width);
                    let caret_len = span
                        .end
                        .saturating_sub(span.start)
                        .clamp(1, text.chars().count().saturating_sub(col - 1).max(1));
                    let _ = writeln!(out, "{pad} |");
                    let _ = writeln!(out, "{line} | {text}");
                    let _ = writeln!(
                        out,
                        "{pad} | {}{}",
                        " ".repeat(col - 1),
                        "^".repeat(caret_len)
                    );
                }
            }
            None => {
                let _ = writeln!(out, "  --> {file}");
            }
        }
        if let Some(help) = &self.help {
            let _ = writeln!(out, "   = help: {help}");
        }
        out
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(source, offset.min(source.len()));
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = source[line_start..offset].chars().count() + 1;
    (line, col)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Renders every diagnostic, then a count line: `rules.toml: 2 errors found`,
/// `rules.toml: 1 error and 3 warnings found`, `rules.toml: 3 warnings found`.
pub fn render_all(diagnostics: &[Diagnostic], file: &str, source: &str) -> String {
    let mut out = String::new();
    for d in diagnostics {
        out.push_str(&d.render(file, source));
        out.push('\n');
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    let _ = writeln!(out, "{file}: {} found", count_line(errors, warnings));
    out
}

/// `2 errors`, `1 error and 3 warnings`, `3 warnings` (errors are always named when there
/// are no warnings, so a clean list still reads `0 errors`).
pub fn count_line(errors: usize, warnings: usize) -> String {
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    match (errors, warnings) {
        (e, 0) => plural(e, "error"),
        (0, w) => plural(w, "warning"),
        (e, w) => format!("{} and {}", plural(e, "error"), plural(w, "warning")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let src = "a = 1\nbé = 2\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        // 'é' is two bytes but one column
        assert_eq!(line_col(src, 9), (2, 3));
        assert_eq!(line_col(src, 999), (3, 1));
    }

    #[test]
    fn renders_code_place_and_help() {
        let src = "[rules.x]\nnotify = [\"secuirty\"]\n";
        let d = Diagnostic::new(
            "unknown-route",
            "rule `x` sends to unknown route `secuirty`",
        )
        .at(20..30)
        .help("known routes: security");
        insta::assert_snapshot!(d.render("rules.toml", src), @r#"
        error[unknown-route]: rule `x` sends to unknown route `secuirty`
          --> rules.toml:2:11
          |
        2 | notify = ["secuirty"]
          |           ^^^^^^^^^^
           = help: known routes: security
        "#);
    }

    #[test]
    fn warnings_render_as_warnings_and_are_counted_apart() {
        let src = "[deploy]\noperators = []\n";
        let w = Diagnostic::warning("no-operators", "no one hears failure alarms")
            .at(21..23)
            .help("add `operators = [\"secops@example.com\"]`");
        assert!(!w.is_error());
        insta::assert_snapshot!(render_all(&[w], "rules.toml", src), @r#"
        warning[no-operators]: no one hears failure alarms
          --> rules.toml:2:13
          |
        2 | operators = []
          |             ^^
           = help: add `operators = ["secops@example.com"]`

        rules.toml: 1 warning found
        "#);
        assert_eq!(count_line(2, 0), "2 errors");
        assert_eq!(count_line(1, 3), "1 error and 3 warnings");
        assert_eq!(count_line(0, 0), "0 errors");
    }
}
