//! `patrol match`: run EventBridge patterns over NDJSON events, offline, exactly as
//! EventBridge would match them.
//!
//! ```text
//! patrol match --patterns PATTERNS.jsonl [--skip-invalid] EVENTS.ndjson   (`-` = stdin)
//! ```
//! - PATTERNS.jsonl: one `{"name": "...", "pattern": <object, or a string holding the JSON>}`
//!   per line (blank lines ignored).
//! - Output: one line per event, in order: a JSON array of the names of the matching
//!   patterns, sorted (`[]` for none); for a line that is not a JSON object,
//!   `{"error": "..."}`, and matching goes on. Blank event lines are skipped.
//! - A rejected pattern prints `NAME: reason` on stderr; without `--skip-invalid` the
//!   command then exits 1 before matching anything.
//!
//! Exit codes: 0 ok, 1 a pattern was rejected (without `--skip-invalid`), 2 usage or I/O
//! error (including a PATTERNS line that is not `{"name", "pattern"}`).

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use patrol_core::pattern::{Matcher, Pattern, PatternError};

#[derive(Debug, clap::Args)]
pub struct MatchArgs {
    /// Patterns to match, one `{"name": ..., "pattern": ...}` per line (`-` = stdin).
    #[arg(long, value_name = "PATTERNS.jsonl")]
    pub patterns: PathBuf,
    /// Report rejected patterns on stderr and match with the valid ones instead of exiting 1.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Events, one JSON object per line (`-` = stdin).
    #[arg(value_name = "EVENTS.ndjson")]
    pub events: PathBuf,
}

/// One line of PATTERNS.jsonl, parsed: its name and the pattern or why it is rejected.
#[derive(Debug)]
pub struct NamedPattern {
    pub name: String,
    pub pattern: Result<Pattern, PatternError>,
}

pub fn run(args: MatchArgs) -> anyhow::Result<ExitCode> {
    if args.patterns == Path::new("-") && args.events == Path::new("-") {
        bail!("only one of --patterns and EVENTS can be `-` (stdin)");
    }
    let patterns = load_patterns(open(&args.patterns)?)
        .with_context(|| format!("reading patterns from {}", args.patterns.display()))?;
    let stderr = io::stderr();
    let (valid, rejected) = report_rejected(&patterns, &mut stderr.lock())?;
    if rejected > 0 && !args.skip_invalid {
        return Ok(ExitCode::from(1));
    }
    let events = open(&args.events)?;
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    match match_stream(&valid, events, &mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // `patrol match ... | head` is fine.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e).with_context(|| format!("matching events from {}", args.events.display())),
    }
}

fn open(path: &Path) -> anyhow::Result<Box<dyn BufRead>> {
    if path == Path::new("-") {
        return Ok(Box::new(BufReader::with_capacity(1 << 16, io::stdin())));
    }
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(Box::new(BufReader::with_capacity(1 << 16, f)))
}

/// Reads PATTERNS.jsonl. A line that is not `{"name": string, "pattern": ...}` is an
/// error (of the file, not of a pattern).
pub fn load_patterns(input: impl BufRead) -> anyhow::Result<Vec<NamedPattern>> {
    let mut out = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(&line).with_context(|| format!("line {}: not JSON", i + 1))?;
        let name = v
            .get("name")
            .and_then(serde_json::Value::as_str)
            .with_context(|| format!("line {}: no string `name`", i + 1))?;
        let pattern = match v.get("pattern") {
            Some(serde_json::Value::String(s)) => Pattern::parse_str(s),
            Some(p) => Pattern::parse(p),
            None => bail!("line {}: no `pattern`", i + 1),
        };
        out.push(NamedPattern {
            name: name.to_string(),
            pattern,
        });
    }
    Ok(out)
}

/// Prints `NAME: reason` for each rejected pattern; returns the valid ones (with names)
/// and how many were rejected.
pub fn report_rejected(
    patterns: &[NamedPattern],
    err: &mut impl Write,
) -> io::Result<(Vec<(String, Pattern)>, usize)> {
    let mut valid = Vec::with_capacity(patterns.len());
    let mut rejected = 0;
    for p in patterns {
        match &p.pattern {
            Ok(pattern) => valid.push((p.name.clone(), pattern.clone())),
            Err(e) => {
                rejected += 1;
                let at = if e.path.is_empty() {
                    String::new()
                } else {
                    format!(" (at `{}`)", e.path)
                };
                writeln!(err, "{}: {}{at} [{}]", p.name, e.message, e.code)?;
            }
        }
    }
    Ok((valid, rejected))
}

/// Matches every line of `input` and writes one result line per event to `out`.
pub fn match_stream(
    patterns: &[(String, Pattern)],
    mut input: impl BufRead,
    out: &mut impl Write,
) -> io::Result<()> {
    let compiled: Vec<Pattern> = patterns.iter().map(|(_, p)| p.clone()).collect();
    let matcher = Matcher::new(&compiled);
    // Output order: by name. `rank[id]` is a pattern's place in that order; names are
    // JSON-encoded once.
    let mut order: Vec<usize> = (0..patterns.len()).collect();
    order.sort_by(|&a, &b| patterns[a].0.cmp(&patterns[b].0));
    let mut rank = vec![0usize; patterns.len()];
    for (r, &id) in order.iter().enumerate() {
        rank[id] = r;
    }
    let encoded: Vec<String> = order
        .iter()
        .map(|&id| serde_json::Value::String(patterns[id].0.clone()).to_string())
        .collect();
    let mut line = Vec::with_capacity(1 << 14);
    let mut ranks = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let text = trim(&line);
        if text.is_empty() {
            continue;
        }
        match matcher.matches_json(text) {
            Ok(ids) => {
                ranks.clear();
                ranks.extend(ids.iter().map(|&id| rank[id]));
                ranks.sort_unstable();
                out.write_all(b"[")?;
                let mut last: Option<&str> = None;
                for &r in &ranks {
                    // Two patterns with the same name are one name in the output.
                    if last == Some(encoded[r].as_str()) {
                        continue;
                    }
                    if last.is_some() {
                        out.write_all(b",")?;
                    }
                    out.write_all(encoded[r].as_bytes())?;
                    last = Some(encoded[r].as_str());
                }
                out.write_all(b"]\n")?;
            }
            Err(e) => {
                let msg = serde_json::json!({ "error": e.to_string() });
                writeln!(out, "{msg}")?;
            }
        }
    }
    Ok(())
}

fn trim(line: &[u8]) -> &[u8] {
    let start = line
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &line[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_str(patterns: &str, events: &str) -> (String, String, usize) {
        let loaded = load_patterns(patterns.as_bytes()).expect("patterns file is well formed");
        let mut err = Vec::new();
        let (valid, rejected) = report_rejected(&loaded, &mut err).expect("write to memory");
        let mut out = Vec::new();
        match_stream(&valid, events.as_bytes(), &mut out).expect("write to memory");
        (
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
            rejected,
        )
    }

    #[test]
    fn matches_in_order_with_sorted_names() {
        let patterns = concat!(
            r#"{"name": "z-iam", "pattern": {"source": ["aws.iam"]}}"#,
            "\n\n",
            r#"{"name": "a-any", "pattern": "{\"source\": [{\"prefix\": \"aws.\"}]}"}"#,
            "\n",
            r#"{"name": "bad", "pattern": {"source": []}}"#,
            "\n",
        );
        let events = "{\"source\":\"aws.iam\"}\n{\"source\":\"aws.s3\"}\r\n\n[1,2]\n{\"source\":\"x\"}\nnot json\n";
        let (out, err, rejected) = run_str(patterns, events);
        assert_eq!(rejected, 1);
        assert!(err.starts_with("bad: "), "{err}");
        assert!(err.contains("`source`"), "{err}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], r#"["a-any","z-iam"]"#);
        assert_eq!(lines[1], r#"["a-any"]"#);
        assert_eq!(lines[2], r#"{"error":"the event is not a JSON object"}"#);
        assert_eq!(lines[3], "[]");
        assert!(
            lines[4].starts_with(r#"{"error":"invalid JSON"#),
            "{}",
            lines[4]
        );
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn malformed_patterns_file_is_an_error() {
        assert!(load_patterns("{\"pattern\": {}}\n".as_bytes()).is_err());
        assert!(load_patterns("nope\n".as_bytes()).is_err());
        assert!(load_patterns("{\"name\": \"x\"}\n".as_bytes()).is_err());
    }
}
