//! `make bench-lambda`: time per event of the `notify` handler binary, from the Runtime API
//! handing it an invocation to its response, over real CloudTrail records of
//! `../shared/corpus` (`PATROL_BENCH_EVENTS`, default 2,000), each invoked as a bare
//! EventBridge event so that it runs through every `notify` rule of rules.toml. Alerts go to
//! a webhook route on a local capture server that answers at once, so the figure is Patrol's
//! own work (matching, conditions, templates, rendering, the HTTP POST on loopback), not a
//! network's. No state table (rules' `dedup` is dropped for the bench): DynamoDB calls would
//! measure DynamoDB. Also prints the peak RSS after the run. The Runtime API here is a
//! minimal server with `TCP_NODELAY` (see `serve`): a general-purpose one adds a constant
//! 40 ms per exchange (Nagle's algorithm against delayed ACKs) that Lambda does not.
//!
//! ```text
//! cargo bench -p patrol-tests --bench lambda-per-event -- LABEL=path/to/host/binary...
//! ```

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use patrol_core::manifest::{ValidateOptions, load};
use patrol_tests::bench::{self, Running, peak_rss_kb};
use patrol_tests::capture::CaptureServer;
use patrol_tests::handler_config::{self, ConfigFile};
use patrol_tests::paths;
use serde_json::{Value, json};

fn main() -> anyhow::Result<()> {
    let binaries =
        bench::labelled_binaries("lambda-per-event LABEL=BINARY... (host binaries of notify)")?;
    let count: usize = match std::env::var("PATROL_BENCH_EVENTS") {
        Ok(v) => v
            .parse()
            .with_context(|| format!("PATROL_BENCH_EVENTS={v} is not a number"))?,
        Err(_) => 2_000,
    };
    let events = corpus_events(count)?;
    let capture = CaptureServer::start()?;
    let (_config, env) = function_env(&capture)?;
    println!(
        "{} events from the corpus, each through every notify rule",
        events.len()
    );
    println!(
        "{:<24} {:>12} {:>12} {:>12} {:>12} {:>9}",
        "binary", "median", "p90", "p99", "alerting p50", "peak RSS"
    );
    for (label, binary) in &binaries {
        let before = capture.requests().len();
        let run = per_event(binary, &env, &events)
            .with_context(|| format!("{label}: {}", binary.display()))?;
        let alerts = capture.requests().len() - before;
        let mut all: Vec<Duration> = run.times.iter().map(|(d, _)| *d).collect();
        all.sort();
        let mut alerting: Vec<Duration> = run
            .times
            .iter()
            .filter(|(_, alerted)| *alerted)
            .map(|(d, _)| *d)
            .collect();
        alerting.sort();
        let at = |v: &[Duration], q: f64| {
            v.get(((v.len().saturating_sub(1)) as f64 * q).round() as usize)
                .map_or("-".to_owned(), |d| {
                    format!("{:.3}ms", d.as_secs_f64() * 1e3)
                })
        };
        println!(
            "{:<24} {:>12} {:>12} {:>12} {:>12} {:>7.1}MB   ({alerts} alerts)",
            label,
            at(&all, 0.5),
            at(&all, 0.9),
            at(&all, 0.99),
            at(&alerting, 0.5),
            run.peak_rss_kb as f64 / 1024.0,
        );
    }
    Ok(())
}

/// The first `count` corpus records (the corpus file repeated if it is shorter), as
/// EventBridge delivers them.
fn corpus_events(count: usize) -> anyhow::Result<Vec<String>> {
    let path = paths::workspace().join("../shared/corpus/cloudtrail-records.jsonl");
    let file = std::fs::File::open(&path)
        .with_context(|| format!("cannot read the corpus {}", path.display()))?;
    let mut records = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line?;
        let Ok(record) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if let Ok(event) = patrol_core::event::wrap_cloudtrail_record(record) {
            records.push(serde_json::to_string(&event)?);
        }
    }
    anyhow::ensure!(
        !records.is_empty(),
        "no usable records in {}",
        path.display()
    );
    Ok(records.iter().cycle().take(count).cloned().collect())
}

/// Every `notify` rule of rules.toml without `dedup`, every route a webhook to `capture`.
fn function_env(
    capture: &CaptureServer,
) -> anyhow::Result<(ConfigFile, Vec<(&'static str, String)>)> {
    let manifest = load(
        &paths::workspace().join("rules.toml"),
        &ValidateOptions::default(),
    )?;
    let mut config = handler_config::from_manifest(&manifest, "notify")?;
    if let Some(rules) = config["rules"].as_array_mut() {
        for rule in rules {
            if let Some(rule) = rule.as_object_mut() {
                rule.remove("dedup");
            }
        }
    }
    if let Some(routes) = config["routes"].as_array_mut() {
        for route in routes.iter_mut() {
            let id = route["route"].clone();
            *route = json!({"type": "webhook", "route": id, "url": capture.url("/alerts")});
        }
    }
    let file = ConfigFile::write(&config)?;
    let mut env = bench::offline_env("warn");
    env.extend(file.env());
    Ok((file, env))
}

struct PerEvent {
    /// Each invocation's time, and whether its response reports an alert sent.
    times: Vec<(Duration, bool)>,
    peak_rss_kb: u64,
}

/// One HTTP request to the Runtime API, and where its answer goes.
struct Call {
    path: String,
    body: String,
    reply: mpsc::Sender<Vec<u8>>,
}

/// A minimal Runtime API server: each connection on its own thread, with `TCP_NODELAY` and
/// every answer written in one piece, so that the figure is not Nagle's algorithm meeting
/// delayed ACKs (a constant 40 ms per exchange with a general-purpose server).
fn serve(listener: TcpListener, calls: mpsc::Sender<Call>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { return };
        let calls = calls.clone();
        std::thread::spawn(move || {
            let _ = connection(stream, &calls);
        });
    }
}

fn connection(stream: TcpStream, calls: &mpsc::Sender<Call>) -> anyhow::Result<()> {
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let path = line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header)?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse()?;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let (reply, answer) = mpsc::channel();
        calls.send(Call {
            path,
            body: String::from_utf8_lossy(&body).into_owned(),
            reply,
        })?;
        let Ok(bytes) = answer.recv() else {
            return Ok(()); // left unanswered: the measurement is over
        };
        writer.write_all(&bytes)?;
    }
}

fn http_response(status: &str, headers: &[(&str, String)], body: &str) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(body);
    out.into_bytes()
}

/// Serves `events` one by one to one process, as Lambda does to a warm function.
fn per_event(binary: &Path, env: &[(&str, String)], events: &[String]) -> anyhow::Result<PerEvent> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let (calls, received) = mpsc::channel();
    std::thread::spawn(move || serve(listener, calls));
    let stderr_path =
        std::env::temp_dir().join(format!("patrol-bench-{}.stderr", std::process::id()));
    let stderr = std::fs::File::create(&stderr_path)?;
    let child = Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "patrol-bench-function")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(stderr.try_clone()?))
        .spawn()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    let child = Running(child);
    let mut times = Vec::with_capacity(events.len());
    let mut next = events.iter().enumerate();
    let mut started: Option<Instant> = None;
    loop {
        let call = received
            .recv_timeout(Duration::from_secs(30))
            .map_err(|_| {
                anyhow::anyhow!(
                    "the function stopped polling within 30 s; its stderr: {}",
                    std::fs::read_to_string(&stderr_path).unwrap_or_default()
                )
            })?;
        if call.path.ends_with("/runtime/invocation/next") {
            let Some((i, event)) = next.next() else {
                break; // the last poll stays unanswered, as between invocations
            };
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_millis()
                + 60_000;
            let headers = [
                ("Lambda-Runtime-Aws-Request-Id", format!("bench-{i}")),
                ("Lambda-Runtime-Deadline-Ms", deadline.to_string()),
                (
                    "Lambda-Runtime-Invoked-Function-Arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:patrol-bench".to_owned(),
                ),
                ("content-type", "application/json".to_owned()),
            ];
            started = Some(Instant::now());
            call.reply.send(http_response("200 OK", &headers, event))?;
        } else if call.path.contains("/response") || call.path.contains("/error") {
            let elapsed = started.take().map_or(Duration::ZERO, |s| s.elapsed());
            anyhow::ensure!(
                call.path.contains("/response"),
                "invocation failed: {}: {}",
                call.path,
                call.body
            );
            times.push((elapsed, call.body.contains("\"sent\"")));
            call.reply.send(http_response("202 Accepted", &[], ""))?;
        } else {
            anyhow::bail!("unexpected Runtime API call {}", call.path);
        }
    }
    let peak_rss_kb = peak_rss_kb(child.0.id()).unwrap_or(0);
    Ok(PerEvent { times, peak_rss_kb })
}
