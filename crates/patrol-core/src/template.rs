//! Message templates (minijinja, Jinja2 syntax): checked when the manifest is validated,
//! rendered when an alert is built.
//!
//! A template sees the EventBridge event's top-level fields (`detail`, `account`,
//! `region`, `time`, `source`, `id`, `resources`), the whole event as `event`, the facts
//! Patrol derives (`actor`, `source_ip`, `console_url`), the rule (`rule.id`,
//! `rule.severity`, `rule.description`) and its `params`. A field missing from an event
//! renders as an empty string: events vary, and an alert with a blank is better than none.

use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Map, Value};

/// Variables a template may use at its top level.
pub const KNOWN_VARIABLES: &[&str] = &[
    "event",
    "detail",
    "account",
    "region",
    "time",
    "source",
    "id",
    "resources",
    "version",
    "actor",
    "source_ip",
    "console_url",
    "rule",
    "params",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template syntax error: {message}")]
    Syntax {
        message: String,
        /// 1-based line inside the template.
        line: Option<usize>,
    },
    #[error("unknown template variable `{0}`")]
    UnknownVariable(String),
    #[error("template failed to render: {0}")]
    Render(String),
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env
}

/// Checks syntax and that every top-level variable is one Patrol provides.
/// Returns every problem found.
pub fn check(template: &str) -> Vec<TemplateError> {
    let env = environment();
    let tmpl = match env.template_from_str(template) {
        Ok(t) => t,
        Err(e) => {
            return vec![TemplateError::Syntax {
                message: e.detail().unwrap_or("invalid syntax").to_owned(),
                line: e.line(),
            }];
        }
    };
    let mut unknown: Vec<String> = tmpl
        .undeclared_variables(false)
        .into_iter()
        .filter(|v| !KNOWN_VARIABLES.contains(&v.as_str()))
        .collect();
    unknown.sort();
    unknown
        .into_iter()
        .map(TemplateError::UnknownVariable)
        .collect()
}

/// The template context for an event.
pub fn context(event: &Value, rule: Value, params: &Map<String, Value>) -> Value {
    let mut ctx = match event {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    ctx.insert("event".into(), event.clone());
    let opt = |v: Option<String>| v.map_or(Value::Null, Value::String);
    ctx.insert("actor".into(), opt(crate::event::actor(event)));
    ctx.insert("source_ip".into(), opt(crate::event::source_ip(event)));
    ctx.insert("console_url".into(), opt(crate::event::console_url(event)));
    ctx.insert("rule".into(), rule);
    ctx.insert("params".into(), Value::Object(params.clone()));
    Value::Object(ctx)
}

pub fn render(template: &str, context: &Value) -> Result<String, TemplateError> {
    let env = environment();
    env.render_str(
        template,
        minijinja::value::Value::from(minijinja::value::Serde(context)),
    )
    .map(|s| s.trim().to_owned())
    .map_err(|e| TemplateError::Render(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_event_fields_and_blanks_missing_ones() {
        let event = json!({"account": "1", "detail": {"eventName": "StopLogging"}});
        let ctx = context(&event, json!({"id": "r"}), &Map::new());
        let out = render(
            "{{ detail.eventName }} in {{ account }} on {{ detail.requestParameters.name }}!",
            &ctx,
        );
        assert_eq!(out.as_deref(), Ok("StopLogging in 1 on !"));
    }

    #[test]
    fn check_reports_syntax_errors_with_line() {
        let errs = check("ok\n{{ detail.eventName ");
        assert!(
            matches!(&errs[..], [TemplateError::Syntax { line: Some(2), .. }]),
            "{errs:?}"
        );
    }

    #[test]
    fn check_reports_unknown_variables() {
        let errs = check("{{ detial.eventName }} by {{ actor }} {{ bogus }}");
        assert_eq!(
            errs,
            vec![
                TemplateError::UnknownVariable("bogus".into()),
                TemplateError::UnknownVariable("detial".into())
            ]
        );
    }
}
