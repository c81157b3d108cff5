//! `patrol schema`: the JSON Schema of rules.toml, generated from the same types the
//! validator reads, for editors (`#:schema ./rules.schema.json`, Taplo / Even Better TOML).
//! The committed `rules.schema.json` is this output: `patrol schema > rules.schema.json`.

use std::process::ExitCode;

pub fn run() -> anyhow::Result<ExitCode> {
    println!("{}", render()?);
    Ok(ExitCode::SUCCESS)
}

/// The schema as committed (pretty JSON, no trailing newline: `println!` adds it).
pub fn render() -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(
        &patrol_core::manifest::json_schema(),
    )?)
}
