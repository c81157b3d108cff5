//! Locations inside the workspace, independent of the directory tests run from.

use std::path::PathBuf;

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// A binary built by `make test` before the tests run (`cargo build -p <crate>`);
/// `PATROL_BIN_DIR` overrides the folder.
pub fn built_binary(name: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::var_os("PATROL_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target").join("debug"));
    let path = dir.join(name);
    anyhow::ensure!(
        path.is_file(),
        "{} does not exist: build it first with `cargo build -p {name}` (make test does)",
        path.display()
    );
    Ok(path)
}
