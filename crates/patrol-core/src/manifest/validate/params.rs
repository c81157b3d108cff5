//! A rule's `params` and `params_types`: every parameter has a type (see
//! [`crate::manifest::params`] for where types come from), every value is checked against
//! it, and what the rule's conditions and templates read is set.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use cel::common::ast::{Expr, IdedExpr, LiteralValue, operators};
use serde_json::{Map, Value};
use toml::de::{DeTable, DeValue};

use super::aws_ids::{Bad, check_account, check_region};
use super::{Cx, span};
use crate::diagnostic::Diagnostic;
use crate::manifest::params::{
    CONDITION_ARGUMENTS, ParamType, TypedArgument, declared, handler_params, is_param_name,
};
use crate::manifest::parse::closest;
use crate::manifest::raw::{RawRule, Str};

/// One place a rule's condition or template reads `params.NAME`.
#[derive(Debug, Clone)]
pub(super) struct Read {
    pub name: String,
    /// Inside `has(...)`: the parameter may be absent.
    pub optional: bool,
    /// Passed to a condition function whose argument is typed.
    pub argument: Option<&'static TypedArgument>,
    /// What reads it (`the condition`, `the message`), for messages.
    pub what: &'static str,
    /// The expression or template that reads it.
    pub at: Range<usize>,
}

/// What a rule's conditions and templates read from `params`.
#[derive(Debug, Default)]
pub(super) struct Reads {
    pub reads: Vec<Read>,
    /// Something reads `params` whole (`{{ params }}`, `params[name]`): which names it
    /// uses cannot be known.
    pub whole: bool,
}

impl Reads {
    /// What a rule's conditions, suppressions, message and dedup key read.
    pub fn of(rule: &RawRule) -> Reads {
        let mut reads = Reads::default();
        if let Some(c) = &rule.condition {
            reads.condition(c, "the condition");
        }
        for s in rule.suppress.iter().flatten() {
            if let Some(c) = &s.get_ref().condition {
                reads.condition(c, "a suppression's condition");
            }
        }
        if let Some(m) = &rule.message {
            reads.template(m, "the message");
        }
        if let Some(k) = rule.dedup.as_ref().and_then(|d| d.get_ref().key.as_ref()) {
            reads.template(k, "the dedup key");
        }
        reads
    }

    /// A condition that does not compile reads nothing here (its error is reported apart).
    fn condition(&mut self, source: &Str, what: &'static str) {
        if let Ok(program) = cel::Program::compile(source.get_ref()) {
            self.walk(program.expression(), what, &span(source), None);
        }
    }

    fn walk(
        &mut self,
        e: &IdedExpr,
        what: &'static str,
        at: &Range<usize>,
        argument: Option<&'static TypedArgument>,
    ) {
        if let Some((name, optional)) = param_read(e) {
            self.reads.push(Read {
                name,
                optional,
                argument,
                what,
                at: at.clone(),
            });
            return;
        }
        match &e.expr {
            Expr::Ident(name) if name == "params" => self.whole = true,
            Expr::Call(call) => {
                if let Some(target) = &call.target {
                    self.walk(target, what, at, None);
                }
                for (i, arg) in call.args.iter().enumerate() {
                    let typed = CONDITION_ARGUMENTS.iter().find(|a| {
                        call.target.is_none() && a.function == call.func_name && a.index == i
                    });
                    self.walk(arg, what, at, typed);
                }
            }
            Expr::Select(select) => self.walk(&select.operand, what, at, None),
            Expr::Comprehension(c) => {
                for part in [
                    &c.iter_range,
                    &c.accu_init,
                    &c.loop_cond,
                    &c.loop_step,
                    &c.result,
                ] {
                    self.walk(part, what, at, None);
                }
            }
            Expr::List(list) => {
                for el in &list.elements {
                    self.walk(el, what, at, None);
                }
            }
            Expr::Map(map) => {
                for entry in &map.entries {
                    match &entry.expr {
                        cel::common::ast::EntryExpr::StructField(f) => {
                            self.walk(&f.value, what, at, None)
                        }
                        cel::common::ast::EntryExpr::MapEntry(m) => {
                            self.walk(&m.key, what, at, None);
                            self.walk(&m.value, what, at, None);
                        }
                    }
                }
            }
            Expr::Struct(s) => {
                for entry in &s.entries {
                    if let cel::common::ast::EntryExpr::StructField(f) = &entry.expr {
                        self.walk(&f.value, what, at, None);
                    }
                }
            }
            Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
        }
    }

    /// A template that does not parse reads nothing here (its error is reported apart).
    fn template(&mut self, source: &Str, what: &'static str) {
        let env = minijinja::Environment::new();
        let Ok(t) = env.template_from_str(source.get_ref()) else {
            return;
        };
        let mut names: Vec<String> = t.undeclared_variables(true).into_iter().collect();
        names.sort();
        for v in names {
            let mut parts = v.split('.');
            if parts.next() != Some("params") {
                continue;
            }
            match parts.next() {
                Some(name) => self.reads.push(Read {
                    name: name.to_owned(),
                    optional: false,
                    argument: None,
                    what,
                    at: span(source),
                }),
                None => self.whole = true,
            }
        }
    }
}

/// `params.NAME`, `has(params.NAME)` or `params["NAME"]`: the name, and whether it is
/// inside `has(...)`.
fn param_read(e: &IdedExpr) -> Option<(String, bool)> {
    let is_params = |e: &IdedExpr| matches!(&e.expr, Expr::Ident(n) if n == "params");
    match &e.expr {
        Expr::Select(s) if is_params(&s.operand) => Some((s.field.clone(), s.test)),
        Expr::Call(c) if c.func_name == operators::INDEX && c.target.is_none() => {
            match c.args.as_slice() {
                [p, key] if is_params(p) => match &key.expr {
                    Expr::Literal(LiteralValue::String(s)) => Some((s.to_string(), false)),
                    _ => None,
                },
                _ => None,
            }
        }
        _ => None,
    }
}

/// Where `params.NAME` (or `params["NAME"]`, `params['NAME']`) first appears in the
/// manifest's text inside `at`, so the caret points at it; `at` when it is not found
/// there (an escape sequence in a basic string).
fn narrow(text: &str, at: &Range<usize>, name: &str) -> Range<usize> {
    let Some(inside) = text.get(at.clone()) else {
        return at.clone();
    };
    let forms = [
        format!("params.{name}"),
        format!("params[\"{name}\"]"),
        format!("params['{name}']"),
    ];
    let found = forms.iter().find_map(|f| {
        inside.match_indices(f.as_str()).find_map(|(i, m)| {
            // `params.owner` inside `params.owners` is not it.
            let next = inside[i + m.len()..].chars().next();
            (!next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')).then_some((i, m.len()))
        })
    });
    match found {
        Some((i, len)) => (at.start + i)..(at.start + i + len),
        None => at.clone(),
    }
}

/// The type a value looks like, for the `undeclared-param` hint.
fn guess(value: &toml::Value) -> ParamType {
    match value {
        toml::Value::Boolean(_) => ParamType::Boolean,
        toml::Value::Integer(i) if *i >= 1 => ParamType::PositiveInteger,
        toml::Value::Integer(_) => ParamType::Integer,
        toml::Value::Array(_) => ParamType::StringList,
        _ => ParamType::String,
    }
}

impl Cx<'_> {
    /// The rule's params as JSON, each checked against its type.
    pub(super) fn params(&mut self, rid: &str, r: &RawRule, handler: &str) -> Map<String, Value> {
        let mut reads = Reads::of(r);
        for x in &mut reads.reads {
            x.at = narrow(self.text, &x.at, &x.name);
        }
        let values: BTreeMap<String, toml::Value> = r
            .params
            .as_ref()
            .map(|p| p.get_ref().clone().into_iter().collect())
            .unwrap_or_default();
        let nodes = if values.is_empty() {
            BTreeMap::new()
        } else {
            param_nodes(self.text, rid)
        };
        let whole_span = r.params.as_ref().map(span);
        let key_span = |name: &str| {
            nodes
                .get(name)
                .map(|(k, _)| k.clone())
                .or_else(|| whole_span.clone())
        };

        let mut explicit: BTreeMap<String, ParamType> = BTreeMap::new();
        // Names `params_types` tried to type, well or not: not also "undeclared".
        let mut attempted: BTreeSet<&str> = BTreeSet::new();
        for (name, ty) in r.params_types.iter().flat_map(|t| t.get_ref()) {
            let n = name.get_ref();
            attempted.insert(n.as_str());
            if !is_param_name(n) {
                self.err(bad_name(rid, n, span(name)));
                continue;
            }
            let Some(t) = ParamType::parse(ty.get_ref()) else {
                let near = closest(ty.get_ref(), &ParamType::names())
                    .map(|s| format!("did you mean `{s}`? "))
                    .unwrap_or_default();
                self.err(
                    Diagnostic::new(
                        "unknown-param-type",
                        format!(
                            "rule `{rid}`: `params_types.{n}` is `{}`, not a parameter type",
                            ty.get_ref()
                        ),
                    )
                    .at(span(ty))
                    .help(format!("{near}types: {}", ParamType::names().join(", "))),
                );
                continue;
            };
            if let Some(spec) = declared(handler, n)
                && spec.ty != t
            {
                self.err(
                    Diagnostic::new(
                        "param-type-conflict",
                        format!(
                            "rule `{rid}`: `params.{n}` is declared `{t}` here, but handler `{handler}` takes it as `{}`",
                            spec.ty
                        ),
                    )
                    .at(span(ty))
                    .help(format!(
                        "remove `{n}` from `params_types`: handler `{handler}` declares it, as `{}`; or give your own parameter another name",
                        spec.ty
                    )),
                );
                continue;
            }
            if !values.contains_key(n) {
                self.err(
                    Diagnostic::new(
                        "unused-param-type",
                        format!(
                            "rule `{rid}` declares a type for `params.{n}` but does not set it"
                        ),
                    )
                    .at(span(name))
                    .help(format!(
                        "set it (`params.{n} = {}`) or remove it from `params_types`",
                        t.example()
                    )),
                );
            }
            explicit.insert(n.clone(), t);
        }

        let read_names: BTreeSet<&str> = reads.reads.iter().map(|r| r.name.as_str()).collect();
        let mut json = Map::new();
        for (name, value) in &values {
            let at = key_span(name).unwrap_or(0..0);
            if !is_param_name(name) {
                self.err(bad_name(rid, name, at));
                continue;
            }
            let inferred = reads
                .reads
                .iter()
                .filter(|x| &x.name == name)
                .find_map(|x| x.argument.map(|a| a.ty));
            let ty = explicit
                .get(name)
                .copied()
                .or_else(|| declared(handler, name).map(|s| s.ty))
                .or(inferred);
            match ty {
                // Typed, wrongly, by `params_types`: reported there.
                None if attempted.contains(name.as_str())
                    || self.broken.rule_field(rid, "params_types") => {}
                None => self.err(undeclared(rid, name, value, handler, at.clone())),
                Some(ty) => {
                    let element = |i: Option<usize>| {
                        nodes
                            .get(name.as_str())
                            .map(|(_, v)| element_span(v, i))
                            .unwrap_or_else(|| at.clone())
                    };
                    for (i, bad) in check_value(ty, value) {
                        let place = match i {
                            Some(i) => format!("`params.{name}[{i}]`"),
                            None => format!("`params.{name}`"),
                        };
                        self.err(
                            Diagnostic::new(
                                "invalid-param",
                                format!("rule `{rid}`: {place} ({ty}): {}", bad.message),
                            )
                            .at(element(i))
                            .help(bad.help),
                        );
                    }
                    for x in reads.reads.iter().filter(|x| &x.name == name) {
                        if let Some(arg) = x.argument
                            && !ty.satisfies(arg.ty)
                        {
                            self.err(
                                Diagnostic::new(
                                    "param-type-conflict",
                                    format!(
                                        "rule `{rid}`: {} passes `params.{name}` ({ty}) as the {} of `{}`, which take {}",
                                        x.what, arg.what, arg.function, arg.ty
                                    ),
                                )
                                .at(x.at.clone())
                                .help(format!(
                                    "pass a parameter of type `{}` (`params_types = {{ {name} = \"{}\" }}` for your own)",
                                    arg.ty, arg.ty
                                )),
                            );
                        }
                    }
                }
            }
            if handler == super::DEFAULT_HANDLER
                && !reads.whole
                && !read_names.contains(name.as_str())
            {
                self.err(
                    Diagnostic::warning(
                        "unused-param",
                        format!("rule `{rid}` sets `params.{name}`, but no condition or template reads it"),
                    )
                    .at(at.clone())
                    .help(format!(
                        "read it in the condition (`params.{name}`) or remove it; a misspelt name in the condition is reported as `missing-param`"
                    )),
                );
            }
            match toml_to_json(value) {
                Some(v) => {
                    json.insert(name.clone(), v);
                }
                None => self.err(
                    Diagnostic::new(
                        "invalid-params",
                        format!("rule `{rid}`: `params.{name}` cannot be represented as JSON"),
                    )
                    .at(at)
                    .help("numbers must be finite (no `nan` or `inf`)"),
                ),
            }
        }

        let mut reported = BTreeSet::new();
        for x in &reads.reads {
            if x.optional
                || values.contains_key(&x.name)
                || self.broken.rule_field(rid, "params")
                || !reported.insert(&x.name)
            {
                continue;
            }
            let n = &x.name;
            let example = explicit
                .get(n)
                .copied()
                .or_else(|| declared(handler, n).map(|s| s.ty))
                .or(x.argument.map(|a| a.ty))
                .map_or("...", |t| t.example());
            let mut help = format!("add `params.{n} = {example}` to the rule");
            let set: Vec<&str> = values.keys().map(String::as_str).collect();
            if let Some(near) = closest(n, &set) {
                help = format!("did you mean `params.{near}`? or {help}");
            }
            self.err(
                Diagnostic::new(
                    "missing-param",
                    format!(
                        "rule `{rid}`: {} reads `params.{n}`, which the rule does not set",
                        x.what
                    ),
                )
                .at(x.at.clone())
                .help(help),
            );
        }
        json
    }
}

fn bad_name(rid: &str, name: &str, at: Range<usize>) -> Diagnostic {
    let suggestion: String = name
        .chars()
        .map(|c| {
            if c == '-' || c == ' ' {
                '_'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    Diagnostic::new(
        "invalid-param-name",
        format!("rule `{rid}`: `{name}` is not a parameter name"),
    )
    .at(at)
    .help(format!(
        "use lowercase letters, digits and `_`, starting with a letter (conditions and templates read it as `params.NAME`), e.g. `{suggestion}`"
    ))
}

fn undeclared(
    rid: &str,
    name: &str,
    value: &toml::Value,
    handler: &str,
    at: Range<usize>,
) -> Diagnostic {
    let known = handler_params(handler);
    let names: Vec<&str> = known.iter().map(|p| p.name).collect();
    let mut help = String::new();
    if let Some(near) = closest(name, &names) {
        help.push_str(&format!("did you mean `{near}`? "));
    }
    if known.is_empty() {
        help.push_str(&format!("handler `{handler}` declares no parameters; "));
    } else {
        let list: Vec<String> = known
            .iter()
            .map(|p| format!("{} ({})", p.name, p.ty))
            .collect();
        help.push_str(&format!("handler `{handler}` takes: {}; ", list.join(", ")));
    }
    help.push_str(&format!(
        "for a parameter of your own, declare its type: `params_types = {{ {name} = \"{}\" }}` (types: {})",
        guess(value),
        ParamType::names().join(", ")
    ));
    Diagnostic::new(
        "undeclared-param",
        format!("rule `{rid}`: `params.{name}` has no type"),
    )
    .at(at)
    .help(help)
}

/// TOML → JSON for params; `None` for a non-finite float.
fn toml_to_json(v: &toml::Value) -> Option<Value> {
    Some(match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => Value::Number(serde_json::Number::from_f64(*f)?),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect::<Option<_>>()?),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| Some((k.clone(), toml_to_json(v)?)))
                .collect::<Option<_>>()?,
        ),
    })
}

/// TOML's name for a value's type, as diagnostics say it.
fn kind(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

fn bad(message: impl Into<String>, help: impl Into<String>) -> Bad {
    Bad {
        message: message.into(),
        help: help.into(),
    }
}

/// Every problem of `value` as a `ty`: `None` for the value itself, `Some(i)` for a list's
/// element.
pub(super) fn check_value(ty: ParamType, value: &toml::Value) -> Vec<(Option<usize>, Bad)> {
    let wrong = |what: &str| {
        vec![(
            None,
            bad(
                format!("must be {what}, not {}", kind(value)),
                format!("write e.g. `{}`", ty.example()),
            ),
        )]
    };
    match ty {
        ParamType::String => match value {
            toml::Value::String(_) => vec![],
            _ => wrong("a string (in quotes)"),
        },
        ParamType::Boolean => match value {
            toml::Value::Boolean(_) => vec![],
            _ => wrong("`true` or `false`"),
        },
        ParamType::Integer => match value {
            toml::Value::Integer(_) => vec![],
            _ => wrong("an integer"),
        },
        ParamType::PositiveInteger => match value {
            toml::Value::Integer(i) if *i >= 1 => vec![],
            toml::Value::Integer(i) => vec![(
                None,
                bad(
                    format!("must be at least 1, not {i}"),
                    format!("write a positive integer, e.g. `{}`", ty.example()),
                ),
            )],
            _ => wrong("a positive integer (no quotes)"),
        },
        ParamType::StringList
        | ParamType::ArnGlobs
        | ParamType::AccountIds
        | ParamType::Regions => {
            let toml::Value::Array(items) = value else {
                let help = match value {
                    toml::Value::String(s) => format!("write a list, even of one: `[\"{s}\"]`"),
                    _ => format!("write a list, e.g. `{}`", ty.example()),
                };
                return vec![(
                    None,
                    bad(format!("must be a list, not {}", kind(value)), help),
                )];
            };
            if ty == ParamType::ArnGlobs && items.is_empty() {
                return vec![(
                    None,
                    bad(
                        "is empty",
                        "list at least one ARN glob: `policy_grants` reads an empty list as \"any resource\"",
                    ),
                )];
            }
            items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| check_item(ty, item).err().map(|b| (Some(i), b)))
                .collect()
        }
    }
}

fn check_item(ty: ParamType, item: &toml::Value) -> Result<(), Bad> {
    let s = match item {
        toml::Value::String(s) => s,
        toml::Value::Integer(i) if ty == ParamType::AccountIds => {
            return Err(bad(
                format!("`{i}` is a number"),
                format!(
                    "write account ids as strings, in quotes: `\"{i:012}\"` (account ids are not numbers: some start with 0)"
                ),
            ));
        }
        other => {
            return Err(bad(
                format!("must be a string, not {}", kind(other)),
                format!("write e.g. `{}`", ty.example()),
            ));
        }
    };
    match ty {
        ParamType::ArnGlobs => check_arn_glob(s),
        ParamType::AccountIds => check_account(s),
        ParamType::Regions => check_region(s),
        _ => Ok(()),
    }
}

/// AWS's partitions.
const PARTITIONS: &[&str] = &[
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// `arn:<partition>:<service>:<region>:<account>:<resource>`, any part a glob.
pub(super) fn check_arn_glob(s: &str) -> Result<(), Bad> {
    const SHAPE: &str = "an ARN glob is `arn:<partition>:<service>:<region>:<account>:<resource>`, where `*` and `?` match within the ARN, e.g. `arn:aws:iam::*:role/admin*` or `arn:aws:s3:::payroll-*`";
    if let Some(c) = s.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(format!("`{s}` contains {c:?}"), SHAPE));
    }
    if !s.starts_with("arn:") {
        if s.to_ascii_lowercase().starts_with("arn:") {
            return Err(bad(
                format!("`{s}` does not start with `arn:`"),
                format!("write `arn:` in lowercase: `arn:{}`", &s[4..]),
            ));
        }
        return Err(bad(format!("`{s}` is not an ARN glob"), SHAPE));
    }
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let [_, partition, service, region, account, resource] = parts.as_slice() else {
        return Err(bad(
            format!("`{s}` has {} of an ARN's 6 parts", parts.len()),
            format!(
                "{SHAPE}; global services leave the region empty (`arn:aws:iam::<account>:...`)"
            ),
        ));
    };
    if !(PARTITIONS.contains(partition)
        || (has_glob(partition)
            && partition
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'*' || b == b'?')))
    {
        let near = closest(partition, PARTITIONS)
            .map(|p| format!("did you mean `{p}`? "))
            .unwrap_or_default();
        return Err(bad(
            format!("`{s}`: `{partition}` is not an AWS partition"),
            format!("{near}partitions: {}, or `*`", PARTITIONS.join(", ")),
        ));
    }
    if service.is_empty()
        || !service
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-*?".contains(&b))
    {
        return Err(bad(
            format!("`{s}`: `{service}` is not a service name"),
            format!(
                "the service is the ARN's third part, lowercase (`iam`, `s3`, `secretsmanager`) or `*`; {SHAPE}"
            ),
        ));
    }
    if !region
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-*?".contains(&b))
    {
        return Err(bad(
            format!("`{s}`: `{region}` is not a region"),
            "the region is the ARN's fourth part (`eu-west-1`, `*`, or empty for global services such as IAM and S3)",
        ));
    }
    let account_ok = account.is_empty()
        || *account == "aws"
        || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))
        || (has_glob(account)
            && account
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'*' || b == b'?'));
    if !account_ok {
        return Err(bad(
            format!("`{s}`: `{account}` is not an account id"),
            "the account is the ARN's fifth part: 12 digits, `*`, or empty (S3 buckets)",
        ));
    }
    if resource.is_empty() {
        return Err(bad(
            format!("`{s}` names no resource"),
            "end the ARN with the resource, or `*` for every resource of the service",
        ));
    }
    Ok(())
}

/// The spanned value of each of the rule's params, and its key's span, read again from the
/// text (the typed params keep no spans inside values).
fn param_nodes<'t>(
    text: &'t str,
    rid: &str,
) -> BTreeMap<String, (Range<usize>, toml::Spanned<DeValue<'t>>)> {
    let mut out = BTreeMap::new();
    let Ok(root) = DeTable::parse(text) else {
        return out;
    };
    let entry = |t: &DeTable<'t>, key: &str| {
        t.iter()
            .find(|(k, _)| k.get_ref().as_ref() == key)
            .map(|(_, v)| v.clone())
    };
    let table = |v: Option<toml::Spanned<DeValue<'t>>>| match v.map(toml::Spanned::into_inner) {
        Some(DeValue::Table(t)) => Some(t),
        _ => None,
    };
    let Some(params) = table(entry(root.get_ref(), "rules"))
        .and_then(|rules| table(entry(&rules, rid)))
        .and_then(|rule| table(entry(&rule, "params")))
    else {
        return out;
    };
    for (k, v) in params.iter() {
        out.insert(k.get_ref().to_string(), (k.span(), v.clone()));
    }
    out
}

/// The span of element `i` of a list value, or of the value itself.
fn element_span(v: &toml::Spanned<DeValue<'_>>, i: Option<usize>) -> Range<usize> {
    match (i, v.get_ref()) {
        (Some(i), DeValue::Array(a)) => a.get(i).map_or_else(|| v.span(), toml::Spanned::span),
        _ => v.span(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_globs() {
        for good in [
            "arn:aws:iam::*:role/admin*",
            "arn:aws:s3:::payroll-*",
            "arn:*:iam::111122223333:user/*",
            "arn:aws:iam::aws:policy/AdministratorAccess",
            "arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/*",
            "arn:aws:secretsmanager:*:*:secret:prod/*",
            "arn:*:*:*:*:*",
        ] {
            assert_eq!(check_arn_glob(good), Ok(()), "{good}");
        }
        for (bad, help) in [
            ("arn:aws:iam:*:role/admin", "6 parts"),
            ("*", "an ARN glob is"),
            ("role/admin", "an ARN glob is"),
            ("ARN:aws:iam::*:role/x", "lowercase"),
            ("arn:amazon:iam::*:role/x", "partitions"),
            ("arn:aws:IAM::*:role/x", "service"),
            ("arn:aws:iam::1111:role/x", "12 digits"),
            ("arn:aws:s3:::", "names no resource"),
            ("arn:aws:iam::* :role/x", "an ARN glob is"),
        ] {
            let e = check_arn_glob(bad).expect_err(bad);
            assert!(
                e.message.contains(help) || e.help.contains(help),
                "{bad}: {e:?}"
            );
        }
    }

    #[test]
    fn values_are_checked_against_their_type() {
        let v = |s: &str| -> toml::Value {
            let t: toml::Table = toml::from_str(&format!("v = {s}")).expect("toml");
            t["v"].clone()
        };
        let at = |ty, s: &str| -> Vec<Option<usize>> {
            check_value(ty, &v(s)).into_iter().map(|(i, _)| i).collect()
        };
        assert_eq!(at(ParamType::AccountIds, r#"["111122223333"]"#), vec![]);
        assert_eq!(
            at(
                ParamType::AccountIds,
                r#"["111122223333", 444455556666, "12"]"#
            ),
            vec![Some(1), Some(2)]
        );
        assert_eq!(at(ParamType::AccountIds, r#""111122223333""#), vec![None]);
        assert_eq!(at(ParamType::ArnGlobs, "[]"), vec![None]);
        assert_eq!(at(ParamType::PositiveInteger, "0"), vec![None]);
        assert_eq!(at(ParamType::PositiveInteger, "90"), vec![]);
        assert_eq!(at(ParamType::Integer, "-3"), vec![]);
        assert_eq!(at(ParamType::String, "3"), vec![None]);
        assert_eq!(at(ParamType::Boolean, "true"), vec![]);
        assert_eq!(at(ParamType::StringList, r#"["a", 1]"#), vec![Some(1)]);
        assert_eq!(
            at(ParamType::Regions, r#"["eu-west-1", "eu-west-1a"]"#),
            vec![Some(1)]
        );
        let help = &check_value(ParamType::AccountIds, &v("[11112222333]"))[0]
            .1
            .help;
        assert!(help.contains("\"011112222333\""), "{help}");
    }

    fn reads(condition: &str) -> Reads {
        let mut r = Reads::default();
        r.condition(&Str::new(0..1, condition.to_owned()), "the condition");
        r
    }

    #[test]
    fn condition_reads_are_found_and_typed_by_the_function_they_are_passed_to() {
        let r = reads(
            r#"policy_grants(detail.p, params.actions, params.targets) && size(policy_external_accounts(detail.p, params["trusted"])) > 0 && (!has(params.maybe) || params.maybe) && params.list.exists(x, x == actor)"#,
        );
        let got: Vec<(&str, bool, Option<ParamType>)> = r
            .reads
            .iter()
            .map(|x| (x.name.as_str(), x.optional, x.argument.map(|a| a.ty)))
            .collect();
        assert_eq!(
            got,
            vec![
                ("actions", false, Some(ParamType::StringList)),
                ("targets", false, Some(ParamType::ArnGlobs)),
                ("trusted", false, Some(ParamType::AccountIds)),
                ("maybe", true, None),
                ("maybe", false, None),
                ("list", false, None),
            ]
        );
        assert!(!r.whole);
        assert!(reads("size(params) > 0").whole);
    }

    #[test]
    fn template_reads_are_found() {
        let mut r = Reads::default();
        r.template(
            &Str::new(0..1, "{{ params.owner }} {{ params.team.name }}".to_owned()),
            "the message",
        );
        let names: Vec<&str> = r.reads.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["owner", "team"]);
        let mut r = Reads::default();
        r.template(&Str::new(0..1, "{{ params }}".to_owned()), "the message");
        assert!(r.whole);
    }
}
