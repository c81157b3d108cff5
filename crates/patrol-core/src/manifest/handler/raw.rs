//! `lambdas/<handler>/handler.toml` exactly as written: spans kept so diagnostics point
//! at the text, unknown keys rejected. [`super::parse`] checks it into a
//! [`super::HandlerDeclaration`].

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::manifest::raw::{Spanned, Str};

/// A handler's declaration of itself.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHandler {
    pub kind: Option<Str>,
    pub description: Option<Str>,
    #[serde(default)]
    pub params: BTreeMap<String, Spanned<RawParam>>,
    #[serde(default)]
    pub permissions: Vec<Spanned<RawStatement>>,
    #[serde(default)]
    pub audit_permissions: Vec<Spanned<RawStatement>>,
}

/// `[params.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawParam {
    #[serde(rename = "type")]
    pub ty: Option<Str>,
    pub required: Option<Spanned<bool>>,
    pub default: Option<Spanned<toml::Value>>,
    pub description: Option<Str>,
}

/// One `[[permissions]]` or `[[audit_permissions]]` statement.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStatement {
    pub actions: Option<Spanned<Vec<Str>>>,
    pub resources: Option<Spanned<Vec<Str>>>,
    pub why: Option<Str>,
}
