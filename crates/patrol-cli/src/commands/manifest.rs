//! `patrol manifest --json`: the normalized manifest, the CDK app's only input.

use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct ManifestArgs {
    /// Print JSON (the only format; the flag keeps the command line self-describing).
    #[arg(long)]
    json: bool,
    /// Pretty-print.
    #[arg(long)]
    pretty: bool,
}

pub fn run(manifest: &Path, args: &ManifestArgs) -> anyhow::Result<ExitCode> {
    let _ = args.json;
    let m = match super::load::manifest(manifest)? {
        Ok(m) => m,
        Err(code) => return Ok(code),
    };
    let out = if args.pretty {
        serde_json::to_string_pretty(&m)?
    } else {
        serde_json::to_string(&m)?
    };
    println!("{out}");
    Ok(ExitCode::SUCCESS)
}
