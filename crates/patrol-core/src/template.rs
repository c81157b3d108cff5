//! Message templates (minijinja, Jinja2 syntax): checked when the manifest is validated,
//! rendered when an alert is built.
//!
//! A template sees the EventBridge event's top-level fields (`detail`, `account`,
//! `region`, `time`, `source`, `id`, `resources`), the whole event as `event`, the facts
//! Patrol derives (`actor`, `source_ip`, `console_url`), the rule (`rule.id`,
//! `rule.severity`, `rule.description`) and its `params`. A field missing from an event
//! renders as an empty string: events vary, and an alert with a blank is better than none.

use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr};
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
    // Templates are named by their own text, and minijinja picks HTML escaping for names
    // ending in `.html`, `.htm` or `.xml`: a message ending "see runbook.html" would have
    // escaped every event value in it. Alerts are plain text; the sinks escape for their
    // own formats.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
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

/// The template context for an event and a rule (see [`event_context`]).
pub fn context(event: &Value, rule: Value, params: &Map<String, Value>) -> Value {
    let mut ctx = event_context(event.clone());
    set_rule(&mut ctx, rule, params);
    ctx
}

/// The context of an event, without the rule: the event itself as `event`, and the facts
/// Patrol derives (`actor`, `source_ip`, `console_url`). The event's own top-level fields
/// (`detail`, `account`, …) are read through `event` ([`lookup`]) rather than copied, so
/// making a context copies nothing.
pub fn event_context(event: Value) -> Value {
    let opt = |v: Option<String>| v.map_or(Value::Null, Value::String);
    let mut ctx = Map::new();
    ctx.insert("actor".into(), opt(crate::event::actor(&event)));
    ctx.insert("source_ip".into(), opt(crate::event::source_ip(&event)));
    ctx.insert("console_url".into(), opt(crate::event::console_url(&event)));
    ctx.insert("event".into(), event);
    Value::Object(ctx)
}

/// Puts the rule (`rule.id`, …) and its `params` into a context.
pub fn set_rule(ctx: &mut Value, rule: Value, params: &Map<String, Value>) {
    if let Value::Object(m) = ctx {
        m.insert("rule".into(), rule);
        m.insert("params".into(), Value::Object(params.clone()));
    }
}

/// A top-level variable of a context: Patrol's own names first, then the event's
/// top-level fields.
pub fn lookup<'c>(ctx: &'c Value, name: &str) -> Option<&'c Value> {
    ctx.get(name).or_else(|| ctx.get("event")?.get(name))
}

pub fn render(template: &str, context: &Value) -> Result<String, TemplateError> {
    render_shared(template, &Arc::new(context.clone()))
}

/// Most templates one thread keeps compiled (a manifest has a few per rule); past this the
/// cache starts over, so memory stays bounded whatever renders it.
const MAX_COMPILED: usize = 4096;

thread_local! {
    /// Templates compiled once per thread, named by their own text: a rule's message is
    /// rendered for every alert it raises.
    static COMPILED: std::cell::RefCell<(Environment<'static>, usize)> =
        std::cell::RefCell::new((environment(), 0));
}

/// [`render`] without copying the context: the template reads the fields it names
/// straight from it ([`Json`]), and is compiled once per thread.
pub fn render_shared(template: &str, context: &Arc<Value>) -> Result<String, TemplateError> {
    COMPILED.with(|cell| {
        let Ok(mut cache) = cell.try_borrow_mut() else {
            // Not reachable (rendering calls back into no template); compile on the spot.
            return render_with(&environment(), template, context);
        };
        let (env, count) = &mut *cache;
        if env.get_template(template).is_err() {
            if *count >= MAX_COMPILED {
                *env = environment();
                *count = 0;
            }
            env.add_template_owned(template.to_owned(), template.to_owned())
                .map_err(render_error)?;
            *count += 1;
        }
        render_with(env, template, context)
    })
}

fn render_with(
    env: &Environment<'_>,
    template: &str,
    context: &Arc<Value>,
) -> Result<String, TemplateError> {
    let rendered = match env.get_template(template) {
        Ok(t) => t.render(Json::root(context)),
        Err(_) => env.render_str(template, Json::root(context)),
    };
    rendered.map(|s| s.trim().to_owned()).map_err(render_error)
}

/// What went wrong and on which line of the template (templates are named by their own
/// text, which the message would only repeat).
fn render_error(e: minijinja::Error) -> TemplateError {
    let mut message = e.kind().to_string();
    if let Some(detail) = e.detail() {
        message = format!("{message}: {detail}");
    }
    if let Some(line) = e.line() {
        message = format!("{message} (line {line})");
    }
    TemplateError::Render(message)
}

/// A JSON value as a template sees it. Fields are looked up as the template reads them,
/// so an alert does not convert the whole event (a large `requestParameters` and all)
/// into template values; what a template gets is what converting it whole would give.
#[derive(Debug)]
struct Json {
    root: Arc<Value>,
    path: Vec<Step>,
}

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

impl Json {
    fn root(root: &Arc<Value>) -> minijinja::Value {
        Json::wrap(root, Vec::new(), root)
    }

    /// `value` (found at `path` under `root`) as a template value: objects and arrays
    /// stay lazy, scalars convert as serde does.
    fn wrap(root: &Arc<Value>, path: Vec<Step>, value: &Value) -> minijinja::Value {
        match value {
            Value::Object(_) | Value::Array(_) => minijinja::Value::from_object(Json {
                root: Arc::clone(root),
                path,
            }),
            scalar => minijinja::Value::from(minijinja::value::Serde(scalar)),
        }
    }

    /// The value at `path`; the root is a context, whose variables are found by
    /// [`lookup`].
    fn get(&self) -> &Value {
        let mut v: &Value = &self.root;
        for (n, step) in self.path.iter().enumerate() {
            let next = match step {
                Step::Key(k) if n == 0 => lookup(v, k),
                Step::Key(k) => v.get(k.as_str()),
                Step::Index(i) => v.get(*i),
            };
            v = next.unwrap_or(&Value::Null);
        }
        v
    }

    fn child(&self, step: Step, value: &Value) -> minijinja::Value {
        let mut path = Vec::with_capacity(self.path.len() + 1);
        path.extend_from_slice(&self.path);
        path.push(step);
        Json::wrap(&self.root, path, value)
    }
}

impl Object for Json {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        match self.get() {
            Value::Array(_) => ObjectRepr::Seq,
            _ => ObjectRepr::Map,
        }
    }

    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        if self.path.is_empty() {
            let k = key.as_str()?;
            return lookup(&self.root, k).map(|v| self.child(Step::Key(k.to_owned()), v));
        }
        match self.get() {
            Value::Object(m) => {
                let k = key.as_str()?;
                m.get(k).map(|v| self.child(Step::Key(k.to_owned()), v))
            }
            Value::Array(a) => {
                let i = key.as_usize()?;
                a.get(i).map(|v| self.child(Step::Index(i), v))
            }
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        if self.path.is_empty() {
            let mut keys: Vec<&str> = self
                .root
                .as_object()
                .into_iter()
                .flat_map(|m| m.keys())
                .map(String::as_str)
                .collect();
            if let Some(Value::Object(event)) = self.root.get("event") {
                keys.extend(event.keys().map(String::as_str));
            }
            keys.sort_unstable();
            keys.dedup();
            return Enumerator::Values(keys.into_iter().map(minijinja::Value::from).collect());
        }
        match self.get() {
            Value::Object(m) => Enumerator::Values(
                m.keys()
                    .map(|k| minijinja::Value::from(k.as_str()))
                    .collect(),
            ),
            Value::Array(a) => Enumerator::Seq(a.len()),
            _ => Enumerator::Empty,
        }
    }
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

    /// A context with the event's top-level fields copied beside Patrol's names (what
    /// [`lookup`] reads through).
    fn flat(ctx: &Value) -> Value {
        let mut m = ctx
            .get("event")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (k, v) in ctx.as_object().into_iter().flatten() {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }

    /// Patrol's own names come before the event's fields of the same name; the event's
    /// fields are all there.
    #[test]
    fn context_reads_event_fields_through_event() {
        let event =
            json!({"account": "1", "rule": "event's", "actor": "event's", "detail-type": "x"});
        let ctx = context(&event, json!({"id": "r"}), &Map::new());
        assert_eq!(lookup(&ctx, "account"), Some(&json!("1")));
        assert_eq!(lookup(&ctx, "rule"), Some(&json!({"id": "r"})));
        assert_eq!(lookup(&ctx, "actor"), Some(&Value::Null));
        assert_eq!(lookup(&ctx, "nope"), None);
        assert_eq!(
            render(
                "{{ account }} {{ rule.id }} {{ event.rule }} {{ event['detail-type'] }}",
                &ctx
            )
            .as_deref(),
            Ok("1 r event's x")
        );
    }

    /// Reading fields lazily renders exactly what converting the whole context does.
    #[test]
    fn lazy_context_renders_as_a_converted_one() {
        let event = json!({"account": "1", "detail": {"eventName": "StopLogging",
            "requestParameters": {"name": "trail", "tags": [{"k": "a", "v": 1.5}, {"k": "b", "v": null}],
                "flag": true, "n": 12, "big": 18446744073709551615u64, "neg": -3},
            "list": ["x", "y", "z"], "empty": {}, "none": []}});
        let ctx = context(&event, json!({"id": "r"}), &Map::new());
        for template in [
            "{{ detail.eventName }} in {{ account }} on {{ detail.requestParameters.name }}!",
            "{{ detail.requestParameters }}|{{ detail.list }}|{{ detail.empty }}|{{ detail.none }}",
            "{{ detail.requestParameters | list }} {{ detail.requestParameters | length }}",
            "{{ detail.requestParameters.tags[1].k }} {{ detail.list[-1] }} {{ detail.list | length }}",
            "{% for t in detail.requestParameters.tags %}{{ t.k }}={{ t.v }};{% endfor %}",
            "{% for k, v in detail.requestParameters | items %}{{ k }}:{{ v }} {% endfor %}",
            "{{ detail.requestParameters.big }} {{ detail.requestParameters.neg }} {{ detail.requestParameters.flag }}",
            "{{ detail.missing.deeper }}|{{ detail.list.nope }}|{{ detail.empty or 'E' }}|{{ detail.none or 'N' }}",
            "{{ event.detail.eventName | upper }} {{ rule.id }} {{ 'list' in detail }} {{ detail.list | join(',') }}",
            "{{ detail | dictsort | first }}",
        ] {
            let whole = environment()
                .render_str(
                    template,
                    minijinja::Value::from(minijinja::value::Serde(&flat(&ctx))),
                )
                .map(|s| s.trim().to_owned())
                .map_err(|e| render_error(e).to_string());
            let lazy = render(template, &ctx).map_err(|e| e.to_string());
            assert_eq!(lazy, whole, "{template}");
        }
    }

    /// A template's text never turns on escaping (minijinja decides by template name,
    /// and templates are named by their text).
    #[test]
    fn values_are_never_escaped_whatever_the_text_ends_with() {
        let ctx = context(
            &json!({"detail": {"a": "<b>\"x\"</b> & 'y'"}}),
            json!({}),
            &Map::new(),
        );
        for end in ["x.html", "x.htm", "x.xml", "x.html.j2", "x.json", "plain"] {
            let t = format!("{{{{ detail.a }}}} see {end}");
            assert_eq!(
                render(&t, &ctx),
                Ok(format!("<b>\"x\"</b> & 'y' see {end}")),
                "{t}"
            );
        }
    }

    /// Compiled once, rendered many times: the same results, errors included, and other
    /// templates in between do not get in the way.
    #[test]
    fn cached_templates_render_like_fresh_ones() {
        let a = context(&json!({"account": "1"}), json!({"id": "r"}), &Map::new());
        let b = context(&json!({"account": "2"}), json!({"id": "s"}), &Map::new());
        for _ in 0..3 {
            assert_eq!(
                render("{{ account }}/{{ rule.id }}", &a).as_deref(),
                Ok("1/r")
            );
            assert_eq!(
                render("{{ account }}/{{ rule.id }}", &b).as_deref(),
                Ok("2/s")
            );
            assert_eq!(render("x{{ account }}", &b).as_deref(), Ok("x2"));
            let err = render("ok\n{{ 1 + account }}", &a);
            assert!(
                matches!(&err, Err(TemplateError::Render(m)) if m.contains("line 2")),
                "{err:?}"
            );
            let err = render("{{ broken ", &a);
            assert!(matches!(err, Err(TemplateError::Render(_))), "{err:?}");
        }
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
