//! `[notify.<id>]` tables: one alert route each, and the Secrets Manager names they hold.

use std::ops::Range;

use super::{Cx, span};
use crate::diagnostic::Diagnostic;
use crate::manifest::raw::{RawRoute, Spanned, Str};
use crate::manifest::{Route, RouteKind};

impl Cx<'_> {
    pub(super) fn route(&mut self, id: &Str, route: &Spanned<RawRoute>) -> Option<Route> {
        self.check_id("route", id);
        let r = route.get_ref();
        let Some(kind) = &r.kind else {
            self.err(
                Diagnostic::new(
                    "missing-key",
                    format!("route `{}` has no `type`", id.get_ref()),
                )
                .at(span(route))
                .help("add `type = \"sns\"`"),
            );
            return None;
        };
        match kind.get_ref().as_str() {
            "sns" => {
                self.route_keys_unused(
                    id,
                    "sns",
                    &[("secret", r.secret.is_some()), ("url", r.url.is_some())],
                    route,
                );
                let strings = |v: &Option<Vec<Str>>| -> Vec<String> {
                    v.iter().flatten().map(|s| s.get_ref().clone()).collect()
                };
                for email in r.email.iter().flatten() {
                    let e = email.get_ref();
                    if !e.contains('@') || e.starts_with('@') || e.ends_with('@') {
                        self.err(
                            Diagnostic::new(
                                "invalid-email",
                                format!("route `{}`: `{e}` is not an email address", id.get_ref()),
                            )
                            .at(span(email))
                            .help("write the full address, e.g. `secops@example.com`; each subscriber confirms once"),
                        );
                    }
                }
                for url in r.https.iter().flatten() {
                    if !url.get_ref().starts_with("https://") {
                        self.err(
                            Diagnostic::new(
                                "invalid-url",
                                format!(
                                    "route `{}`: https subscriber `{}` must start with https://",
                                    id.get_ref(),
                                    url.get_ref()
                                ),
                            )
                            .at(span(url)),
                        );
                    }
                }
                Some(Route {
                    id: id.get_ref().clone(),
                    kind: RouteKind::Sns {
                        email: strings(&r.email),
                        https: strings(&r.https),
                    },
                })
            }
            t @ ("slack" | "pagerduty") => {
                self.route_keys_unused(
                    id,
                    t,
                    &[
                        ("email", r.email.is_some()),
                        ("https", r.https.is_some()),
                        ("url", r.url.is_some()),
                    ],
                    route,
                );
                let what = if t == "slack" {
                    "the Slack incoming-webhook URL"
                } else {
                    "the PagerDuty Events API v2 routing key"
                };
                let secret = self.secret_name(
                    &format!("route `{}`", id.get_ref()),
                    r.secret.as_ref(),
                    span(route),
                    what,
                )?;
                Some(Route {
                    id: id.get_ref().clone(),
                    kind: if t == "slack" {
                        RouteKind::Slack { secret }
                    } else {
                        RouteKind::Pagerduty { secret }
                    },
                })
            }
            "webhook" => {
                self.route_keys_unused(
                    id,
                    "webhook",
                    &[("email", r.email.is_some()), ("https", r.https.is_some())],
                    route,
                );
                let url = match &r.url {
                    Some(u) if u.get_ref().starts_with("https://") && u.get_ref().len() > 8 => {
                        match url_credential(u.get_ref()) {
                            None => Some(u.get_ref().clone()),
                            Some(found) => {
                                self.err(
                                    Diagnostic::new(
                                        "credential-in-url",
                                        format!(
                                            "route `{}`: webhook url carries a credential ({})",
                                            id.get_ref(),
                                            found.what
                                        ),
                                    )
                                    .at(span(u))
                                    .help(found.help),
                                );
                                None
                            }
                        }
                    }
                    Some(u) => {
                        self.err(
                            Diagnostic::new(
                                "invalid-url",
                                format!(
                                    "route `{}`: webhook url `{}` must start with https://",
                                    id.get_ref(),
                                    u.get_ref()
                                ),
                            )
                            .at(span(u))
                            .help("alerts carry account ids and principals; Patrol only sends them over TLS"),
                        );
                        None
                    }
                    None => {
                        self.err(
                            Diagnostic::new(
                                "missing-key",
                                format!("webhook route `{}` has no `url`", id.get_ref()),
                            )
                            .at(span(route))
                            .help("add `url = \"https://...\"`"),
                        );
                        None
                    }
                };
                let secret = match &r.secret {
                    Some(_) => Some(self.secret_name(
                        &format!("route `{}`", id.get_ref()),
                        r.secret.as_ref(),
                        span(route),
                        "the HMAC signing key",
                    )?),
                    None => None,
                };
                Some(Route {
                    id: id.get_ref().clone(),
                    kind: RouteKind::Webhook { url: url?, secret },
                })
            }
            other => {
                self.err(
                    Diagnostic::new(
                        "unknown-route-type",
                        format!("route `{}` has unknown type `{other}`", id.get_ref()),
                    )
                    .at(span(kind))
                    .help("supported route types: sns, slack, pagerduty, webhook"),
                );
                None
            }
        }
    }

    /// Keys that belong to other route types are errors, not silently ignored.
    fn route_keys_unused(
        &mut self,
        id: &Str,
        kind: &str,
        keys: &[(&str, bool)],
        route: &Spanned<RawRoute>,
    ) {
        for (key, present) in keys {
            if *present {
                self.err(
                    Diagnostic::new(
                        "unused-key",
                        format!("route `{}` ({kind}) does not use `{key}`", id.get_ref()),
                    )
                    .at(span(route))
                    .help(format!(
                        "remove `{key}`; the README's \"Alert routes\" section lists each type's keys"
                    )),
                );
            }
        }
    }

    /// A Secrets Manager secret name (or ARN), never a secret's value.
    pub(super) fn secret_name(
        &mut self,
        who: &str,
        secret: Option<&Str>,
        whole: Range<usize>,
        holds: &str,
    ) -> Option<String> {
        let Some(secret) = secret else {
            self.err(
                Diagnostic::new("missing-secret", format!("{who} has no `secret`"))
                    .at(whole)
                    .help(format!(
                        "store {holds} in AWS Secrets Manager and name it: `secret = \"patrol/...\"`"
                    )),
            );
            return None;
        };
        match check_secret_name(secret.get_ref()) {
            Ok(()) => Some(secret.get_ref().clone()),
            Err(msg) => {
                self.err(
                    Diagnostic::new("invalid-secret", format!("{who}: {msg}"))
                        .at(span(secret))
                        .help(format!(
                            "store {holds} in AWS Secrets Manager and give its name here (letters, digits and /_+=.@-), never the value"
                        )),
                );
                None
            }
        }
    }
}

/// A credential found in a webhook URL, and where to keep it instead.
#[derive(Debug, PartialEq, Eq)]
struct Credential {
    what: String,
    help: String,
}

/// Query parameter names (split into words) that carry credentials.
const CREDENTIAL_WORDS: &[&str] = &[
    "token",
    "key",
    "apikey",
    "secret",
    "sig",
    "signature",
    "password",
    "passwd",
    "pwd",
    "auth",
    "credential",
    "credentials",
];

/// Why `url` holds a credential, if it does: user info (`https://user:pass@host`), a query
/// parameter named like a credential (`token=`, `api_key=`, `sig=`, `X-Amz-Signature=`),
/// or a chat incoming-webhook path (whose path is the credential). Everything in
/// `rules.toml` ends up in git, the CloudFormation template and the function's config.
fn url_credential(url: &str) -> Option<Credential> {
    const KEEP: &str = "rules.toml is committed and deployed in clear text; keep credentials in AWS Secrets Manager";
    let rest = url.strip_prefix("https://")?;
    let (authority, after) = rest
        .find(['/', '?', '#'])
        .map_or((rest, ""), |i| rest.split_at(i));
    let host = authority
        .rsplit('@')
        .next()
        .unwrap_or(authority)
        .to_ascii_lowercase();
    let host = host.split(':').next().unwrap_or_default();
    if authority.contains('@') {
        return Some(Credential {
            what: "a user name or password before `@`".to_owned(),
            help: format!(
                "{KEEP}: remove it from the URL, give the route a `secret` and have the receiver verify the request's `X-Patrol-Signature` (HMAC-SHA256 of the body) instead"
            ),
        });
    }
    let path = after.split(['?', '#']).next().unwrap_or_default();
    let chat = host == "hooks.slack.com"
        || host == "hooks.slack-gov.com"
        || (matches!(host, "discord.com" | "discordapp.com") && path.starts_with("/api/webhooks/"))
        || host.ends_with(".webhook.office.com")
        || slack_hook_path(path);
    if chat {
        return Some(Credential {
            what: "an incoming-webhook URL, whose path is the credential".to_owned(),
            help: format!(
                "{KEEP}: for Slack use a `type = \"slack\"` route whose `secret` names a Secrets Manager secret holding the URL"
            ),
        });
    }
    let query = after
        .split_once('?')
        .map(|(_, q)| q.split('#').next().unwrap_or_default())
        .unwrap_or_default();
    for pair in query.split('&') {
        let name = pair.split('=').next().unwrap_or_default();
        if words(name)
            .iter()
            .any(|w| CREDENTIAL_WORDS.contains(&w.as_str()))
        {
            return Some(Credential {
                what: format!("the query parameter `{name}`"),
                help: format!(
                    "{KEEP}: remove `{name}=` from the URL, give the route a `secret` and have the receiver verify the request's `X-Patrol-Signature` (HMAC-SHA256 of the body) instead"
                ),
            });
        }
    }
    None
}

/// `/services/T…/B…/…`: Slack's incoming-webhook path, also served by Slack-compatible
/// hosts and proxies.
fn slack_hook_path(path: &str) -> bool {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    matches!(parts.as_slice(), ["services", team, bot, token]
        if team.starts_with('T') && bot.starts_with('B') && !token.is_empty())
}

/// A query parameter's name in lowercase words: `X-Amz-Signature` → x, amz, signature;
/// `apiKey` → api, key; `access_token` → access, token.
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        word.push(c.to_ascii_lowercase());
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Secrets Manager names: 1–512 of `A-Za-z0-9/_+=.@-`, or a secret's ARN. Values that
/// look like the secret itself (URLs, Slack tokens) are rejected so they never land in git.
fn check_secret_name(s: &str) -> Result<(), String> {
    if s.starts_with("https://") || s.starts_with("http://") {
        return Err("`secret` holds a URL: that is the secret's value, not its name".to_owned());
    }
    if s.starts_with("xox") {
        return Err(
            "`secret` looks like a Slack token: that is the secret's value, not its name"
                .to_owned(),
        );
    }
    if s.starts_with("arn:") {
        let parts: Vec<&str> = s.splitn(7, ':').collect();
        if parts.len() == 7
            && parts[2] == "secretsmanager"
            && parts[5] == "secret"
            && !parts[6].is_empty()
        {
            return Ok(());
        }
        return Err(format!("`{s}` is not a Secrets Manager secret ARN"));
    }
    if s.is_empty() || s.len() > 512 {
        return Err("a secret name has 1 to 512 characters".to_owned());
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "/_+=.@-".contains(*c)))
    {
        return Err(format!(
            "`{s}` is not a Secrets Manager name: `{c}` is not allowed"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_url_credentials_are_found() {
        for (url, what) in [
            ("https://user:pass@siem.example.com/in", "before `@`"),
            ("https://token@siem.example.com/in", "before `@`"),
            ("https://siem.example.com/in?token=abc", "`token`"),
            ("https://siem.example.com/in?a=1&api_key=abc", "`api_key`"),
            ("https://siem.example.com/in?apiKey=abc", "`apiKey`"),
            ("https://x.blob.core.windows.net/c?sv=1&sig=abc", "`sig`"),
            (
                "https://b.s3.amazonaws.com/k?X-Amz-Signature=abc",
                "`X-Amz-Signature`",
            ),
            ("https://siem.example.com/in?secret=abc#frag", "`secret`"),
            ("https://siem.example.com/in?key=abc", "`key`"),
            (
                "https://hooks.slack.com/services/T000/B000/XXXX",
                "incoming-webhook",
            ),
            (
                "https://chat.example.com/services/T0AB/B0CD/abcdef",
                "incoming-webhook",
            ),
            ("https://discord.com/api/webhooks/1/abc", "incoming-webhook"),
            (
                "https://acme.webhook.office.com/webhookb2/abc",
                "incoming-webhook",
            ),
        ] {
            let found = url_credential(url).unwrap_or_else(|| panic!("{url} accepted"));
            assert!(found.what.contains(what), "{url}: {found:?}");
            assert!(found.help.contains("Secrets Manager"), "{url}: {found:?}");
        }
        for url in [
            "https://siem.example.com/patrol",
            "https://siem.example.com/in?monkey=1&keyboard=2&source=patrol",
            "https://siem.example.com/services/alerts",
            "https://siem.example.com:8443/in#token",
        ] {
            assert_eq!(url_credential(url), None, "{url}");
        }
    }
}
