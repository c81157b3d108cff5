//! The floor `patrol replay` is measured against: the same files read on the same number of
//! threads (one file per worker at a time, as replay reads them), gunzipped in one call
//! with the same decoder replay uses (sirocco) and parsed with serde_json into their
//! `Records`, and nothing else: no wrapping, no matching, no summary.
//!
//! Run: `cargo bench -p patrol-cli --bench replay-floor -- target/bench-data/replay -j 2`.
//! Prints one JSON object: files, events, bytes stored and decompressed, seconds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Document {
    #[serde(rename = "Records")]
    records: Vec<Value>,
}

/// Event files under `dir`, in name order (as replay walks them).
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("a folder")
        .map(|e| e.expect("an entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, out);
        } else if path.to_string_lossy().ends_with(".json.gz") {
            out.push(path);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut dir = PathBuf::from("target/bench-data/replay");
    let mut jobs = std::thread::available_parallelism().map_or(1, usize::from);
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "-j" | "--jobs" => {
                i += 1;
                jobs = args[i].parse().expect("-j N");
            }
            a if a.starts_with("--") => {}
            a => dir = PathBuf::from(a),
        }
        i += 1;
    }
    let started = Instant::now();
    let mut files = Vec::new();
    walk(&dir, &mut files);
    let next = AtomicUsize::new(0);
    let (events, raw, decoded) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, files.len().max(1)) {
            s.spawn(|| {
                let mut stored = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    stored.clear();
                    std::fs::File::open(path)
                        .and_then(|mut f| f.read_to_end(&mut stored))
                        .expect("readable");
                    let text =
                        sirocco::decompress(sirocco::Format::Gzip, &stored, 1 << 30).expect("gzip");
                    let doc: Document = serde_json::from_slice(&text).expect("JSON");
                    events.fetch_add(doc.records.len() as u64, Ordering::Relaxed);
                    raw.fetch_add(stored.len() as u64, Ordering::Relaxed);
                    decoded.fetch_add(text.len() as u64, Ordering::Relaxed);
                }
            });
        }
    });
    println!(
        r#"{{"files": {}, "events": {}, "raw_bytes": {}, "decoded_bytes": {}, "secs": {:.3}}}"#,
        files.len(),
        events.into_inner(),
        raw.into_inner(),
        decoded.into_inner(),
        started.elapsed().as_secs_f64()
    );
}
