//! What the handler benchmarks (`tests/benches/`) share: their command line, a process
//! killed when the measurement ends, and its peak RSS.

use std::path::PathBuf;
use std::process::Child;

/// `LABEL=BINARY` arguments (a bare path is its own label); `--bench` (cargo's) is skipped.
pub fn labelled_binaries(usage: &str) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let binaries: Vec<(String, PathBuf)> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .map(|a| match a.split_once('=') {
            Some((label, path)) => (label.to_owned(), PathBuf::from(path)),
            None => (a.clone(), PathBuf::from(&a)),
        })
        .collect();
    anyhow::ensure!(!binaries.is_empty(), "usage: {usage}");
    Ok(binaries)
}

/// A child process killed when the measurement ends, whatever happened.
#[derive(Debug)]
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `VmHWM` of a running process, in kB (Linux).
pub fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The environment a benchmarked function runs with besides its config file: dummy
/// credentials and an unroutable endpoint (nothing may leave the machine), and a failure
/// queue URL, which webhook rules require at init.
pub fn offline_env(rust_log: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9".to_owned()),
        (
            "PATROL_FAILURE_QUEUE_URL",
            "http://127.0.0.1:9/123456789012/patrol-notify-failures".to_owned(),
        ),
        ("RUST_LOG", rust_log.to_owned()),
    ]
}
