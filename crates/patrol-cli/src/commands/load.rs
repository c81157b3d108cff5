//! Reading the manifest the way every subcommand does: handlers discovered from the
//! `lambdas/` folder beside it, diagnostics printed to stderr (warnings too, like a
//! compiler's), exit code 1 on errors.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use patrol_core::diagnostic::render_all;
use patrol_core::manifest::{Manifest, ValidateOptions, validate_str_with_warnings};

/// `Ok(Err(code))` when the manifest has errors (already printed, with its warnings).
pub fn manifest(path: &Path) -> anyhow::Result<Result<Manifest, ExitCode>> {
    Ok(manifest_and_warnings(path)?.map(|(m, _)| m))
}

/// Like [`manifest`], with the number of warnings printed for a valid manifest.
pub fn manifest_and_warnings(path: &Path) -> anyhow::Result<Result<(Manifest, usize), ExitCode>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read manifest `{}`", path.display()))?;
    let options = ValidateOptions {
        handlers: handlers(path),
        base_dir: Some(manifest_dir(path).to_owned()),
        today: Some(patrol_core::date::today()),
    };
    let shown = path.display().to_string();
    match validate_str_with_warnings(&text, &shown, &options) {
        Ok((m, warnings)) => {
            if !warnings.is_empty() {
                eprint!("{}", render_all(&warnings, &shown, &text));
            }
            Ok(Ok((m, warnings.len())))
        }
        Err(diags) => {
            eprint!("{}", render_all(&diags, &shown, &text));
            Ok(Err(ExitCode::from(1)))
        }
    }
}

fn manifest_dir(manifest: &Path) -> &Path {
    manifest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Handler crates are the folders under `lambdas/` next to the manifest.
pub fn handlers(manifest: &Path) -> Vec<String> {
    let dir = manifest_dir(manifest).join("lambdas");
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    if found.is_empty() {
        found.push(patrol_core::manifest::validate::DEFAULT_HANDLER.to_owned());
    }
    found.sort();
    found
}

/// Resolves a path written in the manifest (relative to the manifest's folder).
pub fn relative_to_manifest(manifest: &Path, written: &str) -> std::path::PathBuf {
    manifest_dir(manifest).join(written)
}
