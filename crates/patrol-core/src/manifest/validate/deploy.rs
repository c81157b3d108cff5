//! `[deploy]`: where Patrol runs (the central account and region), which regions forward
//! to it, the AWS Organization whose accounts forward, and who hears failure alarms. The
//! regions are normalized (us-east-1, then the central region, then the rest as written) and
//! AWS's documentation example ids are warned about, and listed, so `cdk deploy` refuses them.

use std::collections::BTreeSet;
use std::ops::Range;

use super::aws_ids::{
    Bad, check_account, check_email, check_organization_id, check_region, check_target,
    is_example_account, is_example_org_id, partition,
};
use super::{Cx, span};
use crate::diagnostic::Diagnostic;
use crate::manifest::raw::{RawCentral, RawDeploy, RawOrganization, Spanned, Str};
use crate::manifest::{Central, Deploy, GLOBAL_REGION, Organization};

const EXAMPLE_HELP: &str =
    "replace with your organization's ids before `cdk deploy`; deploying example ids is refused";

impl Cx<'_> {
    pub(super) fn deploy(&mut self, d: &Spanned<RawDeploy>) -> Option<Deploy> {
        let raw = d.get_ref();
        let before = self.errors();
        let mut examples = Vec::new();

        let central = match &raw.central {
            Some(c) => self.central(c, &mut examples),
            None => {
                if !self.broken.deploy_field("central") {
                    self.err(
                        Diagnostic::new("missing-key", "`[deploy]` has no `central`")
                            .at(span(d))
                            .help("add `central = { account = \"123456789012\", region = \"eu-west-1\" }`: the account and region where the rules run and alerts leave"),
                    );
                }
                None
            }
        };

        let written: Vec<&Str> = raw.regions.iter().flat_map(|l| l.get_ref()).collect();
        for (i, r) in written.iter().enumerate() {
            self.check(
                "invalid-region",
                &format!("deploy.regions[{i}]"),
                r,
                check_region,
            );
        }
        self.no_duplicates("duplicate-region", "deploy.regions", &written, |s| {
            s.to_owned()
        });
        if let Some(central) = &raw.central
            && let Some(region) = &central.get_ref().region
        {
            self.one_partition(region, &written);
        }

        let organization = raw.organization.as_ref().and_then(|o| {
            let central_account = raw
                .central
                .as_ref()
                .and_then(|c| c.get_ref().account.as_ref());
            self.organization(o, central_account, &mut examples)
        });

        let operators: Vec<&Str> = raw.operators.iter().flat_map(|l| l.get_ref()).collect();
        for (i, o) in operators.iter().enumerate() {
            self.check(
                "invalid-email",
                &format!("deploy.operators[{i}]"),
                o,
                check_email,
            );
        }
        self.no_duplicates("duplicate-operator", "deploy.operators", &operators, |s| {
            s.to_ascii_lowercase()
        });
        if operators.is_empty() && !self.broken.deploy_field("operators") {
            let at = raw.operators.as_ref().map_or_else(|| span(d), span);
            self.diags.push(
                Diagnostic::warning("no-operators", "`[deploy]` names no operators: no one hears failure alarms")
                    .at(at)
                    .help("add `operators = [\"secops@example.com\"]`: they are subscribed to the topic Patrol's failure alarms notify (each confirms once)"),
            );
        }

        if self.errors() > before {
            return None;
        }
        let central = central?;
        let mut regions = vec![GLOBAL_REGION.to_owned()];
        for r in std::iter::once(&central.region).chain(written.iter().map(|r| r.get_ref())) {
            if !regions.contains(r) {
                regions.push(r.clone());
            }
        }
        Some(Deploy {
            central,
            regions,
            organization,
            operators: operators.iter().map(|o| o.get_ref().clone()).collect(),
            example_ids: examples,
        })
    }

    fn central(&mut self, c: &Spanned<RawCentral>, examples: &mut Vec<String>) -> Option<Central> {
        let raw = c.get_ref();
        let account = self.required(
            "deploy.central",
            "account",
            raw.account.as_ref(),
            span(c),
            "account = \"123456789012\"",
        );
        let region = self.required(
            "deploy.central",
            "region",
            raw.region.as_ref(),
            span(c),
            "region = \"eu-west-1\"",
        );
        let account = account.filter(|a| {
            self.check(
                "invalid-account-id",
                "deploy.central.account",
                a,
                check_account,
            )
        });
        let region = region
            .filter(|r| self.check("invalid-region", "deploy.central.region", r, check_region));
        if let Some(a) = account {
            self.example_account("deploy.central.account", a, examples);
        }
        Some(Central {
            account: account?.get_ref().clone(),
            region: region?.get_ref().clone(),
        })
    }

    fn organization(
        &mut self,
        o: &Spanned<RawOrganization>,
        central_account: Option<&Str>,
        examples: &mut Vec<String>,
    ) -> Option<Organization> {
        let raw = o.get_ref();
        let at = span(o);
        let id = self
            .required(
                "deploy.organization",
                "id",
                raw.id.as_ref(),
                at.clone(),
                "id = \"o-a1b2c3d4e5\"",
            )
            .filter(|id| {
                self.check(
                    "invalid-organization-id",
                    "deploy.organization.id",
                    id,
                    check_organization_id,
                )
            });
        if let Some(id) = id
            && is_example_org_id(id.get_ref())
        {
            self.example("deploy.organization.id", id, examples);
        }

        let management = self
            .required(
                "deploy.organization",
                "management_account",
                raw.management_account.as_ref(),
                at.clone(),
                "management_account = \"123456789012\"",
            )
            .filter(|a| {
                self.check(
                    "invalid-account-id",
                    "deploy.organization.management_account",
                    a,
                    check_account,
                )
            });
        if let Some(m) = management {
            self.example_account("deploy.organization.management_account", m, examples);
            if let Some(central) = central_account
                && central.get_ref() == m.get_ref()
            {
                self.diags.push(
                    Diagnostic::warning(
                        "central-is-management-account",
                        format!("the central account `{}` is the organization's management account", m.get_ref()),
                    )
                    .at(span(m))
                    .help("AWS recommends keeping workloads out of the management account: run Patrol in a dedicated security-tooling account and make it `central.account`"),
                );
            }
        }

        let targets: Vec<&Str> = raw.targets.iter().flat_map(|l| l.get_ref()).collect();
        match &raw.targets {
            None if !self.broken.deploy_field("organization.targets") => self.err(
                Diagnostic::new("missing-key", "`deploy.organization` has no `targets`")
                    .at(at)
                    .help("add `targets = [\"ou-...\"]`: the OUs whose accounts forward their events, or the root (`r-...`) for every account"),
            ),
            Some(list) if targets.is_empty() && !self.broken.deploy_field("organization.targets") => self.err(
                Diagnostic::new("no-targets", "`deploy.organization.targets` is empty: no member account would forward its events")
                    .at(span(list))
                    .help("name at least one OU (`ou-...`), or the root (`r-...`) for every account"),
            ),
            _ => {}
        }
        for (i, t) in targets.iter().enumerate() {
            let path = format!("deploy.organization.targets[{i}]");
            if self.check("invalid-target", &path, t, check_target)
                && is_example_org_id(t.get_ref())
            {
                self.example(&path, t, examples);
            }
        }
        self.no_duplicates(
            "duplicate-target",
            "deploy.organization.targets",
            &targets,
            |s| s.to_owned(),
        );

        Some(Organization {
            id: id?.get_ref().clone(),
            management_account: management?.get_ref().clone(),
            targets: targets.iter().map(|t| t.get_ref().clone()).collect(),
        })
    }

    /// The value of a required key, or a `missing-key` error (unless a type error already
    /// said what is wrong with it).
    fn required<'v>(
        &mut self,
        table: &str,
        key: &str,
        value: Option<&'v Str>,
        at: Range<usize>,
        example: &str,
    ) -> Option<&'v Str> {
        if value.is_none() {
            let path = format!("{table}.{key}");
            if !self.broken.deploy_field(path.trim_start_matches("deploy.")) {
                self.err(
                    Diagnostic::new("missing-key", format!("`{table}` has no `{key}`"))
                        .at(at)
                        .help(format!("add `{example}`")),
                );
            }
        }
        value
    }

    /// Runs a shape check; reports what is wrong at the value. True when it passed.
    fn check(
        &mut self,
        code: &'static str,
        path: &str,
        value: &Str,
        check: fn(&str) -> Result<(), Bad>,
    ) -> bool {
        match check(value.get_ref()) {
            Ok(()) => true,
            Err(Bad { message, help }) => {
                self.err(
                    Diagnostic::new(code, format!("`{path}`: {message}"))
                        .at(span(value))
                        .help(help),
                );
                false
            }
        }
    }

    /// Reports every repeated entry of a list (compared by `key`) at its second place.
    fn no_duplicates(
        &mut self,
        code: &'static str,
        path: &str,
        list: &[&Str],
        key: impl Fn(&str) -> String,
    ) {
        let mut seen = BTreeSet::new();
        for (i, v) in list.iter().enumerate() {
            if !seen.insert(key(v.get_ref())) {
                self.err(
                    Diagnostic::new(
                        code,
                        format!("`{path}[{i}]`: `{}` is listed twice", v.get_ref()),
                    )
                    .at(span(v))
                    .help(format!("remove this `{}`", v.get_ref())),
                );
            }
        }
    }

    /// EventBridge cannot forward across partitions, and forwarding always includes
    /// us-east-1 (the `aws` partition's global region).
    fn one_partition(&mut self, central: &Str, written: &[&Str]) {
        for r in std::iter::once(&central).chain(written) {
            let p = partition(r.get_ref());
            if check_region(r.get_ref()).is_ok() && p != "aws" {
                self.err(
                    Diagnostic::new(
                        "unsupported-partition",
                        format!("`{}` is in the `{p}` partition; Patrol deploys to the `aws` partition only", r.get_ref()),
                    )
                    .at(span(r))
                    .help("events cannot be forwarded across partitions, and Patrol always forwards global-service events from us-east-1: use regions of the standard `aws` partition"),
                );
            }
        }
    }

    fn example_account(&mut self, path: &str, value: &Str, examples: &mut Vec<String>) {
        if is_example_account(value.get_ref()) {
            self.example(path, value, examples);
        }
    }

    fn example(&mut self, path: &str, value: &Str, examples: &mut Vec<String>) {
        examples.push(path.to_owned());
        self.diags.push(
            Diagnostic::warning(
                "example-id",
                format!(
                    "`{path}` is AWS's documentation example `{}`",
                    value.get_ref()
                ),
            )
            .at(span(value))
            .help(EXAMPLE_HELP),
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::diagnostic::{Level, render_all};
    use crate::manifest::{ValidateOptions, validate_str_with_warnings};

    /// A valid rest of the manifest, after the `[deploy]` table under test (so the table's
    /// lines are the first lines of the text).
    const RULES: &str = r#"
[notify.security]
type = "sns"
[rules.stale-access-keys]
description = "Access keys older than 90 days"
severity = "low"
notify = ["security"]
trigger.schedule = "rate(1 day)"
"#;

    /// Ids that are not AWS's examples, so a good table has no warnings.
    const GOOD: &str = r#"[deploy]
central = { account = "402938475612", region = "eu-west-1" }
regions = ["eu-central-1", "us-east-1", "eu-west-1", "ap-south-1"]
organization = { id = "o-7kq2m9x4wz", management_account = "918273645501", targets = ["ou-7kq2-m9x4wz3t", "r-7kq2"] }
operators = ["secops@corp.test"]
"#;

    fn run(deploy: &str) -> Result<(serde_json::Value, String), String> {
        let text = format!("{deploy}{RULES}");
        match validate_str_with_warnings(&text, "rules.toml", &ValidateOptions::default()) {
            Ok((m, warnings)) => Ok((
                serde_json::to_value(&m).expect("serializes"),
                if warnings.is_empty() {
                    String::new()
                } else {
                    render_all(&warnings, "rules.toml", &text)
                },
            )),
            Err(d) => Err(render_all(&d, "rules.toml", &text)),
        }
    }

    #[test]
    fn a_good_table_normalizes() {
        let (json, warnings) = run(GOOD).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(warnings, "");
        assert_eq!(
            json["deploy"],
            json!({
                "central": { "account": "402938475612", "region": "eu-west-1" },
                "regions": ["us-east-1", "eu-west-1", "eu-central-1", "ap-south-1"],
                "organization": { "id": "o-7kq2m9x4wz", "management_account": "918273645501",
                                  "targets": ["ou-7kq2-m9x4wz3t", "r-7kq2"] },
                "operators": ["secops@corp.test"],
                "example_ids": []
            })
        );
    }

    #[test]
    fn without_deploy_the_json_has_no_deploy() {
        let (json, _) = run("").unwrap_or_else(|e| panic!("{e}"));
        assert!(json.get("deploy").is_none(), "{json}");
        let back: crate::manifest::Manifest =
            serde_json::from_value(json).expect("deserializes without `deploy`");
        assert_eq!(back.deploy, None);
    }

    #[test]
    fn a_single_account_has_no_organization() {
        let (json, _) = run(
            "[deploy]\ncentral = { account = \"402938475612\", region = \"us-east-1\" }\noperators = [\"a@corp.test\"]\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            json["deploy"],
            json!({
                "central": { "account": "402938475612", "region": "us-east-1" },
                "regions": ["us-east-1"],
                "operators": ["a@corp.test"],
                "example_ids": []
            })
        );
    }

    /// Each bad field: (what is replaced in GOOD, by what, code, place, words of the help).
    #[test]
    fn each_bad_field_is_reported_at_its_place_with_a_fix() {
        let cases: &[(&str, &str, &str, &str, &str)] = &[
            (
                "\"402938475612\"",
                "\"40293847561\"",
                "invalid-account-id",
                "2:23",
                "leading zeros",
            ),
            (
                "\"402938475612\"",
                "402938475612",
                "wrong-type",
                "2:23",
                "as a string, in quotes",
            ),
            (
                "\"402938475612\"",
                "\"4029-3847-5612\"",
                "invalid-account-id",
                "2:23",
                "without dashes",
            ),
            (
                "region = \"eu-west-1\"",
                "region = \"eu-wset-1\"",
                "invalid-region",
                "2:48",
                "did you mean `eu-west-1`?",
            ),
            (
                "\"ap-south-1\"",
                "\"ap-south-1a\"",
                "invalid-region",
                "3:54",
                "write its region: `\"ap-south-1\"`",
            ),
            (
                "\"ap-south-1\"",
                "\"EU-CENTRAL-1\"",
                "invalid-region",
                "3:54",
                "lowercase",
            ),
            (
                "\"ap-south-1\"",
                "\"eu-central-1\"",
                "duplicate-region",
                "3:54",
                "remove this `eu-central-1`",
            ),
            (
                "\"ap-south-1\"",
                "\"us-gov-west-1\"",
                "unsupported-partition",
                "3:54",
                "`aws` partition",
            ),
            (
                "\"o-7kq2m9x4wz\"",
                "\"o-7kq2\"",
                "invalid-organization-id",
                "4:23",
                "10 to 32",
            ),
            (
                "\"918273645501\"",
                "\"91827364550x\"",
                "invalid-account-id",
                "4:60",
                "12 digits",
            ),
            (
                "\"r-7kq2\"",
                "\"ou-7kq2\"",
                "invalid-target",
                "4:107",
                "`ou-ab12-cdef3456`",
            ),
            (
                "\"r-7kq2\"",
                "\"402938475612\"",
                "invalid-target",
                "4:107",
                "the OU that holds the account",
            ),
            (
                "\"r-7kq2\"",
                "\"ou-7kq2-m9x4wz3t\"",
                "duplicate-target",
                "4:107",
                "remove this `ou-7kq2-m9x4wz3t`",
            ),
            (
                "[\"ou-7kq2-m9x4wz3t\", \"r-7kq2\"]",
                "[]",
                "no-targets",
                "4:86",
                "at least one",
            ),
            (
                ", targets = [\"ou-7kq2-m9x4wz3t\", \"r-7kq2\"]",
                "",
                "missing-key",
                "4:16",
                "add `targets",
            ),
            (
                "id = \"o-7kq2m9x4wz\", ",
                "",
                "missing-key",
                "4:16",
                "add `id = ",
            ),
            (
                "\"secops@corp.test\"",
                "\"secops\"",
                "invalid-email",
                "5:14",
                "full address",
            ),
            (
                "[\"secops@corp.test\"]",
                "[\"a@corp.test\", \"A@corp.test\"]",
                "duplicate-operator",
                "5:29",
                "remove this",
            ),
            (
                "regions",
                "region",
                "unknown-key",
                "3:1",
                "did you mean `regions`?",
            ),
            (
                "central = { account = \"402938475612\", region = \"eu-west-1\" }\n",
                "",
                "missing-key",
                "1:1",
                "add `central = {",
            ),
            (
                ", region = \"eu-west-1\"",
                "",
                "missing-key",
                "2:11",
                "add `region = ",
            ),
        ];
        for (from, to, code, at, help) in cases {
            assert!(GOOD.contains(from), "{from}");
            let text = GOOD.replacen(from, to, 1);
            let out = run(&text).expect_err(&text);
            let found = out
                .split("\n\n")
                .find(|d| d.starts_with(&format!("error[{code}]")))
                .unwrap_or_else(|| panic!("no {code} for {to}:\n{out}"));
            assert!(
                found.contains(&format!("--> rules.toml:{at}\n")),
                "{to}: {found}"
            );
            assert!(found.contains(help), "{to}: {found}");
        }
    }

    /// The README's (and the shipped rules.toml's) table: AWS's example ids.
    const EXAMPLE: &str = r#"[deploy]
central = { account = "111111111111", region = "eu-west-1" }
regions = ["eu-west-1", "eu-central-1"]
organization = { id = "o-a1b2c3d4e5", management_account = "222222222222", targets = ["ou-ab12-cdef3456"] }
operators = ["secops@example.com"]
"#;

    #[test]
    fn example_ids_warn_and_are_listed() {
        let (json, warnings) = run(EXAMPLE).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            json["deploy"],
            json!({
                "central": { "account": "111111111111", "region": "eu-west-1" },
                "regions": ["us-east-1", "eu-west-1", "eu-central-1"],
                "organization": { "id": "o-a1b2c3d4e5", "management_account": "222222222222",
                                  "targets": ["ou-ab12-cdef3456"] },
                "operators": ["secops@example.com"],
                "example_ids": ["deploy.central.account", "deploy.organization.id",
                                "deploy.organization.management_account",
                                "deploy.organization.targets[0]"]
            })
        );
        insta::assert_snapshot!(warnings);
    }

    #[test]
    fn more_example_ids_are_recognized() {
        let text = EXAMPLE
            .replace("111111111111", "123456789012")
            .replace("222222222222", "111122223333")
            .replace("o-a1b2c3d4e5", "o-exampleorgid")
            .replace("ou-ab12-cdef3456", "ou-examplerootid111-exampleouid111");
        let (json, _) = run(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            json["deploy"]["example_ids"].as_array().map(Vec::len),
            Some(4)
        );
    }

    #[test]
    fn the_central_account_as_management_account_warns() {
        let text = GOOD.replace("918273645501", "402938475612");
        let (json, warnings) = run(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            json["deploy"]["organization"]["management_account"],
            json!("402938475612")
        );
        assert!(
            warnings.contains("warning[central-is-management-account]: the central account `402938475612` is the organization's management account\n  --> rules.toml:4:60\n"),
            "{warnings}"
        );
        assert!(
            warnings.contains("dedicated security-tooling account"),
            "{warnings}"
        );
    }

    #[test]
    fn no_operators_warns() {
        let absent = GOOD.replace("operators = [\"secops@corp.test\"]\n", "");
        let (json, warnings) = run(&absent).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(json["deploy"]["operators"], json!([]));
        assert!(
            warnings.starts_with("warning[no-operators]: `[deploy]` names no operators: no one hears failure alarms\n  --> rules.toml:1:1\n"),
            "{warnings}"
        );
        let empty = GOOD.replace("[\"secops@corp.test\"]", "[]");
        let (_, warnings) = run(&empty).unwrap_or_else(|e| panic!("{e}"));
        assert!(warnings.contains("--> rules.toml:5:13\n"), "{warnings}");
        assert!(
            warnings.contains("add `operators = [\"secops@example.com\"]`"),
            "{warnings}"
        );
    }

    #[test]
    fn warnings_keep_the_manifest_valid_and_errors_list_them_too() {
        let text = format!("{EXAMPLE}{RULES}");
        let options = ValidateOptions::default();
        assert!(crate::manifest::validate_str(&text, "rules.toml", &options).is_ok());
        let (_, warnings) =
            validate_str_with_warnings(&text, "rules.toml", &options).expect("valid");
        assert!(warnings.iter().all(|d| d.level == Level::Warning));
        assert_eq!(warnings.len(), 4);

        let broken = text.replace("\"eu-central-1\"", "\"eu-centrl-1\"");
        let all = validate_str_with_warnings(&broken, "rules.toml", &options).expect_err("invalid");
        assert_eq!(all.iter().filter(|d| d.is_error()).count(), 1);
        assert_eq!(all.len(), 5);
        assert!(
            render_all(&all, "rules.toml", &broken)
                .ends_with("rules.toml: 1 error and 4 warnings found\n")
        );
    }

    #[test]
    fn type_errors_do_not_hide_the_other_problems() {
        let text = r#"[deploy]
central = { account = 111111111111, region = "eu-wst-1" }
regions = ["eu-west-1", 3]
organization = { id = "o-a1b2c3d4e5", management_account = "222222222222", targets = "ou-ab12-cdef3456" }
operators = "secops@example.com"
colour = "blue"
"#;
        insta::assert_snapshot!(run(text).expect_err("invalid"));
    }

    #[test]
    fn a_list_of_wrong_types_is_not_also_called_empty() {
        let out = run(&GOOD.replace("[\"secops@corp.test\"]", "[1]")).expect_err("invalid");
        assert!(
            out.contains("error[wrong-type]: `deploy.operators[0]`"),
            "{out}"
        );
        assert!(!out.contains("no-operators"), "{out}");
        let out =
            run(&GOOD.replace("[\"ou-7kq2-m9x4wz3t\", \"r-7kq2\"]", "[1]")).expect_err("invalid");
        assert!(!out.contains("no-targets"), "{out}");
    }

    #[test]
    fn deploy_must_be_a_table() {
        let out = run("deploy = \"eu-west-1\"\n").expect_err("invalid");
        assert!(
            out.starts_with("error[wrong-type]: `deploy` must be a table, not string"),
            "{out}"
        );
        assert!(!out.contains("missing-key"), "{out}");
    }
}
