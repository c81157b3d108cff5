//! `patrol covers`: the covering patterns of the manifest's event rules (the forwarding
//! rules member accounts deploy, the feeds of each handler on the central bus; see
//! `patrol_core::cover`), and, given event files, how much of them the covers would
//! forward compared with what the rules themselves get.
//!
//! Exit codes: 0 ok, 1 invalid manifest, 2 usage, I/O, or a rule no cover can hold.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use patrol_core::cover::{Cover, CoverMatcher, Covers, manifest_covers};
use patrol_core::engine::Engine;
use patrol_core::event::to_eventbridge;
use patrol_core::manifest::{Manifest, Trigger};
use serde::Serialize;
use serde_json::json;

#[derive(Debug, clap::Args)]
pub struct CoversArgs {
    /// Print JSON: `{"covers": {"forwarding": [...], "feeds": {...}}, "events": {...}}`.
    #[arg(long)]
    json: bool,
    /// Event files or folders of them (CloudTrail records or EventBridge events; NDJSON,
    /// `{"Records": [...]}` documents, single events; optionally gzipped): report how many
    /// events the forwarding covers let through.
    #[arg(value_name = "EVENT_FILES")]
    events: Vec<PathBuf>,
}

/// What the forwarding covers do with a set of events.
#[derive(Debug, Default, Serialize)]
struct Forwarded {
    /// Events read (CloudTrail records wrapped as EventBridge delivers them).
    events: u64,
    /// Lines or records that are not events.
    unreadable: u64,
    /// Events EventBridge would deliver to some event rule.
    matched: u64,
    /// Events EventBridge would deliver to some forwarding cover.
    forwarded: u64,
    /// Forwarded events summed over covers (an event two covers get counts twice).
    deliveries: u64,
    matched_share: f64,
    forwarded_share: f64,
    /// `forwarded / matched` (0 when nothing matched).
    ratio: f64,
    /// Per forwarding cover id: events it gets.
    per_cover: std::collections::BTreeMap<String, u64>,
}

pub fn run(manifest: &Path, args: &CoversArgs) -> anyhow::Result<ExitCode> {
    let m = match super::load::manifest(manifest)? {
        Ok(m) => m,
        Err(code) => return Ok(code),
    };
    let covers = manifest_covers(&m)?;
    let forwarded = if args.events.is_empty() {
        None
    } else {
        Some(measure(&m, &covers, &args.events)?)
    };
    if args.json {
        let out = json!({"covers": covers, "events": forwarded});
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", table(&covers, forwarded.as_ref()));
    }
    Ok(ExitCode::SUCCESS)
}

fn measure(m: &Manifest, covers: &Covers, paths: &[PathBuf]) -> anyhow::Result<Forwarded> {
    let engine = Engine::new(m)?;
    let matcher = CoverMatcher::new(&covers.forwarding)?;
    let mut files = Vec::new();
    for p in paths {
        collect(p, &mut files)?;
    }
    let mut f = Forwarded::default();
    for c in &covers.forwarding {
        f.per_cover.insert(c.id.clone(), 0);
    }
    for file in files {
        for read in super::replay::read_event_file(&file) {
            let Ok(event) = read
                .map_err(|_| ())
                .and_then(|v| to_eventbridge(v).map_err(|_| ()))
            else {
                f.unreadable += 1;
                continue;
            };
            f.events += 1;
            let matched = engine
                .matching_rules(&event)
                .iter()
                .any(|r| matches!(r.trigger, Trigger::Event { .. }));
            f.matched += u64::from(matched);
            let hits = matcher.delivered(&event);
            f.forwarded += u64::from(!hits.is_empty());
            f.deliveries += hits.len() as u64;
            for i in hits {
                if let Some(n) = covers
                    .forwarding
                    .get(i)
                    .and_then(|c| f.per_cover.get_mut(&c.id))
                {
                    *n += 1;
                }
            }
        }
    }
    let share = |n: u64| {
        if f.events == 0 {
            0.0
        } else {
            n as f64 / f.events as f64
        }
    };
    f.matched_share = share(f.matched);
    f.forwarded_share = share(f.forwarded);
    f.ratio = if f.matched == 0 {
        0.0
    } else {
        f.forwarded as f64 / f.matched as f64
    };
    Ok(f)
}

/// Files as given; folders walked for `.json`, `.jsonl`, `.ndjson` (optionally `.gz`).
fn collect(path: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if !path.is_dir() {
        out.push(path.to_owned());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("cannot read folder `{}`", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        let name = p.to_string_lossy();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        if p.is_dir() {
            collect(&p, out)?;
        } else if [".json", ".jsonl", ".ndjson"]
            .iter()
            .any(|x| name.ends_with(x))
        {
            out.push(p);
        }
    }
    Ok(())
}

fn list(title: &str, covers: &[Cover], counts: Option<&Forwarded>, out: &mut String) {
    use std::fmt::Write as _;
    let _ = writeln!(out, "{title}: {} covers", covers.len());
    let width = covers.iter().map(|c| c.id.len()).max().unwrap_or(2).max(2);
    let _ = write!(
        out,
        "  {:<width$}  {:<44}  {:>5}  {:>5}",
        "id", "state", "rules", "chars"
    );
    if counts.is_some() {
        let _ = write!(out, "  {:>8}", "events");
    }
    out.push('\n');
    for c in covers {
        let _ = write!(
            out,
            "  {:<width$}  {:<44}  {:>5}  {:>5}",
            c.id,
            c.state(),
            c.rules.len(),
            c.pattern.to_string().chars().count()
        );
        if let Some(n) = counts.and_then(|f| f.per_cover.get(&c.id)) {
            let _ = write!(out, "  {n:>8}");
        }
        out.push('\n');
    }
}

fn table(covers: &Covers, forwarded: Option<&Forwarded>) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    list(
        "forwarding (every event rule; member accounts forward these)",
        &covers.forwarding,
        forwarded,
        &mut out,
    );
    for (handler, feeds) in &covers.feeds {
        out.push('\n');
        list(&format!("feeds of `{handler}`"), feeds, None, &mut out);
    }
    if let Some(f) = forwarded {
        let pct = |x: f64| 100.0 * x;
        let _ = writeln!(
            out,
            "\n{} events read ({} unreadable)",
            f.events, f.unreadable
        );
        let _ = writeln!(
            out,
            "  matched by some rule      {:>8}  {:>6.2}%",
            f.matched,
            pct(f.matched_share)
        );
        let _ = writeln!(
            out,
            "  forwarded by some cover   {:>8}  {:>6.2}%  ({:.2}x matched)",
            f.forwarded,
            pct(f.forwarded_share),
            f.ratio
        );
        let _ = writeln!(
            out,
            "  forwarded deliveries      {:>8}  (an event two covers get counts twice)",
            f.deliveries
        );
    }
    out
}
