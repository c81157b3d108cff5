//! The watchdog: `{"patrol":{"watchdog":{"silent_after_seconds":N}},"event":E}`, from a
//! schedule in the central account (every 15 minutes, N = 1800). It reads every account
//! and region heard of ([`crate::heartbeat`]) and reports those whose last heartbeat is
//! older than N seconds: their events no longer reach the rules.
//!
//! Each silent one is logged at error level (`account/region stopped forwarding: last
//! heartbeat <time>`, with `account` and `region` fields), listed in the response, and
//! counted in the metric [`SILENT_FORWARDERS`] (namespace `Patrol`, no dimensions), which
//! is emitted on every run, 0 included, so its alarm always has data; [`FORWARDERS_SEEN`]
//! counts the accounts and regions heard of. A state table error fails the invocation
//! (`Patrol.StateTableFailed`) and emits no metric: the function's error alarm and the
//! silent alarm's missing data both say so.
//!
//! An account or region is heard of for 7 days after its last heartbeat
//! ([`patrol_aws::heartbeat::KEEP`]): one that stopped for good, such as an account that
//! left the organization, is reported silent for a week and then no more.

use patrol_aws::heartbeat::LastHeard;
use patrol_aws::metrics::{MetricLine, NAMESPACE};
use serde::Serialize;

use crate::Runtime;
use crate::delivery::now_ms;
use crate::failure::RuntimeError;
use crate::webhook::rfc3339;

/// The metric counting accounts and regions whose heartbeats stopped.
pub const SILENT_FORWARDERS: &str = "SilentForwarders";
/// The metric counting accounts and regions heard of in the last 7 days.
pub const FORWARDERS_SEEN: &str = "ForwardersSeen";

/// An account and region that stopped forwarding.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Silent {
    pub account: String,
    pub region: String,
    /// Its last heartbeat's time (RFC 3339).
    pub last_heartbeat: String,
    pub silent_for_seconds: i64,
}

/// What a watchdog invocation answers.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WatchdogResponse {
    pub silent_after_seconds: u64,
    /// How many accounts and regions were heard of in the last 7 days.
    pub forwarders_seen: usize,
    /// Those silent for more than `silent_after_seconds`, by account and region.
    pub silent: Vec<Silent>,
}

/// Those of `heard` whose last heartbeat is more than `silent_after_seconds` before `now`
/// (unix seconds), in the order given.
pub fn silent(heard: &[LastHeard], now: i64, silent_after_seconds: u64) -> Vec<Silent> {
    let after = i64::try_from(silent_after_seconds).unwrap_or(i64::MAX);
    heard
        .iter()
        .filter_map(|h| {
            let silent_for = now.saturating_sub(h.last_seen);
            (silent_for > after).then(|| Silent {
                account: h.forwarder.account.clone(),
                region: h.forwarder.region.clone(),
                last_heartbeat: rfc3339(h.last_seen.saturating_mul(1000)),
                silent_for_seconds: silent_for,
            })
        })
        .collect()
}

impl<H, D, S> Runtime<H, D, S> {
    pub async fn watchdog(
        &self,
        silent_after_seconds: u64,
        request_id: &str,
    ) -> Result<WatchdogResponse, RuntimeError> {
        let table = self.heartbeat_table("the watchdog")?;
        let now = now_ms().div_euclid(1000);
        let heard = table.last_heard(now).await.map_err(|e| {
            tracing::error!(request_id, error = %e, "watchdog could not read the heartbeats");
            RuntimeError::StateTable(e)
        })?;
        let silent = silent(&heard, now, silent_after_seconds);
        for s in &silent {
            tracing::error!(
                account = s.account,
                region = s.region,
                last_heartbeat = s.last_heartbeat,
                silent_for_seconds = s.silent_for_seconds,
                request_id,
                "account/region stopped forwarding: last heartbeat {}",
                s.last_heartbeat
            );
        }
        MetricLine::now(NAMESPACE)
            .count(SILENT_FORWARDERS, silent.len() as u64)
            .count(FORWARDERS_SEEN, heard.len() as u64)
            .emit();
        tracing::info!(
            request_id,
            silent_after_seconds,
            forwarders_seen = heard.len(),
            silent = silent.len(),
            "watchdog"
        );
        Ok(WatchdogResponse {
            silent_after_seconds,
            forwarders_seen: heard.len(),
            silent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use patrol_aws::heartbeat::Forwarder;

    const NOW: i64 = 1_793_520_000;

    fn heard(account: &str, region: &str, ago: i64) -> LastHeard {
        LastHeard {
            forwarder: Forwarder {
                account: account.into(),
                region: region.into(),
            },
            last_seen: NOW - ago,
        }
    }

    #[test]
    fn silent_are_those_heard_of_longer_ago_than_the_limit() {
        let all = [
            heard("111111111111", "eu-west-1", 60),
            heard("222222222222", "us-east-1", 1800),
            heard("222222222222", "eu-west-1", 1801),
            heard("333333333333", "us-east-1", 6 * 86_400),
        ];
        assert_eq!(
            silent(&all, NOW, 1800),
            [
                Silent {
                    account: "222222222222".into(),
                    region: "eu-west-1".into(),
                    last_heartbeat: "2026-11-01T07:29:59Z".into(),
                    silent_for_seconds: 1801,
                },
                Silent {
                    account: "333333333333".into(),
                    region: "us-east-1".into(),
                    last_heartbeat: "2026-10-26T08:00:00Z".into(),
                    silent_for_seconds: 6 * 86_400,
                },
            ]
        );
        assert_eq!(silent(&[], NOW, 1800), []);
        assert_eq!(silent(&all, NOW, u64::MAX), []);
    }
}
