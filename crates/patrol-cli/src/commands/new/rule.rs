//! `patrol new NAME [--cloudtrail SOURCE:EVENTNAME]`: scaffolds a rule that passes
//! `patrol validate` and `patrol test` at once: a `[rules.NAME]` table appended to the
//! manifest, and a positive and a negative CloudTrail event (EventBridge-shaped) under
//! `tests/events/NAME/`. Nothing is written unless the result validates.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use patrol_core::diagnostic::render_all;
use patrol_core::manifest::validate::is_kebab_id;
use patrol_core::manifest::{ValidateOptions, validate_str};
use serde_json::{Value, json};

const DEFAULT_EVENT: (&str, &str) = ("iam.amazonaws.com", "CreateUser");

pub fn run(manifest: &Path, name: &str, cloudtrail: Option<&str>) -> anyhow::Result<ExitCode> {
    if !is_kebab_id(name) {
        bail!(
            "rule id `{name}` is not kebab-case: use lowercase letters, digits and single dashes, starting with a letter, at most 64 characters (e.g. `iam-user-created`)"
        );
    }
    let (source, event_name) = match cloudtrail {
        Some(spec) => parse_cloudtrail(spec)?,
        None => (DEFAULT_EVENT.0.to_owned(), DEFAULT_EVENT.1.to_owned()),
    };
    let (text, doc, taken) = super::read_manifest(manifest, name)?;
    if taken {
        bail!(
            "rule `{name}` already exists in {}; pick another id",
            manifest.display()
        );
    }
    let dir_written = format!("tests/events/{name}");
    let dir = super::super::load::relative_to_manifest(manifest, &dir_written);
    if dir.exists() {
        bail!(
            "`{}` already exists; remove it or pick another rule id",
            dir.display()
        );
    }

    let read_only = is_read_only_name(&event_name);
    let alert_path = format!("{dir_written}/{}.json", kebab(&event_name));
    let quiet_name = near_miss(&event_name);
    let quiet_path = format!("{dir_written}/{}.json", kebab(quiet_name));
    let route = needs_route(&doc);
    let table = rule_table(
        name,
        &source,
        &event_name,
        read_only,
        route.as_deref(),
        [&alert_path, &quiet_path],
    );
    let mut new_text = text.clone();
    if !new_text.ends_with('\n') {
        new_text.push('\n');
    }
    new_text.push('\n');
    new_text.push_str(&table);

    // Check before writing anything (the event files don't exist yet, so no base_dir).
    let shown = manifest.display().to_string();
    let options = ValidateOptions {
        handlers: super::super::load::handlers(manifest),
        base_dir: None,
        today: Some(patrol_core::date::today()),
    };
    if let Err(diags) = validate_str(&new_text, &shown, &options) {
        eprint!("{}", render_all(&diags, &shown, &new_text));
        eprintln!(
            "nothing written: {shown} would not validate with the new rule; fix the problems above first"
        );
        return Ok(ExitCode::from(1));
    }

    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let events = [
        (&alert_path, event(&source, &event_name, read_only, 1)),
        (&quiet_path, event(&source, quiet_name, false, 2)),
    ];
    for (path, body) in events {
        let full = super::super::load::relative_to_manifest(manifest, path);
        std::fs::write(&full, serde_json::to_string_pretty(&body)? + "\n")
            .with_context(|| format!("cannot write {}", full.display()))?;
    }
    std::fs::write(manifest, &new_text)
        .with_context(|| format!("cannot write {}", manifest.display()))?;

    println!("added rule `{name}` to {shown}");
    println!("  {alert_path}   (must alert)");
    println!("  {quiet_path}   (must stay quiet)");
    if let Err(code) = super::super::load::manifest(manifest)? {
        return Ok(code);
    }
    println!(
        "\nnext steps:\n  1. edit `[rules.{name}]`: description, severity, runbook, the trigger and the message\n  2. replace the two events with real ones (CloudTrail event history, or `patrol replay`)\n  3. run `patrol test --rule {name}`, then `patrol replay` over an archive to see how noisy it is"
    );
    Ok(ExitCode::SUCCESS)
}

/// `iam.amazonaws.com:CreateUser` → (`iam.amazonaws.com`, `CreateUser`).
fn parse_cloudtrail(spec: &str) -> anyhow::Result<(String, String)> {
    let Some((source, name)) = spec.split_once(':') else {
        bail!("--cloudtrail takes SOURCE:EVENTNAME, e.g. `iam.amazonaws.com:CreateUser`");
    };
    let label_ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    };
    if !source.ends_with(".amazonaws.com") || !label_ok(source) {
        bail!("`{source}` is not a CloudTrail event source (e.g. `iam.amazonaws.com`)");
    }
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        bail!("`{name}` is not a CloudTrail event name (e.g. `CreateUser`)");
    }
    Ok((source.to_owned(), name.to_owned()))
}

/// Read-only API calls reach EventBridge only when the rule asks for them.
fn is_read_only_name(name: &str) -> bool {
    ["Get", "List", "Describe", "Head", "Lookup"]
        .iter()
        .any(|p| name.starts_with(p))
}

/// A call of the same service that the rule must not alert on.
fn near_miss(name: &str) -> &'static str {
    if name == "ListTagsForResource" {
        "TagResource"
    } else {
        "ListTagsForResource"
    }
}

/// `CreateUser` → `create-user`.
fn kebab(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The first route, when rules don't get one from `defaults.notify`.
fn needs_route(doc: &toml::Table) -> Option<String> {
    let has_default = doc.get("defaults").and_then(|d| d.get("notify")).is_some();
    if has_default {
        return None;
    }
    doc.get("notify")
        .and_then(toml::Value::as_table)
        .and_then(|t| t.keys().next().cloned())
}

fn rule_table(
    name: &str,
    source: &str,
    event_name: &str,
    read_only: bool,
    route: Option<&str>,
    [alert, quiet]: [&str; 2],
) -> String {
    let mut t = format!(
        r#"[rules.{name}]
description = "TODO: one line saying what {name} detects"
severity = "medium"
runbook = "TODO: what on-call checks first (who did it, was it expected) and how to contain it."
trigger.cloudtrail = {{ eventSource = "{source}", eventName = ["{event_name}"] }}
message = "{{{{ detail.eventName }}}} by {{{{ actor }}}} in account {{{{ account }}}} ({{{{ region }}}}) from {{{{ source_ip }}}}"
"#
    );
    if read_only {
        t.push_str("include_read_only = true\n");
    }
    if let Some(route) = route {
        t.push_str(&format!("notify = [\"{route}\"]\n"));
    }
    t.push_str(&format!(
        "tests = [\n  {{ event = \"{alert}\", expect = \"alert\" }},\n  {{ event = \"{quiet}\", expect = \"quiet\" }},\n]\n"
    ));
    t
}

/// A CloudTrail management event as EventBridge delivers it.
fn event(source: &str, event_name: &str, read_only: bool, n: u8) -> Value {
    let account = "111122223333";
    let signin = source == "signin.amazonaws.com";
    json!({
        "version": "0",
        "id": format!("6f1c1e7d-3c5a-4b7e-9d2a-00000000000{n}"),
        "detail-type": if signin { "AWS Console Sign In via CloudTrail" } else { "AWS API Call via CloudTrail" },
        "source": patrol_core::event::source_for(source),
        "account": account,
        "time": "2026-01-15T10:3{n}:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "AssumedRole",
                "principalId": "AROAEXAMPLEROLEID1234:alice",
                "arn": format!("arn:aws:sts::{account}:assumed-role/Admin/alice"),
                "accountId": account,
                "accessKeyId": "ASIAEXAMPLEKEYID1234",
                "sessionContext": {
                    "sessionIssuer": {
                        "type": "Role",
                        "principalId": "AROAEXAMPLEROLEID1234",
                        "arn": format!("arn:aws:iam::{account}:role/Admin"),
                        "accountId": account,
                        "userName": "Admin"
                    },
                    "attributes": { "creationDate": "2026-01-15T10:00:00Z", "mfaAuthenticated": "true" }
                }
            },
            "eventTime": format!("2026-01-15T10:3{n}:00Z"),
            "eventSource": source,
            "eventName": event_name,
            "awsRegion": "us-east-1",
            "sourceIPAddress": "203.0.113.45",
            "userAgent": "aws-cli/2.15.40 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22",
            "requestParameters": {},
            "responseElements": null,
            "requestID": format!("c0ffee00-0000-4000-8000-00000000000{n}"),
            "eventID": format!("e7e7e7e7-0000-4000-8000-00000000000{n}"),
            "readOnly": read_only,
            "eventType": if signin { "AwsConsoleSignIn" } else { "AwsApiCall" },
            "managementEvent": true,
            "recipientAccountId": account,
            "eventCategory": "Management"
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloudtrail_specs_parse() {
        assert_eq!(
            parse_cloudtrail("iam.amazonaws.com:CreateUser").ok(),
            Some(("iam.amazonaws.com".into(), "CreateUser".into()))
        );
        for bad in [
            "iam.amazonaws.com",
            "iam:CreateUser",
            "iam.amazonaws.com:",
            "x y.amazonaws.com:A",
        ] {
            assert!(parse_cloudtrail(bad).is_err(), "{bad}");
        }
    }

    fn temp_project() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "patrol-new-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(
            dir.join("rules.toml"),
            "#:schema ./rules.schema.json\n[notify.security]\ntype = \"sns\"\nemail = [\"secops@example.com\"]\n",
        )
        .expect("manifest");
        dir
    }

    fn code(c: ExitCode) -> String {
        format!("{c:?}")
    }

    fn patrol_test(manifest: &Path) -> ExitCode {
        use clap::{Args as _, FromArgMatches as _};
        let matches = super::super::super::test::TestArgs::augment_args(clap::Command::new("test"))
            .get_matches_from(["test"]);
        let args = super::super::super::test::TestArgs::from_arg_matches(&matches).expect("args");
        super::super::super::test::run(manifest, &args).expect("test runs")
    }

    #[test]
    fn scaffolded_rules_validate_and_pass_their_tests() {
        let dir = temp_project();
        let manifest = dir.join("rules.toml");
        for (name, cloudtrail) in [
            ("iam-user-created", None),
            (
                "trail-stopped",
                Some("cloudtrail.amazonaws.com:StopLogging"),
            ),
            ("buckets-listed", Some("s3.amazonaws.com:ListBuckets")),
        ] {
            assert_eq!(
                code(run(&manifest, name, cloudtrail).expect("runs")),
                code(ExitCode::SUCCESS),
                "{name}"
            );
            assert!(dir.join(format!("tests/events/{name}")).is_dir());
        }
        let text = std::fs::read_to_string(&manifest).expect("manifest");
        assert!(text.starts_with("#:schema"), "{text}");
        assert!(text.contains("eventName = [\"StopLogging\"]"), "{text}");
        assert!(text.contains("notify = [\"security\"]"), "{text}");
        assert_eq!(code(patrol_test(&manifest)), code(ExitCode::SUCCESS));

        // An existing id is refused and nothing changes.
        let err = run(&manifest, "trail-stopped", None).expect_err("refused");
        assert!(err.to_string().contains("already exists"), "{err}");
        assert_eq!(std::fs::read_to_string(&manifest).expect("manifest"), text);
        assert!(
            run(&manifest, "Trail_Stopped", None)
                .expect_err("refused")
                .to_string()
                .contains("kebab-case")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn names_become_file_names() {
        assert_eq!(kebab("CreateUser"), "create-user");
        assert!(is_read_only_name("DescribeInstances"));
        assert!(!is_read_only_name("DeleteTrail"));
    }
}
