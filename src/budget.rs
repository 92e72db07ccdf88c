//! A rate budget: at most N requests in any window (Aircall: per minute, per company and
//! shared with the customer's other tools; HubSpot: per 10 s per app). Each budget lives in
//! one place (an `ACCOUNT_GATE` Durable Object), so every worker invocation shares it.
//!
//! A sliding window, not a token bucket: a full bucket plus its refill lets nearly twice
//! the limit through within one of Aircall's fixed minutes, which Aircall answers with 429.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// A limit: `requests` in any `window_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    pub requests: u32,
    pub window_ms: u64,
}

impl Rate {
    /// Aircall's limit, with a second of margin for the time a request takes to reach it.
    pub fn per_minute(requests: u32) -> Self {
        Self {
            requests: requests.max(1),
            window_ms: 61_000,
        }
    }

    /// `requests` in any `seconds`, plus the same margin of a tenth.
    pub fn per_seconds(requests: u32, seconds: u64) -> Self {
        Self {
            requests: requests.max(1),
            window_ms: seconds * 1100,
        }
    }
}

/// Who asks for a place in a budget (an Aircall account's, a HubSpot token's). Bulk work
/// (imports, contact sync, deliveries, call logging, the admin API) stops short of the limit,
/// leaving a share to live work: an insight card must reach the agent while the phone rings,
/// never wait behind a backlog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    Bulk,
    Live,
}

impl Rate {
    /// An Aircall account's budget as `priority` may use it: the whole of it for live work;
    /// bulk work all but [`live_share`]. Both count in the same window, so together they
    /// never pass the limit.
    pub fn aircall(per_minute: u32, priority: Priority) -> Self {
        match priority {
            Priority::Live => Self::per_minute(per_minute),
            Priority::Bulk => Self::per_minute(per_minute - live_share(per_minute)),
        }
    }
}

/// The requests a minute kept for live work: a tenth of the budget (6 of Aircall's 60); none
/// when the budget is under 10 a minute, too small to share.
pub fn live_share(per_minute: u32) -> u32 {
    per_minute / 10
}

impl Rate {
    /// A HubSpot budget (`requests` in any `seconds`) as `priority` may use it: the whole for
    /// live work, all but [`hubspot_live_share`] for bulk work; both count in the same window.
    pub fn hubspot(requests: u32, seconds: u64, priority: Priority) -> Self {
        let requests = requests.max(1);
        match priority {
            Priority::Live => Self::per_seconds(requests, seconds),
            Priority::Bulk => Self::per_seconds(requests - hubspot_live_share(requests), seconds),
        }
    }
}

/// The part of a HubSpot budget kept for live work: a tenth, and at least one request, for
/// HubSpot's search budget is small (5 a second: bulk work takes 4, an insight card always
/// finds the fifth); none in a budget of one, which bulk work would otherwise never get.
pub fn hubspot_live_share(requests: u32) -> u32 {
    match requests {
        0 | 1 => 0,
        n => (n / 10).max(1),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateBudget {
    pub rate: Rate,
    /// When the requests of the last window were granted, oldest first.
    #[serde(default)]
    granted_ms: VecDeque<u64>,
    /// Aircall said the limit is reached: nothing goes out before this.
    #[serde(default)]
    blocked_until_ms: u64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Take {
    Granted,
    /// Come back after this many milliseconds.
    Wait(u64),
}

impl RateBudget {
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            granted_ms: VecDeque::new(),
            blocked_until_ms: 0,
        }
    }

    /// Aircall answered 429 (or no requests remain) until `until_ms`: every request of the
    /// account waits, whichever integration or tool makes it.
    pub fn block_until(&mut self, until_ms: u64) {
        self.blocked_until_ms = self.blocked_until_ms.max(until_ms);
    }

    /// Takes one request's place in the window if there is one.
    pub fn take(&mut self, now_ms: u64) -> Take {
        if now_ms < self.blocked_until_ms {
            return Take::Wait(self.blocked_until_ms - now_ms);
        }
        while self
            .granted_ms
            .front()
            .is_some_and(|&t| t + self.rate.window_ms <= now_ms)
        {
            self.granted_ms.pop_front();
        }
        let limit = self.rate.requests as usize;
        if self.granted_ms.len() < limit {
            self.granted_ms.push_back(now_ms);
            return Take::Granted;
        }
        // The oldest of the last `limit` requests leaves the window first.
        let frees_at = self.granted_ms[self.granted_ms.len() - limit] + self.rate.window_ms;
        Take::Wait(frees_at.saturating_sub(now_ms).max(1))
    }

    /// Changes the rate (a setting); what was granted in the window still counts.
    pub fn set_rate(&mut self, rate: Rate) {
        self.rate = rate;
    }
}

/// Where `ACCOUNT_GATE` keeps an integration's sync lease.
pub fn lease_key(integration_id: &str) -> String {
    crate::keys::import_lease(integration_id)
}

/// Claims remembered by [`crate::ports::Gate::claim`], pruned of those past their time.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims(pub std::collections::BTreeMap<String, u64>);

impl Claims {
    /// Most claims one object remembers: an install needs the admin token, so this is ample.
    pub const MAX: usize = 10_000;

    pub fn claim(&mut self, key: &str, until_ms: u64, now_ms: u64) -> bool {
        self.0.retain(|_, until| *until > now_ms);
        if self.0.contains_key(key) || self.0.len() >= Self::MAX {
            return false;
        }
        self.0.insert(key.to_string(), until_ms);
        true
    }
}

/// A sync lease: who holds it, and until when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lease {
    pub holder: String,
    pub until_ms: u64,
}

impl Lease {
    /// Whether `holder` may take (or keep) a lease that is currently `current`.
    pub fn grantable(current: Option<&Lease>, holder: &str, now_ms: u64) -> bool {
        current.is_none_or(|lease| lease.holder == holder || lease.until_ms <= now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_is_granted_once_until_it_is_forgotten() {
        let mut claims = Claims::default();
        assert!(claims.claim("n1", 1_000, 0));
        assert!(!claims.claim("n1", 1_000, 500), "replayed");
        assert!(claims.claim("n2", 1_000, 500));
        assert!(
            claims.claim("n1", 3_000, 1_000),
            "pruned once past its time"
        );
        assert_eq!(claims.0.len(), 1);
    }

    #[test]
    fn a_lease_goes_to_one_holder_until_it_expires() {
        let held = Lease {
            holder: "run-1".into(),
            until_ms: 1_000,
        };
        assert!(Lease::grantable(None, "run-2", 0));
        assert!(
            Lease::grantable(Some(&held), "run-1", 500),
            "the holder renews"
        );
        assert!(!Lease::grantable(Some(&held), "run-2", 500));
        assert!(Lease::grantable(Some(&held), "run-2", 1_000), "expired");
    }

    #[test]
    fn grants_a_minutes_worth_then_makes_callers_wait_for_the_window() {
        let mut budget = RateBudget::new(Rate::per_minute(60));
        for _ in 0..60 {
            assert_eq!(budget.take(0), Take::Granted);
        }
        assert_eq!(budget.take(0), Take::Wait(61_000));
        assert_eq!(budget.take(60_000), Take::Wait(1_000));
        assert_eq!(budget.take(61_000), Take::Granted);
    }

    #[test]
    fn never_more_than_the_limit_in_any_minute() {
        // Requests as fast as granted, for ten minutes: every 60 s span holds at most 60.
        let mut budget = RateBudget::new(Rate::per_minute(60));
        let mut granted = Vec::new();
        let mut now = 0;
        while now < 600_000 {
            match budget.take(now) {
                Take::Granted => granted.push(now),
                Take::Wait(ms) => now += ms.min(250),
            }
        }
        for (i, &t) in granted.iter().enumerate() {
            let in_minute = granted[i..].iter().take_while(|&&u| u < t + 60_000).count();
            assert!(
                in_minute <= 60,
                "{in_minute} requests in the minute from {t} ms"
            );
        }
        assert!(
            granted.len() >= 9 * 60,
            "{} granted: the limit is used",
            granted.len()
        );
    }

    #[test]
    fn a_ten_second_limit_waits_for_its_own_window() {
        // HubSpot: 100 requests in any 10 s (plus the margin).
        let mut budget = RateBudget::new(Rate::per_seconds(100, 10));
        for t in 0..100 {
            assert_eq!(budget.take(t * 10), Take::Granted);
        }
        assert_eq!(budget.take(1_000), Take::Wait(10_000));
        assert_eq!(budget.take(11_000), Take::Granted);
    }

    #[test]
    fn a_block_holds_every_request_until_the_reset() {
        let mut budget = RateBudget::new(Rate::per_minute(60));
        budget.block_until(30_000);
        assert_eq!(budget.take(10_000), Take::Wait(20_000));
        assert_eq!(budget.take(30_000), Take::Granted);
    }

    #[test]
    fn live_work_finds_room_when_bulk_work_has_spent_its_share() {
        // The window is one: each take names its own limit (a Durable Object keeps it).
        let mut budget = RateBudget::new(Rate::aircall(60, Priority::Bulk));
        let mut bulk = 0;
        while budget.take(0) == Take::Granted {
            bulk += 1;
        }
        assert_eq!(bulk, 54, "bulk work leaves a tenth");
        budget.set_rate(Rate::aircall(60, Priority::Live));
        let live = (0..10).filter(|_| budget.take(0) == Take::Granted).count();
        assert_eq!(
            live, 6,
            "live work has the rest, and no more than the limit"
        );
        assert_eq!(live_share(9), 0, "a budget too small to share");
    }

    /// Bulk and live work taking turns as fast as granted, for `ms`: what each got, and the
    /// most granted in any window.
    fn shared(requests: u32, seconds: u64, live_every: usize, ms: u64) -> (usize, usize, usize) {
        let (bulk, live) = (
            Rate::hubspot(requests, seconds, Priority::Bulk),
            Rate::hubspot(requests, seconds, Priority::Live),
        );
        let mut budget = RateBudget::new(bulk);
        let (mut granted, mut counts) = (Vec::new(), (0, 0));
        for (n, now) in (0..ms).step_by(10).enumerate() {
            let is_live = n % live_every == 0;
            budget.set_rate(if is_live { live } else { bulk });
            if budget.take(now) == Take::Granted {
                granted.push(now);
                if is_live {
                    counts.1 += 1
                } else {
                    counts.0 += 1
                }
            }
        }
        let window = live.window_ms;
        let most = (0..granted.len())
            .map(|i| {
                granted[i..]
                    .iter()
                    .take_while(|&&t| t < granted[i] + window)
                    .count()
            })
            .max()
            .unwrap_or(0);
        (counts.0, counts.1, most)
    }

    #[test]
    fn hubspot_bulk_work_leaves_live_work_its_share_of_each_budget() {
        // HubSpot's searches: 5 a second; bulk work alone stops at 4.
        let mut budget = RateBudget::new(Rate::hubspot(5, 1, Priority::Bulk));
        let bulk = (0..10).filter(|_| budget.take(0) == Take::Granted).count();
        assert_eq!(bulk, 4, "bulk work cannot take the live share");
        budget.set_rate(Rate::hubspot(5, 1, Priority::Live));
        let live = (0..10).filter(|_| budget.take(0) == Take::Granted).count();
        assert_eq!(
            live, 1,
            "live work has the fifth, and no more than the limit"
        );
        // Requests: 100 in 10 s, of which bulk work takes 90.
        let mut budget = RateBudget::new(Rate::hubspot(100, 10, Priority::Bulk));
        let bulk = (0..200).filter(|_| budget.take(0) == Take::Granted).count();
        assert_eq!(bulk, 90);
        budget.set_rate(Rate::hubspot(100, 10, Priority::Live));
        assert_eq!(
            (0..20).filter(|_| budget.take(0) == Take::Granted).count(),
            10
        );
        // Live work alone may use the whole.
        let mut budget = RateBudget::new(Rate::hubspot(5, 1, Priority::Live));
        assert_eq!(
            (0..10).filter(|_| budget.take(0) == Take::Granted).count(),
            5
        );
        assert_eq!(hubspot_live_share(1), 0, "a budget of one is not shared");
    }

    #[test]
    fn hubspot_bulk_and_live_work_together_never_pass_the_limit() {
        for (requests, seconds) in [(5, 1), (100, 10), (190, 10)] {
            // Live work asking one time in five, for a minute.
            let (bulk, live, most) = shared(requests, seconds, 5, 60_000);
            assert!(
                most <= requests as usize,
                "{most} in a window of {requests}/{seconds}s"
            );
            assert!(
                live > 0 && bulk > 0,
                "both served: bulk {bulk}, live {live}"
            );
        }
    }

    #[test]
    fn a_lower_rate_counts_what_was_granted() {
        let mut budget = RateBudget::new(Rate::per_minute(120));
        for _ in 0..50 {
            budget.take(0);
        }
        budget.set_rate(Rate::per_minute(60));
        let granted = (0..100).filter(|_| budget.take(0) == Take::Granted).count();
        assert_eq!(granted, 10);
    }
}
