//! `patrol replay s3://…` as users run it: the fixture archive uploaded to a moto bucket with
//! the real S3 SDK, replayed by the built binary through the standard SDK configuration
//! (`AWS_ENDPOINT_URL`, dummy credentials), gives exactly what replaying the folder gives.

use std::path::{Path, PathBuf};
use std::process::Command;

use patrol_tests::moto::Moto;
use patrol_tests::paths;

const BUCKET: &str = "trail-logs";
const PREFIX: &str = "org";

fn archive() -> PathBuf {
    paths::workspace().join("tests/fixtures/replay/archive")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Every file of the fixture archive under `s3://BUCKET/PREFIX/`, digests included (replay
/// must skip them there as it does in the folder).
async fn upload(moto: &Moto) -> anyhow::Result<usize> {
    let config = moto.sdk_config().await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket().bucket(BUCKET).send().await?;
    let root = archive();
    let mut all = Vec::new();
    files(&root, &mut all)?;
    for path in &all {
        let key = format!("{PREFIX}/{}", path.strip_prefix(&root)?.to_string_lossy());
        s3.put_object()
            .bucket(BUCKET)
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from(std::fs::read(
                path,
            )?))
            .send()
            .await?;
    }
    Ok(all.len())
}

struct Replay {
    code: Option<i32>,
    summary: String,
    alerts: String,
    stderr: String,
}

fn replay(source: &str, env: &[(&'static str, String)], tag: &str) -> anyhow::Result<Replay> {
    let alerts = std::env::temp_dir().join(format!(
        "patrol-replay-e2e-{}-{tag}.ndjson",
        std::process::id()
    ));
    let out = Command::new(paths::built_binary("patrol")?)
        .arg("--manifest")
        .arg(paths::workspace().join("rules.toml"))
        .args(["replay", "--format", "json", "--alerts"])
        .arg(&alerts)
        .arg(source)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(paths::workspace())
        .output()?;
    let written = std::fs::read_to_string(&alerts);
    let _ = std::fs::remove_file(&alerts);
    Ok(Replay {
        code: out.status.code(),
        summary: String::from_utf8(out.stdout)?,
        alerts: written?,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

#[tokio::test]
async fn s3_replay_gives_what_the_folder_gives() -> anyhow::Result<()> {
    let moto = Moto::start()?;
    let uploaded = upload(&moto).await?;
    let env = moto.sdk_env();

    let s3 = tokio::task::spawn_blocking(move || {
        replay(&format!("s3://{BUCKET}/{PREFIX}/"), &env, "s3")
    })
    .await??;
    let local = replay(&archive().to_string_lossy(), &[], "local")?;

    assert_eq!(s3.code, local.code, "{}\n---\n{}", s3.stderr, local.stderr);
    assert!(matches!(local.code, Some(0 | 1)), "{}", local.stderr);
    assert_eq!(s3.summary, local.summary, "{}", s3.stderr);
    assert_eq!(s3.alerts, local.alerts);
    // Not a vacuous match: the archive has alerts, and broken files that stay broken in S3.
    let summary: serde_json::Value = serde_json::from_str(&local.summary)?;
    assert!(summary["alerts"].as_u64() > Some(0), "{summary}");
    assert!(summary["files"]["bad"].as_u64() > Some(0), "{summary}");
    assert!(
        summary["files"]["read"].as_u64() < Some(uploaded as u64),
        "digests are not replayed: {summary}"
    );
    assert_eq!(
        s3.alerts.lines().count() as u64,
        summary["alerts"].as_u64().unwrap_or(0)
    );
    // The same one-line account, give or take the timing line after it.
    let run_line = |stderr: &str| {
        stderr
            .lines()
            .find(|l| l.starts_with("replayed "))
            .map(str::to_owned)
    };
    assert_eq!(run_line(&s3.stderr), run_line(&local.stderr));
    Ok(())
}
