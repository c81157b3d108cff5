//! The scaffold's checks and edits, and one test that builds a scaffolded crate and runs
//! its tests, in a scratch copy of this workspace (`target/patrol-new-handler/`: its
//! Cargo.toml, Cargo.lock and toolchain file copied, `crates/`, `tests/` and each
//! `lambdas/*` linked) with this workspace's target directory, so only the new crate
//! compiles.

use super::*;

/// The workspace this test was built in.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("../.."))
}

const MANIFEST: &str = "#:schema ./rules.schema.json\n[notify.security]\ntype = \"sns\"\nemail = [\"secops@example.com\"]\n";

const CARGO: &str = r#"[workspace]
resolver = "3"
members = [
    "crates/patrol-core",
    "lambdas/notify",
    "tests",
]

[workspace.dependencies]
serde = "1"
"#;

fn code(c: ExitCode) -> String {
    format!("{c:?}")
}

/// An empty project (a manifest, a workspace, `lambdas/notify`) under `target/`.
fn project(label: &str) -> PathBuf {
    let dir = workspace()
        .join("target")
        .join(format!("patrol-new-handler-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("lambdas/notify")).expect("project dir");
    std::fs::write(dir.join("rules.toml"), MANIFEST).expect("manifest");
    std::fs::write(dir.join("Cargo.toml"), CARGO).expect("workspace");
    std::fs::write(
        dir.join("lambdas/notify/Cargo.toml"),
        "[package]\nname = \"notify\"\n",
    )
    .expect("notify");
    dir
}

#[test]
fn a_member_goes_after_the_last_lambda() {
    let out = add_member(CARGO, "stale-keys").expect("added");
    assert!(
        out.contains("    \"lambdas/notify\",\n    \"lambdas/stale-keys\",\n    \"tests\",\n"),
        "{out}"
    );
    let none = CARGO.replace("    \"lambdas/notify\",\n", "");
    let out = add_member(&none, "stale-keys").expect("added");
    assert!(
        out.contains("    \"tests\",\n    \"lambdas/stale-keys\",\n]"),
        "{out}"
    );
}

#[test]
fn a_crate_name_the_workspace_has_is_refused() {
    for taken in ["notify", "patrol-core"] {
        let err = add_member(CARGO, taken).expect_err("taken");
        assert!(err.to_string().contains("already has a crate at"), "{err}");
    }
    let err = add_member("[package]\nname = \"x\"\n", "a").expect_err("no workspace");
    assert!(
        err.to_string().contains("no `[workspace] members`"),
        "{err}"
    );
}

#[test]
fn names_become_rust_types() {
    assert_eq!(camel("stale-access-keys"), "StaleAccessKeys");
    assert_eq!(camel("s3-public"), "S3Public");
}

#[test]
fn bad_names_and_collisions_are_refused_and_nothing_is_written() {
    let dir = project("refused");
    let manifest = dir.join("rules.toml");
    let before = |f: &str| std::fs::read_to_string(dir.join(f)).expect("file");
    let err = run(&manifest, "Stale_Keys").expect_err("not kebab-case");
    assert!(err.to_string().contains("is not kebab-case"), "{err}");
    let err = run(&manifest, "notify").expect_err("exists");
    assert!(err.to_string().contains("already exists"), "{err}");
    std::fs::write(
        &manifest,
        format!(
            "{MANIFEST}\n[rules.stale-keys]\ndescription = \"d\"\nseverity = \"low\"\ntrigger.schedule = \"rate(1 day)\"\nmessage = \"m\"\nnotify = [\"security\"]\n"
        ),
    )
    .expect("manifest");
    let manifest_text = before("rules.toml");
    let err = run(&manifest, "stale-keys").expect_err("a rule has that id");
    assert!(
        err.to_string().contains("rule `stale-keys` already exists"),
        "{err}"
    );
    assert!(!dir.join("lambdas/stale-keys").exists());
    assert_eq!(before("Cargo.toml"), CARGO);
    assert_eq!(before("rules.toml"), manifest_text);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_manifest_that_would_not_validate_writes_nothing() {
    let dir = project("invalid");
    let manifest = dir.join("rules.toml");
    // A route nobody defined: the manifest is already wrong, and stays as it was.
    let broken = format!("{MANIFEST}[defaults]\nnotify = [\"nowhere\"]\n");
    std::fs::write(&manifest, &broken).expect("manifest");
    assert_eq!(
        code(run(&manifest, "stale-keys").expect("runs")),
        code(ExitCode::from(1))
    );
    assert!(!dir.join("lambdas/stale-keys").exists());
    assert_eq!(
        std::fs::read_to_string(dir.join("Cargo.toml")).expect("c"),
        CARGO
    );
    assert_eq!(std::fs::read_to_string(&manifest).expect("m"), broken);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A scratch copy of this workspace: what the scaffold edits is copied, the rest linked.
#[cfg(unix)]
fn scratch_workspace() -> PathBuf {
    let root = workspace();
    let dir = root
        .join("target")
        .join(format!("patrol-new-handler-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("lambdas")).expect("scratch dir");
    for file in ["Cargo.toml", "Cargo.lock", "rust-toolchain.toml"] {
        std::fs::copy(root.join(file), dir.join(file)).expect(file);
    }
    std::fs::write(dir.join("rules.toml"), MANIFEST).expect("manifest");
    for linked in ["crates", "tests"] {
        std::os::unix::fs::symlink(root.join(linked), dir.join(linked)).expect(linked);
    }
    for entry in std::fs::read_dir(root.join("lambdas"))
        .expect("lambdas")
        .flatten()
    {
        std::os::unix::fs::symlink(entry.path(), dir.join("lambdas").join(entry.file_name()))
            .expect("lambda");
    }
    dir
}

#[cfg(unix)]
#[test]
fn a_scaffolded_handler_builds_and_passes_its_tests_in_the_workspace() {
    let dir = scratch_workspace();
    let manifest = dir.join("rules.toml");
    let name = "scaffold-check";
    assert_eq!(
        code(run(&manifest, name).expect("runs")),
        code(ExitCode::SUCCESS)
    );
    let rules = std::fs::read_to_string(&manifest).expect("manifest");
    assert!(rules.contains("[rules.scaffold-check]\n"), "{rules}");
    assert!(rules.contains("handler = \"scaffold-check\"\ntrigger.schedule = \"rate(1 day)\"\n"));
    assert!(rules.contains("notify = [\"security\"]"), "{rules}");
    let cargo_toml = std::fs::read_to_string(dir.join("Cargo.toml")).expect("workspace");
    assert!(
        cargo_toml.contains("    \"lambdas/scaffold-check\",\n"),
        "{cargo_toml}"
    );
    // Scaffolding it again is refused: the crate exists now.
    assert!(run(&manifest, name).is_err());

    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["test", "--offline", "-p", name])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "cargo test -p {name} failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("test result: ok. 2 passed; 0 failed"),
        "{stdout}\n{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
