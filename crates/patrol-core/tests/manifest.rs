//! The manifest as users meet it: the committed JSON Schema, the shipped rules.toml against
//! it, and a corpus of broken manifests whose diagnostics are snapshotted.

use std::path::{Path, PathBuf};

use patrol_core::diagnostic::render_all;
use patrol_core::manifest::handler::{self, Declarations};
use patrol_core::manifest::validate::toml_to_json;
use patrol_core::manifest::{
    ValidateOptions, json_schema, json_schema_for, validate_with_declarations,
};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The declarations in the workspace's lambdas/*/handler.toml, read from disk as the CLI
/// reads them.
fn workspace_declarations() -> Declarations {
    let mut out = Declarations::new();
    for entry in std::fs::read_dir(workspace().join("lambdas")).expect("lambdas/") {
        let dir = entry.expect("entry").path();
        let file = dir.join(handler::FILE_NAME);
        if !file.is_file() {
            continue;
        }
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8")
            .to_owned();
        let text = read(&file);
        let d =
            handler::parse(&name, &text).unwrap_or_else(|e| panic!("{}: {e:?}", file.display()));
        out.insert(name, d);
    }
    out
}

#[test]
fn shipped_declarations_are_the_files_on_disk() {
    assert_eq!(handler::shipped(), workspace_declarations());
}

#[test]
fn committed_schema_is_up_to_date() {
    let generated = serde_json::to_string_pretty(&json_schema_for(&workspace_declarations()))
        .expect("schema serializes")
        + "\n";
    let committed = read(&workspace().join("rules.schema.json"));
    assert!(
        generated == committed,
        "rules.schema.json is out of date with the Raw* types in crates/patrol-core/src/manifest/raw.rs; regenerate it with `patrol schema > rules.schema.json` (cargo run -p patrol-cli -- schema > rules.schema.json)"
    );
}

fn schema_errors(toml_text: &str) -> Vec<String> {
    let schema = json_schema();
    let validator = jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema");
    let table: toml::Table = toml::from_str(toml_text).expect("valid TOML");
    let instance = toml_to_json(&toml::Value::Table(table));
    validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn shipped_manifest_satisfies_the_schema() {
    let errors = schema_errors(&read(&workspace().join("rules.toml")));
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn schema_rejects_what_the_validator_rejects() {
    let text = r#"
[notify.security]
type = "email"
[rules.Bad_Id]
severity = "urgent"
colour = "red"
trigger.schedule = "every day"
"#;
    let errors = schema_errors(text).join("\n");
    for needle in ["\"email\"", "Bad_Id", "\"urgent\"", "colour", "every day"] {
        assert!(errors.contains(needle), "{needle} not rejected:\n{errors}");
    }
}

fn broken_dir() -> PathBuf {
    workspace().join("tests/fixtures/manifests/broken")
}

/// Every broken manifest fails, and what it says is reviewed like code (one snapshot each).
#[test]
fn broken_manifests_report_clear_diagnostics() {
    let options = ValidateOptions {
        handlers: vec!["notify".into(), "stale-access-keys".into()],
        base_dir: None,
        today: Some("2026-11-22".into()),
    };
    // A scheduled notify handler of the fixtures' own, with no params or permissions.
    let mut declarations = handler::shipped();
    declarations.insert(
        "stale-access-keys".into(),
        handler::parse(
            "stale-access-keys",
            "kind = \"notify\"\ndescription = \"Finds old access keys\"\n",
        )
        .expect("declaration"),
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(broken_dir())
        .expect("tests/fixtures/manifests/broken exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 40, "only {} broken manifests", files.len());
    let mut passing = Vec::new();
    for path in &files {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 file name")
            .to_owned();
        let text = read(path);
        let shown = format!("{name}.toml");
        match validate_with_declarations(&text, &shown, &options, &declarations) {
            Ok(_) => passing.push(name),
            Err(diags) => {
                let rendered = render_all(&diags, &shown, &text);
                insta::with_settings!({ snapshot_path => "snapshots/broken", prepend_module_to_snapshot => false, omit_expression => true }, {
                    insta::assert_snapshot!(name.clone(), rendered);
                });
            }
        }
    }
    assert!(
        passing.is_empty(),
        "these broken manifests validate: {passing:?}"
    );
}
