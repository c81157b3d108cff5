//! `patrol validate`: every problem in rules.toml, compiler style.

use std::path::Path;
use std::process::ExitCode;

pub fn run(manifest: &Path) -> anyhow::Result<ExitCode> {
    match super::load::manifest(manifest)? {
        Ok(m) => {
            let events = m
                .rules
                .iter()
                .filter(|r| matches!(r.trigger, patrol_core::manifest::Trigger::Event { .. }))
                .count();
            println!(
                "{}: ok ({} rules: {} on events, {} on schedules; {} routes)",
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
