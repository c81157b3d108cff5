//! `patrol test`: every rule's inline tests, through the same engine as replay and
//! the live path (pattern, read-only delivery, template). A scheduled audit rule's tests
//! are recordings of the API responses its check reads ([`recording`]).

use std::path::Path;
use std::process::ExitCode;

use patrol_core::engine::{Engine, Outcome};
use patrol_core::manifest::{Expect, Rule};

mod recording;

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Only run the tests of these rules.
    #[arg(long = "rule")]
    rules: Vec<String>,
}

pub fn run(manifest: &Path, args: &TestArgs) -> anyhow::Result<ExitCode> {
    let m = match super::load::manifest(manifest)? {
        Ok(m) => m,
        Err(code) => return Ok(code),
    };
    for wanted in &args.rules {
        if m.rule(wanted).is_none() {
            anyhow::bail!("no rule `{wanted}` in {}", manifest.display());
        }
    }
    let engine = Engine::new(&m)?;
    let (mut passed, mut failed) = (0usize, 0usize);
    for rule in &m.rules {
        if !args.rules.is_empty() && !args.rules.contains(&rule.id) {
            continue;
        }
        for t in &rule.tests {
            let path = super::load::relative_to_manifest(manifest, &t.event);
            let verdict = check_one(&engine, rule, &path, t.expect);
            match verdict {
                Ok(detail) => {
                    passed += 1;
                    println!("ok    {} {} {detail}", rule.id, t.event);
                }
                Err(why) => {
                    failed += 1;
                    println!("FAIL  {} {}: {why}", rule.id, t.event);
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn check_one(engine: &Engine, rule: &Rule, path: &Path, expect: Expect) -> Result<String, String> {
    let today = patrol_core::date::today();
    if let Some(doc) = recording::read(path) {
        return recording::check(rule, &doc, expect, &today);
    }
    let rule = rule.id.as_str();
    let event = super::replay::read_single_event(path)?;
    let outcome = engine
        .evaluate(&event, &today)
        .into_iter()
        .find(|o| match o {
            Outcome::Alert(a) => a.rule == rule,
            Outcome::Suppressed { rule: r, .. } | Outcome::Failed { rule: r, .. } => r == rule,
        });
    match (expect, outcome) {
        (Expect::Alert, Some(Outcome::Alert(a))) => Ok(format!("(alert: {})", a.message)),
        (Expect::Alert, Some(Outcome::Failed { error, .. })) => {
            Err(format!("matched, but the alert failed: {error}"))
        }
        (Expect::Alert, None) => Err("expected an alert, got none".into()),
        (Expect::Quiet, None) => Ok("(quiet)".into()),
        (Expect::Quiet, Some(Outcome::Suppressed { owner, .. })) => {
            Ok(format!("(quiet: suppressed by {owner})"))
        }
        (Expect::Alert, Some(Outcome::Suppressed { owner, .. })) => Err(format!(
            "expected an alert, but a suppression owned by `{owner}` hid it"
        )),
        (Expect::Quiet, Some(_)) => Err("expected no alert, but the rule fired".into()),
    }
}
