//! `patrol replay`: backtest every rule over a CloudTrail archive, with the live path's
//! semantics (EventBridge's wrapping, pattern, read-only delivery, suppressions as of the
//! event's date, condition, template). Nothing is sent.
//!
//! - `source`: what to read (files, folders in CloudTrail's S3 layout, `-`, `s3://`) and
//!   the `--since`/`--until` window that prunes by path before reading;
//! - `read`: one input's events, streamed (gzip, `{"Records": [...]}`, NDJSON);
//! - `split`: a document cut into its events as it streams, events over EventBridge's
//!   1 MiB limit skipped with a warning;
//! - `raw`: the fast path for the usual CloudTrail file: records left raw, only those some
//!   pattern matches built for the engine;
//! - `s3`: listing and fetching objects through the AWS SDK;
//! - `summary`: per-rule and per-day results, as a table or JSON;
//! - `progress`: the progress bar, on a terminal only.
//!
//! Inputs are read in parallel (`--jobs`), each by one worker; alerts come out in input
//! order whatever finishes first. Broken inputs and records are reported and counted,
//! never fatal. Exit codes: 0 ok, 1 if an alert failed (condition or template), 2 usage
//! or I/O.

mod progress;
mod raw;
mod read;
mod s3;
mod source;
mod split;
mod summary;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context as _, bail};
use patrol_core::alert::Alert;
use patrol_core::engine::{Engine, Outcome};
use serde_json::Value;

use progress::Progress;
use raw::RawRecord;
use read::{Item, Layout};
use s3::S3;
use source::{Input, Window};
use summary::Summary;

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Files, folders (CloudTrail's `AWSLogs/...` layout or any), `-` for stdin, or
    /// `s3://bucket/prefix` (AWS credential chain, region and `AWS_ENDPOINT_URL`);
    /// `.json`, `.jsonl`, `.ndjson`, each optionally gzipped.
    #[arg(required = true)]
    sources: Vec<String>,
    /// Only events at or after this date or time (`2023-07-10`, `2023-07-10T12:00:00Z`).
    #[arg(long)]
    since: Option<String>,
    /// Only events up to this date (inclusive) or time.
    #[arg(long)]
    until: Option<String>,
    /// Only this rule (repeatable).
    #[arg(long = "rule", value_name = "ID")]
    rules: Vec<String>,
    /// `table`: a summary per rule and per day; `json`: the same as one JSON object;
    /// `ndjson`: one alert per line; `text`: every alert as it would read in a message.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Also write every alert to FILE, one JSON object per line.
    #[arg(long, value_name = "FILE")]
    alerts: Option<PathBuf>,
    /// Inputs read at once (default: the number of CPUs).
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Table,
    Json,
    Ndjson,
    Text,
}

/// One event read from a file, or why it could not be.
pub type ReadEvent = Result<Value, String>;

/// Problems reported for one input at most; the rest are counted.
const MAX_WARNINGS: usize = 20;

pub fn run(manifest: &Path, args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let mut m = match super::load::manifest(manifest)? {
        Ok(m) => m,
        Err(code) => return Ok(code),
    };
    if !args.rules.is_empty() {
        for id in &args.rules {
            if m.rule(id).is_none() {
                let known: Vec<&str> = m.rules.iter().map(|r| r.id.as_str()).collect();
                bail!("--rule `{id}`: no such rule (known: {})", known.join(", "));
            }
        }
        m.rules.retain(|r| args.rules.contains(&r.id));
    }
    let engine = Engine::new(&m)?;
    let window = Window::new(args.since.as_deref(), args.until.as_deref())?;
    let mut inputs = Vec::new();
    let mut pruned = 0;
    let mut s3 = None;
    for source in &args.sources {
        source::expand(source, &window, &mut s3, &mut inputs, &mut pruned)?;
    }
    if inputs.iter().filter(|i| **i == Input::Stdin).count() > 1 {
        bail!("`-` (stdin) can be given only once");
    }
    let mut alerts_file = match &args.alerts {
        Some(path) => {
            Some(BufWriter::new(File::create(path).with_context(|| {
                format!("cannot create `{}`", path.display())
            })?))
        }
        None => None,
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
        .clamp(1, inputs.len().max(1));
    let keep_alerts = alerts_file.is_some() || matches!(args.format, Format::Ndjson | Format::Text);
    let total_bytes = inputs.iter().map(Input::size).sum::<Option<u64>>();
    let progress = Progress::new(total_bytes, inputs.len() as u64);
    let started = Instant::now();

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut total = Summary {
        pruned_files: pruned,
        ..Summary::default()
    };
    let ctx = Worker {
        engine: &engine,
        fast: true,
        window: &window,
        s3: s3.as_ref(),
        keep_alerts,
    };
    let mut done = 0u64;
    let written = ctx.replay_all(&inputs, jobs, &mut |r| {
        done += 1;
        for w in &r.warnings {
            progress.println(w);
        }
        for alert in &r.alerts {
            match args.format {
                Format::Ndjson => writeln!(out, "{}", serde_json::to_string(alert)?)?,
                Format::Text => {
                    writeln!(out, "{}\n{}", alert.subject(), indent(&alert.text()))?;
                }
                Format::Table | Format::Json => {}
            }
            if let Some(f) = alerts_file.as_mut() {
                writeln!(f, "{}", serde_json::to_string(alert)?)?;
            }
        }
        total.merge(r.summary);
        progress.advance(r.raw_bytes, done, total.events);
        Ok(())
    });
    progress.finish();
    written?;
    total.apply_dedup(&dedup_windows(&m));
    match args.format {
        Format::Table => write!(out, "{}", total.to_table())?,
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&total.to_json())?)?,
        Format::Ndjson | Format::Text => {}
    }
    out.flush()?;
    if let Some(mut f) = alerts_file {
        f.flush()?;
    }
    eprintln!("{}", run_line(&total));
    eprintln!("{}", throughput(&total, started.elapsed().as_secs_f64()));
    Ok(if total.failed() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Each rule's dedup window (seconds), for rules that have one.
fn dedup_windows(m: &patrol_core::manifest::Manifest) -> std::collections::BTreeMap<String, u64> {
    m.rules
        .iter()
        .filter_map(|r| Some((r.id.clone(), r.dedup.as_ref()?.window_seconds)))
        .collect()
}

/// The one-line account of a run (stderr).
fn run_line(total: &Summary) -> String {
    let by_rule = total
        .rules
        .iter()
        .filter(|(_, r)| r.alerts > 0)
        .map(|(id, r)| format!("{id}: {}", r.alerts))
        .collect::<Vec<_>>()
        .join(", ");
    let mut line = format!(
        "replayed {} events from {} files: {} alerts",
        total.events,
        total.files,
        total.alerts()
    );
    if !by_rule.is_empty() {
        line.push_str(&format!(" ({by_rule})"));
    }
    if total.rules.values().any(|r| r.after_dedup.is_some()) {
        line.push_str(&format!(", {} after dedup", total.after_dedup()));
    }
    for (n, what) in [
        (total.bad_files, "bad files"),
        (total.bad_records, "unreadable events"),
        (total.incomplete_records, "incomplete records"),
        (total.pruned_files, "files pruned by date"),
        (total.outside_window, "events outside the window"),
        (total.suppressed(), "suppressed"),
        (total.failed(), "alerts failed"),
    ] {
        if n > 0 {
            line.push_str(&format!(", {n} {what}"));
        }
    }
    line
}

fn throughput(total: &Summary, secs: f64) -> String {
    let secs = secs.max(1e-9);
    let mb = |b: u64| b as f64 / 1e6;
    format!(
        "read {:.1} MB ({:.1} MB decompressed) in {secs:.2}s: {:.0} events/s, {:.1} MB/s decompressed, {:.1} MB/s stored",
        mb(total.raw_bytes),
        mb(total.decoded_bytes),
        total.events as f64 / secs,
        mb(total.decoded_bytes) / secs,
        mb(total.raw_bytes) / secs,
    )
}

/// What a worker needs; shared by reference between workers.
struct Worker<'a> {
    engine: &'a Engine,
    /// Takes the fast path ([`raw`]) where it can (`false`: never, for tests to compare).
    fast: bool,
    window: &'a Window,
    s3: Option<&'a S3>,
    keep_alerts: bool,
}

/// What one input gave.
struct Replayed {
    summary: Summary,
    alerts: Vec<Alert>,
    warnings: Vec<String>,
    raw_bytes: u64,
}

impl Worker<'_> {
    /// Reads `inputs` on `jobs` threads; `each` sees every input's result in input order.
    fn replay_all(
        &self,
        inputs: &[Input],
        jobs: usize,
        each: &mut dyn FnMut(Replayed) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let next = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Replayed)>(jobs * 4);
            for _ in 0..jobs {
                let (tx, next) = (tx.clone(), &next);
                scope.spawn(move || {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(input) = inputs.get(i) else { break };
                        if tx.send((i, self.replay(input))).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            // Results come in any order; they go out in input order.
            let mut pending = BTreeMap::new();
            let mut next_out = 0;
            for (i, r) in rx {
                pending.insert(i, r);
                while let Some(r) = pending.remove(&next_out) {
                    next_out += 1;
                    each(r)?;
                }
            }
            Ok(())
        })
    }

    fn replay(&self, input: &Input) -> Replayed {
        let name = input.name();
        let mut summary = Summary {
            files: 1,
            ..Summary::default()
        };
        let mut alerts = Vec::new();
        let mut problems = Vec::new();
        let mut n = 0usize;
        let mut emit = |item: Item<'_>| {
            n += 1;
            let mut out = Out {
                n,
                summary: &mut summary,
                alerts: &mut alerts,
                problems: &mut problems,
            };
            match item {
                Item::Event(e) => self.replay_one(e, &mut out),
                Item::Raw(r) => self.replay_raw(r, &mut out),
            }
        };
        let (sizes, result) = match open(input, self.s3) {
            Ok(reader) => read::read_items(reader, input.layout(), self.fast, &mut emit),
            Err(e) => (read::Sizes::default(), Err(e)),
        };
        summary.raw_bytes = sizes.raw;
        summary.decoded_bytes = sizes.decoded;
        match result {
            Err(e) => {
                summary.bad_files += 1;
                problems.push(e);
            }
            // Nothing usable at all (say, JSON without `Records`): a bad file, not an
            // archive's odd record.
            Ok(()) if summary.bad_records > 0 && summary.events + summary.outside_window == 0 => {
                summary.bad_files += 1;
            }
            Ok(()) => {}
        }
        let mut warnings: Vec<String> = problems
            .iter()
            .take(MAX_WARNINGS)
            .map(|p| format!("warning: {name}: {p}"))
            .collect();
        if problems.len() > MAX_WARNINGS {
            warnings.push(format!(
                "warning: {name}: {} more problems",
                problems.len() - MAX_WARNINGS
            ));
        }
        Replayed {
            summary,
            alerts,
            warnings,
            raw_bytes: sizes.raw,
        }
    }

    /// One event (a record or an EventBridge event), built.
    fn replay_one(&self, item: ReadEvent, out: &mut Out<'_>) {
        let value = match item {
            Ok(v) => v,
            Err(e) => return out.bad(e),
        };
        if !patrol_core::event::is_eventbridge_event(&value) && value.get("eventSource").is_some() {
            let missing: Vec<&str> = ["eventTime", "userIdentity"]
                .into_iter()
                .filter(|k| value.get(k).is_none())
                .collect();
            out.incomplete(&missing);
        }
        let event = match patrol_core::event::to_eventbridge(value) {
            Ok(e) => e,
            Err(e) => return out.bad(format!("event {}: {e}", out.n)),
        };
        let time = event.get("time").and_then(Value::as_str).unwrap_or("");
        if let Some(day) = self.count(time, out.summary) {
            let outcomes = self.engine.evaluate(&event, &day.today);
            out.outcomes(outcomes, day.bucket, self.keep_alerts);
        }
    }

    /// One record of the fast path: wrapped as text, and built only if some pattern
    /// matches that text. Reports what [`Worker::replay_one`] reports for the same record.
    fn replay_raw(&self, r: &RawRecord<'_>, out: &mut Out<'_>) {
        thread_local! {
            /// The wrapped event's `source` and text, kept between records.
            static BUFS: std::cell::RefCell<(String, String)> =
                const { std::cell::RefCell::new((String::new(), String::new())) };
        }
        if !r.head.event_source.is_absent() {
            out.incomplete(&r.head.missing());
        }
        let detail_type = match r.head.detail_type() {
            Ok(t) => t,
            Err(e) => return out.bad(format!("event {}: {e}", out.n)),
        };
        let Some(day) = self.count(r.head.time(), out.summary) else {
            return;
        };
        let event = BUFS.with(|cell| {
            let mut fresh = (String::new(), String::new());
            let mut held = cell.try_borrow_mut();
            let (source, text) = match held.as_deref_mut() {
                Ok(b) => b,
                Err(_) => &mut fresh,
            };
            // Most records are calls no rule names: a few hash lookups answer for them.
            r.head.source_into(source);
            if !self.engine.may_match_head(&r.head.values(source)) {
                return None;
            }
            r.head.wrap_into(detail_type, source, r.json, text);
            if !self.engine.may_match_json(text.as_bytes()) {
                return None;
            }
            // The wrapped text is the EventBridge event (tested equal to wrapping the
            // record's `Value`): build it from there.
            Some(serde_json::from_str::<Value>(text).map_err(|e| e.to_string()))
        });
        match event {
            None => {}
            Some(Ok(event)) => {
                let outcomes = self.engine.evaluate_owned(event, &day.today);
                out.outcomes(outcomes, day.bucket, self.keep_alerts);
            }
            Some(Err(e)) => out.problems.push(format!("event {}: {e}", out.n)),
        }
    }

    /// Counts an event at `time` (the wrapped event's) unless the window leaves it out;
    /// its day, for suppressions and the histogram.
    fn count<'t>(&self, time: &'t str, summary: &mut Summary) -> Option<Day<'t>> {
        if !self.window.is_open() && !self.window.contains_time(time) {
            summary.outside_window += 1;
            return None;
        }
        summary.events += 1;
        // A replay asks what would have happened then: suppressions expire by the event's
        // own date.
        let event_day = time.get(..10).filter(|d| patrol_core::date::is_date(d));
        let bucket = event_day.unwrap_or("unknown");
        match summary.days.get_mut(bucket) {
            Some(d) => d.events += 1,
            None => summary.days.entry(bucket.to_owned()).or_default().events += 1,
        }
        Some(Day {
            today: event_day.map_or_else(|| patrol_core::date::today().into(), Cow::Borrowed),
            bucket,
        })
    }
}

/// The day an event counts on: the date suppressions are judged by, and its histogram
/// bucket.
struct Day<'t> {
    today: Cow<'t, str>,
    bucket: &'t str,
}

/// Where one input's results go, with the number of the event at hand.
struct Out<'a> {
    n: usize,
    summary: &'a mut Summary,
    alerts: &'a mut Vec<Alert>,
    problems: &'a mut Vec<String>,
}

impl Out<'_> {
    fn bad(&mut self, problem: String) {
        self.summary.bad_records += 1;
        self.problems.push(problem);
    }

    /// A record with `eventSource` but without these other fields.
    fn incomplete(&mut self, missing: &[&str]) {
        if !missing.is_empty() {
            self.summary.incomplete_records += 1;
            self.problems.push(format!(
                "event {}: record without `{}` (replayed all the same)",
                self.n,
                missing.join("`, `")
            ));
        }
    }

    fn outcomes(&mut self, outcomes: Vec<Outcome>, bucket: &str, keep_alerts: bool) {
        for outcome in outcomes {
            match outcome {
                Outcome::Alert(alert) => {
                    self.summary.add_alert(&alert, bucket);
                    if keep_alerts {
                        self.alerts.push(*alert);
                    }
                }
                Outcome::Suppressed { rule, .. } => self.summary.rule(&rule).suppressed += 1,
                Outcome::Failed { rule, error } => {
                    self.summary.rule(&rule).failed += 1;
                    self.problems.push(format!(
                        "error: rule `{rule}` matched event {} but its alert failed: {error}",
                        self.n
                    ));
                }
            }
        }
    }
}

fn open<'a>(input: &Input, s3: Option<&'a S3>) -> Result<Box<dyn Read + 'a>, String> {
    match input {
        Input::File { path, .. } => File::open(path)
            .map(|f| Box::new(f) as Box<dyn Read>)
            .map_err(|e| format!("cannot read: {e}")),
        Input::Stdin => Ok(Box::new(std::io::stdin())),
        Input::S3 { bucket, key, .. } => match s3 {
            Some(s3) => s3
                .get(bucket, key)
                .map(|o| Box::new(o) as Box<dyn Read + 'a>),
            None => Err("no S3 client".to_owned()),
        },
    }
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

/// The one event a file holds (a test or `explain` event), wrapped as EventBridge delivers it.
pub fn read_single_event(path: &Path) -> Result<serde_json::Value, String> {
    let mut events = read_event_file(path);
    if events.len() != 1 {
        return Err(format!(
            "expected exactly one event in the file, found {}",
            events.len()
        ));
    }
    let raw = events.pop().ok_or("no event")??;
    patrol_core::event::to_eventbridge(raw).map_err(|e| e.to_string())
}

/// Every event in a file (plain or gzipped; one document or one event per line); errors
/// carry a reason, never abort the file's other events.
pub fn read_event_file(path: &Path) -> Vec<ReadEvent> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) => return vec![Err(format!("cannot read: {e}"))],
    };
    let mut events = Vec::new();
    let layout = Layout::for_name(&path.to_string_lossy());
    let (_, result) = read::read_events(file, layout, &mut |e| events.push(e));
    if let Err(e) = result {
        events.push(Err(e));
    }
    events
}

#[cfg(test)]
mod tests;
