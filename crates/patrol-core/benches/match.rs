//! Pattern-matching throughput: Patrol's `Matcher` vs the `quamina` crate, both from raw
//! event bytes, on real CloudTrail records wrapped as EventBridge delivers them, with rule
//! sets of 10, 100 and 1,000 patterns shaped like a security ruleset. Then Patrol alone on
//! operators quamina lacks (`$or`, anything-but prefix/suffix/ignore-case, ignore-case
//! prefix/suffix).
//!
//! Run: `cargo bench -p patrol-core --bench match` (set `PATROL_BENCH_SECS` to change the
//! time per measurement, default 1.5; `PATROL_CORPUS` to point at another records file).

#![allow(clippy::unwrap_used)]

use patrol_core::pattern::{Matcher, Pattern};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn corpus_path() -> String {
    std::env::var("PATROL_CORPUS").unwrap_or_else(|_| {
        format!(
            "{}/../../../shared/corpus/cloudtrail-records.jsonl",
            env!("CARGO_MANIFEST_DIR")
        )
    })
}

/// A CloudTrail record as the EventBridge event that carries it.
fn wrap(i: usize, record: Value) -> Value {
    let s = |k: &str| {
        record
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let event_source = s("eventSource");
    let service = event_source
        .strip_suffix(".amazonaws.com")
        .unwrap_or(&event_source)
        .to_string();
    let detail_type = match s("eventType").as_str() {
        "AwsConsoleSignIn" => "AWS Console Sign In via CloudTrail",
        "AwsServiceEvent" => "AWS Service Event via CloudTrail",
        _ => "AWS API Call via CloudTrail",
    };
    let account = record
        .get("recipientAccountId")
        .or_else(|| record.pointer("/userIdentity/accountId"))
        .and_then(Value::as_str)
        .unwrap_or("123456789012")
        .to_string();
    json!({
        "version": "0",
        "id": format!("00000000-0000-0000-0000-{i:012}"),
        "detail-type": detail_type,
        "source": format!("aws.{service}"),
        "account": account,
        "time": s("eventTime"),
        "region": s("awsRegion"),
        "resources": [],
        "detail": record,
    })
}

struct Corpus {
    events: Vec<Vec<u8>>,
    /// eventSource → event names seen, sorted.
    names: BTreeMap<String, Vec<String>>,
}

fn load() -> Corpus {
    let text =
        std::fs::read_to_string(corpus_path()).expect("the CloudTrail corpus (set PATROL_CORPUS)");
    let mut events = Vec::new();
    let mut names: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let Ok(record) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if let (Some(src), Some(name)) =
            (record["eventSource"].as_str(), record["eventName"].as_str())
        {
            names
                .entry(src.to_string())
                .or_default()
                .insert(name.to_string());
        }
        events.push(wrap(i, record).to_string().into_bytes());
    }
    let names = names
        .into_iter()
        .map(|(k, v)| (k, v.into_iter().collect()))
        .collect();
    Corpus { events, names }
}

/// `n` patterns of the kinds a security ruleset uses, all within quamina's subset.
fn common_rules(c: &Corpus, n: usize) -> Vec<Value> {
    let sources: Vec<(&String, &Vec<String>)> = c.names.iter().collect();
    (0..n)
        .map(|i| {
            let (src, names) = sources[(i / 6 + i * 7) % sources.len()];
            let svc = src.strip_suffix(".amazonaws.com").unwrap_or(src);
            let pick = |k: usize| -> Vec<String> {
                (0..k).map(|j| names[(i * 3 + j * 5) % names.len()].clone()).collect::<BTreeSet<_>>().into_iter().collect()
            };
            match i % 6 {
                0 => json!({
                    "source": [format!("aws.{svc}")],
                    "detail-type": ["AWS API Call via CloudTrail"],
                    "detail": {"eventSource": [src], "eventName": pick(4)}
                }),
                1 => json!({
                    "source": [format!("aws.{svc}")],
                    "detail": {"eventName": [{"prefix": (["Delete", "Put", "Create", "Update", "Stop"][i % 5])}]}
                }),
                2 => json!({
                    "detail-type": ["AWS API Call via CloudTrail"],
                    "detail": {"eventSource": [src], "userIdentity": {"type": [{"anything-but": ["AWSService", "AWSAccount"]}]}, "eventName": pick(2)}
                }),
                3 => json!({
                    "source": [format!("aws.{svc}")],
                    "detail": {"errorCode": [{"exists": true}], "eventName": pick(3)}
                }),
                4 => json!({
                    "detail": {"eventSource": [src], "additionalEventData": {"bytesTransferredOut": [{"numeric": [">", (i % 10) * 100]}]}}
                }),
                _ => json!({
                    "detail": {"eventSource": [src], "eventName": pick(2), "sourceIPAddress": [{"cidr": (["10.0.0.0/8", "192.168.0.0/16", "172.16.0.0/12"][i % 3])}, {"suffix": ".amazonaws.com"}]}
                }),
            }
        })
        .collect()
}

/// `n` patterns using what only Patrol supports.
fn patrol_only_rules(c: &Corpus, n: usize) -> Vec<Value> {
    let sources: Vec<(&String, &Vec<String>)> = c.names.iter().collect();
    (0..n)
        .map(|i| {
            let (src, names) = sources[(i / 4 + i * 5) % sources.len()];
            let name = &names[i % names.len()];
            match i % 4 {
                0 => json!({
                    "detail": {"eventSource": [src], "$or": [
                        {"eventName": [name]},
                        {"errorCode": [{"prefix": "AccessDenied"}], "userIdentity": {"type": ["Root"]}}
                    ]}
                }),
                1 => json!({
                    "detail": {"eventSource": [src], "eventName": [{"anything-but": {"prefix": ["Get", "List", "Describe"]}}]}
                }),
                2 => json!({
                    "detail": {"eventName": [{"prefix": {"equals-ignore-case": name.get(..4).unwrap_or(name)}}], "userAgent": [{"anything-but": {"equals-ignore-case": ["AWS Internal"]}}]}
                }),
                _ => json!({
                    "detail": {"eventSource": [src], "userIdentity": {"arn": [{"wildcard": "arn:aws:iam::*:user/*"}, {"suffix": {"equals-ignore-case": "/ADMIN"}}]}}
                }),
            }
        })
        .collect()
}

fn budget() -> Duration {
    let secs: f64 = std::env::var("PATROL_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.5);
    Duration::from_secs_f64(secs)
}

/// Runs `f` over all events repeatedly for about the time budget; ns per event.
fn time(events: &[Vec<u8>], mut f: impl FnMut(&[u8]) -> usize) -> f64 {
    for e in events.iter().take(500) {
        black_box(f(e));
    }
    let (start, budget) = (Instant::now(), budget());
    let mut n = 0u64;
    while start.elapsed() < budget {
        for e in events {
            black_box(f(black_box(e)));
        }
        n += events.len() as u64;
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

/// `PATROL_BENCH_ONLY=patrol:100` (or `quamina:100`): only that engine and rule count,
/// 20 passes over the events, for `perf stat` (cycles do not depend on machine load).
fn only(corpus: &Corpus, spec: &str) {
    let (engine, n) = spec.split_once(':').unwrap_or((spec, "100"));
    let n: usize = n.parse().unwrap_or(100);
    let rules = common_rules(corpus, n);
    let mut total = 0usize;
    if engine == "quamina" {
        let mut q = quamina::Quamina::<usize>::new();
        for (i, r) in rules.iter().enumerate() {
            q.add_pattern(i, &r.to_string())
                .expect("quamina accepts the rule");
        }
        for _ in 0..passes() {
            for e in &corpus.events {
                total += q.matches_for_event(black_box(e)).map_or(0, |v| v.len());
            }
        }
    } else {
        let patterns: Vec<Pattern> = rules
            .iter()
            .map(|r| Pattern::parse(r).expect("valid rule"))
            .collect();
        let matcher = Matcher::new(&patterns);
        total = patrol_passes(&matcher, &corpus.events);
    }
    println!(
        "{engine} {n} rules: {} events, {total} matches",
        corpus.events.len() * passes()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without
    // it, and must stay quick.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    if !benchmarking
        && std::env::var_os("PATROL_BENCH_WRITE").is_none()
        && std::env::var_os("PATROL_BENCH_ONLY").is_none()
    {
        println!("benchmark skipped (run it with `cargo bench -p patrol-core --bench match`)");
        return;
    }
    let corpus = load();
    if let Ok(dir) = std::env::var("PATROL_BENCH_WRITE") {
        write_data(&corpus, std::path::Path::new(&dir));
        return;
    }
    if let Ok(spec) = std::env::var("PATROL_BENCH_ONLY") {
        only(&corpus, &spec);
        return;
    }
    let bytes: usize = corpus.events.iter().map(Vec::len).sum();
    println!(
        "{} CloudTrail events as EventBridge events, {:.0} bytes on average; {:.1}s per measurement",
        corpus.events.len(),
        bytes as f64 / corpus.events.len() as f64,
        budget().as_secs_f64()
    );
    println!(
        "\n{:<34} {:>10} {:>12} {:>10} {:>12} {:>8}",
        "rule set (both from raw bytes)",
        "patrol ns",
        "patrol ev/s",
        "quamina ns",
        "quamina ev/s",
        "ratio"
    );
    let mut first = None;
    for n in [10usize, 100, 1000] {
        let rules = common_rules(&corpus, n);
        let patterns: Vec<Pattern> = rules
            .iter()
            .map(|r| Pattern::parse(r).expect("valid rule"))
            .collect();
        let matcher = Matcher::new(&patterns);
        let mut q = quamina::Quamina::<usize>::new();
        for (i, r) in rules.iter().enumerate() {
            q.add_pattern(i, &r.to_string())
                .expect("quamina accepts the rule");
        }
        // Same answers? (Counted, not asserted: quamina has known bugs.)
        let (mut agree, mut hits) = (0, 0);
        for e in &corpus.events {
            let mut ours = matcher.matches_json(e).expect("valid event");
            let mut theirs = q.matches_for_event(e).expect("valid event");
            ours.sort_unstable();
            theirs.sort_unstable();
            agree += usize::from(ours == theirs);
            hits += ours.len();
        }
        let ours = time(&corpus.events, |e| {
            matcher.matches_json(e).map_or(0, |v| v.len())
        });
        let theirs = time(&corpus.events, |e| {
            q.matches_for_event(e).map_or(0, |v| v.len())
        });
        println!(
            "{:<34} {:>10.0} {:>12.0} {:>10.0} {:>12.0} {:>7.2}x",
            format!(
                "{n} rules ({hits} matches, {agree}/{} agree)",
                corpus.events.len()
            ),
            ours,
            1e9 / ours,
            theirs,
            1e9 / theirs,
            theirs / ours
        );
        if n == 100 {
            first = Some(ours);
        }
        if let (1000, Some(h)) = (n, first) {
            println!(
                "{:<34} 1000-rule speed = {:.2} of 100-rule speed",
                "",
                h / ours
            );
        }
    }
    println!(
        "\n{:<34} {:>10} {:>12}",
        "Patrol-only operators", "patrol ns", "patrol ev/s"
    );
    for n in [10usize, 100, 1000] {
        let mut rules = common_rules(&corpus, n / 2);
        rules.extend(patrol_only_rules(&corpus, n - n / 2));
        let patterns: Vec<Pattern> = rules
            .iter()
            .map(|r| Pattern::parse(r).expect("valid rule"))
            .collect();
        let matcher = Matcher::new(&patterns);
        let hits: usize = corpus
            .events
            .iter()
            .map(|e| matcher.matches_json(e).map_or(0, |v| v.len()))
            .sum();
        let ours = time(&corpus.events, |e| {
            matcher.matches_json(e).map_or(0, |v| v.len())
        });
        println!(
            "{:<34} {:>10.0} {:>12.0}",
            format!("{n} mixed rules ({hits} matches)"),
            ours,
            1e9 / ours
        );
    }
}

/// The measured loop of [`only`], kept out of line so that a profiler can count just it
/// (`valgrind --tool=callgrind --toggle-collect='*patrol_passes*'`).
#[inline(never)]
fn patrol_passes(matcher: &Matcher, events: &[Vec<u8>]) -> usize {
    let mut total = 0;
    for _ in 0..passes() {
        for e in events {
            total += matcher.matches_json(black_box(e)).map_or(0, |v| v.len());
        }
    }
    total
}

fn passes() -> usize {
    std::env::var("PATROL_BENCH_PASSES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
}

/// `PATROL_BENCH_WRITE=DIR`: writes `DIR/events.ndjson` (`PATROL_BENCH_EVENTS` events,
/// default 200,000, the corpus repeated) and `DIR/patterns.jsonl` (the 100-rule set plus
/// some Patrol-only rules) for timing the `patrol match` process.
fn write_data(corpus: &Corpus, dir: &std::path::Path) {
    use std::io::Write;
    let n: usize = std::env::var("PATROL_BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    std::fs::create_dir_all(dir).expect("create the output folder");
    let mut events = std::io::BufWriter::new(
        std::fs::File::create(dir.join("events.ndjson")).expect("create events"),
    );
    for e in corpus.events.iter().cycle().take(n) {
        events.write_all(e).expect("write");
        events.write_all(b"\n").expect("write");
    }
    events.flush().expect("write");
    let mut patterns = std::io::BufWriter::new(
        std::fs::File::create(dir.join("patterns.jsonl")).expect("create patterns"),
    );
    let mut rules = common_rules(corpus, 90);
    rules.extend(patrol_only_rules(corpus, 10));
    for (i, r) in rules.iter().enumerate() {
        writeln!(
            patterns,
            "{}",
            json!({"name": format!("rule-{i:03}"), "pattern": r})
        )
        .expect("write");
    }
    patterns.flush().expect("write");
    println!(
        "wrote {n} events and {} patterns to {}",
        rules.len(),
        dir.display()
    );
}
