//! Reading the manifest the way every subcommand does: handlers discovered from the
//! `lambdas/` folder beside it (each crate a handler, each `lambdas/<handler>/handler.toml`
//! its declaration), diagnostics printed to stderr, exit code 1 on errors. A handler.toml
//! with errors stops there: its diagnostics point into it, and rules.toml is not checked
//! against a declaration that does not stand.
//! Warnings are printed in full by `patrol validate` (and with errors); the other commands
//! print one line that counts them, so `make demo` does not repeat them at every step.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use patrol_core::diagnostic::render_all;
use patrol_core::manifest::handler::{self, Declarations};
use patrol_core::manifest::{Manifest, ValidateOptions, validate_with_declarations};

/// `Ok(Err(code))` when the manifest has errors (already printed, with its warnings).
pub fn manifest(path: &Path) -> anyhow::Result<Result<Manifest, ExitCode>> {
    Ok(read(path, false)?.map(|(m, _)| m))
}

/// Like [`manifest`], printing every warning of a valid manifest and returning their number.
pub fn manifest_and_warnings(path: &Path) -> anyhow::Result<Result<(Manifest, usize), ExitCode>> {
    read(path, true)
}

fn read(path: &Path, all_warnings: bool) -> anyhow::Result<Result<(Manifest, usize), ExitCode>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read manifest `{}`", path.display()))?;
    let declarations = match declarations(path)? {
        Ok(d) => d,
        Err(rendered) => {
            eprint!("{rendered}");
            eprintln!(
                "{}: not checked: fix the handler declarations above first",
                path.display()
            );
            return Ok(Err(ExitCode::from(1)));
        }
    };
    let options = ValidateOptions {
        handlers: handlers(path),
        base_dir: Some(manifest_dir(path).to_owned()),
        today: Some(patrol_core::date::today()),
    };
    let shown = path.display().to_string();
    match validate_with_declarations(&text, &shown, &options, &declarations) {
        Ok((m, warnings)) => {
            match warnings.len() {
                0 => {}
                _ if all_warnings => eprint!("{}", render_all(&warnings, &shown, &text)),
                1 => eprintln!("{shown}: 1 warning (`patrol validate` shows it)"),
                n => eprintln!("{shown}: {n} warnings (`patrol validate` shows them)"),
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

/// Handler crates are the folders under `lambdas/` next to the manifest; without any (a
/// manifest kept apart from the Patrol checkout), the handlers shipped with Patrol.
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
        found = handler::shipped().into_keys().collect();
    }
    found.sort();
    found
}

/// The declarations of the handlers beside the manifest: every
/// `lambdas/<handler>/handler.toml`, parsed. `Ok(Err(rendered))` holds the diagnostics of
/// every file with errors, each rendered against its own file. Without a `lambdas/` folder
/// (a manifest kept apart from the Patrol checkout) the shipped declarations apply.
pub fn declarations(manifest: &Path) -> anyhow::Result<Result<Declarations, String>> {
    let dir = manifest_dir(manifest).join("lambdas");
    if !dir.is_dir() {
        return Ok(Ok(handler::shipped()));
    }
    let mut found: Vec<(String, std::path::PathBuf)> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot read `{}`", dir.display()))?
        .flatten()
        .filter_map(|e| {
            let file = e.path().join(handler::FILE_NAME);
            let name = e.file_name().into_string().ok()?;
            file.is_file().then_some((name, file))
        })
        .collect();
    found.sort();
    let mut out = Declarations::new();
    let mut rendered = String::new();
    for (name, file) in found {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read `{}`", file.display()))?;
        match handler::parse(&name, &text) {
            Ok(d) => {
                out.insert(name, d);
            }
            Err(diags) => {
                rendered.push_str(&render_all(&diags, &file.display().to_string(), &text))
            }
        }
    }
    Ok(if rendered.is_empty() {
        Ok(out)
    } else {
        Err(rendered)
    })
}

/// Resolves a path written in the manifest (relative to the manifest's folder).
pub fn relative_to_manifest(manifest: &Path, written: &str) -> std::path::PathBuf {
    manifest_dir(manifest).join(written)
}
