//! IAM and resource policy documents, as CloudTrail carries them, and the three questions
//! rule conditions ask about them (exposed to CEL in [`crate::condition`]):
//!
//! - [`PolicyDocument::is_public`]: does an `Allow` statement let anyone in?
//! - [`PolicyDocument::external_accounts`]: which accounts outside a trusted set get in?
//! - [`PolicyDocument::grants`]: does it allow any of these actions on any of these ARNs?
//!
//! Here: the document model and parsing (JSON object, JSON string, or the percent-encoded
//! string IAM's `policyDocument` is). Beside it: principals ([`principal`]), the
//! condition keys that restrict a statement to known parties ([`condition_keys`]),
//! glob-vs-glob matching for actions and ARNs ([`arn_glob`]), and the action/resource
//! question built on it (`grants.rs`).
//!
//! Not here: anything that needs AWS (resolving unique ids like `AROA…` to accounts,
//! organization membership). Callers pass trusted account ids in.

pub mod arn_glob;
pub mod condition_keys;
pub(crate) mod functions;
mod grants;
pub mod principal;

use serde_json::{Map, Value};

use condition_keys::ConditionClause;
use principal::Principal;

/// A policy document that could not be read; the message says where and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy document is not valid JSON: {0}")]
    NotJson(String),
    #[error("policy document is not valid percent-encoding: {0}")]
    BadPercentEncoding(String),
    #[error("policy document must be a JSON object or a string holding one, got {0}")]
    NotAnObject(&'static str),
    #[error("policy document has no `Statement`")]
    MissingStatement,
    #[error("policy document: {path}: {message}")]
    Invalid { path: String, message: String },
}

impl PolicyError {
    pub(crate) fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        PolicyError::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// Who a statement is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principals {
    /// No `Principal`: an identity policy, about whoever it is attached to.
    Attached,
    Principal(Principal),
    /// `NotPrincipal`: everyone except these.
    NotPrincipal(Principal),
}

/// `Action`/`Resource` (`Only`) or their `Not…` complement (`AllBut`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Globs {
    Only(Vec<String>),
    AllBut(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub principals: Principals,
    pub actions: Globs,
    /// `None` when the statement names no resource (trust policies, some key policies):
    /// it then applies to the resource the policy is attached to, whatever that is.
    pub resources: Option<Globs>,
    pub conditions: Vec<ConditionClause>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    pub statements: Vec<Statement>,
}

/// How many times a string may hold another encoded string (JSON in a JSON string,
/// percent-encoded JSON): CloudTrail nests at most twice.
const MAX_NESTING: usize = 3;

impl PolicyDocument {
    /// Reads a document as CloudTrail carries it: an object, a JSON string holding one,
    /// or a percent-encoded JSON string (IAM's `policyDocument`).
    pub fn parse(value: &Value) -> Result<PolicyDocument, PolicyError> {
        Self::parse_nested(value, 0)
    }

    fn parse_nested(value: &Value, depth: usize) -> Result<PolicyDocument, PolicyError> {
        match value {
            Value::Object(map) => Self::from_object(map),
            Value::String(text) if depth < MAX_NESTING => {
                let text = text.trim();
                let json = if text.starts_with('%') {
                    percent_decode(text)?
                } else {
                    text.to_owned()
                };
                let inner: Value =
                    serde_json::from_str(&json).map_err(|e| PolicyError::NotJson(e.to_string()))?;
                Self::parse_nested(&inner, depth + 1)
            }
            other => Err(PolicyError::NotAnObject(type_name(other))),
        }
    }

    fn from_object(map: &Map<String, Value>) -> Result<PolicyDocument, PolicyError> {
        let statements = match map.get("Statement") {
            None => return Err(PolicyError::MissingStatement),
            Some(Value::Object(one)) => vec![Statement::parse(one, "Statement")?],
            Some(Value::Array(many)) => many
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let path = format!("Statement[{i}]");
                    match s {
                        Value::Object(s) => Statement::parse(s, &path),
                        other => Err(PolicyError::invalid(
                            path,
                            format!("must be an object, got {}", type_name(other)),
                        )),
                    }
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(PolicyError::invalid(
                    "Statement",
                    format!("must be an object or an array, got {}", type_name(other)),
                ));
            }
        };
        Ok(PolicyDocument { statements })
    }

    fn allows(&self) -> impl Iterator<Item = &Statement> {
        self.statements.iter().filter(|s| s.effect == Effect::Allow)
    }

    /// Whether an `Allow` statement lets anyone in: its principal is everyone (`*`,
    /// `{"AWS": "*"}`, or any `NotPrincipal`) and no condition restricts it to known
    /// parties ([`condition_keys`]). `Deny` statements are ignored: they never make a
    /// document public, and this does not try to prove that one cancels an `Allow`.
    pub fn is_public(&self) -> bool {
        self.allows().any(Statement::is_public)
    }

    /// The 12-digit account ids, sorted and deduplicated, that `Allow` statements grant
    /// to and that are not in `trusted`:
    /// - from AWS principals;
    /// - for a statement open to everyone but restricted by a condition, from the
    ///   condition's account and ARN values (`aws:PrincipalAccount`, `aws:PrincipalArn`,
    ///   `aws:SourceAccount`, …);
    /// - for a service principal, from `aws:SourceAccount`, `aws:SourceOwner` and
    ///   `aws:SourceArn`: the service acts for that account's resources (S3 publishing to
    ///   a topic for that account's bucket), so the account reaches this resource through
    ///   it ([`condition_keys::source_accounts`]). Without such a condition a service
    ///   principal names no account.
    ///
    /// A public statement adds `"*"`. Canonical users, services themselves, federated
    /// principals and unique ids (`AROA…`) are not accounts and are not listed.
    pub fn external_accounts(&self, trusted: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for statement in self.allows() {
            if statement.is_public() {
                out.push("*".to_owned());
                continue;
            }
            match &statement.principals {
                Principals::Principal(p) if !p.is_everyone() => {
                    out.extend(p.accounts());
                    if p.has_service() {
                        out.extend(condition_keys::source_accounts(&statement.conditions));
                    }
                }
                Principals::Principal(_) | Principals::NotPrincipal(_) => {
                    out.extend(condition_keys::restricted_accounts(&statement.conditions));
                }
                Principals::Attached => {}
            }
        }
        out.retain(|a| !trusted.iter().any(|t| t.trim() == a));
        out.sort();
        out.dedup();
        out
    }
}

impl Statement {
    fn parse(map: &Map<String, Value>, path: &str) -> Result<Statement, PolicyError> {
        let sid = map.get("Sid").and_then(Value::as_str).map(str::to_owned);
        let effect = match map.get("Effect") {
            Some(Value::String(e)) if e.eq_ignore_ascii_case("allow") => Effect::Allow,
            Some(Value::String(e)) if e.eq_ignore_ascii_case("deny") => Effect::Deny,
            Some(other) => {
                return Err(PolicyError::invalid(
                    format!("{path}.Effect"),
                    format!("must be \"Allow\" or \"Deny\", got {other}"),
                ));
            }
            None => return Err(PolicyError::invalid(path, "has no `Effect`")),
        };
        let principals = match (map.get("Principal"), map.get("NotPrincipal")) {
            (None, None) => Principals::Attached,
            (Some(p), None) => {
                Principals::Principal(Principal::parse(p, &format!("{path}.Principal"))?)
            }
            (None, Some(p)) => {
                Principals::NotPrincipal(Principal::parse(p, &format!("{path}.NotPrincipal"))?)
            }
            (Some(_), Some(_)) => {
                return Err(PolicyError::invalid(
                    path,
                    "has both `Principal` and `NotPrincipal`",
                ));
            }
        };
        let actions = globs(map, path, "Action")?
            .ok_or_else(|| PolicyError::invalid(path, "has neither `Action` nor `NotAction`"))?;
        let resources = globs(map, path, "Resource")?;
        let conditions = match map.get("Condition") {
            None => Vec::new(),
            Some(c) => condition_keys::parse(c, &format!("{path}.Condition"))?,
        };
        Ok(Statement {
            sid,
            effect,
            principals,
            actions,
            resources,
            conditions,
        })
    }

    /// An `Allow` open to everyone that no condition restricts.
    fn is_public(&self) -> bool {
        let everyone = match &self.principals {
            Principals::Attached => false,
            Principals::Principal(p) => p.is_everyone(),
            Principals::NotPrincipal(_) => true,
        };
        self.effect == Effect::Allow && everyone && !condition_keys::restricts(&self.conditions)
    }
}

/// `Action`/`NotAction` (or `Resource`/`NotResource`): at most one of the pair.
fn globs(map: &Map<String, Value>, path: &str, field: &str) -> Result<Option<Globs>, PolicyError> {
    let not_field = format!("Not{field}");
    match (map.get(field), map.get(&not_field)) {
        (None, None) => Ok(None),
        (Some(v), None) => Ok(Some(Globs::Only(strings(v, &format!("{path}.{field}"))?))),
        (None, Some(v)) => Ok(Some(Globs::AllBut(strings(
            v,
            &format!("{path}.{not_field}"),
        )?))),
        (Some(_), Some(_)) => Err(PolicyError::invalid(
            path,
            format!("has both `{field}` and `{not_field}`"),
        )),
    }
}

/// A string or an array of strings, as policies write lists.
pub(crate) fn strings(value: &Value, path: &str) -> Result<Vec<String>, PolicyError> {
    let one = |v: &Value, path: &str| match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(PolicyError::invalid(
            path,
            format!("must be a string, got {}", type_name(other)),
        )),
    };
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| one(v, &format!("{path}[{i}]")))
            .collect(),
        other => one(other, path).map(|s| vec![s]),
    }
}

pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// RFC 3986 percent-decoding. `+` stays `+` (IAM encodes spaces as `%20`, and `+` is
/// legal in role and user names).
fn percent_decode(text: &str) -> Result<String, PolicyError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    PolicyError::BadPercentEncoding(format!(
                        "`%` at byte {i} is not followed by two hex digits"
                    ))
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| PolicyError::BadPercentEncoding("decodes to invalid UTF-8".to_owned()))
}

#[cfg(test)]
mod tests;
