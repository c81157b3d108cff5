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
                        Some(u.get_ref().clone())
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
