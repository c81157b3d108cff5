//! The `patrol` binary as users run it: exit codes and diagnostics on broken manifests.

use std::process::Command;

use patrol_tests::paths;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn patrol(args: &[&str], manifest: &str) -> anyhow::Result<Run> {
    let dir = tempdir()?;
    let path = dir.join("rules.toml");
    std::fs::write(&path, manifest)?;
    // The manifest's test events, where its relative paths expect them.
    std::os::unix::fs::symlink(paths::workspace().join("tests"), dir.join("tests"))?;
    let out = Command::new(paths::built_binary("patrol")?)
        .arg("--manifest")
        .arg(&path)
        .args(args)
        .current_dir(&dir)
        .output()?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr)
            .replace(&path.display().to_string(), "rules.toml"),
    })
}

fn tempdir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "patrol-cli-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn shipped_manifest() -> anyhow::Result<String> {
    Ok(std::fs::read_to_string(
        paths::workspace().join("rules.toml"),
    )?)
}

#[test]
fn shipped_manifest_validates() -> anyhow::Result<()> {
    let run = Command::new(paths::built_binary("patrol")?)
        .args(["validate"])
        .current_dir(paths::workspace())
        .output()?;
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    // Its `[deploy]` holds AWS's example ids: warned about, not failed on.
    assert!(
        stderr.contains("warning[example-id]: `deploy.central.account`"),
        "{stderr}"
    );
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("; 4 warnings)"),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
    Ok(())
}

#[test]
fn deploy_errors_exit_1_with_place_and_warnings_alongside() -> anyhow::Result<()> {
    let text = shipped_manifest()?.replacen("region = \"eu-west-1\"", "region = \"eu-wset-1\"", 1);
    let run = patrol(&["validate"], &text)?;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "error[invalid-region]: `deploy.central.region`: `eu-wset-1` is not an AWS region"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean `eu-west-1`?"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("1 error and 4 warnings found"),
        "{}",
        run.stderr
    );
    Ok(())
}

#[test]
fn shipped_rules_pass_their_inline_tests() -> anyhow::Result<()> {
    let run = Command::new(paths::built_binary("patrol")?)
        .args(["test"])
        .current_dir(paths::workspace())
        .output()?;
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    Ok(())
}

#[test]
fn bad_toml_exits_1_with_place() -> anyhow::Result<()> {
    let text = shipped_manifest()?.replacen("type = \"sns\"", "type = \"sns", 1);
    let run = patrol(&["validate"], &text)?;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("error[invalid-toml]"), "{}", run.stderr);
    assert!(run.stderr.contains("--> rules.toml:11:"), "{}", run.stderr);
    Ok(())
}

#[test]
fn unknown_key_exits_1_with_place_and_hint() -> anyhow::Result<()> {
    let text = shipped_manifest()?.replacen(
        "severity = \"critical\"",
        "severity = \"critical\"\nsevrity = \"low\"",
        1,
    );
    let run = patrol(&["validate"], &text)?;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("error[unknown-key]: unknown field `sevrity`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("= help:"), "{}", run.stderr);
    Ok(())
}

#[test]
fn unknown_route_exits_1_with_known_routes() -> anyhow::Result<()> {
    let text = shipped_manifest()?.replacen(
        "severity = \"critical\"",
        "severity = \"critical\"\nnotify = [\"secuirty\"]",
        1,
    );
    let run = patrol(&["validate"], &text)?;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "error[unknown-route]: rule `root-console-login` sends to unknown route `secuirty`"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("= help: known routes: security"),
        "{}",
        run.stderr
    );
    // Nothing is printed for the CDK app to consume.
    let run = patrol(&["manifest", "--json"], &text)?;
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    Ok(())
}

#[test]
fn missing_manifest_is_a_usage_error() -> anyhow::Result<()> {
    let out = Command::new(paths::built_binary("patrol")?)
        .args(["--manifest", "/nonexistent/rules.toml", "validate"])
        .output()?;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read manifest"));
    Ok(())
}
