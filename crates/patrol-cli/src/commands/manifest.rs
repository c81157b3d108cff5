//! `patrol manifest --json`: the normalized manifest, the CDK app's only input.
//!
//! Suppressions are never compiled into a deployed pattern: the function evaluates them
//! on each event against today's date, so one that expires stops applying without a deploy.
//!
//! `covers` holds the covering patterns (`patrol_core::cover`): `forwarding` over every
//! event rule, `feeds` per handler. `handlers` holds the declaration of every handler a rule
//! uses (`lambdas/<handler>/handler.toml`: kind, params, `permissions` for its function role,
//! `audit_permissions` for the `patrol-audit` role), from which the CDK app grants IAM.

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
    let mut value = serde_json::to_value(&m)?;
    let covers = patrol_core::cover::manifest_covers(&m)?;
    if let Some(obj) = value.as_object_mut() {
        obj.insert("covers".into(), serde_json::to_value(covers)?);
    }
    let out = if args.pretty {
        serde_json::to_string_pretty(&value)?
    } else {
        serde_json::to_string(&value)?
    };
    println!("{out}");
    Ok(ExitCode::SUCCESS)
}
