//! The `patrol` binary on the shipped rules.toml and small manifests, as users run it.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn patrol(manifest: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_patrol"))
        .arg("--manifest")
        .arg(manifest)
        .args(args)
        .current_dir(workspace())
        .output()
        .expect("patrol runs");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn json(run: &Run) -> Value {
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// A manifest in a fresh folder, with the workspace's test events where its paths expect them.
fn manifest_in_tempdir(text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "patrol-cli-covers-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&dir).expect("tempdir");
    std::os::unix::fs::symlink(workspace().join("tests"), dir.join("tests")).expect("symlink");
    let path = dir.join("rules.toml");
    std::fs::write(&path, text).expect("write manifest");
    path
}

#[test]
fn covers_of_the_shipped_rules_forward_little_more_than_the_rules_get() {
    let manifest = workspace().join("rules.toml");
    let corpus = workspace().join("../shared/corpus/cloudtrail-records.jsonl");
    let events = workspace().join("tests/events");
    let mut args = vec!["covers", "--json"];
    let corpus_arg = corpus.to_string_lossy().into_owned();
    if corpus.is_file() {
        args.push(&corpus_arg);
    } else {
        eprintln!("corpus absent ({corpus_arg}): measuring tests/events only");
    }
    let events_arg = events.to_string_lossy().into_owned();
    args.push(&events_arg);
    let out = json(&patrol(&manifest, &args));
    let stats = &out["events"];
    let n = |k: &str| {
        stats[k]
            .as_u64()
            .unwrap_or_else(|| panic!("no {k} in {stats}"))
    };
    eprintln!(
        "{} events: matched {} ({:.4}), forwarded {} ({:.4}), deliveries {}, ratio {:.3}",
        n("events"),
        n("matched"),
        stats["matched_share"],
        n("forwarded"),
        stats["forwarded_share"],
        n("deliveries"),
        stats["ratio"]
    );
    if corpus.is_file() {
        assert!(n("events") >= 3290 + 100, "{stats}");
    }
    assert_eq!(n("unreadable"), 0, "{stats}");
    assert!(
        n("matched") > 0 && n("forwarded") >= n("matched"),
        "{stats}"
    );
    assert!(n("forwarded") <= 2 * n("matched"), "{stats}");
    assert!(n("deliveries") >= n("forwarded"), "{stats}");
    // The same covers as `patrol manifest --json` gives the CDK app.
    let normalized = json(&patrol(&manifest, &["manifest", "--json"]));
    assert_eq!(normalized["covers"], out["covers"]);
    let forwarding = normalized["covers"]["forwarding"]
        .as_array()
        .expect("a list");
    assert!(!forwarding.is_empty());
    assert!(normalized["covers"]["feeds"]["notify"].is_array());
}

const SMALL: &str = r#"
version = 1
[defaults]
notify = ["security"]
[notify.security]
type = "sns"

[rules.iam-access-key-created]
description = "An IAM access key was created"
severity = "medium"
trigger.cloudtrail = { eventSource = "iam.amazonaws.com", eventName = "CreateAccessKey" }
message = "key"
tests = [
  { event = "tests/events/iam/create-access-key.json", expect = "alert" },
  { event = "tests/events/iam/delete-access-key.json", expect = "quiet" },
]

[rules.iam-user-created]
description = "An IAM user was created"
severity = "medium"
trigger.cloudtrail = { eventSource = "iam.amazonaws.com", eventName = "CreateUser" }
message = "user"
tests = [
  { event = "tests/events/iam/create-user.json", expect = "alert" },
  { event = "tests/events/iam/delete-user.json", expect = "quiet" },
]

[rules.unauthorized-api-call]
description = "An API call was denied"
severity = "low"
include_read_only = true
trigger.pattern = { detail-type = ["AWS API Call via CloudTrail"], detail = { errorCode = [{ prefix = "AccessDenied" }] } }
message = "denied"
tests = [
  { event = "tests/events/sts/assume-role-access-denied.json", expect = "alert" },
  { event = "tests/events/sts/assume-role.json", expect = "quiet" },
]
"#;

#[test]
fn covers_table_lists_covers_and_what_they_forward() {
    let manifest = manifest_in_tempdir(SMALL);
    let events = manifest.with_file_name("tests").join("events/iam");
    let run = patrol(&manifest, &["covers", &events.to_string_lossy()]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    insta::assert_snapshot!("covers_table", run.stdout);
    let run = patrol(&manifest, &["covers", "--json"]);
    let out = json(&run);
    insta::assert_json_snapshot!("covers_json", out);
    if let Some(dir) = manifest.parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn covers_of_an_invalid_manifest_exit_1() {
    let manifest =
        manifest_in_tempdir(&SMALL.replace("severity = \"low\"", "severity = \"urgent\""));
    let run = patrol(&manifest, &["covers"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stdout.is_empty());
    if let Some(dir) = manifest.parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
}
