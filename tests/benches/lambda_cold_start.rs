//! `make bench`: cold start of handler binaries, from `exec` to the first poll of the
//! Lambda Runtime API (`GET /runtime/invocation/next`), which is when Lambda's init phase
//! ends. Each binary runs `PATROL_BENCH_RUNS` times (default 30, after 3 unmeasured runs that
//! warm the page cache) against a local Runtime API on 127.0.0.1, configured with every
//! rule of the shipped rules.toml its handler runs, as a deployment would configure it. Also prints each
//! binary's size, its size deflated (what the Lambda zip holds) and its peak RSS at the
//! first poll.
//!
//! ```text
//! cargo bench -p patrol-tests --bench lambda-cold-start -- release=path/to/bootstrap lambda-dev=path/...
//! ```

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use patrol_core::manifest::{ValidateOptions, load};
use patrol_tests::bench::{self, Running, peak_rss_kb};
use patrol_tests::handler_config::{self, ConfigFile};
use patrol_tests::paths;
use tiny_http::Server;

const WARMUP: usize = 3;

fn main() -> anyhow::Result<()> {
    let binaries = bench::labelled_binaries(
        "lambda-cold-start LABEL=BINARY... (see crates' benches in the Makefile)",
    )?;
    let runs: usize = match std::env::var("PATROL_BENCH_RUNS") {
        Ok(v) => v
            .parse()
            .with_context(|| format!("PATROL_BENCH_RUNS={v} is not a number"))?,
        Err(_) => 30,
    };

    println!(
        "{:<24} {:>10} {:>10} {:>12} {:>12} {:>12} {:>9}",
        "binary", "size", "deflated", "init min", "init median", "init p90", "peak RSS"
    );
    for (label, binary) in &binaries {
        // Labels start with the handler's name (`notify release arm64`).
        let handler = label.split_whitespace().next().unwrap_or("notify");
        let (_config, env) = function_env(handler)?;
        let bytes = std::fs::read(binary)
            .with_context(|| format!("{label}: cannot read {}", binary.display()))?;
        let size = bytes.len();
        let deflated = deflated_size(&bytes)?;
        if !runs_here(&bytes) {
            println!(
                "{:<24} {:>8.1}MB {:>8.1}MB {:>12} {:>12} {:>12} {:>9}",
                label,
                size as f64 / 1e6,
                deflated as f64 / 1e6,
                "-",
                "(another",
                "CPU)",
                "-"
            );
            continue;
        }
        let mut times = Vec::with_capacity(runs);
        let mut peak_rss_kb = 0;
        for i in 0..WARMUP + runs {
            let (elapsed, rss_kb) = cold_start(binary, &env)
                .with_context(|| format!("{label}: run {i} of {}", binary.display()))?;
            if i >= WARMUP {
                times.push(elapsed);
                peak_rss_kb = peak_rss_kb.max(rss_kb);
            }
        }
        times.sort();
        let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        println!(
            "{:<24} {:>8.1}MB {:>8.1}MB {:>10.1}ms {:>10.1}ms {:>10.1}ms {:>7.1}MB",
            label,
            size as f64 / 1e6,
            deflated as f64 / 1e6,
            ms(times[0]),
            ms(at(0.5)),
            ms(at(0.9)),
            peak_rss_kb as f64 / 1024.0,
        );
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The config file and environment a deployment gives the function (every rule of
/// rules.toml that `handler` runs), with dummy credentials and an unroutable endpoint: nothing may leave the
/// machine, and init makes no call. The file must outlive the runs.
fn function_env(handler: &str) -> anyhow::Result<(ConfigFile, Vec<(&'static str, String)>)> {
    let manifest = load(
        &paths::workspace().join("rules.toml"),
        &ValidateOptions::default(),
    )?;
    let file = ConfigFile::write(&handler_config::from_manifest(&manifest, handler)?)?;
    let mut env = bench::offline_env("info");
    env.push(("PATROL_STATE_TABLE", "patrol-state".to_owned()));
    env.extend(file.env());
    Ok((file, env))
}

/// One cold start: exec to the first `/next` poll, and the process's peak RSS (kB) then.
fn cold_start(binary: &Path, env: &[(&str, String)]) -> anyhow::Result<(Duration, u64)> {
    let server = Server::http("127.0.0.1:0")
        .map_err(|e| anyhow::anyhow!("cannot start the Runtime API: {e}"))?;
    let addr = server
        .server_addr()
        .to_ip()
        .context("Runtime API is not on an IP address")?;
    let start = Instant::now();
    let child = Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "patrol-bench-function")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/patrol-bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    let child = Running(child);
    let request = server
        .recv_timeout(Duration::from_secs(10))
        .context("Runtime API")?;
    let Some(request) = request else {
        let mut child = child;
        let status = child.0.try_wait()?;
        anyhow::bail!("no poll within 10 s (process status: {status:?})");
    };
    // Anything else before the first poll (an init error) ends the run.
    anyhow::ensure!(
        request.url().ends_with("/runtime/invocation/next"),
        "the function called {} before polling",
        request.url()
    );
    let elapsed = start.elapsed();
    let rss = peak_rss_kb(child.0.id()).unwrap_or(0);
    drop(request); // unanswered: the function waits, then is killed
    Ok((elapsed, rss))
}

/// Whether the ELF binary is for this machine's CPU (an arm64 bundle on an x86_64 host is
/// only measured for size).
fn runs_here(bytes: &[u8]) -> bool {
    let machine = bytes.get(18..20).map(|m| u16::from_le_bytes([m[0], m[1]]));
    let host = match std::env::consts::ARCH {
        "x86_64" => 0x3e,
        "aarch64" => 0xb7,
        _ => return false,
    };
    bytes.starts_with(b"\x7fELF") && machine == Some(host)
}

/// The binary deflated at zip's default level: within a few hundred bytes of the Lambda
/// deployment package that holds it.
fn deflated_size(bytes: &[u8]) -> anyhow::Result<u64> {
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(6));
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?.len() as u64)
}
