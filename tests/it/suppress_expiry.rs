//! Suppressions stop at their `expires` date without a deploy: the function judges each
//! one against today's date on every event, and no pattern EventBridge gets (the covers
//! that forward and feed events) carries a suppression, so nothing deployed keeps
//! suppressing after it expired.

use patrol_core::manifest::{Suppression, Trigger};
use patrol_tests::capture::CaptureServer;
use patrol_tests::function::{invoke, response};
use patrol_tests::handler_config::{ConfigFile, config};
use patrol_tests::moto::Moto;
use serde_json::json;

use crate::dedup::{RULE_ID, signin};
use crate::fixtures::{root_login_event, rules_toml, shipped_rule, webhook_route};

/// `YYYY-MM-DD`, `days` from today.
fn day(days: i64) -> anyhow::Result<String> {
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs(),
    )?;
    Ok(patrol_core::date::civil_date(now + days * 86_400))
}

#[tokio::test]
async fn an_expired_suppression_stops_suppressing_without_a_deploy() -> anyhow::Result<()> {
    let capture = CaptureServer::start()?;
    let moto = Moto::start()?;
    for (expires, expected) in [
        (day(1)?, "suppressed by platform: break-glass drill"),
        (day(-1)?, "siem"),
    ] {
        // Deployed while the suppression was valid, and never since.
        let mut rule = serde_json::to_value(shipped_rule(RULE_ID)?)?;
        rule["notify"] = json!(["siem"]);
        rule["suppress"] = json!([{"condition": r#"account == "123837392027""#,
            "owner": "platform", "reason": "break-glass drill", "expires": expires}]);
        let file = ConfigFile::write(&config(
            &[rule],
            json!([webhook_route("siem", &capture.url("/siem"))]),
            json!({"signin": [RULE_ID]}),
            json!({}),
        ))?;
        let mut env = moto.sdk_env();
        env.extend(file.env());
        let out = response(&invoke(&env, &signin(&root_login_event()?)).await?)?;
        let result = &out["rules"][0];
        let what = result["skipped"].as_str().map(str::to_owned).or_else(|| {
            result["sent"]
                .as_object()
                .and_then(|s| s.keys().next().cloned())
        });
        assert_eq!(what.as_deref(), Some(expected), "expires {expires}: {out}");
    }
    assert_eq!(capture.to("/siem").len(), 1);
    Ok(())
}

#[test]
fn no_deployed_pattern_carries_a_suppression() -> anyhow::Result<()> {
    let manifest = rules_toml()?;
    let mut suppressed = manifest.clone();
    for rule in &mut suppressed.rules {
        if matches!(rule.trigger, Trigger::Event { .. }) {
            // Of the kind `patrol_core::suppress` can compile into a pattern.
            rule.suppress.push(Suppression {
                condition: r#"detail.userIdentity.arn == "arn:aws:iam::111111111111:role/ci""#
                    .into(),
                owner: "platform".into(),
                reason: "CI".into(),
                expires: day(30)?,
            });
        }
    }
    let plain = patrol_core::cover::manifest_covers(&manifest)?;
    let with_suppressions = patrol_core::cover::manifest_covers(&suppressed)?;
    assert_eq!(
        serde_json::to_value(&with_suppressions)?,
        serde_json::to_value(&plain)?,
        "a suppression changed a deployed pattern"
    );
    assert!(
        !serde_json::to_string(&with_suppressions)?
            .contains("anything-but\":[\"arn:aws:iam::111111111111:role/ci")
    );
    Ok(())
}
