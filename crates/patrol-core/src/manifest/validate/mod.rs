//! Raw manifest → normalized [`Manifest`], collecting every problem as a [`Diagnostic`]
//! instead of stopping at the first.
//!
//! - this file: the entry points ([`validate_str`], [`load`]), the walk over the manifest
//!   and the checks shared by its parts (ids, route references, severities);
//! - `routes`: `[notify.*]` tables, secret names and credentials in webhook URLs;
//! - `rules`: one `[rules.*]` table into a [`super::Rule`];
//! - `params`: a rule's `params` and `params_types`, typed as [`super::params`] says (what
//!   conditions and templates read in `param_reads`, value shapes in `param_values`);
//! - `references`: a rule's `references` ([`super::reference`]);
//! - `triggers`: `trigger.*` (schedules in `schedule`, event patterns in `patterns`);
//! - `suppressions` and `dedup`: a rule's `suppress` list and `dedup` table;
//! - `deploy`: the `[deploy]` table (the shapes of AWS ids in `aws_ids`).
//!
//! Handlers are checked against their declarations ([`super::handler`]): a rule's params,
//! and what an audit handler's scheduled rules may use.
//!
//! Errors make the manifest invalid; warnings (example ids, no operators) are returned with
//! the manifest by [`validate_str_with_warnings`].

mod aws_ids;
mod dedup;
mod deploy;
mod param_reads;
mod param_values;
mod params;
mod patterns;
mod references;
mod routes;
mod rules;
mod schedule;
mod suppressions;
#[cfg(test)]
mod tests;
mod triggers;

use std::collections::BTreeSet;
use std::ops::Range;

use super::handler::{Declarations, HandlerDeclaration};
use super::parse::Broken;
use super::raw::{RawManifest, Spanned, Str};
use super::{FORMAT_VERSION, Manifest, Route, Severity};
use crate::diagnostic::Diagnostic;

pub use dedup::parse_window;
pub(crate) use param_values::check_value as check_param_value;
pub use patterns::toml_to_json;

/// What validation needs to know about the world outside the manifest's text.
#[derive(Debug, Clone)]
pub struct ValidateOptions {
    /// Handler crates that exist (folders under `lambdas/`).
    pub handlers: Vec<String>,
    /// The manifest's folder: when set, every test event file must exist under it.
    pub base_dir: Option<std::path::PathBuf>,
    /// Today (`YYYY-MM-DD`): when set, expired suppressions are errors.
    pub today: Option<String>,
}

impl Default for ValidateOptions {
    fn default() -> Self {
        Self {
            // The handlers shipped in this repository (`lambdas/*/handler.toml`).
            handlers: super::handler::shipped().keys().cloned().collect(),
            base_dir: None,
            today: None,
        }
    }
}

pub const DEFAULT_HANDLER: &str = "notify";

/// Parses and validates a manifest's text. `source` is the path shown in messages.
/// Warnings are dropped; [`validate_str_with_warnings`] returns them.
pub fn validate_str(
    text: &str,
    source: &str,
    options: &ValidateOptions,
) -> Result<Manifest, Vec<Diagnostic>> {
    validate_str_with_warnings(text, source, options).map(|(manifest, _)| manifest)
}

/// Like [`validate_str`], with the warnings of a valid manifest. When it has errors, the
/// `Err` holds every diagnostic, warnings included, in the order of the text. Handlers
/// are declared as Patrol ships them ([`super::handler::shipped`]).
pub fn validate_str_with_warnings(
    text: &str,
    source: &str,
    options: &ValidateOptions,
) -> Result<(Manifest, Vec<Diagnostic>), Vec<Diagnostic>> {
    validate_with_declarations(text, source, options, &super::handler::shipped())
}

/// Like [`validate_str_with_warnings`], with the handlers' declarations as read from their
/// handler.toml files (the CLI reads them beside the manifest). A handler in
/// `options.handlers` without a declaration here has none: rules using it are errors.
pub fn validate_with_declarations(
    text: &str,
    source: &str,
    options: &ValidateOptions,
    declarations: &Declarations,
) -> Result<(Manifest, Vec<Diagnostic>), Vec<Diagnostic>> {
    let (raw, diags, broken) = super::parse::parse(text).map_err(|d| vec![d])?;
    let mut cx = Cx {
        diags,
        text,
        options,
        declarations,
        broken,
    };
    let manifest = cx.manifest(raw, source);
    cx.diags
        .sort_by_key(|d| d.span.as_ref().map_or(usize::MAX, |s| s.start));
    if cx.errors() == 0 {
        Ok((manifest, cx.diags))
    } else {
        Err(cx.diags)
    }
}

/// Like [`validate_str`], reading the file first.
pub fn load(path: &std::path::Path, options: &ValidateOptions) -> Result<Manifest, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let source = path.display().to_string();
    validate_str(&text, &source, options).map_err(|diagnostics| LoadError::Invalid {
        rendered: crate::diagnostic::render_all(&diagnostics, &source, &text),
        diagnostics,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read manifest {path}: {message}")]
    Io { path: String, message: String },
    #[error("{rendered}")]
    Invalid {
        diagnostics: Vec<Diagnostic>,
        rendered: String,
    },
}

struct Cx<'a> {
    diags: Vec<Diagnostic>,
    /// The manifest's text, to point inside values (patterns).
    text: &'a str,
    options: &'a ValidateOptions,
    declarations: &'a Declarations,
    /// Parts with type errors (already reported): not to be called missing.
    broken: Broken,
}

fn span<T>(s: &Spanned<T>) -> Range<usize> {
    s.span()
}

impl<'a> Cx<'a> {
    fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Errors so far (warnings don't count): a part is left out when its checks add any.
    fn errors(&self) -> usize {
        self.diags.iter().filter(|d| d.is_error()).count()
    }

    fn manifest(&mut self, raw: RawManifest, source: &str) -> Manifest {
        if let Some(v) = &raw.version
            && *v.get_ref() != 1
        {
            {
                self.err(
                    Diagnostic::new(
                        "unsupported-version",
                        format!("manifest version {} is not supported", v.get_ref()),
                    )
                    .at(span(v))
                    .help("this Patrol reads `version = 1`"),
                );
            }
        }
        let routes: Vec<Route> = raw
            .notify
            .iter()
            .filter_map(|(id, route)| self.route(id, route))
            .collect();
        // Routes with type errors (already reported) still count as defined.
        let broken_routes = std::mem::take(&mut self.broken.routes);
        let route_ids: BTreeSet<&str> = raw
            .notify
            .keys()
            .map(|k| k.get_ref().as_str())
            .chain(broken_routes.iter().map(String::as_str))
            .collect();

        let defaults = raw.defaults.as_ref().map(|d| d.get_ref());
        let default_notify = defaults.and_then(|d| d.notify.as_ref());
        if let Some(list) = default_notify {
            for r in list.get_ref() {
                self.check_route_ref(None, r, &route_ids);
            }
        }
        let default_severity = defaults.and_then(|d| d.severity.as_ref()).and_then(|s| {
            let parsed = Severity::parse(s.get_ref());
            if parsed.is_none() {
                self.err(bad_severity(s));
            }
            parsed
        });

        let mut rules = Vec::new();
        for (id, rule) in &raw.rules {
            if let Some(rule) = self.rule(
                id,
                rule,
                &route_ids,
                default_notify.map(|l| l.get_ref().as_slice()),
                default_severity,
            ) {
                rules.push(rule);
            }
        }
        if raw.rules.is_empty() && !self.broken.rules {
            self.err(
                Diagnostic::new("no-rules", "the manifest defines no rules")
                    .help("add a `[rules.<id>]` table; see the README's \"Adding a rule\""),
            );
        }
        let deploy = raw.deploy.as_ref().and_then(|d| self.deploy(d));
        let handlers = rules
            .iter()
            .filter_map(|r| Some((r.handler.clone(), self.declaration(&r.handler)?.clone())))
            .collect();
        Manifest {
            format_version: FORMAT_VERSION,
            source: source.to_owned(),
            routes,
            rules,
            deploy,
            handlers,
        }
    }

    /// The declaration of `handler`, if it has one.
    fn declaration(&self, handler: &str) -> Option<&'a HandlerDeclaration> {
        self.declarations.get(handler)
    }
    fn check_id(&mut self, what: &str, id: &Str) {
        let s = id.get_ref();
        if !is_kebab_id(s) {
            self.err(
                Diagnostic::new(
                    "invalid-id",
                    format!("{what} id `{s}` is not kebab-case"),
                )
                .at(span(id))
                .help("use lowercase letters, digits and single dashes, starting with a letter, at most 64 characters (it becomes part of CloudFormation names)"),
            );
        }
    }

    fn check_route_ref(&mut self, rule: Option<&str>, r: &Str, known: &BTreeSet<&str>) {
        if !known.contains(r.get_ref().as_str()) {
            let who = match rule {
                Some(id) => format!("rule `{id}`"),
                None => "`defaults.notify`".to_owned(),
            };
            let known_list = if known.is_empty() {
                "none defined; add a `[notify.<id>]` table".to_owned()
            } else {
                known.iter().copied().collect::<Vec<_>>().join(", ")
            };
            self.err(
                Diagnostic::new(
                    "unknown-route",
                    format!("{who} sends to unknown route `{}`", r.get_ref()),
                )
                .at(span(r))
                .help(format!("known routes: {known_list}")),
            );
        }
    }
}

fn bad_severity(s: &Str) -> Diagnostic {
    Diagnostic::new(
        "invalid-severity",
        format!("unknown severity `{}`", s.get_ref()),
    )
    .at(span(s))
    .help("use one of: info, low, medium, high, critical")
}

/// Rule and route ids: lowercase letters, digits and single dashes, starting with a letter,
/// at most 64 characters (they become parts of CloudFormation logical ids).
pub fn is_kebab_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.ends_with('-')
        && !s.contains("--")
}
