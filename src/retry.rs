//! When to try again, and when to give up.

use crate::ports::{FetchError, HttpResponse};

/// Exponential back-off with jitter: `base * 4^(n-1)` seconds after attempt `n`, at most
/// 12 hours (the queue's longest delay). With the defaults (5 s, 10 attempts) the retries
/// wait about 5 s, 20 s, 80 s, 5 min, 21 min, 85 min, 5.7 h, 12 h, 12 h: some 31 hours in
/// all, like Svix's schedule, so a receiver that is down for a day loses nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base_seconds: u32,
    /// Attempts in all, the first one included.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base_seconds: 5,
            max_attempts: 10,
        }
    }
}

/// The longest delay a Cloudflare queue message can have.
pub const MAX_DELAY_SECONDS: u32 = 12 * 60 * 60;

impl RetryPolicy {
    pub fn gives_up_after(&self, attempt: u32) -> bool {
        attempt >= self.max_attempts
    }

    /// Seconds to wait after failed attempt `attempt` (from 1). `jitter` in [0, 1) spreads
    /// retries by +-20% so that a recovering receiver is not hit by all of them at once;
    /// a receiver's `Retry-After` is a floor.
    pub fn delay_after(&self, attempt: u32, retry_after: Option<u32>, jitter: f64) -> u32 {
        let exponent = attempt.saturating_sub(1).min(16);
        let backoff = (self.base_seconds as f64) * 4f64.powi(exponent as i32);
        let jittered = backoff * (0.8 + 0.4 * jitter.clamp(0.0, 1.0));
        let delay = (jittered.round() as u64)
            .max(retry_after.unwrap_or(0) as u64)
            .max(1);
        delay.min(MAX_DELAY_SECONDS as u64) as u32
    }
}

/// A number in [0, 1) to spread retries.
pub fn jitter() -> f64 {
    let bytes = crate::crypto::random_bytes::<4>();
    u32::from_le_bytes(bytes) as f64 / (u32::MAX as f64 + 1.0)
}

/// A wait for a rate budget, spread over a few more seconds so that the waiting ones do not
/// all come back at once.
pub fn spread(seconds: u32) -> u32 {
    (seconds + (jitter() * 5.0) as u32).clamp(1, MAX_DELAY_SECONDS)
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Delivered,
    /// Worth another try (network, timeout, 408, 429, 3xx, 5xx).
    Retry {
        reason: String,
        retry_after: Option<u32>,
    },
    /// Trying again will not help (other 4xx, e.g. 400, 401, 404, 410).
    Failed {
        reason: String,
    },
    /// A rate budget (ours, or a destination's we track) stands in the way: nothing was
    /// attempted, so it is tried again when the budget frees, and it is not an attempt.
    Wait {
        reason: String,
        seconds: u32,
    },
}

impl Outcome {
    /// What an attempt that failed with `error` came to.
    pub fn of(error: &impl Failure) -> Outcome {
        let reason = error.to_string();
        match error.disposition() {
            Disposition::Wait(seconds) => Outcome::Wait { reason, seconds },
            Disposition::Transient => Outcome::Retry {
                reason,
                retry_after: None,
            },
            Disposition::Permanent => Outcome::Failed { reason },
        }
    }
}

/// What a failure means for whoever would try again: the one reading of every error that
/// crosses a network (Aircall's, HubSpot's, and the errors that carry them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// A rate budget stands in the way for this many seconds (or, for AI data bound for a
    /// CRM, the call's own delivery that logs it): nothing was attempted, so it is tried again
    /// then, and it is not a failed attempt.
    Wait(u32),
    /// It may pass: another attempt after the back-off.
    Transient,
    /// Trying again will not help.
    Permanent,
}

impl Disposition {
    /// A wait of `seconds`, at least 1 and at most a queue's longest delay.
    pub fn wait(seconds: u64) -> Disposition {
        Disposition::Wait(seconds.clamp(1, u64::from(MAX_DELAY_SECONDS)) as u32)
    }

    /// Seconds to wait, when it is a wait.
    pub fn wait_seconds(self) -> Option<u32> {
        match self {
            Disposition::Wait(seconds) => Some(seconds),
            _ => None,
        }
    }
}

/// An error that knows what it means for a retry.
pub trait Failure: std::fmt::Display {
    fn disposition(&self) -> Disposition;
}

/// Reads a destination's answer. Only 2xx is success; a redirect is not followed.
pub fn classify(result: &Result<HttpResponse, FetchError>, now_seconds: u64) -> Outcome {
    let response = match result {
        Ok(response) => response,
        Err(e) => {
            return Outcome::Retry {
                reason: e.to_string(),
                retry_after: None,
            }
        }
    };
    let status = response.status;
    if (200..300).contains(&status) {
        return Outcome::Delivered;
    }
    let snippet: String = String::from_utf8_lossy(&response.body)
        .chars()
        .take(200)
        .collect();
    let reason = if snippet.trim().is_empty() {
        format!("the destination answered HTTP {status}")
    } else {
        format!("the destination answered HTTP {status}: {}", snippet.trim())
    };
    match status {
        408 | 429 | 300..=399 | 500..=599 => Outcome::Retry {
            reason,
            retry_after: response
                .header("retry-after")
                .and_then(|v| parse_retry_after(v, now_seconds)),
        },
        _ => Outcome::Failed { reason },
    }
}

/// `Retry-After` is either seconds or an HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`).
pub fn parse_retry_after(value: &str, now_seconds: u64) -> Option<u32> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds.min(MAX_DELAY_SECONDS as u64) as u32);
    }
    let at = parse_http_date(value)?;
    Some(at.saturating_sub(now_seconds).min(MAX_DELAY_SECONDS as u64) as u32)
}

fn parse_http_date(value: &str) -> Option<u64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parts: Vec<&str> = value.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let day: i64 = day.parse().ok()?;
    let month = MONTHS.iter().position(|m| m == month)? as i64 + 1;
    let year: i64 = year.parse().ok()?;
    let hms: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    // days from civil (inverse of time::rfc3339's algorithm)
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3600 + m * 60 + s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(
        status: u16,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Result<HttpResponse, FetchError> {
        Ok(crate::testing::answer(status, headers, body))
    }

    #[test]
    fn backs_off_exponentially_within_jitter_and_cap() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay_after(1, None, 0.5), 5);
        assert_eq!(policy.delay_after(2, None, 0.5), 20);
        assert_eq!(policy.delay_after(4, None, 0.5), 320);
        assert_eq!(policy.delay_after(3, None, 0.0), 64); // 80 - 20%
        assert_eq!(policy.delay_after(3, None, 0.999_999), 96); // 80 + 20%
        assert_eq!(policy.delay_after(9, None, 0.5), MAX_DELAY_SECONDS);
        assert_eq!(policy.delay_after(40, None, 0.5), MAX_DELAY_SECONDS);
        let total: u32 = (1..policy.max_attempts)
            .map(|n| policy.delay_after(n, None, 0.5))
            .sum();
        assert!((28 * 3600..36 * 3600).contains(&total), "{total}");
    }

    #[test]
    fn retry_after_is_a_floor() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay_after(1, Some(120), 0.5), 120);
        assert_eq!(policy.delay_after(4, Some(10), 0.5), 320);
    }

    #[test]
    fn gives_up_after_the_last_attempt() {
        let policy = RetryPolicy {
            base_seconds: 5,
            max_attempts: 3,
        };
        assert!(!policy.gives_up_after(2));
        assert!(policy.gives_up_after(3));
    }

    #[test]
    fn only_2xx_is_success() {
        assert_eq!(classify(&answer(200, &[], ""), 0), Outcome::Delivered);
        assert_eq!(classify(&answer(204, &[], ""), 0), Outcome::Delivered);
        assert!(matches!(
            classify(&answer(301, &[], ""), 0),
            Outcome::Retry { .. }
        ));
    }

    #[test]
    fn sorts_failures_into_retry_or_give_up() {
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(
                matches!(classify(&answer(status, &[], ""), 0), Outcome::Retry { .. }),
                "{status}"
            );
        }
        for status in [400, 401, 403, 404, 410, 422] {
            assert!(
                matches!(
                    classify(&answer(status, &[], ""), 0),
                    Outcome::Failed { .. }
                ),
                "{status}"
            );
        }
        let timeout = classify(&Err(FetchError::Timeout(15_000)), 0);
        assert_eq!(
            timeout,
            Outcome::Retry {
                reason: "no answer within 15000 ms".into(),
                retry_after: None
            }
        );
    }

    #[test]
    fn reasons_say_what_the_destination_said() {
        let Outcome::Failed { reason } = classify(&answer(410, &[], "endpoint disabled"), 0) else {
            panic!()
        };
        assert_eq!(
            reason,
            "the destination answered HTTP 410: endpoint disabled"
        );
    }

    #[test]
    fn honours_retry_after_in_seconds_and_dates() {
        let got = classify(&answer(429, &[("retry-after", "30")], ""), 0);
        assert_eq!(
            got,
            Outcome::Retry {
                reason: "the destination answered HTTP 429".into(),
                retry_after: Some(30)
            }
        );
        // 2015-10-21T07:28:00Z = 1445412480
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1_445_412_480 - 90),
            Some(90)
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1_445_412_480 + 5),
            Some(0)
        );
        assert_eq!(parse_retry_after("soon", 0), None);
    }
}
