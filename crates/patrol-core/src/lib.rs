//! Patrol's pure core: everything that decides what a rule means and what it does with an
//! event, with no AWS SDK and no async runtime, so it runs the same in Lambda, in the CLI
//! and in tests.
//!
//! - [`manifest`]: `rules.toml` as written (`Raw*`, spanned) → validated [`manifest::Manifest`],
//!   its diagnostics, and the normalized JSON the CDK app consumes.
//! - [`pattern`]: the EventBridge event-pattern engine (parse → compile → match).
//! - [`event`]: CloudTrail records wrapped as EventBridge delivers them.
//! - [`template`]: message templates (minijinja).
//! - [`condition`]: optional CEL conditions evaluated after the pattern.
//! - [`policy`]: IAM/resource policy analysis (public? external accounts? grants?) for conditions.
//! - [`alert`]: the alert model and how a rule turns an event into one.
//! - [`finding`]: what a handler's check reports, as an event every rule feature works on.
//! - [`audit`]: the scheduled audits' checks, pure: recorded API responses in, findings out.
//! - [`rule`]: one rule compiled for evaluation (suppressions, condition, alert).
//! - [`cover`]: covering patterns (forwarding rules, per-handler feeds) computed from the rules.
//! - [`date`]: `YYYY-MM-DD` dates for suppression expiry, event times.
//! - [`dedup`]: one alert per key per window, simulated over event time offline.
//! - [`engine`]: rules run over events with EventBridge's delivery semantics: a whole
//!   manifest offline (test, replay), one feed's rules live (the handler functions).
//!
//! Not here: AWS clients, secrets, delivery (see `lambdas/` and `patrol-cli`).

pub mod alert;
pub mod audit;
pub mod condition;
pub mod cover;
pub mod date;
pub mod dedup;
pub mod diagnostic;
pub mod engine;
pub mod event;
pub mod finding;
pub mod manifest;
pub mod pattern;
pub mod policy;
pub mod rule;
pub mod template;
