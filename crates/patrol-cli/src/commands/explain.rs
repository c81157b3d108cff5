//! `patrol explain EVENT.json`: which rules an event triggers and, for every rule it does
//! not, the first field that failed and why.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use patrol_core::date;
use patrol_core::event;
use patrol_core::manifest::Trigger;
use patrol_core::pattern::Pattern;
use patrol_core::rule::{CompiledRule, Verdict};

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// A file holding one event: an EventBridge event or a raw CloudTrail record.
    event: PathBuf,
}

pub fn run(manifest: &Path, args: &ExplainArgs) -> anyhow::Result<ExitCode> {
    let m = match super::load::manifest(manifest)? {
        Ok(m) => m,
        Err(code) => return Ok(code),
    };
    let ev = super::replay::read_single_event(&args.event)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.event.display()))?;
    let today = date::today();
    let read_only = event::is_read_only_management_event(&ev);
    let mut matched = 0;
    for rule in &m.rules {
        let Trigger::Event {
            pattern,
            include_read_only,
        } = &rule.trigger
        else {
            println!(
                "  -   {:<40} schedule trigger; events do not apply",
                rule.id
            );
            continue;
        };
        let pattern =
            Pattern::parse(pattern).map_err(|e| anyhow::anyhow!("rule `{}`: {e}", rule.id))?;
        match pattern.explain(&ev) {
            Ok(()) if read_only && !include_read_only => println!(
                "  no  {:<40} pattern matches, but this is a read-only event and the rule does not set `include_read_only = true`",
                rule.id
            ),
            Ok(()) => {
                // The rest of the live path, exactly as Lambda runs it.
                let compiled = CompiledRule::new(rule.clone())
                    .map_err(|e| anyhow::anyhow!("rule `{}`: {e}", rule.id))?;
                match compiled.evaluate(&ev, &today) {
                    Ok(Verdict::Alert(_)) => {
                        matched += 1;
                        let how = if rule.condition.is_some() {
                            " (pattern and condition)"
                        } else {
                            ""
                        };
                        println!("  YES {:<40} matches{how}", rule.id);
                    }
                    Ok(Verdict::ConditionFalse) => println!(
                        "  no  {:<40} pattern matches, but the condition `{}` is false",
                        rule.id,
                        rule.condition.as_deref().unwrap_or_default()
                    ),
                    Ok(Verdict::Suppressed { owner, reason }) => println!(
                        "  no  {:<40} pattern matches, but a suppression owned by `{owner}` applies: {reason}",
                        rule.id
                    ),
                    Err(e) => println!(
                        "  ERR {:<40} pattern matches, but the rule failed: {e}",
                        rule.id
                    ),
                }
            }
            Err(mismatch) => println!(
                "  no  {:<40} `{}`: {}",
                rule.id, mismatch.path, mismatch.reason
            ),
        }
    }
    println!("{matched} of {} rules match", m.rules.len());
    Ok(ExitCode::SUCCESS)
}
