//! An Aircall account's rate budget: a token bucket refilled at the account's rate.
//! Aircall's limit is per company and shared with the customer's other tools, so the
//! budget lives in one place per account (the `ACCOUNT_GATE` Durable Object).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateBudget {
    /// Requests allowed per minute (Aircall documents 60 or 120).
    pub per_minute: u32,
    tokens: f64,
    updated_ms: u64,
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
    pub fn new(per_minute: u32, now_ms: u64) -> Self {
        let per_minute = per_minute.max(1);
        Self {
            per_minute,
            tokens: per_minute as f64,
            updated_ms: now_ms,
            blocked_until_ms: 0,
        }
    }

    /// Aircall answered 429 (or no requests remain) until `until_ms`: every request of the
    /// account waits, whichever integration or tool makes it. The budget starts empty then.
    pub fn block_until(&mut self, until_ms: u64) {
        self.blocked_until_ms = self.blocked_until_ms.max(until_ms);
        self.tokens = 0.0;
        self.updated_ms = self.updated_ms.max(until_ms);
    }

    /// Takes one request's token if there is one.
    pub fn take(&mut self, now_ms: u64) -> Take {
        if now_ms < self.blocked_until_ms {
            return Take::Wait(self.blocked_until_ms - now_ms);
        }
        let elapsed = now_ms.saturating_sub(self.updated_ms) as f64;
        let rate_per_ms = self.per_minute as f64 / 60_000.0;
        self.tokens = (self.tokens + elapsed * rate_per_ms).min(self.per_minute as f64);
        self.updated_ms = now_ms.max(self.updated_ms);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Take::Granted
        } else {
            Take::Wait(((1.0 - self.tokens) / rate_per_ms).ceil() as u64)
        }
    }

    /// Changes the rate (a setting), keeping what is left of the budget.
    pub fn set_rate(&mut self, per_minute: u32) {
        self.per_minute = per_minute.max(1);
        self.tokens = self.tokens.min(self.per_minute as f64);
    }
}

/// Where `ACCOUNT_GATE` keeps an integration's sync lease.
pub fn lease_key(integration_id: &str) -> String {
    format!("lease:{integration_id}")
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
    fn grants_a_minutes_worth_then_makes_callers_wait() {
        let mut budget = RateBudget::new(60, 0);
        for _ in 0..60 {
            assert_eq!(budget.take(0), Take::Granted);
        }
        assert_eq!(budget.take(0), Take::Wait(1000));
        assert_eq!(budget.take(500), Take::Wait(500));
        assert_eq!(budget.take(1000), Take::Granted);
    }

    #[test]
    fn refills_up_to_the_limit_only() {
        let mut budget = RateBudget::new(120, 0);
        for _ in 0..120 {
            budget.take(0);
        }
        let granted = (0..200)
            .filter(|_| budget.take(3_600_000) == Take::Granted)
            .count();
        assert_eq!(granted, 120);
    }

    #[test]
    fn a_block_holds_every_request_until_the_reset() {
        let mut budget = RateBudget::new(60, 0);
        budget.block_until(30_000);
        assert_eq!(budget.take(10_000), Take::Wait(20_000));
        assert_eq!(
            budget.take(30_000),
            Take::Wait(1_000),
            "then it refills from empty"
        );
        assert_eq!(budget.take(31_000), Take::Granted);
    }

    #[test]
    fn a_lower_rate_caps_what_is_left() {
        let mut budget = RateBudget::new(120, 0);
        budget.set_rate(60);
        let granted = (0..100).filter(|_| budget.take(0) == Take::Granted).count();
        assert_eq!(granted, 60);
    }
}
