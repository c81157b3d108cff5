//! Handler declarations: each handler crate says what it is in `lambdas/<handler>/handler.toml`
//! — its [`HandlerKind`], the parameters its rules take, and the IAM statements its function
//! role (`permissions`) and the read-only `patrol-audit` role in every account
//! (`audit_permissions`) need. The CLI reads the files; this module only parses text it is
//! given ([`parse`]), so its diagnostics point into handler.toml. [`shipped`] holds the
//! declarations of the handlers in this repository, compiled in, for callers that read no
//! files (tests, benchmarks, fuzzing).
//!
//! - `raw`: the file as written;
//! - `permissions`: statements (exact actions, read-only audits, a reason for every `*`);
//! - `params`: `[params.NAME]` (a type, `required` or a `default` of that type).

mod params;
pub mod permissions;
mod raw;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::params::ParamType;
use crate::diagnostic::Diagnostic;

/// The file every handler crate has beside its Cargo.toml.
pub const FILE_NAME: &str = "handler.toml";

/// What a handler does, which decides what it may be granted and what its rules may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandlerKind {
    /// Delivers what its rules' triggers send it.
    Notify,
    /// Reads the accounts' state on a schedule and reports findings; never writes. Its rules
    /// may filter findings with `condition`, `suppress` and `dedup`.
    Audit,
}

impl HandlerKind {
    pub const ALL: [HandlerKind; 2] = [HandlerKind::Notify, HandlerKind::Audit];
    pub fn as_str(self) -> &'static str {
        match self {
            HandlerKind::Notify => "notify",
            HandlerKind::Audit => "audit",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A handler's checked declaration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandlerDeclaration {
    pub kind: HandlerKind,
    pub description: String,
    /// The parameters its rules take, by name.
    #[serde(default)]
    pub params: BTreeMap<String, ParamDeclaration>,
    /// Statements for the handler's own function role.
    #[serde(default)]
    pub permissions: Vec<PermissionStatement>,
    /// Statements for the read-only `patrol-audit` role in every account (audit handlers).
    #[serde(default)]
    pub audit_permissions: Vec<PermissionStatement>,
}

/// One parameter a handler takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamDeclaration {
    #[serde(rename = "type")]
    pub ty: ParamType,
    /// Every rule of the handler must set it.
    #[serde(default)]
    pub required: bool,
    /// The value a rule that does not set it gets (already checked against `ty`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    pub description: String,
}

/// One IAM statement (Allow). Resources may hold `${AWS::Partition}`, `${AWS::AccountId}`
/// and `${AWS::Region}`, which the CDK app substitutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionStatement {
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    /// Why a `*` resource is needed (required then): which actions have no resource-level
    /// permissions. It becomes the cdk-nag acknowledgement's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// Declarations by handler name.
pub type Declarations = BTreeMap<String, HandlerDeclaration>;

/// Parses and checks `handler`'s handler.toml. Every problem is returned, with spans into
/// `text`.
pub fn parse(handler: &str, text: &str) -> Result<HandlerDeclaration, Vec<Diagnostic>> {
    let raw: raw::RawHandler = toml::from_str(text).map_err(|e| {
        let mut d = Diagnostic::new(
            "invalid-handler-declaration",
            format!("handler `{handler}`: {}", e.message().trim_end()),
        )
        .help("handler.toml takes `kind`, `description`, `[params.NAME]` tables and `[[permissions]]` / `[[audit_permissions]]` statements; see the README's \"handler.toml reference\"");
        d.span = e.span();
        vec![d]
    })?;
    let mut diags = Vec::new();
    let kind = match &raw.kind {
        Some(k) => HandlerKind::parse(k.get_ref()).or_else(|| {
            diags.push(
                Diagnostic::new(
                    "unknown-handler-kind",
                    format!("handler `{handler}`: kind `{}` is not a handler kind", k.get_ref()),
                )
                .at(k.span())
                .help("`notify` (delivers what its triggers send it) or `audit` (reads the accounts' state, never writes)"),
            );
            None
        }),
        None => {
            diags.push(
                Diagnostic::new("missing-handler-kind", format!("handler `{handler}` declares no kind"))
                    .help("add `kind = \"notify\"` (delivers what its triggers send it) or `kind = \"audit\"` (reads the accounts' state, never writes)"),
            );
            None
        }
    };
    let description = match &raw.description {
        Some(d) if !d.get_ref().trim().is_empty() => d.get_ref().trim().to_owned(),
        _ => {
            diags.push(
                Diagnostic::new(
                    "missing-handler-description",
                    format!("handler `{handler}` has no description"),
                )
                .at_opt(raw.description.as_ref().map(|d| d.span()))
                .help("add `description = \"...\"`: one line saying what the handler does"),
            );
            String::new()
        }
    };
    let params = params::declarations(&mut diags, handler, &raw.params);
    let permissions: Vec<_> = raw
        .permissions
        .iter()
        .filter_map(|s| permissions::statement(&mut diags, handler, kind, "permissions", s))
        .collect();
    let audit_permissions: Vec<_> = raw
        .audit_permissions
        .iter()
        .filter_map(|s| permissions::statement(&mut diags, handler, kind, "audit_permissions", s))
        .collect();
    if kind == Some(HandlerKind::Notify)
        && let Some(first) = raw.audit_permissions.first()
    {
        diags.push(
            Diagnostic::new(
                "audit-permissions-on-notify",
                format!("handler `{handler}` is a notify handler, but declares `[[audit_permissions]]`"),
            )
            .at(first.span())
            .help("only audit handlers (`kind = \"audit\"`) read through the `patrol-audit` role; use `[[permissions]]` for the function's own role"),
        );
    }
    diags.sort_by_key(|d| d.span.as_ref().map_or(usize::MAX, |s| s.start));
    match kind {
        Some(kind) if diags.is_empty() => Ok(HandlerDeclaration {
            kind,
            description,
            params,
            permissions,
            audit_permissions,
        }),
        _ => Err(diags),
    }
}

/// The handler.toml of every handler in this repository, as compiled in.
const SHIPPED: [(&str, &str); 2] = [
    (
        "audit",
        include_str!("../../../../../lambdas/audit/handler.toml"),
    ),
    (
        "notify",
        include_str!("../../../../../lambdas/notify/handler.toml"),
    ),
];

/// The declarations of the handlers shipped with Patrol (`lambdas/*/handler.toml` of this
/// repository, compiled in), parsed once. A declaration that does not parse is left out (a
/// unit test makes sure none is).
pub fn shipped() -> Declarations {
    static PARSED: std::sync::OnceLock<Declarations> = std::sync::OnceLock::new();
    PARSED
        .get_or_init(|| {
            SHIPPED
                .iter()
                .filter_map(|(name, text)| Some(((*name).to_owned(), parse(name, text).ok()?)))
                .collect()
        })
        .clone()
}
