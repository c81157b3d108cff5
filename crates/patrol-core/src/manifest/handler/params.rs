//! `[params.NAME]` of a handler.toml: each parameter's type, whether every rule must set
//! it, the default a rule that does not gets (checked against the type), and what it means.

use std::collections::BTreeMap;

use super::ParamDeclaration;
use super::raw::RawParam;
use crate::diagnostic::Diagnostic;
use crate::manifest::params::{ParamType, is_param_name};
use crate::manifest::parse::closest;
use crate::manifest::raw::Spanned;
use crate::manifest::validate::{check_param_value, toml_to_json};

pub(super) fn declarations(
    diags: &mut Vec<Diagnostic>,
    handler: &str,
    raw: &BTreeMap<String, Spanned<RawParam>>,
) -> BTreeMap<String, ParamDeclaration> {
    let mut out = BTreeMap::new();
    for (name, p) in raw {
        let before = diags.len();
        let at = p.span();
        let r = p.get_ref();
        if !is_param_name(name) {
            diags.push(
                Diagnostic::new(
                    "invalid-param-name",
                    format!("handler `{handler}`: `{name}` is not a parameter name"),
                )
                .at(at.clone())
                .help("use lowercase letters, digits and `_`, starting with a letter (conditions and templates read it as `params.NAME`)"),
            );
        }
        let ty = match &r.ty {
            Some(t) => ParamType::parse(t.get_ref()).or_else(|| {
                let near = closest(t.get_ref(), &ParamType::names())
                    .map(|s| format!("did you mean `{s}`? "))
                    .unwrap_or_default();
                diags.push(
                    Diagnostic::new(
                        "unknown-param-type",
                        format!("handler `{handler}`: `params.{name}` has type `{}`, not a parameter type", t.get_ref()),
                    )
                    .at(t.span())
                    .help(format!("{near}types: {}", ParamType::names().join(", "))),
                );
                None
            }),
            None => {
                diags.push(
                    Diagnostic::new(
                        "missing-param-type",
                        format!("handler `{handler}`: `params.{name}` has no type"),
                    )
                    .at(at.clone())
                    .help(format!("add `type = \"...\"`, one of: {}", ParamType::names().join(", "))),
                );
                None
            }
        };
        let description = match &r.description {
            Some(d) if !d.get_ref().trim().is_empty() => d.get_ref().trim().to_owned(),
            _ => {
                diags.push(
                    Diagnostic::new(
                        "missing-param-description",
                        format!("handler `{handler}`: `params.{name}` has no description"),
                    )
                    .at(at.clone())
                    .help("add `description = \"...\"`: what the parameter means; the JSON Schema of rules.toml shows it in editors"),
                );
                String::new()
            }
        };
        let required = r.required.as_ref().is_some_and(|b| *b.get_ref());
        if let (true, Some(d)) = (required, &r.default) {
            diags.push(
                Diagnostic::new(
                    "required-param-with-default",
                    format!("handler `{handler}`: `params.{name}` is required and has a default"),
                )
                .at(d.span())
                .help("a rule that does not set it gets the default, so it is not required: remove `required = true` or the default"),
            );
        }
        if let (Some(ty), Some(d)) = (ty, &r.default) {
            for (i, bad) in check_param_value(ty, d.get_ref()) {
                let place = match i {
                    Some(i) => format!("`params.{name}.default[{i}]`"),
                    None => format!("`params.{name}.default`"),
                };
                diags.push(
                    Diagnostic::new(
                        "invalid-param-default",
                        format!("handler `{handler}`: {place} ({ty}): {}", bad.message),
                    )
                    .at(d.span())
                    .help(bad.help),
                );
            }
        }
        if let Some(ty) = ty
            && diags.len() == before
        {
            out.insert(
                name.clone(),
                ParamDeclaration {
                    ty,
                    required,
                    default: r.default.as_ref().map(|d| toml_to_json(d.get_ref())),
                    description,
                },
            );
        }
    }
    out
}
