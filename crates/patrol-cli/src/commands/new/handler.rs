//! `patrol new --handler NAME`: a handler crate `lambdas/NAME/` on the handler SDK
//! (`patrol-handler`) that builds and passes its own test at once, added to the workspace's
//! `members`, and an example rule `[rules.NAME]` (`handler = "NAME"`, daily schedule)
//! appended to the manifest:
//!
//! ```text
//! lambdas/NAME/Cargo.toml       workspace dependencies only
//! lambdas/NAME/handler.toml     its declaration (kind, description, params, permissions)
//! lambdas/NAME/src/main.rs      `patrol_handler::run(...)`
//! lambdas/NAME/src/lib.rs       the `Handler` impl (one finding per scheduled run) + test
//! ```
//!
//! Refused, with nothing written: a NAME that is not kebab-case, a crate or folder of that
//! name, a rule of that id, a workspace without `members`, or a manifest that would not
//! validate with the new rule. Files are written last, and removed again if a later write
//! fails.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use patrol_core::diagnostic::render_all;
use patrol_core::manifest::ValidateOptions;
use patrol_core::manifest::handler::{self as declaration, Declarations};
use patrol_core::manifest::validate::{is_kebab_id, validate_with_declarations};

use super::super::load;

pub fn run(manifest: &Path, name: &str) -> anyhow::Result<ExitCode> {
    if !is_kebab_id(name) {
        bail!(
            "handler name `{name}` is not kebab-case: use lowercase letters, digits and single dashes, starting with a letter, at most 64 characters (e.g. `stale-access-keys`)"
        );
    }
    let root = load::relative_to_manifest(manifest, "");
    let crate_dir = root.join("lambdas").join(name);
    if crate_dir.exists() {
        bail!(
            "`{}` already exists; pick another handler name",
            crate_dir.display()
        );
    }
    let cargo_path = root.join("Cargo.toml");
    let cargo_text = std::fs::read_to_string(&cargo_path).with_context(|| {
        format!(
            "cannot read the workspace's `{}`: a handler crate joins the Cargo workspace beside the manifest",
            cargo_path.display()
        )
    })?;
    let new_cargo = add_member(&cargo_text, name)
        .with_context(|| format!("cannot add `lambdas/{name}` to {}", cargo_path.display()))?;
    let (text, doc, taken) = super::read_manifest(manifest, name)?;
    if taken {
        bail!(
            "rule `{name}` already exists in {}, and the example rule of handler `{name}` would take that id; pick another handler name",
            manifest.display()
        );
    }

    let files = crate_files(name);
    let mut new_text = text.clone();
    if !new_text.ends_with('\n') {
        new_text.push('\n');
    }
    new_text.push('\n');
    new_text.push_str(&example_rule(name, needs_route(&doc).as_deref()));

    // The manifest must validate with the new handler declared, before anything is written.
    let shown = manifest.display().to_string();
    let mut handlers = load::handlers(manifest);
    handlers.push(name.to_owned());
    handlers.sort();
    let mut declarations = declarations_on_disk(&root, &handlers);
    let handler_toml = files
        .iter()
        .find(|(path, _)| path == declaration::FILE_NAME)
        .map(|(_, body)| body.as_str())
        .unwrap_or_default();
    match declaration::parse(name, handler_toml) {
        Ok(d) => {
            declarations.insert(name.to_owned(), d);
        }
        Err(diags) => {
            eprint!(
                "{}",
                render_all(&diags, declaration::FILE_NAME, handler_toml)
            );
            bail!("the scaffolded handler.toml does not parse (a bug in `patrol new`)");
        }
    }
    let options = ValidateOptions {
        handlers,
        base_dir: None,
        today: Some(patrol_core::date::today()),
    };
    if let Err(diags) = validate_with_declarations(&new_text, &shown, &options, &declarations) {
        eprint!("{}", render_all(&diags, &shown, &new_text));
        eprintln!(
            "nothing written: {shown} would not validate with the example rule of handler `{name}`; fix the problems above first"
        );
        return Ok(ExitCode::from(1));
    }

    write_all(
        &crate_dir,
        &files,
        (&cargo_path, &cargo_text, &new_cargo),
        (manifest, &new_text),
    )?;

    println!("added handler `{name}`:");
    for (path, _) in &files {
        println!("  lambdas/{name}/{path}");
    }
    println!("  {}: member `lambdas/{name}`", cargo_path.display());
    println!("  {shown}: rule `{name}` (handler = \"{name}\", daily)");
    println!(
        "\nnext steps:\n  1. `cargo test -p {name}`: the example handler reports one finding per scheduled run\n  2. write its checks in lambdas/{name}/src/lib.rs (AWS clients from `ctx.aws`), and declare its params and permissions in lambdas/{name}/handler.toml\n  3. edit `[rules.{name}]`: description, severity, runbook, message, schedule"
    );
    Ok(ExitCode::SUCCESS)
}

/// Shipped declarations, overridden by each handler.toml found under `lambdas/`.
fn declarations_on_disk(root: &Path, handlers: &[String]) -> Declarations {
    let mut out = declaration::shipped();
    for handler in handlers {
        let path = root
            .join("lambdas")
            .join(handler)
            .join(declaration::FILE_NAME);
        if let Ok(text) = std::fs::read_to_string(&path)
            && let Ok(d) = declaration::parse(handler, &text)
        {
            out.insert(handler.clone(), d);
        }
    }
    out
}

/// The workspace manifest with `"lambdas/NAME"` added to `[workspace] members`, after the
/// last `lambdas/` member (or at the end), its formatting kept.
fn add_member(cargo: &str, name: &str) -> anyhow::Result<String> {
    let parsed: toml::Table = toml::from_str(cargo).context("it is not valid TOML")?;
    let members = parsed
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(toml::Value::as_array)
        .context("it has no `[workspace] members` list")?;
    let member = format!("lambdas/{name}");
    if let Some(taken) = members
        .iter()
        .filter_map(toml::Value::as_str)
        .find(|m| *m == member || Path::new(m).file_name().and_then(|f| f.to_str()) == Some(name))
    {
        bail!("the workspace already has a crate at `{taken}`; pick another handler name");
    }
    let start = cargo
        .find("members = [")
        .context("`members` is not written as `members = [ ... ]`")?;
    let close = cargo[start..]
        .find(']')
        .map(|i| start + i)
        .context("`members = [` is not closed")?;
    let list = &cargo[start..close];
    let line = format!("    \"{member}\",\n");
    let at = match list.rfind("\"lambdas/") {
        Some(i) => start + i + list[i..].find('\n').map_or(list.len() - i, |n| n + 1),
        None => cargo[..close].rfind('\n').map_or(close, |n| n + 1),
    };
    let mut out = String::with_capacity(cargo.len() + line.len());
    out.push_str(&cargo[..at]);
    out.push_str(&line);
    out.push_str(&cargo[at..]);
    let check: toml::Table = toml::from_str(&out).context("the edited file is not valid TOML")?;
    let added = check
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(toml::Value::as_array)
        .is_some_and(|m| m.iter().any(|v| v.as_str() == Some(member.as_str())));
    if !added {
        bail!(
            "`members` is not a one-line-per-member list this command can edit; add `{member}` by hand"
        );
    }
    Ok(out)
}

/// The crate's files, by path inside `lambdas/NAME/`.
fn crate_files(name: &str) -> Vec<(String, String)> {
    let snake = name.replace('-', "_");
    let ty = camel(name);
    let cargo = format!(
        r#"[package]
name = "{name}"
description = "TODO: what the {name} handler checks"
version.workspace = true
edition.workspace = true
rust-version.workspace = true
license.workspace = true
publish.workspace = true

[[bin]]
name = "{name}"
path = "src/main.rs"

[dependencies]
patrol-core.workspace = true
patrol-handler.workspace = true
serde_json.workspace = true
tokio.workspace = true

[lints]
workspace = true
"#
    );
    let handler_toml = format!(
        r#"# The {name} handler's declaration, which `patrol validate` checks its rules against and
# the CDK app grants its function role from (the README's "handler.toml reference").
# Declare each parameter its rules take (`[params.NAME]`, a type) and each AWS action its
# checks call (`[[permissions]]`, exact actions, scoped resources).
#
# kind = "audit": the handler reads state and never writes (`patrol validate` refuses write
# actions), and its scheduled rules may use `condition`, `suppress` and `dedup` on each
# finding. Use "notify" for a handler that acts on what its triggers send it.
kind = "audit"
description = "TODO: what the {name} handler checks"
"#
    );
    let main = format!(
        r#"//! Bootstrap only: Patrol's handler runtime with [`{snake}::{ty}`].

#[tokio::main]
async fn main() -> Result<(), patrol_handler::Error> {{
    patrol_handler::run({snake}::{ty}).await
}}
"#
    );
    let lib = LIB_TEMPLATE
        .replace("__NAME__", name)
        .replace("__TYPE__", &ty);
    vec![
        ("Cargo.toml".to_owned(), cargo),
        (declaration::FILE_NAME.to_owned(), handler_toml),
        ("src/main.rs".to_owned(), main),
        ("src/lib.rs".to_owned(), lib),
    ]
}

/// `src/lib.rs` of a new handler: `__NAME__` and `__TYPE__` replaced.
const LIB_TEMPLATE: &str = r#"//! The `__NAME__` handler. TODO: one line on what it checks, and why.
//!
//! Patrol calls [`__TYPE__::events`] once per run of each rule with
//! `handler = "__NAME__"`, and does everything else with the events it returns: the rule's
//! suppressions, condition and message, dedup, delivery to its routes, retries, the
//! failure queue and per-rule metrics. This example reports one finding per scheduled run,
//! read from the scheduled event itself; replace it with real checks (AWS clients from
//! `ctx.aws`, which carries Patrol's timeouts; the deployment's regions in `ctx.regions`).

use patrol_core::finding::Finding;
use patrol_handler::{Context, Handler, HandlerError};
use serde_json::{Map, Value, json};

/// The handler's name: its crate, its binary and the rules' `handler`.
pub const HANDLER: &str = "__NAME__";

#[derive(Debug, Clone, Copy, Default)]
pub struct __TYPE__;

impl Handler for __TYPE__ {
    const NAME: &'static str = HANDLER;

    async fn events(&self, ctx: &Context<'_>) -> Result<Vec<Value>, HandlerError> {
        let field = |name: &str| {
            ctx.event
                .get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| HandlerError::msg(format!("the scheduled event has no `{name}`")))
        };
        let (account, region) = (field("account")?, field("region")?);
        let mut facts = Map::new();
        facts.insert("tick".into(), json!(field("time")?));
        facts.insert("regions".into(), json!(ctx.regions));
        let finding = Finding {
            check: HANDLER.into(),
            finding: "scheduled-run".into(),
            // What the finding is about (stable across runs) and its state: a rule that
            // deduplicates on both alerts once, and again when the state changes.
            key: format!("{account}/{region}/{}", ctx.rule.id),
            fingerprint: "ran".into(),
            account: account.into(),
            region: region.into(),
            resource: None,
            facts,
        };
        Ok(vec![ctx.finding(&finding)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use patrol_handler::testing::{ACCOUNT, REGION, TIME, TestContext};

    #[tokio::test]
    async fn a_scheduled_run_reports_one_finding_of_its_account_and_region() {
        let test = TestContext::scheduled(HANDLER, "__NAME__");
        let events = __TYPE__.events(&test.context()).await.expect("events");
        assert_eq!(events.len(), 1);
        let finding = Finding::from_event(&events[0]).expect("a finding event");
        assert_eq!((finding.account.as_str(), finding.region.as_str()), (ACCOUNT, REGION));
        assert_eq!(finding.key, format!("{ACCOUNT}/{REGION}/__NAME__"));
        assert_eq!(finding.facts["tick"], TIME);
        assert_eq!(events[0]["time"], TIME, "stamped with the run's time");
    }

    #[tokio::test]
    async fn an_event_without_an_account_is_an_error() {
        let test = TestContext::scheduled(HANDLER, "__NAME__").with_event(json!({"region": "us-east-1"}));
        let err = __TYPE__.events(&test.context()).await.expect_err("no account");
        assert_eq!(err.to_string(), "the scheduled event has no `account`");
    }
}
"#;

/// `stale-access-keys` → `StaleAccessKeys`.
fn camel(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// The first route, when rules don't get one from `defaults.notify`.
fn needs_route(doc: &toml::Table) -> Option<String> {
    if doc.get("defaults").and_then(|d| d.get("notify")).is_some() {
        return None;
    }
    doc.get("notify")
        .and_then(toml::Value::as_table)
        .and_then(|t| t.keys().next().cloned())
}

fn example_rule(name: &str, route: Option<&str>) -> String {
    let mut t = format!(
        r#"[rules.{name}]
description = "TODO: one line saying what the {name} handler reports"
severity = "medium"
runbook = "TODO: what on-call checks first and how to fix what was found."
handler = "{name}"
trigger.schedule = "rate(1 day)"
message = "{{{{ detail.finding }}}} in account {{{{ detail.account }}}} ({{{{ detail.region }}}}): {{{{ detail.key }}}}"
# Alert once per finding, and again when its state (fingerprint) changes or after 30 days.
dedup = {{ key = "{{{{ detail.account }}}}#{{{{ detail.key }}}}#{{{{ detail.fingerprint }}}}", window = "30d" }}
"#
    );
    if let Some(route) = route {
        t.push_str(&format!("notify = [\"{route}\"]\n"));
    }
    t
}

/// Writes the crate's files, then the workspace manifest, then the rules manifest; if a
/// write fails, what was written is removed or restored.
fn write_all(
    crate_dir: &Path,
    files: &[(String, String)],
    (cargo_path, cargo_old, cargo_new): (&Path, &str, &str),
    (manifest, manifest_new): (&Path, &str),
) -> anyhow::Result<()> {
    let undo_crate = || {
        let _ = std::fs::remove_dir_all(crate_dir);
    };
    let written: anyhow::Result<()> = files.iter().try_for_each(|(path, body)| {
        let full: PathBuf = crate_dir.join(path);
        if let Some(dir) = full.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(&full, body).with_context(|| format!("cannot write {}", full.display()))
    });
    if let Err(e) = written {
        undo_crate();
        return Err(e);
    }
    if let Err(e) = std::fs::write(cargo_path, cargo_new) {
        undo_crate();
        return Err(e).with_context(|| format!("cannot write {}", cargo_path.display()));
    }
    if let Err(e) = std::fs::write(manifest, manifest_new) {
        undo_crate();
        let _ = std::fs::write(cargo_path, cargo_old);
        return Err(e).with_context(|| format!("cannot write {}", manifest.display()));
    }
    Ok(())
}

#[cfg(test)]
#[path = "handler_tests.rs"]
mod tests;
