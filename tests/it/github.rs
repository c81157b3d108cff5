//! The shipped GitHub rules end to end: every test delivery of rules.toml's `github-*`
//! rules (`tests/events/github/`) sent to the real `notify` function as GitHub sends it (the
//! JSON body, `X-GitHub-Event`, `X-GitHub-Delivery`, `X-Hub-Signature-256` over the body) at
//! `/<rule id>`. The deliveries a rule's tests expect to alert reach its route with the alert
//! `patrol test` renders offline; the others are answered and send nothing; a body changed
//! after signing is refused.

use patrol_aws::signature::sign;
use patrol_core::engine::{Engine, Outcome};
use patrol_core::manifest::{Expect, Trigger, WebhookProvider};
use patrol_tests::capture::CaptureServer;
use patrol_tests::function::{invoke, response};
use patrol_tests::handler_config::{ConfigFile, config};
use patrol_tests::paths;
use serde_json::{Value, json};

use crate::fixtures::{GITHUB_SECRET, moto_with_secrets, rules_toml, webhook_route};

/// What each positive delivery must say, as on-call reads it.
const MESSAGES: &[(&str, &str)] = &[
    (
        "github/repository-publicized.json",
        "mallory made repository acme/payroll public",
    ),
    (
        "github/branch-protection-rule-deleted.json",
        "mallory deleted the protection of branch main in acme/payroll",
    ),
    (
        "github/branch-protection-rule-edited-reviews-off.json",
        "mallory weakened the protection of branch main in acme/payroll (changed: admin_enforced, pull_request_reviews_enforcement_level)",
    ),
    (
        "github/branch-protection-rule-edited-checks-removed.json",
        "mallory weakened the protection of branch main in acme/payroll (changed: required_status_checks)",
    ),
    (
        "github/organization-member-added-admin.json",
        "mallory became an owner of organization acme (member_added, sent by mallory)",
    ),
    (
        "github/organization-member-invited-admin.json",
        "mallory invited eve to organization acme as an owner",
    ),
    (
        "github/deploy-key-created-write.json",
        "mallory added deploy key \"build-server\" with write access to acme/payroll",
    ),
    (
        "github/security-and-analysis-secret-scanning-disabled.json",
        "mallory turned off secret scanning and push protection for acme/payroll",
    ),
    (
        "github/security-and-analysis-push-protection-disabled.json",
        "mallory turned off secret scanning push protection for acme/payroll",
    ),
];

/// A delivery as GitHub makes it: the test event's `detail` as the body, its `detail-type`
/// and `id` as the event and delivery headers, signed with the webhook's secret.
struct Delivery {
    event: String,
    id: String,
    body: String,
}

impl Delivery {
    fn of(wrapped: &Value) -> anyhow::Result<Self> {
        let text = |k: &str| {
            wrapped[k]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow::anyhow!("test event has no `{k}`: {wrapped}"))
        };
        Ok(Self {
            event: text("detail-type")?,
            id: text("id")?,
            body: serde_json::to_string(&wrapped["detail"])?,
        })
    }

    /// The function URL request for `/<rule>`, signed over `signed` (the body, unless a
    /// test tampers with it).
    fn request(&self, rule: &str, signed: &str) -> Value {
        let path = format!("/{rule}");
        json!({
            "version": "2.0", "rawPath": path, "rawQueryString": "",
            "headers": {
                "content-type": "application/json",
                "user-agent": "GitHub-Hookshot/5c2b3a1",
                "x-github-event": self.event,
                "x-github-delivery": self.id,
                "x-github-hook-id": "481516234",
                "x-github-hook-installation-target-type": "organization",
                "x-github-hook-installation-target-id": "9919",
                "x-hub-signature-256": sign(GITHUB_SECRET.as_bytes(), signed.as_bytes()),
            },
            "requestContext": {"accountId": "anonymous", "apiId": "abc",
                "domainName": "abc.lambda-url.eu-west-1.on.aws", "domainPrefix": "abc",
                "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1",
                    "sourceIp": "192.30.252.44", "userAgent": "GitHub-Hookshot/5c2b3a1"},
                "requestId": format!("r-{}", self.id), "routeKey": "$default", "stage": "$default",
                "time": "14/May/2024:10:05:13 +0000", "timeEpoch": 1_715_681_113_000_i64},
            "body": self.body, "isBase64Encoded": false
        })
    }
}

fn answer(out: &patrol_tests::runtime_api::Outcome) -> anyhow::Result<(i64, Value)> {
    let r = response(out)?;
    let status = r["statusCode"].as_i64().unwrap_or_default();
    let body: Value = serde_json::from_str(r["body"].as_str().unwrap_or("null"))?;
    Ok((status, body))
}

#[test]
fn signatures_are_made_as_github_documents_them() {
    // GitHub's "Validating webhook deliveries" test values.
    assert_eq!(
        sign(b"It's a Secret to Everybody", b"Hello, World!"),
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    );
}

#[tokio::test]
async fn shipped_github_rules_alert_on_signed_deliveries_as_their_tests_expect()
-> anyhow::Result<()> {
    let manifest = rules_toml()?;
    let engine = Engine::new(&manifest)?;
    let github: Vec<_> = manifest
        .rules
        .iter()
        .filter(|r| {
            matches!(
                r.trigger,
                Trigger::Webhook {
                    provider: WebhookProvider::Github,
                    ..
                }
            )
        })
        .collect();
    let ids: Vec<&str> = github.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "github-branch-protection-weakened",
            "github-deploy-key-write-access-added",
            "github-organization-owner-added",
            "github-repository-made-public",
            "github-secret-scanning-disabled",
        ]
    );

    let capture = CaptureServer::start()?;
    // Holds `patrol/github-webhook`, the shipped rules' secret, as GITHUB_SECRET.
    let moto = moto_with_secrets(&capture).await?;
    let rules: Vec<Value> = github
        .iter()
        .map(|r| {
            let mut r = serde_json::to_value(r)?;
            r["notify"] = json!(["siem"]);
            Ok(r)
        })
        .collect::<anyhow::Result<_>>()?;
    let file = ConfigFile::write(&config(
        &rules,
        json!([webhook_route("siem", &capture.url("/siem"))]),
        json!({}),
        json!({}),
    ))?;
    let (_, queue_url) = moto.queue("patrol-notify-failures").await?;
    let mut env = moto.sdk_env();
    env.extend(file.env());
    env.push(("PATROL_FAILURE_QUEUE_URL", queue_url));

    let mut alerted = Vec::new();
    for rule in &github {
        for test in &rule.tests {
            let wrapped: Value = serde_json::from_str(&std::fs::read_to_string(
                paths::workspace().join(&test.event),
            )?)?;
            let delivery = Delivery::of(&wrapped)?;
            let before = capture.to("/siem").len();
            let (status, body) =
                answer(&invoke(&env, &delivery.request(&rule.id, &delivery.body)).await?)?;
            let what = format!("{} {}", rule.id, test.event);
            assert_eq!(status, 200, "{what}: {body}");
            assert_eq!(body["rule"], rule.id.as_str(), "{what}: {body}");
            let sent = capture.to("/siem");
            match test.expect {
                Expect::Alert => {
                    assert_eq!(body["sent"], json!({"siem": "webhook:200"}), "{what}");
                    assert_eq!(sent.len(), before + 1, "{what}");
                    let alert = sent[before].json()?;
                    let offline = engine
                        .evaluate(&wrapped, &patrol_core::date::today())
                        .into_iter()
                        .find_map(|o| match o {
                            Outcome::Alert(a) if a.rule == rule.id => Some(a),
                            _ => None,
                        })
                        .ok_or_else(|| anyhow::anyhow!("{what}: no alert offline"))?;
                    assert_eq!(alert["rule"], rule.id.as_str(), "{what}");
                    assert_eq!(alert["severity"], json!(offline.severity), "{what}");
                    assert_eq!(alert["actor"], json!(offline.actor), "{what}");
                    assert_eq!(alert["message"], offline.message.as_str(), "{what}");
                    assert_eq!(sent[before].header("x-patrol-rule"), Some(rule.id.as_str()));
                    let file = test.event.trim_start_matches("tests/events/");
                    let expected = MESSAGES
                        .iter()
                        .find(|(f, _)| *f == file)
                        .map(|(_, m)| *m)
                        .ok_or_else(|| anyhow::anyhow!("{what}: add its message to MESSAGES"))?;
                    assert_eq!(alert["message"], expected, "{what}");
                    alerted.push(file.to_owned());
                }
                Expect::Quiet => {
                    assert!(body["skipped"].is_string(), "{what}: {body}");
                    assert_eq!(sent.len(), before, "{what}: nothing is sent");
                }
            }
        }
    }
    let mut listed: Vec<&str> = MESSAGES.iter().map(|(f, _)| *f).collect();
    listed.sort_unstable();
    alerted.sort();
    assert_eq!(alerted, listed, "every positive delivery alerted once");

    // Signed by GitHub, then changed on the way: refused, nothing sent.
    let privatized: Value = serde_json::from_str(&std::fs::read_to_string(
        paths::workspace().join("tests/events/github/repository-privatized.json"),
    )?)?;
    let mut forged = Delivery::of(&privatized)?;
    let signed = forged.body.clone();
    forged.body = signed.replace("\"privatized\"", "\"publicized\"");
    assert_ne!(forged.body, signed);
    let sent = capture.to("/siem").len();
    let (status, body) = answer(
        &invoke(
            &env,
            &forged.request("github-repository-made-public", &signed),
        )
        .await?,
    )?;
    assert_eq!(status, 401, "{body}");
    assert_eq!(capture.to("/siem").len(), sent);
    Ok(())
}
