//! A rule's `params` and `params_types`: every parameter has a type (see
//! [`crate::manifest::params`] for where types come from), every value is checked against
//! it ([`super::param_values`]), what the rule's conditions and templates read
//! ([`super::param_reads`]) is set, what its handler requires is set, and what its handler
//! gives a default gets it.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use serde_json::{Map, Value};
use toml::de::{DeTable, DeValue};

use super::param_reads::{Reads, narrow};
use super::param_values::{check_value, toml_to_json};
use super::{Cx, span};
use crate::diagnostic::Diagnostic;
use crate::manifest::handler::{HandlerDeclaration, HandlerKind, ParamDeclaration};
use crate::manifest::params::{ParamType, is_param_name};
use crate::manifest::parse::closest;
use crate::manifest::raw::RawRule;

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
    pub(super) fn params(
        &mut self,
        rid: &str,
        id_span: Range<usize>,
        r: &RawRule,
        handler: &str,
    ) -> Map<String, Value> {
        let decl = self.declaration(handler);
        let declared = |name: &str| decl.and_then(|d| d.params.get(name));
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
            if let Some(spec) = declared(n)
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
                .or_else(|| declared(name).map(|s| s.ty))
                .or(inferred);
            match ty {
                // Typed, wrongly, by `params_types`: reported there.
                None if attempted.contains(name.as_str())
                    || self.broken.rule_field(rid, "params_types") => {}
                None => self.err(undeclared(rid, name, value, handler, decl, at.clone())),
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
            if decl.is_some_and(|d| d.kind == HandlerKind::Notify)
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

        for (name, p) in decl.iter().flat_map(|d| &d.params) {
            if values.contains_key(name) {
                continue;
            }
            if let Some(default) = &p.default {
                json.insert(name.clone(), default.clone());
            } else if p.required && !self.broken.rule_field(rid, "params") {
                self.err(
                    Diagnostic::new(
                        "missing-required-param",
                        format!("rule `{rid}`: handler `{handler}` requires `params.{name}`, which the rule does not set"),
                    )
                    .at(whole_span.clone().unwrap_or_else(|| id_span.clone()))
                    .help(format!(
                        "add `params.{name} = {}` ({}: {})",
                        p.ty.example(),
                        p.ty,
                        p.description
                    )),
                );
            }
        }

        let mut reported = BTreeSet::new();
        for x in &reads.reads {
            if x.optional
                || values.contains_key(&x.name)
                || declared(&x.name).is_some_and(|p| p.default.is_some())
                || self.broken.rule_field(rid, "params")
                || !reported.insert(&x.name)
            {
                continue;
            }
            let n = &x.name;
            let example = explicit
                .get(n)
                .copied()
                .or_else(|| declared(n).map(|s| s.ty))
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
    decl: Option<&HandlerDeclaration>,
    at: Range<usize>,
) -> Diagnostic {
    let known: Vec<(&String, &ParamDeclaration)> = decl.iter().flat_map(|d| &d.params).collect();
    let names: Vec<&str> = known.iter().map(|(n, _)| n.as_str()).collect();
    let mut help = String::new();
    if let Some(near) = closest(name, &names) {
        help.push_str(&format!("did you mean `{near}`? "));
    }
    if known.is_empty() {
        help.push_str(&format!("handler `{handler}` declares no parameters; "));
    } else {
        let list: Vec<String> = known
            .iter()
            .map(|(n, p)| format!("{n} ({})", p.ty))
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
