//! `patrol replay`: run events through every rule and print the alerts they would raise.
//!
//! Reads files and folders (recursively, in name order): `.json` files holding one event,
//! a CloudTrail `{"Records": [...]}` file or an array, and `.jsonl` / `.ndjson` files with
//! one event per line. Each event may be an EventBridge event or a raw CloudTrail record
//! (wrapped as EventBridge wraps it). A bad file or line is reported and counted, never
//! fatal.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use patrol_core::engine::{Engine, Outcome};
use serde_json::Value;

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Files or folders of events.
    #[arg(required = true)]
    sources: Vec<PathBuf>,
    /// `text` for people, `ndjson` for one alert per line.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Ndjson,
}

/// One event read from a file, or why it could not be.
pub type ReadEvent = Result<Value, String>;

pub fn run(manifest: &Path, args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let m = match super::load::manifest(manifest)? {
        Ok(m) => m,
        Err(code) => return Ok(code),
    };
    let engine = Engine::new(&m)?;
    let mut files = Vec::new();
    for source in &args.sources {
        collect_files(source, &mut files)
            .with_context(|| format!("cannot read `{}`", source.display()))?;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let (mut events, mut bad, mut failed) = (0usize, 0usize, 0usize);
    let mut per_rule: BTreeMap<String, usize> = BTreeMap::new();
    let mut suppressed: BTreeMap<String, usize> = BTreeMap::new();
    for file in &files {
        for (n, item) in read_event_file(file).into_iter().enumerate() {
            let event = match item
                .and_then(|v| patrol_core::event::to_eventbridge(v).map_err(|e| e.to_string()))
            {
                Ok(e) => e,
                Err(e) => {
                    bad += 1;
                    eprintln!("warning: {} (event {}): {e}", file.display(), n + 1);
                    continue;
                }
            };
            events += 1;
            // A replay asks what would have happened then: suppressions expire by the
            // event's own date.
            let day = event
                .get("time")
                .and_then(serde_json::Value::as_str)
                .and_then(|t| t.get(..10))
                .filter(|d| patrol_core::date::is_date(d))
                .map_or_else(patrol_core::date::today, str::to_owned);
            for outcome in engine.evaluate(&event, &day) {
                match outcome {
                    Outcome::Alert(alert) => {
                        *per_rule.entry(alert.rule.clone()).or_default() += 1;
                        match args.format {
                            Format::Ndjson => writeln!(out, "{}", serde_json::to_string(&alert)?)?,
                            Format::Text => {
                                writeln!(out, "{}\n{}", alert.subject(), indent(&alert.text()))?
                            }
                        }
                    }
                    Outcome::Suppressed { rule, .. } => {
                        *suppressed.entry(rule).or_default() += 1;
                    }
                    Outcome::Failed { rule, error } => {
                        failed += 1;
                        eprintln!(
                            "error: rule `{rule}` matched {} (event {}) but its alert failed: {error}",
                            file.display(),
                            n + 1
                        );
                    }
                }
            }
        }
    }
    let alerts: usize = per_rule.values().sum();
    let by_rule = per_rule
        .iter()
        .map(|(r, n)| format!("{r}: {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    eprintln!(
        "replayed {events} events from {} files: {alerts} alerts{}{}{}{}",
        files.len(),
        if by_rule.is_empty() {
            String::new()
        } else {
            format!(" ({by_rule})")
        },
        if bad > 0 {
            format!(", {bad} unreadable events")
        } else {
            String::new()
        },
        if suppressed.is_empty() {
            String::new()
        } else {
            format!(", {} suppressed", suppressed.values().sum::<usize>())
        },
        if failed > 0 {
            format!(", {failed} alerts failed")
        } else {
            String::new()
        },
    );
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("    {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn collect_files(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for e in entries {
            if e.is_dir() || is_event_file(&e) {
                collect_files(&e, out)?;
            }
        }
    } else {
        std::fs::metadata(path)?;
        out.push(path.to_owned());
    }
    Ok(())
}

fn is_event_file(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("json" | "jsonl" | "ndjson")
    )
}

/// Every event in a file; errors carry a reason, never abort the file's other events.
pub fn read_event_file(path: &Path) -> Vec<ReadEvent> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return vec![Err(format!("cannot read: {e}"))],
    };
    let lines = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("jsonl" | "ndjson")
    );
    if lines {
        return text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l).map_err(|e| format!("line {}: not JSON: {e}", i + 1))
            })
            .collect();
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(mut obj)) => match obj.remove("Records") {
            Some(Value::Array(records)) => records.into_iter().map(Ok).collect(),
            Some(_) => vec![Err("`Records` is not an array".into())],
            None => vec![Ok(Value::Object(obj))],
        },
        Ok(Value::Array(items)) => items.into_iter().map(Ok).collect(),
        Ok(_) => vec![Err("expected a JSON object or array".into())],
        Err(e) => vec![Err(format!("not JSON: {e}"))],
    }
}
