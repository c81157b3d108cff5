//! The config file checked and compiled: every problem found, each with its JSON path;
//! then each rule compiled once and put in the one place its invocations come from (a
//! feed, a schedule group, the SNS rules, the webhook rules).
//!
//! The file comes from a validated manifest, so a problem here means the function and the
//! CDK app disagree (different releases, a hand-edited file): the cold start fails rather
//! than an alert being lost later.

use std::collections::{BTreeMap, HashMap};

use patrol_core::condition::Condition;
use patrol_core::manifest::{Rule, Trigger};
use patrol_core::pattern::Pattern;
use patrol_core::rule::CompiledRule;

use super::file::{self, RawHandlerConfig};
use super::{
    ConfigError, ENV_FAILURE_QUEUE_URL, ENV_STATE_TABLE, ENV_TOPIC_ARN_PREFIX, Environment,
    EventRules, HandlerConfig, Problem,
};

/// Collects problems at JSON paths.
#[derive(Debug, Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }
}

pub(super) fn handler_config(
    handler: &str,
    text: &str,
    env: Environment,
) -> Result<HandlerConfig, ConfigError> {
    let path = env.config_path.clone();
    let file_error = |problems: Vec<Problem>| ConfigError::File {
        path: path.clone(),
        problems,
    };
    let raw = file::parse(text).map_err(|p| file_error(vec![p]))?;
    let mut problems = Problems::default();
    if raw.handler != handler {
        problems.add(
            "handler",
            format!(
                "this file is for handler `{}`, but this function is `{handler}`",
                raw.handler
            ),
        );
    }
    check_routes(&raw, &mut problems);
    check_regions(&raw.regions, &mut problems);
    let compiled = check_rules(&raw, handler, &mut problems);
    let feeds = check_groups(&raw, "feeds", &raw.feeds, Kind::Event, &mut problems);
    let schedules = check_groups(
        &raw,
        "schedules",
        &raw.schedules,
        Kind::Schedule,
        &mut problems,
    );
    if !problems.0.is_empty() {
        return Err(file_error(problems.0));
    }
    check_environment(&raw, &env)?;
    assemble(raw, compiled, feeds, schedules, env).map_err(|p| file_error(vec![p]))
}

fn check_routes(raw: &RawHandlerConfig, problems: &mut Problems) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, route) in raw.routes.iter().enumerate() {
        let path = format!("routes[{i}]");
        for p in route.problems(&path) {
            problems.0.push(p);
        }
        if let Some(first) = seen.insert(route.route(), i) {
            problems.add(
                format!("{path}.route"),
                format!("route `{}` is also routes[{first}]", route.route()),
            );
        }
    }
}

/// Each region an AWS region name, listed once.
fn check_regions(regions: &[String], problems: &mut Problems) {
    for (i, region) in regions.iter().enumerate() {
        if !super::is_region(region) {
            problems.add(
                format!("regions[{i}]"),
                format!("`{region}` is not an AWS region name (e.g. `eu-west-1`)"),
            );
        } else if let Some(first) = regions[..i].iter().position(|r| r == region) {
            problems.add(
                format!("regions[{i}]"),
                format!("region `{region}` is also regions[{first}]"),
            );
        }
    }
}

/// Each rule checked, and compiled when it can be (`None` where it cannot).
fn check_rules(
    raw: &RawHandlerConfig,
    handler: &str,
    problems: &mut Problems,
) -> Vec<Option<CompiledRule>> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let routes: Vec<&str> = raw.routes.iter().map(|r| r.route()).collect();
    let mut compiled = Vec::with_capacity(raw.rules.len());
    for (i, rule) in raw.rules.iter().enumerate() {
        let path = format!("rules[{i}]");
        let id = &rule.id;
        if id.is_empty() {
            problems.add(format!("{path}.id"), "empty rule id");
        }
        if let Some(first) = seen.insert(id, i) {
            problems.add(
                format!("{path}.id"),
                format!("rule `{id}` is also rules[{first}]"),
            );
        }
        if rule.handler != handler {
            problems.add(
                format!("{path}.handler"),
                format!(
                    "rule `{id}` is for handler `{}`, not `{handler}`",
                    rule.handler
                ),
            );
        }
        if rule.notify.is_empty() {
            problems.add(
                format!("{path}.notify"),
                format!("rule `{id}` has no routes: its alerts would go nowhere"),
            );
        }
        for (j, route) in rule.notify.iter().enumerate() {
            if !routes.contains(&route.as_str()) {
                problems.add(
                    format!("{path}.notify[{j}]"),
                    format!("route `{route}` is not in routes"),
                );
            }
        }
        check_templates(rule, &path, problems);
        let pattern_ok = check_pattern(rule, &path, problems);
        match CompiledRule::new(rule.clone()) {
            Ok(c) if pattern_ok => compiled.push(Some(c)),
            Ok(_) => compiled.push(None),
            Err(message) => {
                explain_compile_error(rule, &path, message, problems);
                compiled.push(None);
            }
        }
    }
    compiled
}

fn check_templates(rule: &Rule, path: &str, problems: &mut Problems) {
    let id = &rule.id;
    for e in patrol_core::template::check(&rule.message) {
        problems.add(format!("{path}.message"), format!("rule `{id}`: {e}"));
    }
    if let Some(dedup) = &rule.dedup {
        for e in patrol_core::template::check(&dedup.key) {
            problems.add(format!("{path}.dedup.key"), format!("rule `{id}`: {e}"));
        }
    }
}

/// Whether the rule's delivery pattern (if it has one) is valid.
fn check_pattern(rule: &Rule, path: &str, problems: &mut Problems) -> bool {
    let field = match &rule.trigger {
        Trigger::Event { .. } => "trigger.pattern",
        Trigger::Sns { .. } => "trigger.filter_policy",
        Trigger::Webhook { .. } | Trigger::Schedule { .. } => "trigger",
    };
    match rule.trigger.delivery_pattern().map(|p| Pattern::parse(&p)) {
        Some(Err(e)) => {
            problems.add(
                format!("{path}.{field}"),
                format!("rule `{}`: {e}", rule.id),
            );
            false
        }
        _ => true,
    }
}

/// Which of the condition and the suppressions failed to compile (CompiledRule's own
/// message does not say).
fn explain_compile_error(rule: &Rule, path: &str, message: String, problems: &mut Problems) {
    let id = &rule.id;
    let before = problems.0.len();
    let mut check = |at: String, source: &str| {
        if let Err(errors) = Condition::compile(source) {
            let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
            problems.add(at, format!("rule `{id}`: {}", text.join("; ")));
        }
    };
    if let Some(condition) = &rule.condition {
        check(format!("{path}.condition"), condition);
    }
    for (j, s) in rule.suppress.iter().enumerate() {
        check(format!("{path}.suppress[{j}].condition"), &s.condition);
    }
    if problems.0.len() == before {
        problems.add(path, format!("rule `{id}`: {message}"));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Event,
    Schedule,
}

impl Kind {
    fn of(trigger: &Trigger) -> Option<Kind> {
        match trigger {
            Trigger::Event { .. } => Some(Kind::Event),
            Trigger::Schedule { .. } => Some(Kind::Schedule),
            Trigger::Sns { .. } | Trigger::Webhook { .. } => None,
        }
    }

    fn rules_name(self) -> &'static str {
        match self {
            Kind::Event => "event rule",
            Kind::Schedule => "scheduled rule",
        }
    }

    fn article_rules_name(self) -> &'static str {
        match self {
            Kind::Event => "an event rule",
            Kind::Schedule => "a scheduled rule",
        }
    }

    fn group_name(self) -> &'static str {
        match self {
            Kind::Event => "feed",
            Kind::Schedule => "schedule group",
        }
    }
}

/// Feeds or schedule groups: each lists known rules of its kind, and each rule of that kind
/// is in exactly one of them. Group id → rule indices.
fn check_groups(
    raw: &RawHandlerConfig,
    field: &str,
    groups: &BTreeMap<String, Vec<String>>,
    kind: Kind,
    problems: &mut Problems,
) -> BTreeMap<String, Vec<usize>> {
    // A repeated id (reported by `check_rules`) counts as its first rule.
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, r) in raw.rules.iter().enumerate() {
        index.entry(r.id.as_str()).or_insert(i);
    }
    let mut owner: HashMap<usize, &str> = HashMap::new();
    let mut out = BTreeMap::new();
    for (group, ids) in groups {
        let path = format!("{field}.{group}");
        if group.is_empty() {
            problems.add(field, format!("a {} has an empty id", kind.group_name()));
        }
        if ids.is_empty() {
            problems.add(&path, format!("the {} lists no rules", kind.group_name()));
        }
        let mut members = Vec::with_capacity(ids.len());
        for (k, id) in ids.iter().enumerate() {
            let at = format!("{path}[{k}]");
            let Some(&i) = index.get(id.as_str()) else {
                problems.add(at, format!("rule `{id}` is not in rules"));
                continue;
            };
            if Kind::of(&raw.rules[i].trigger) != Some(kind) {
                problems.add(
                    at,
                    format!(
                        "rule `{id}` is not {}: a {} lists only those",
                        kind.article_rules_name(),
                        kind.group_name()
                    ),
                );
                continue;
            }
            if let Some(first) = owner.insert(i, group) {
                problems.add(
                    at,
                    format!(
                        "rule `{id}` is also in {} `{first}`: each {} is in exactly one",
                        kind.group_name(),
                        kind.rules_name()
                    ),
                );
                continue;
            }
            members.push(i);
        }
        out.insert(group.clone(), members);
    }
    for (i, rule) in raw.rules.iter().enumerate() {
        let first = index.get(rule.id.as_str()) == Some(&i);
        if first && Kind::of(&rule.trigger) == Some(kind) && !owner.contains_key(&i) {
            problems.add(
                format!("rules[{i}]"),
                format!(
                    "{} `{}` is in no {} (`{field}`): nothing would ever invoke it",
                    kind.rules_name(),
                    rule.id,
                    kind.group_name()
                ),
            );
        }
    }
    out
}

/// The variables the file's contents need.
fn check_environment(raw: &RawHandlerConfig, env: &Environment) -> Result<(), ConfigError> {
    let required = |var, why: String| Err(ConfigError::Required { var, why });
    if let Some(rule) = raw.rules.iter().find(|r| r.dedup.is_some())
        && env.state_table.is_none()
    {
        return required(
            ENV_STATE_TABLE,
            format!("rule `{}` has `dedup` and needs the state table", rule.id),
        );
    }
    if let Some(rule) = raw
        .rules
        .iter()
        .find(|r| matches!(r.trigger, Trigger::Webhook { .. }))
        && env.failure_queue_url.is_none()
    {
        return required(
            ENV_FAILURE_QUEUE_URL,
            format!(
                "rule `{}` has a webhook trigger and needs a queue for alerts it cannot deliver",
                rule.id
            ),
        );
    }
    if let Some(route) = raw.routes.iter().find(|r| r.is_sns())
        && env.topic_arn_prefix.is_none()
    {
        return required(
            ENV_TOPIC_ARN_PREFIX,
            format!(
                "route `{}` is an SNS topic, whose ARN is this prefix and its topic name",
                route.route()
            ),
        );
    }
    Ok(())
}

/// Puts each compiled rule where its invocations come from. Every rule compiled and every
/// group was checked, so an error here is an engine's own refusal.
fn assemble(
    raw: RawHandlerConfig,
    compiled: Vec<Option<CompiledRule>>,
    feeds: BTreeMap<String, Vec<usize>>,
    schedules: BTreeMap<String, Vec<usize>>,
    env: Environment,
) -> Result<HandlerConfig, Problem> {
    let mut compiled = compiled;
    let mut take = |i: usize| compiled.get_mut(i).and_then(Option::take);
    let engine = |path: String, rules: Vec<CompiledRule>| {
        EventRules::new(rules).map_err(|e| Problem {
            path,
            message: e.to_string(),
        })
    };
    let mut feed_engines = BTreeMap::new();
    for (feed, members) in feeds {
        let rules = members.into_iter().filter_map(&mut take).collect();
        feed_engines.insert(feed.clone(), engine(format!("feeds.{feed}"), rules)?);
    }
    let schedules = schedules
        .into_iter()
        .map(|(group, members)| (group, members.into_iter().filter_map(&mut take).collect()))
        .collect();
    let mut sns = Vec::new();
    let mut webhooks = BTreeMap::new();
    for (i, rule) in raw.rules.iter().enumerate() {
        match rule.trigger {
            Trigger::Sns { .. } => sns.extend(take(i)),
            Trigger::Webhook { .. } => {
                if let Some(c) = take(i) {
                    webhooks.insert(rule.id.clone(), c);
                }
            }
            Trigger::Event { .. } | Trigger::Schedule { .. } => {}
        }
    }
    let prefix = env.topic_arn_prefix.as_deref();
    Ok(HandlerConfig {
        source: env.config_path,
        handler: raw.handler,
        routes: raw
            .routes
            .into_iter()
            .map(|r| (r.route().to_owned(), r.resolve(prefix)))
            .collect(),
        feeds: feed_engines,
        schedules,
        sns: engine("rules".into(), sns)?,
        webhooks,
        state_table: env.state_table,
        failure_queue_url: env.failure_queue_url,
        pagerduty_events_url: env.pagerduty_events_url,
        function_timeout: env.function_timeout.unwrap_or(super::MAX_FUNCTION_TIMEOUT),
        regions: raw.regions,
    })
}
