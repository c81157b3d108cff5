//! Text → [`RawManifest`], reporting every wrong type and unknown key in one run.
//!
//! `toml::from_str` stops at the first error. Instead the document is parsed once into
//! spanned TOML ([`DeTable`]); then `version`, `defaults`, each route and each rule are
//! deserialized on their own. When one fails, the entry the error points at (the unknown
//! key, the wrongly typed value, the table missing a required key) is cut out of the tree
//! and the deserialization retried, so every problem is found, at its exact place, and what
//! remains is well typed. A field of a rule (or a key of `defaults`) that had a type error
//! is then left out, and its absence is not reported again ([`Broken`]); a route with a type
//! error is left out whole but its id stays known, so rules naming it raise no second error.
//! In `[deploy]` only the wrongly typed entry itself is left out (`central.account`), so the
//! rest of its table (`central.region`) is still checked.
//!
//! TOML syntax errors (unclosed quotes, duplicate keys) still stop at the first: past one,
//! the parser's guesses would only produce noise.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::raw::{RawManifest, Spanned, Str};
use crate::diagnostic::Diagnostic;

/// What could not be typed, so validation doesn't also call it missing.
#[derive(Debug, Default)]
pub struct Broken {
    /// Rule id → its top-level keys that had type errors.
    pub rule_fields: BTreeMap<String, BTreeSet<String>>,
    /// Routes left out because of type errors.
    pub routes: BTreeSet<String>,
    /// Keys of `[defaults]` that had type errors (or `*` when `defaults` itself is wrong).
    pub defaults: BTreeSet<String>,
    /// `rules` was there but is not a table.
    pub rules: bool,
    /// Paths inside `[deploy]` left out because of type errors (`central.account`,
    /// `regions[1]`), or `*` when `deploy` itself is wrong.
    pub deploy: BTreeSet<String>,
}

impl Broken {
    pub fn rule_field(&self, rule: &str, field: &str) -> bool {
        self.rule_fields
            .get(rule)
            .is_some_and(|f| f.contains(field) || f.contains("*"))
    }
    pub fn default_field(&self, field: &str) -> bool {
        self.defaults.contains(field) || self.defaults.contains("*")
    }
    /// Whether `path` in `[deploy]` (`organization.targets`), what holds it or something
    /// inside it (`organization.targets[0]`) had a type error.
    pub fn deploy_field(&self, path: &str) -> bool {
        let within = |inner: &str, outer: &str| {
            inner
                .strip_prefix(outer)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
        };
        self.deploy
            .iter()
            .any(|b| b == "*" || within(path, b) || within(b, path))
    }
}

/// The well-typed part of the manifest, the type errors, and what they broke; or the
/// first syntax error.
pub fn parse(text: &str) -> Result<(RawManifest, Vec<Diagnostic>, Broken), Diagnostic> {
    let root = DeTable::parse(text).map_err(|e| syntax_error(&e))?;
    let mut raw = RawManifest::default();
    let mut diags = Vec::new();
    let mut broken = Broken::default();
    for (key, value) in root.get_ref().iter() {
        let name: &str = key.get_ref();
        match name {
            "version" => {
                let (v, _) = typed::<i64>(value, &[name.to_owned()], &mut diags);
                raw.version = v;
            }
            "defaults" => {
                let (d, bad) = typed(value, &[name.to_owned()], &mut diags);
                if d.is_none() {
                    broken.defaults.insert("*".to_owned());
                }
                broken.defaults.extend(bad);
                raw.defaults = d;
            }
            "deploy" => {
                let (d, cut) = typed_leaves(value, &[name.to_owned()], &mut diags);
                if d.is_none() {
                    broken.deploy.insert("*".to_owned());
                }
                broken.deploy.extend(cut);
                raw.deploy = d;
            }
            "notify" | "rules" => {
                let DeValue::Table(table) = value.get_ref() else {
                    diags.push(not_a_table(name, value));
                    broken.rules |= name == "rules";
                    continue;
                };
                for (id, entry) in table.iter() {
                    let id_str: &str = id.get_ref();
                    let path = [name.to_owned(), id_str.to_owned()];
                    let key = Str::new(id.span(), id_str.to_owned());
                    if name == "notify" {
                        let (route, bad) = typed(entry, &path, &mut diags);
                        match route {
                            Some(route) if bad.is_empty() => {
                                raw.notify.insert(key, route);
                            }
                            _ => {
                                broken.routes.insert(id_str.to_owned());
                            }
                        }
                    } else {
                        let (rule, bad) = typed(entry, &path, &mut diags);
                        if !bad.is_empty() || rule.is_none() {
                            let mut bad = bad;
                            if rule.is_none() {
                                bad.insert("*".to_owned());
                            }
                            broken.rule_fields.insert(id_str.to_owned(), bad);
                        }
                        raw.rules.insert(
                            key,
                            rule.unwrap_or_else(|| Spanned::new(entry.span(), Default::default())),
                        );
                    }
                }
            }
            _ => {
                // Most likely a misspelt `rules` (`[rule.x]`): "no rules" would be noise.
                broken.rules = true;
                diags.push(unknown_key(
                    name,
                    key.span(),
                    &[],
                    &["version", "defaults", "notify", "rules", "deploy"],
                ));
            }
        }
    }
    Ok((raw, diags, broken))
}

/// Deserializes `value` as `T`, cutting out what fails until the rest is well typed.
/// Returns the value without the top-level keys that had errors, and those keys.
fn typed<T: DeserializeOwned>(
    value: &toml::Spanned<DeValue<'_>>,
    path: &[String],
    diags: &mut Vec<Diagnostic>,
) -> (Option<Spanned<T>>, BTreeSet<String>) {
    let mut value = value.clone();
    let mut bad = BTreeSet::new();
    // Each round removes one entry, so this ends; the bound is for safety only.
    for _ in 0..1000 {
        let error = match Spanned::<T>::deserialize_from(value.clone()) {
            Ok(t) if bad.is_empty() => return (Some(t), bad),
            Ok(_) => break,
            Err(e) => e,
        };
        let Some(span) = error.span() else {
            diags.push(type_error(&error, path, None, value.span()));
            return (None, bad);
        };
        match cut(value.get_mut(), &span) {
            Some(cut_path) => {
                if let Some(first) = cut_path.first() {
                    bad.insert(first.trim_start_matches('[').to_owned());
                }
                diags.push(type_error(&error, path, Some(&cut_path), span));
            }
            None => {
                // The value itself is wrong (a string where a table belongs).
                diags.push(type_error(&error, path, Some(&[]), span));
                return (None, bad);
            }
        }
    }
    // Leave out whole every key that had an error, so validation sees it as absent.
    if let DeValue::Table(t) = value.get_mut() {
        let name = |k: &toml::Spanned<toml::de::DeString<'_>>| k.get_ref().to_string();
        retain(t, |k| !bad.contains(&name(k)));
    }
    match Spanned::<T>::deserialize_from(value) {
        Ok(t) => (Some(t), bad),
        Err(e) => {
            diags.push(type_error(&e, path, Some(&[]), e.span().unwrap_or(0..0)));
            (None, bad)
        }
    }
}

/// Like [`typed`], but cuts out only the wrongly typed entries themselves and keeps the
/// rest of their tables. Returns their paths below `value` (`central.account`).
fn typed_leaves<T: DeserializeOwned>(
    value: &toml::Spanned<DeValue<'_>>,
    path: &[String],
    diags: &mut Vec<Diagnostic>,
) -> (Option<Spanned<T>>, BTreeSet<String>) {
    let mut value = value.clone();
    let mut cuts = BTreeSet::new();
    // Each round removes one entry, so this ends; the bound is for safety only.
    for _ in 0..1000 {
        let error = match Spanned::<T>::deserialize_from(value.clone()) {
            Ok(t) => return (Some(t), cuts),
            Err(e) => e,
        };
        let Some(span) = error.span() else {
            diags.push(type_error(&error, path, None, value.span()));
            return (None, cuts);
        };
        match cut(value.get_mut(), &span) {
            Some(cut_path) => {
                cuts.insert(dotted(&cut_path));
                diags.push(type_error(&error, path, Some(&cut_path), span));
            }
            None => {
                diags.push(type_error(&error, path, Some(&[]), span));
                return (None, cuts);
            }
        }
    }
    (None, cuts)
}

impl<T: DeserializeOwned> Spanned<T> {
    fn deserialize_from(value: toml::Spanned<DeValue<'_>>) -> Result<Self, toml::de::Error> {
        serde::Deserialize::deserialize(ValueDeserializer::from(value))
    }
}

/// Removes the innermost entry the error span points at (a key, a value, or a table that
/// misses a key); returns its path below `v`, or `None` when the span is `v` itself.
fn cut(v: &mut DeValue<'_>, span: &Range<usize>) -> Option<Vec<String>> {
    let contains = |outer: &Range<usize>| outer.start <= span.start && span.end <= outer.end;
    match v {
        DeValue::Table(t) => {
            let mut hit: Option<(Range<usize>, Vec<String>)> = None;
            for (k, val) in t.iter_mut() {
                let key = k.get_ref().to_string();
                if k.span() == *span {
                    hit = Some((k.span(), vec![key]));
                    break;
                }
                if let Some(mut below) = cut(val.get_mut(), span) {
                    below.insert(0, key);
                    return Some(below);
                }
                if contains(&val.span()) {
                    hit = Some((k.span(), vec![key]));
                    break;
                }
            }
            let (key_span, path) = hit?;
            retain(t, |k| k.span() != key_span);
            Some(path)
        }
        DeValue::Array(a) => {
            let mut remove = None;
            for (i, el) in a.iter_mut().enumerate() {
                if let Some(mut below) = cut(el.get_mut(), span) {
                    below.insert(0, format!("[{i}]"));
                    return Some(below);
                }
                if contains(&el.span()) {
                    remove = Some(i);
                    break;
                }
            }
            let i = remove?;
            let kept: toml::de::DeArray<'_> = a
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, el)| el.clone())
                .collect();
            *a = kept;
            Some(vec![format!("[{i}]")])
        }
        _ => None,
    }
}

/// `toml::map::Map::retain` wants `&str` keys; DeTable's are spanned.
fn retain<'i>(t: &mut DeTable<'i>, keep: impl Fn(&toml::Spanned<toml::de::DeString<'i>>) -> bool) {
    let mut kept = DeTable::new();
    for (k, v) in t.iter() {
        if keep(k) {
            kept.insert(k.clone(), v.clone());
        }
    }
    *t = kept;
}

/// `rules.x.trigger.sns` from its parts; array indexes attach without a dot.
fn dotted(parts: &[String]) -> String {
    let mut out = String::new();
    for p in parts {
        if !out.is_empty() && !p.starts_with('[') {
            out.push('.');
        }
        out.push_str(p);
    }
    out
}

/// Who a type error concerns and the key's path inside it: (`rule `x``, `trigger.sns`),
/// or (`defaults`, ...) for top-level tables.
fn owner(full: &[String]) -> (String, String) {
    match full {
        [kind, id, rest @ ..] if kind == "rules" || kind == "notify" => {
            let who = if kind == "rules" { "rule" } else { "route" };
            (format!("{who} `{id}`"), dotted(rest))
        }
        _ => (String::new(), dotted(full)),
    }
}

/// `rule `x`: `severity``, or `` `defaults.severity` `` outside rules and routes.
fn subject(full: &[String]) -> String {
    match owner(full) {
        (who, key) if who.is_empty() => format!("`{key}`"),
        (who, key) if key.is_empty() => who,
        (who, key) => format!("{who}: `{key}`"),
    }
}

fn type_error(
    e: &toml::de::Error,
    path: &[String],
    cut_path: Option<&[String]>,
    span: Range<usize>,
) -> Diagnostic {
    let message = e.message().trim();
    let full: Vec<String> = path
        .iter()
        .chain(cut_path.unwrap_or_default())
        .cloned()
        .collect();
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (name, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let within = &full[..full.len().saturating_sub(1)];
        return unknown_key(name, span, within, &known);
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or(rest);
        let help = match name {
            "event" => "add `event = \"tests/events/...json\"`: the event file, relative to the manifest's folder".to_owned(),
            "expect" => "add `expect = \"alert\"` or `expect = \"quiet\"`".to_owned(),
            _ => format!("add `{name} = ...`; the README's rules.toml reference says what it takes"),
        };
        return Diagnostic::new("missing-key", format!("{} has no `{name}`", subject(&full)))
            .at(span)
            .help(help);
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let (found, expected) = rest
            .split_once(", expected ")
            .unwrap_or((rest, "another type"));
        // For a list's element (`regions[1]`), the list's key decides the help.
        let key = full
            .iter()
            .rev()
            .find(|p| !p.starts_with('['))
            .map(String::as_str)
            .unwrap_or_default();
        return Diagnostic::new(
            "wrong-type",
            format!(
                "{} must be {}, not {found}",
                subject(&full),
                plain_expected(expected)
            ),
        )
        .at(span)
        .help(type_help(key, path));
    }
    Diagnostic::new("wrong-type", format!("{}: {message}", subject(&full)))
        .at(span)
        .help("the README's rules.toml reference gives each key's type")
}

/// serde names Rust types (`struct RawRule`, `a sequence`); say it in TOML's words.
fn plain_expected(expected: &str) -> String {
    let e = expected.trim();
    if e.starts_with("struct ") || e == "a map" {
        return "a table".to_owned();
    }
    match e {
        "a sequence" => "an array".to_owned(),
        "i64" => "an integer".to_owned(),
        "a boolean" => "a boolean (`true` or `false`)".to_owned(),
        "a string" => "a string (in quotes)".to_owned(),
        _ if e.contains("datetime") => "a TOML date (`2027-01-31`, no quotes)".to_owned(),
        other => other.to_owned(),
    }
}

fn type_help(key: &str, path: &[String]) -> String {
    match key {
        "notify" if path.len() > 1 => "write a list of route ids: `notify = [\"security\"]`".to_owned(),
        "tests" => "write a list of tables: `tests = [{ event = \"tests/events/a.json\", expect = \"alert\" }]`".to_owned(),
        "suppress" => "write a list of tables: `suppress = [{ condition = '...', owner = \"...\", reason = \"...\", expires = 2027-01-31 }]`".to_owned(),
        "expires" => "write a TOML date without quotes: `expires = 2027-01-31`".to_owned(),
        "include_read_only" => "write `include_read_only = true`".to_owned(),
        "version" => "write `version = 1`".to_owned(),
        "severity" => "write one of \"info\", \"low\", \"medium\", \"high\", \"critical\" in quotes".to_owned(),
        "permissions" | "references" | "email" | "https" | "regions" | "operators" | "targets" => format!("write a list of strings: `{key} = [\"...\"]`"),
        "account" | "management_account" => format!("write the 12-digit account id as a string, in quotes: `{key} = \"123456789012\"` (account ids are not numbers: some start with 0)"),
        "region" => "write the region as a string: `region = \"eu-west-1\"`".to_owned(),
        "id" if path.first().is_some_and(|p| p == "deploy") => "write the organization id as a string: `id = \"o-a1b2c3d4e5\"`".to_owned(),
        "deploy" => "write a table: `[deploy]` with `central = { account = \"...\", region = \"...\" }` below it".to_owned(),
        "central" => "write `central = { account = \"123456789012\", region = \"eu-west-1\" }`".to_owned(),
        "organization" => "write `organization = { id = \"o-...\", management_account = \"...\", targets = [\"ou-...\"] }`".to_owned(),
        "trigger" => "write `trigger.<kind> = ...`, e.g. `trigger.schedule = \"rate(1 day)\"`".to_owned(),
        "params" => "write one line per parameter: `params.trusted_accounts = [\"111122223333\"]`".to_owned(),
        "params_types" => "write a table of type names: `params_types = { owners = \"string_list\" }`".to_owned(),
        _ => "the README's rules.toml reference gives each key's type".to_owned(),
    }
}

fn unknown_key(name: &str, span: Range<usize>, within: &[String], known: &[&str]) -> Diagnostic {
    let place = match owner(within) {
        (who, key) if who.is_empty() && key.is_empty() => "at the top level".to_owned(),
        (who, key) if who.is_empty() => format!("in `[{key}]`"),
        (who, key) if key.is_empty() => format!("in {who}"),
        (who, key) => format!("in {who}, `{key}`"),
    };
    let mut help = match closest(name, known) {
        Some(s) => format!("did you mean `{s}`? "),
        None => String::new(),
    };
    if known.is_empty() {
        help.push_str("remove the key; the README's rules.toml reference lists every key");
    } else {
        help.push_str(&format!("keys allowed here: {}", known.join(", ")));
    }
    Diagnostic::new("unknown-key", format!("unknown field `{name}` {place}"))
        .at(span)
        .help(help)
}

fn not_a_table(name: &str, value: &toml::Spanned<DeValue<'_>>) -> Diagnostic {
    let example = if name == "rules" {
        "[rules.root-console-login]"
    } else {
        "[notify.security]"
    };
    Diagnostic::new(
        "wrong-type",
        format!(
            "`{name}` must be a table of tables, not {}",
            value.get_ref().type_str()
        ),
    )
    .at(value.span())
    .help(format!("write one table per entry: `{example}`"))
}

fn syntax_error(e: &toml::de::Error) -> Diagnostic {
    let message = e.message().trim();
    let help = if message.contains("duplicate key") {
        "each key, and so each rule and route id, may appear only once; rename or merge the two"
    } else {
        "this is not valid TOML; check quotes, brackets and `key = value` syntax (only the first syntax error is reported)"
    };
    let first_line = message.lines().next().unwrap_or(message);
    Diagnostic::new("invalid-toml", first_line.to_owned())
        .at_opt(e.span())
        .help(help)
}

/// The known key at most two edits away, for "did you mean".
pub(crate) fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4) && *d < k.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<Diagnostic> {
        match parse(text) {
            Ok((_, d, _)) => d,
            Err(d) => vec![d],
        }
    }

    #[test]
    fn every_type_error_in_every_rule_is_reported() {
        let text = r#"
[rules.a]
severity = 3
include_read_only = "yes"
trigger.sns = { topic = 5, colour = "red" }
[rules.b]
notify = "security"
descripton = "typo"
tests = [{ event = "a.json", expect = "alert" }, { event = "b.json" }]
"#;
        let d = errors(text);
        let mut found: Vec<(usize, &str)> = d
            .iter()
            .map(|d| {
                let at = d.span.clone().unwrap_or(0..0).start;
                (crate::diagnostic::line_col(text, at).0, d.code)
            })
            .collect();
        found.sort();
        assert_eq!(
            found,
            vec![
                (3, "wrong-type"),
                (4, "wrong-type"),
                (5, "unknown-key"),
                (5, "wrong-type"),
                (7, "wrong-type"),
                (8, "unknown-key"),
                (9, "missing-key"),
            ],
            "{d:#?}"
        );
        let rendered = crate::diagnostic::render_all(&d, "rules.toml", text);
        insta::assert_snapshot!(rendered);
    }

    #[test]
    fn well_typed_parts_are_kept() {
        let text = "[rules.a]\nseverity = 3\ndescription = \"kept\"\n";
        let (raw, d, broken) = parse(text).expect("parses");
        assert_eq!(d.len(), 1);
        let (_, rule) = raw.rules.iter().next().expect("rule kept");
        assert_eq!(
            rule.get_ref()
                .description
                .as_ref()
                .map(|s| s.get_ref().as_str()),
            Some("kept")
        );
        assert!(rule.get_ref().severity.is_none());
        assert!(broken.rule_field("a", "severity"));
        assert!(!broken.rule_field("a", "description"));
    }

    #[test]
    fn suggestions_are_close_keys() {
        assert_eq!(
            closest("severty", &["description", "severity"]),
            Some("severity")
        );
        assert_eq!(closest("zzz", &["description", "severity"]), None);
    }
}
