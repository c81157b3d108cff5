//! A handler function's config file for one test, in the shape the CDK app writes
//! (`cdk/lib/handler-config.ts`), in a temporary folder removed on drop; and the
//! environment the CDK app sets for it (`cdk/lib/env.ts`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use patrol_core::manifest::{Manifest, Route, RouteKind, Rule, Trigger};
use serde_json::{Map, Value, json};

/// moto's account in us-east-1: an `sns` route's topic is this followed by its name.
pub const TOPIC_ARN_PREFIX: &str = "arn:aws:sns:us-east-1:123456789012:";

/// The config: `rules` (normalized rules, as JSON), `routes` as the file writes them
/// (`{"type":"sns","route":R,"topic_name":T}`, ...), feeds and schedules (id → rule ids).
pub fn config(rules: &[Value], routes: Value, feeds: Value, schedules: Value) -> Value {
    json!({
        "format_version": 1, "handler": "notify",
        "rules": rules, "routes": routes, "feeds": feeds, "schedules": schedules,
    })
}

/// What the CDK app writes for `handler`'s rules of `manifest`: feeds from Patrol's covers,
/// one schedule group per expression, sns routes as `patrol-<route>` topics.
pub fn from_manifest(manifest: &Manifest, handler: &str) -> anyhow::Result<Value> {
    let rules: Vec<&Rule> = manifest
        .rules
        .iter()
        .filter(|r| r.handler == handler)
        .collect();
    let mut feeds = Map::new();
    for cover in patrol_core::cover::covers(rules.iter().copied())? {
        feeds.insert(cover.id, json!(cover.rules));
    }
    let schedules = schedule_groups(&rules);
    let used: Vec<&str> = rules
        .iter()
        .flat_map(|r| r.notify.iter().map(String::as_str))
        .collect();
    let routes: Vec<Value> = manifest
        .routes
        .iter()
        .filter(|r| used.contains(&r.id.as_str()))
        .map(route)
        .collect();
    let rules: Vec<Value> = rules
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()?;
    let mut file = config(
        &rules,
        Value::Array(routes),
        Value::Object(feeds),
        schedules,
    );
    file["handler"] = json!(handler);
    Ok(file)
}

fn schedule_groups(rules: &[&Rule]) -> Value {
    let mut groups: Map<String, Value> = Map::new();
    for rule in rules {
        if let Trigger::Schedule { expression } = &rule.trigger {
            let id: String = expression
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            if let Value::Array(ids) = groups.entry(id).or_insert_with(|| json!([])) {
                ids.push(json!(rule.id));
            }
        }
    }
    Value::Object(groups)
}

/// A manifest route as the config file writes it.
pub fn route(route: &Route) -> Value {
    let id = &route.id;
    match &route.kind {
        RouteKind::Sns { .. } => {
            json!({"type": "sns", "route": id, "topic_name": format!("patrol-{id}")})
        }
        RouteKind::Slack { secret } => json!({"type": "slack", "route": id, "secret": secret}),
        RouteKind::Pagerduty { secret } => {
            json!({"type": "pagerduty", "route": id, "secret": secret})
        }
        RouteKind::Webhook { url, secret } => {
            json!({"type": "webhook", "route": id, "url": url, "secret": secret})
        }
    }
}

/// The config written to `<temp>/patrol-config-<pid>-<n>/config.json`.
#[derive(Debug)]
pub struct ConfigFile {
    dir: PathBuf,
    path: PathBuf,
}

impl ConfigFile {
    pub fn write(config: &Value) -> anyhow::Result<Self> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "patrol-config-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("config.json");
        std::fs::write(&path, serde_json::to_string_pretty(config)?)?;
        Ok(Self { dir, path })
    }

    pub fn path(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }

    /// `PATROL_CONFIG` and `PATROL_TOPIC_ARN_PREFIX` as the CDK app sets them; the state
    /// table and the failure queue are the test's to add.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PATROL_CONFIG", self.path()),
            ("PATROL_TOPIC_ARN_PREFIX", TOPIC_ARN_PREFIX.to_owned()),
        ]
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
