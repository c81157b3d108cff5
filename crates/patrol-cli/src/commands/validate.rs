//! `patrol validate`: every problem in rules.toml, compiler style. Warnings are printed
//! but don't fail it (exit 0).

use std::path::Path;
use std::process::ExitCode;

pub fn run(manifest: &Path) -> anyhow::Result<ExitCode> {
    match super::load::manifest_and_warnings(manifest)? {
        Ok((m, warnings)) => {
            let events = m
                .rules
                .iter()
                .filter(|r| matches!(r.trigger, patrol_core::manifest::Trigger::Event { .. }))
                .count();
            let warned = match warnings {
                0 => String::new(),
                1 => "; 1 warning".to_owned(),
                n => format!("; {n} warnings"),
            };
            println!(
                "{}: ok ({} rules: {} on events, {} on schedules; {} routes{warned})",
                manifest.display(),
                m.rules.len(),
                events,
                m.rules.len() - events,
                m.routes.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(code) => Ok(code),
    }
}
