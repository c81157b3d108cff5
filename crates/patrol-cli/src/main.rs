//! The `patrol` command. `main` only parses arguments and maps results to exit codes;
//! each subcommand lives in its own file under `commands/`.
//!
//! Exit codes: 0 ok, 1 findings (invalid manifest, failed tests, rejected patterns),
//! 2 usage or internal error.

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: `patrol replay` builds and drops an event and
/// an alert for each matching record, and replays 8% faster with it (peak RSS about 90 MB
/// instead of 40 on 2 cores).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "patrol",
    version,
    about = "Serverless AWS security monitoring: validate, test and replay the rules in rules.toml",
    long_about = None,
)]
struct Cli {
    /// The manifest to read.
    #[arg(
        long,
        global = true,
        default_value = "rules.toml",
        env = "PATROL_MANIFEST"
    )]
    manifest: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check rules.toml and report every problem, compiler style (exit 1 if any).
    Validate,
    /// Print the normalized manifest (what the CDK app and the functions consume).
    Manifest(commands::manifest::ManifestArgs),
    /// Print the covering patterns (member accounts' forwarding rules, each handler's
    /// feeds) and, given event files, how many events they would forward.
    Covers(commands::covers::CoversArgs),
    /// Run every rule's inline tests (`tests = [...]` in rules.toml).
    Test(commands::test::TestArgs),
    /// Match EventBridge patterns against NDJSON events (one JSON array of matching
    /// pattern names per event line).
    Match(commands::match_events::MatchArgs),
    /// Say which rules an event triggers and, for the others, which field failed.
    Explain(commands::explain::ExplainArgs),
    /// Run events (CloudTrail records or EventBridge events) through every rule and print
    /// the alerts they would raise. Nothing is sent.
    Replay(commands::replay::ReplayArgs),
    /// Print the JSON Schema of rules.toml (`patrol schema > rules.schema.json`).
    Schema,
    /// Scaffold a rule: a `[rules.NAME]` table and a positive and a negative test event.
    New(commands::new::NewArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate => commands::validate::run(&cli.manifest),
        Command::Manifest(args) => commands::manifest::run(&cli.manifest, &args),
        Command::Covers(args) => commands::covers::run(&cli.manifest, &args),
        Command::Test(args) => commands::test::run(&cli.manifest, &args),
        Command::Match(args) => commands::match_events::run(args),
        Command::Explain(args) => commands::explain::run(&cli.manifest, &args),
        Command::Replay(args) => commands::replay::run(&cli.manifest, &args),
        Command::Schema => commands::schema::run(),
        Command::New(args) => commands::new::run(&cli.manifest, &args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
