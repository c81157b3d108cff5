//! `patrol validate`: every problem in rules.toml, compiler style. Warnings are printed
//! but don't fail it (exit 0).

use std::path::Path;
use std::process::ExitCode;

pub fn run(manifest: &Path) -> anyhow::Result<ExitCode> {
    match super::load::manifest_and_warnings(manifest)? {
        Ok((m, warnings)) => {
            use patrol_core::manifest::Trigger;
            let count = |f: fn(&Trigger) -> bool| m.rules.iter().filter(|r| f(&r.trigger)).count();
            let mut kinds = vec![format!(
                "{} on events",
                count(|t| matches!(t, Trigger::Event { .. }))
            )];
            for (n, what) in [
                (
                    count(|t| matches!(t, Trigger::Schedule { .. })),
                    "on schedules",
                ),
                (count(|t| matches!(t, Trigger::Sns { .. })), "on SNS topics"),
                (
                    count(|t| matches!(t, Trigger::Webhook { .. })),
                    "on webhooks",
                ),
            ] {
                if n > 0 {
                    kinds.push(format!("{n} {what}"));
                }
            }
            let warned = match warnings {
                0 => String::new(),
                1 => "; 1 warning".to_owned(),
                n => format!("; {n} warnings"),
            };
            println!(
                "{}: ok ({} rules: {}; {} routes{warned})",
                manifest.display(),
                m.rules.len(),
                kinds.join(", "),
                m.routes.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(code) => Ok(code),
    }
}
