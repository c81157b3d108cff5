//! How long an invocation may spend delivering: until its Lambda deadline (the context's
//! `deadline`) less [`RESERVE`], the time it needs afterwards to record what failed
//! (the delivery ledger, releasing a dedup claim, the failure queue of a webhook request),
//! each of those bounded by the SDK's operation timeout
//! ([`patrol_aws::config::SDK_OPERATION_TIMEOUT`]). A route still delivering at the
//! deadline fails (and its event is retried) instead of Lambda stopping the invocation
//! with nothing recorded and the dedup claim held.

use std::future::Future;
use std::time::{Duration, SystemTime};

use patrol_aws::config::SDK_OPERATION_TIMEOUT;
use tokio::time::Instant;

/// Kept for what follows delivery: the ledger, the dedup claim and the failure queue, one
/// SDK operation each.
pub const RESERVE: Duration = SDK_OPERATION_TIMEOUT.saturating_mul(3);

/// When delivery must be over; `None` when the invocation has no deadline (tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deadline {
    deliver_by: Option<Instant>,
}

/// Delivery did not finish by its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut {
    /// How long delivery was given.
    pub after: Duration,
}

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no answer within {:.1} s, the time left before the function's deadline (less {} s to record the failure)",
            self.after.as_secs_f64(),
            RESERVE.as_secs()
        )
    }
}

impl Deadline {
    /// No deadline.
    pub fn none() -> Self {
        Self::default()
    }

    /// From the invocation's deadline, `deadline_ms` unix milliseconds (0: none), at `now`.
    /// Delivery gets the time left less [`RESERVE`], and at least half of the time left
    /// when that is short.
    pub fn from_context(deadline_ms: u64, now: SystemTime) -> Self {
        if deadline_ms == 0 {
            return Self::none();
        }
        let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(deadline_ms);
        let left = deadline.duration_since(now).unwrap_or_default();
        let budget = left.saturating_sub(RESERVE).max(left / 2);
        Self {
            deliver_by: Some(Instant::now() + budget),
        }
    }

    /// How long is left for delivery.
    pub fn left(&self) -> Option<Duration> {
        self.deliver_by
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// `work`, unless the deadline comes first.
    pub async fn run<F: Future>(&self, work: F) -> Result<F::Output, TimedOut> {
        let Some(at) = self.deliver_by else {
            return Ok(work.await);
        };
        let after = at.saturating_duration_since(Instant::now());
        tokio::time::timeout_at(at, work)
            .await
            .map_err(|_| TimedOut { after })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(t: SystemTime) -> u64 {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or_default()
    }

    #[test]
    fn delivery_leaves_the_reserve_before_the_deadline() {
        let now = SystemTime::now();
        let d = Deadline::from_context(ms(now + Duration::from_secs(60)), now);
        let left = d.left().expect("a deadline");
        assert!(left <= Duration::from_secs(60) - RESERVE, "{left:?}");
        assert!(
            left > Duration::from_secs(60) - RESERVE - Duration::from_secs(1),
            "{left:?}"
        );
        // A short deadline still leaves half of it for delivery.
        let d = Deadline::from_context(ms(now + Duration::from_secs(10)), now);
        let left = d.left().expect("a deadline");
        assert!(
            left <= Duration::from_secs(5) && left > Duration::from_secs(4),
            "{left:?}"
        );
        assert_eq!(Deadline::from_context(0, now), Deadline::none());
        assert_eq!(Deadline::none().left(), None);
    }

    #[tokio::test]
    async fn work_past_the_deadline_is_cut_off() {
        let now = SystemTime::now();
        let d = Deadline::from_context(ms(now + Duration::from_millis(100)), now);
        let hangs = std::future::pending::<()>();
        let err = d.run(hangs).await.expect_err("cut off");
        assert!(err.to_string().starts_with("no answer within 0."), "{err}");
        assert_eq!(Deadline::none().run(async { 7 }).await, Ok(7));
    }
}
