use super::*;
use serde_json::{Value, json};
use std::collections::HashMap;

const PREFIX: &str = "arn:aws:sns:us-east-1:111111111111:";

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let mut map: HashMap<String, String> = HashMap::from([
        (ENV_CONFIG.to_owned(), "/opt/patrol/config.json".to_owned()),
        (ENV_TOPIC_ARN_PREFIX.to_owned(), PREFIX.to_owned()),
        (ENV_STATE_TABLE.to_owned(), "patrol-state".to_owned()),
        (
            ENV_FAILURE_QUEUE_URL.to_owned(),
            "https://sqs.us-east-1.amazonaws.com/111111111111/patrol-notify-failures".to_owned(),
        ),
    ]);
    for (k, v) in pairs {
        map.insert((*k).to_owned(), (*v).to_owned());
    }
    move |k| map.get(k).cloned()
}

fn rule(id: &str, trigger: Value) -> Value {
    json!({"id": id, "description": "d", "severity": "high", "handler": "notify",
        "trigger": trigger, "message": "{{ actor }} did it", "notify": ["security"]})
}

fn event(source: &str) -> Value {
    json!({"type": "event", "pattern": {"source": [source]}})
}

/// A config with one rule of each trigger kind and one route of each type.
fn config() -> Value {
    json!({
        "format_version": 1, "handler": "notify",
        "rules": [
            rule("iam-user-created", event("aws.iam")),
            rule("bucket-deleted", event("aws.s3")),
            rule("daily-audit", json!({"type": "schedule", "expression": "rate(1 day)"})),
            rule("guardduty-high", json!({"type": "sns",
                "topic_arn": "arn:aws:sns:us-east-1:111111111111:guardduty",
                "filter_policy": {"severity": [{"numeric": [">=", 7]}]}})),
            rule("repo-publicized", json!({"type": "webhook", "provider": "github", "secret": "patrol/github"})),
        ],
        "routes": [
            {"type": "sns", "route": "security", "topic_name": "patrol-security"},
            {"type": "slack", "route": "slack-sec", "secret": "patrol/slack"},
            {"type": "pagerduty", "route": "oncall", "secret": "arn:aws:secretsmanager:us-east-1:1:secret:pd-AbCdEf"},
            {"type": "webhook", "route": "siem", "url": "https://siem.example.com/in", "secret": "patrol/siem"},
            {"type": "webhook", "route": "plain", "url": "https://example.com/hook"},
        ],
        "feeds": {"iam": ["iam-user-created"], "s3": ["bucket-deleted"]},
        "schedules": {"rate-1-day": ["daily-audit"]},
    })
}

fn load(config: &Value, pairs: &[(&str, &str)]) -> Result<HandlerConfig, ConfigError> {
    HandlerConfig::from_json("notify", &config.to_string(), &env(pairs))
}

fn problems(config: &Value) -> String {
    match load(config, &[]) {
        Ok(c) => panic!("expected problems, got {c:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn reads_a_complete_config() {
    let c = load(&config(), &[]).expect("valid");
    assert_eq!(c.source, "/opt/patrol/config.json");
    assert_eq!(c.handler, "notify");
    assert_eq!(c.rule_count(), 5);
    let feeds: Vec<(&str, Vec<&str>)> = c
        .feeds
        .iter()
        .map(|(id, e)| (id.as_str(), e.rules().map(|r| r.id.as_str()).collect()))
        .collect();
    assert_eq!(
        feeds,
        [
            ("iam", vec!["iam-user-created"]),
            ("s3", vec!["bucket-deleted"])
        ]
    );
    assert_eq!(c.schedules["rate-1-day"][0].rule.id, "daily-audit");
    assert_eq!(
        c.sns.rules().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["guardduty-high"]
    );
    assert!(c.webhooks.contains_key("repo-publicized"));
    assert_eq!(c.state_table.as_deref(), Some("patrol-state"));
    assert_eq!(c.pagerduty_events_url, DEFAULT_PAGERDUTY_EVENTS_URL);
}

#[test]
fn resolves_every_route_type_as_the_cdk_app_writes_it() {
    let c = load(&config(), &[]).expect("valid");
    let kinds: Vec<_> = c.routes.values().map(|s| (s.kind(), s.route())).collect();
    assert_eq!(
        kinds,
        [
            ("pagerduty", "oncall"),
            ("webhook", "plain"),
            ("sns", "security"),
            ("webhook", "siem"),
            ("slack", "slack-sec"),
        ]
    );
    assert_eq!(
        c.routes["security"],
        SinkConfig::Sns {
            route: "security".into(),
            topic_arn: "arn:aws:sns:us-east-1:111111111111:patrol-security".into()
        }
    );
    assert_eq!(
        c.routes["plain"],
        SinkConfig::Webhook {
            route: "plain".into(),
            url: "https://example.com/hook".into(),
            secret: None
        }
    );
    let rule = c.event_rules().next().expect("a rule");
    let sinks: Vec<_> = c.sinks(rule).map(SinkConfig::route).collect();
    assert_eq!(sinks, ["security"]);
}

#[test]
fn missing_config_variable_is_named() {
    let err = HandlerConfig::from_lookup("notify", &|_| None).expect_err("no PATROL_CONFIG");
    assert!(err.to_string().contains("PATROL_CONFIG"), "{err}");
}

#[test]
fn unreadable_file_is_named_with_its_variable() {
    let err = HandlerConfig::from_lookup(
        "notify",
        &env(&[(ENV_CONFIG, "/nonexistent/patrol/config.json")]),
    )
    .expect_err("no file");
    let text = err.to_string();
    assert!(
        text.starts_with(
            "cannot read the config file /nonexistent/patrol/config.json (from PATROL_CONFIG)"
        ),
        "{text}"
    );
}

#[test]
fn reads_the_file_named_by_the_variable() {
    let dir = std::env::temp_dir().join(format!("patrol-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("config.json");
    std::fs::write(&path, config().to_string()).expect("write");
    let path = path.to_string_lossy().into_owned();
    let c = HandlerConfig::from_lookup("notify", &env(&[(ENV_CONFIG, &path)])).expect("valid");
    assert_eq!(c.source, path);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn another_format_version_is_named_as_a_release_mismatch() {
    let mut c = config();
    c["format_version"] = json!(2);
    c["rules"] = json!("a shape this release does not know");
    insta::assert_snapshot!(problems(&c), @r"
    the config file /opt/patrol/config.json is not valid:
      format_version: expected 1, found 2: the function and the CDK app that wrote this file come from different Patrol releases
    ");
}

#[test]
fn shape_errors_have_a_json_path() {
    let mut c = config();
    c["rules"][3]["trigger"]["type"] = json!("carrier-pigeon");
    let text = problems(&c);
    assert!(
        text.contains("\n  rules[3].trigger.type: unknown variant `carrier-pigeon`, expected one of `event`, `schedule`, `sns`, `webhook`"),
        "{text}"
    );
    let mut c = config();
    c["routes"][1]["webhook_url"] = json!("https://hooks.slack.com/x");
    let text = problems(&c);
    assert!(
        text.contains("\n  routes[1]: unknown field `webhook_url`"),
        "{text}"
    );
    assert!(problems(&json!("{")).contains("format_version: expected 1, found nothing"));
}

#[test]
fn every_problem_is_reported_at_once_with_its_json_path() {
    let mut c = config();
    c["handler"] = json!("custom");
    c["rules"][0]["notify"] = json!(["security", "secuirty"]);
    c["rules"][1]["condition"] = json!("detail.x ==");
    c["rules"][1]["suppress"] = json!([
        {"condition": "true", "owner": "a", "reason": "b", "expires": "2099-01-01"},
        {"condition": "((", "owner": "a", "reason": "b", "expires": "2099-01-01"},
    ]);
    c["rules"][2]["message"] = json!("{{ nope }}");
    c["rules"][3]["trigger"]["filter_policy"] = json!({"severity": []});
    c["rules"][4]["handler"] = json!("other");
    c["rules"].as_array_mut().expect("rules").extend([
        rule("iam-user-created", event("aws.iam")),
        rule("orphan", event("aws.kms")),
        json!({"id": "silent", "description": "d", "severity": "low", "handler": "notify",
            "trigger": {"type": "event", "pattern": {"source": [{"bogus": 1}]}},
            "message": "m", "notify": []}),
    ]);
    c["routes"][4]["url"] = json!("http://siem.example.com/in");
    c["routes"]
        .as_array_mut()
        .expect("routes")
        .push(json!({"type": "sns", "route": "security", "topic_name": "bad name"}));
    c["feeds"] = json!({
        "iam": ["iam-user-created", "missing", "daily-audit"],
        "s3": ["bucket-deleted", "iam-user-created", "silent"],
        "empty": [],
    });
    c["schedules"] = json!({"rate-1-day": ["bucket-deleted"]});
    insta::assert_snapshot!("every_problem_at_once", problems(&c));
}

#[test]
fn plain_http_webhooks_are_only_for_loopback() {
    for ok in [
        "http://127.0.0.1:8080/x",
        "http://localhost/x",
        "http://[::1]:9/",
    ] {
        let mut c = config();
        c["routes"][3]["url"] = json!(ok);
        load(&c, &[]).expect(ok);
    }
    let mut c = config();
    c["routes"][3]["url"] = json!("http://siem.example.com/in");
    let text = problems(&c);
    assert!(
        text.contains("routes[3].url: webhook route `siem`: plain http is allowed only to a loopback host; use https"),
        "{text}"
    );
}

#[test]
fn the_environment_a_file_needs_is_named() {
    let mut dedup = config();
    dedup["rules"][0]["dedup"] = json!({"key": "{{ actor }}", "window_seconds": 3600});
    let err = load(&dedup, &[(ENV_STATE_TABLE, "")]).expect_err("no table");
    assert!(err.to_string().contains(ENV_STATE_TABLE), "{err}");
    assert!(err.to_string().contains("iam-user-created"), "{err}");
    // Without dedup the table is optional (no ledger then).
    let c = load(&config(), &[(ENV_STATE_TABLE, "")]).expect("optional");
    assert_eq!(c.state_table, None);

    let err = load(&config(), &[(ENV_FAILURE_QUEUE_URL, "")]).expect_err("webhook rule");
    assert!(err.to_string().contains(ENV_FAILURE_QUEUE_URL), "{err}");
    assert!(err.to_string().contains("repo-publicized"), "{err}");

    let err = load(&config(), &[(ENV_TOPIC_ARN_PREFIX, "")]).expect_err("sns route");
    assert!(err.to_string().contains(ENV_TOPIC_ARN_PREFIX), "{err}");
    for bad in [
        "arn:aws:sns:us-east-1:111111111111",
        "arn:aws:sqs:us-east-1:111111111111:",
        "patrol-",
    ] {
        let err = load(&config(), &[(ENV_TOPIC_ARN_PREFIX, bad)]).expect_err(bad);
        assert!(
            err.to_string()
                .starts_with("environment variable PATROL_TOPIC_ARN_PREFIX is not valid"),
            "{err}"
        );
    }
}

#[test]
fn pagerduty_endpoint_can_be_overridden() {
    let eu = "https://events.eu.pagerduty.com/v2/enqueue";
    let c = load(&config(), &[(ENV_PAGERDUTY_EVENTS_URL, eu)]).expect("valid");
    assert_eq!(c.pagerduty_events_url, eu);
    let err = load(
        &config(),
        &[(ENV_PAGERDUTY_EVENTS_URL, "events.pagerduty.com")],
    )
    .expect_err("not a URL");
    assert!(err.to_string().contains(ENV_PAGERDUTY_EVENTS_URL), "{err}");
}

#[test]
fn a_handler_with_no_rules_of_a_kind_is_valid() {
    let c = json!({"format_version": 1, "handler": "notify", "rules": [], "routes": []});
    let c = load(&c, &[(ENV_TOPIC_ARN_PREFIX, "")]).expect("valid");
    assert_eq!(c.rule_count(), 0);
    assert!(c.feeds.is_empty());
}

#[test]
fn function_timeout_is_read_and_checked() {
    let c = load(&config(), &[(ENV_FUNCTION_TIMEOUT_SECONDS, "60")]).expect("valid");
    assert_eq!(c.function_timeout, Duration::from_secs(60));
    let c = load(&config(), &[]).expect("valid");
    assert_eq!(c.function_timeout, MAX_FUNCTION_TIMEOUT, "Lambda's maximum");
    for bad in ["0", "901", "60s", "-1", "1.5"] {
        let err = load(&config(), &[(ENV_FUNCTION_TIMEOUT_SECONDS, bad)]).expect_err(bad);
        assert!(
            err.to_string()
                .starts_with("environment variable PATROL_FUNCTION_TIMEOUT_SECONDS is not valid"),
            "{err}"
        );
    }
}

#[test]
fn sdk_calls_have_timeouts() {
    let t = sdk_timeouts();
    assert_eq!(t.operation_timeout(), Some(SDK_OPERATION_TIMEOUT));
    assert_eq!(t.operation_attempt_timeout(), Some(SDK_ATTEMPT_TIMEOUT));
    assert_eq!(t.connect_timeout(), Some(SDK_CONNECT_TIMEOUT));
}

#[test]
fn regions_are_read_in_order_and_default_to_none() {
    assert!(load(&config(), &[]).expect("valid").regions.is_empty());
    let mut c = config();
    c["regions"] = json!(["us-east-1", "eu-west-1", "us-gov-west-1"]);
    assert_eq!(
        load(&c, &[]).expect("valid").regions,
        ["us-east-1", "eu-west-1", "us-gov-west-1"]
    );
}

#[test]
fn a_bad_or_repeated_region_is_a_problem_at_its_path() {
    let mut c = config();
    c["regions"] = json!(["us-east-1", "Mars", "us-east-1"]);
    let text = problems(&c);
    assert!(
        text.contains("regions[1]: `Mars` is not an AWS region name"),
        "{text}"
    );
    assert!(
        text.contains("regions[2]: region `us-east-1` is also regions[0]"),
        "{text}"
    );
    c["regions"] = json!("us-east-1");
    assert!(problems(&c).contains("regions"), "{}", problems(&c));
}

#[test]
fn region_names_have_the_aws_shape() {
    for ok in [
        "us-east-1",
        "eu-central-2",
        "us-gov-west-1",
        "ap-southeast-5",
    ] {
        assert!(is_region(ok), "{ok}");
    }
    for bad in [
        "",
        "us",
        "us-east",
        "US-EAST-1",
        "us-east-1a",
        "us--1",
        "-east-1",
    ] {
        assert!(!is_region(bad), "{bad}");
    }
}
