//! `patrol new`: scaffolds what a user adds most often, each piece already passing the
//! checks it will meet. Nothing is written unless all of it can be.
//!
//! - [`rule`]: `patrol new NAME [--cloudtrail SOURCE:EVENTNAME]`, a rule and its two test
//!   events;
//! - [`handler`]: `patrol new --handler NAME`, a handler crate under `lambdas/` that joins
//!   the workspace, and an example scheduled rule that uses it.

mod handler;
mod rule;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The rule's id: kebab-case, naming what it detects (`iam-user-created`); with
    /// `--handler`, the handler's name (its crate, binary and example rule).
    name: String,
    /// The CloudTrail event to match, as `SOURCE:EVENTNAME`
    /// (default `iam.amazonaws.com:CreateUser`, a placeholder to edit).
    #[arg(long, value_name = "SOURCE:EVENTNAME", conflicts_with = "handler")]
    cloudtrail: Option<String>,
    /// Scaffold a handler crate `lambdas/NAME/` (the Handler trait, a unit test, its
    /// handler.toml), add it to the workspace, and add a scheduled example rule using it.
    #[arg(long)]
    handler: bool,
}

pub fn run(manifest: &Path, args: &NewArgs) -> anyhow::Result<ExitCode> {
    if args.handler {
        handler::run(manifest, &args.name)
    } else {
        rule::run(manifest, &args.name, args.cloudtrail.as_deref())
    }
}

/// The manifest's text and its TOML (both scaffolds append to the text and read
/// `[defaults]`), and whether it already has a rule `id`: neither may take an id in use.
fn read_manifest(manifest: &Path, id: &str) -> anyhow::Result<(String, toml::Table, bool)> {
    let text = std::fs::read_to_string(manifest)
        .with_context(|| format!("cannot read manifest `{}`", manifest.display()))?;
    let doc: toml::Table = toml::from_str(&text).with_context(|| {
        format!(
            "`{}` is not valid TOML; run `patrol validate` and fix it first",
            manifest.display()
        )
    })?;
    let taken = doc
        .get("rules")
        .and_then(toml::Value::as_table)
        .is_some_and(|r| r.contains_key(id));
    Ok((text, doc, taken))
}
