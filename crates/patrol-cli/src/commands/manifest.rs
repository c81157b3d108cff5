//! `patrol manifest --json`: the normalized manifest, the CDK app's only input.
//!
//! Each rule with an EventBridge pattern also gets `deployed_pattern` (the pattern with
//! the suppressions it can express compiled in, see `patrol_core::suppress`) and
//! `pattern_suppressions` (their indices in `suppress`). The CDK app deploys
//! `deployed_pattern`; the function still evaluates every suppression.
//!
//! `covers` holds the covering patterns (`patrol_core::cover`): `forwarding` over every
//! event rule, `feeds` per handler.

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
    let mut value = with_deployed_patterns(&m)?;
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

fn with_deployed_patterns(
    m: &patrol_core::manifest::Manifest,
) -> anyhow::Result<serde_json::Value> {
    use patrol_core::manifest::Trigger;
    let mut value = serde_json::to_value(m)?;
    let Some(rules) = value.get_mut("rules").and_then(|r| r.as_array_mut()) else {
        anyhow::bail!("the normalized manifest has no rules array");
    };
    for (json, rule) in rules.iter_mut().zip(&m.rules) {
        if let (Trigger::Event { pattern, .. }, Some(obj)) = (&rule.trigger, json.as_object_mut()) {
            let compiled = patrol_core::suppress::compile_into_pattern(pattern, &rule.suppress);
            obj.insert("deployed_pattern".into(), compiled.pattern);
            obj.insert(
                "pattern_suppressions".into(),
                serde_json::json!(compiled.in_pattern),
            );
        }
    }
    Ok(value)
}
