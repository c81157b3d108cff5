//! `patrol schema`: the JSON Schema of rules.toml, generated from the same types the
//! validator reads, for editors (`#:schema ./rules.schema.json`, Taplo / Even Better TOML).
//! The committed `rules.schema.json` is this output: `patrol schema > rules.schema.json`.
//! Its `params` lists what the handlers declare in `lambdas/*/handler.toml` of the current
//! folder (the shipped declarations where there is no `lambdas/`).

use std::path::Path;
use std::process::ExitCode;

pub fn run() -> anyhow::Result<ExitCode> {
    match render(Path::new("rules.toml"))? {
        Ok(schema) => {
            println!("{schema}");
            Ok(ExitCode::SUCCESS)
        }
        Err(rendered) => {
            eprint!("{rendered}");
            Ok(ExitCode::from(1))
        }
    }
}

/// The schema as committed (pretty JSON, no trailing newline: `println!` adds it), with the
/// parameters of the handlers beside `manifest`; `Ok(Err(..))` holds the rendered
/// diagnostics of handler.toml files with errors.
pub fn render(manifest: &Path) -> anyhow::Result<Result<String, String>> {
    let declarations = match super::load::declarations(manifest)? {
        Ok(d) => d,
        Err(rendered) => return Ok(Err(rendered)),
    };
    Ok(Ok(serde_json::to_string_pretty(
        &patrol_core::manifest::json_schema_for(&declarations),
    )?))
}
