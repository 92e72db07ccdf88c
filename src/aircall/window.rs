//! A span of time as Aircall's list filters take it (`from` exclusive, `to` inclusive), and
//! its splitting: Aircall refuses to page past 10,000 results, so a list holding more is read
//! window by window (calls by `started_at`, contacts by `created_at`).

use serde::{Deserialize, Serialize};

/// A span of UNIX seconds with Aircall's semantics: `from` exclusive, `to` inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub from: i64,
    pub to: i64,
}

impl Window {
    pub fn contains(&self, at: i64) -> bool {
        at > self.from && at <= self.to
    }

    /// Up to `parts` windows of equal length that together cover exactly this one, earliest
    /// first. A single second cannot be split by time: it comes back whole.
    pub fn split(&self, parts: u64) -> Vec<Window> {
        let seconds = (self.to - self.from) as u64;
        let parts = parts.clamp(1, seconds.max(1));
        (0..parts)
            .map(|i| Window {
                from: self.from + (seconds * i / parts) as i64,
                to: self.from + (seconds * (i + 1) / parts) as i64,
            })
            .collect()
    }

    /// Into how many windows to split one holding `total` results, so that each holds about
    /// 80% of `cap` if results were spread evenly (the margin spares most second splits).
    pub fn parts_for(total: u64, cap: u64) -> u64 {
        total.div_ceil(cap * 4 / 5)
    }
}
