//! `patrol explain EVENT.json`: which rules an event triggers and, for every rule it does
//! not, the first field that failed and why.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use patrol_core::alert;
use patrol_core::condition::Condition;
use patrol_core::event;
use patrol_core::manifest::Trigger;
use patrol_core::pattern::Pattern;

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
    let mut events = super::replay::read_event_file(&args.event);
    anyhow::ensure!(
        events.len() == 1,
        "{} holds {} events; explain takes a file with exactly one",
        args.event.display(),
        events.len()
    );
    let raw = events
        .pop()
        .ok_or_else(|| anyhow::anyhow!("no event"))?
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.event.display()))?;
    let ev =
        event::to_eventbridge(raw).map_err(|e| anyhow::anyhow!("{}: {e}", args.event.display()))?;
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
            Ok(()) => match &rule.condition {
                None => {
                    matched += 1;
                    println!("  YES {:<40} matches", rule.id);
                }
                Some(source) => {
                    let verdict = Condition::compile(source)
                        .map_err(|es| {
                            es.iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join("; ")
                        })
                        .and_then(|c| {
                            c.eval(&alert::context(rule, &ev))
                                .map_err(|e| e.to_string())
                        });
                    match verdict {
                        Ok(true) => {
                            matched += 1;
                            println!("  YES {:<40} matches (pattern and condition)", rule.id);
                        }
                        Ok(false) => println!(
                            "  no  {:<40} pattern matches, but the condition `{source}` is false",
                            rule.id
                        ),
                        Err(e) => println!(
                            "  ERR {:<40} pattern matches, but the condition failed: {e}",
                            rule.id
                        ),
                    }
                }
            },
            Err(mismatch) => println!(
                "  no  {:<40} `{}`: {}",
                rule.id, mismatch.path, mismatch.reason
            ),
        }
    }
    println!("{matched} of {} rules match", m.rules.len());
    Ok(ExitCode::SUCCESS)
}
