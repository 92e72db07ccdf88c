//! An import run's report: what it saw, imported and skipped (and why), kept 30 days and
//! read back with the outcomes each call's own job recorded.

use super::call::outcome_prefix;
use crate::calls::SkipReason;
use crate::ports::{all_keys, Platform, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Schedule,
    Admin,
}

/// Run reports are kept this long.
const REPORT_SECONDS: u64 = 30 * 24 * 60 * 60;
/// Skipped calls listed one by one in a report (all are counted).
const SKIPS_LISTED: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Done,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skip {
    pub call_id: i64,
    pub started_at: String,
    pub reason: SkipReason,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub call_id: i64,
    pub error: String,
}

/// What a run did: answers "why was my call not imported". The run lists calls and applies
/// the rules it can from the listing; each call that passes is `queued` for its own job
/// (recording archive and delivery), whose outcome is added when the report is read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub run_id: String,
    pub trigger: Trigger,
    pub first_import: bool,
    pub status: RunStatus,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// Calls looked at (not counting those an earlier run handled).
    pub seen: u64,
    /// Calls that passed the listing's rules, handed to their own import job.
    #[serde(default)]
    pub queued: u64,
    /// Calls skipped earlier for lacking a recording, looked at again by this run.
    #[serde(default)]
    pub rechecked: u64,
    /// Delivered (queued for delivery to the destination).
    pub imported: u64,
    /// Came again after being delivered (webhook and polling): not delivered twice.
    #[serde(default)]
    pub already_imported: u64,
    /// Queued or rechecked calls whose job has not finished yet.
    #[serde(default)]
    pub pending: u64,
    /// Still without a recording; looked at again until the grace period ends.
    #[serde(default)]
    pub waiting_for_recording: u64,
    pub skipped: u64,
    pub skipped_by_reason: BTreeMap<SkipReason, u64>,
    /// The first skipped calls, each with its reason.
    pub skips: Vec<Skip>,
    /// Calls that could not be imported (e.g. the recording could not be archived).
    #[serde(default)]
    pub failures: Vec<Failure>,
    /// Aircall requests of the listing (each queued call may take one more, to refresh an
    /// expired recording link).
    pub aircall_requests: u64,
    pub error: Option<String>,
}

impl RunReport {
    pub(super) fn skip(&mut self, call_id: i64, started_at: i64, reason: SkipReason) {
        self.skipped += 1;
        *self.skipped_by_reason.entry(reason).or_default() += 1;
        if self.skips.len() < SKIPS_LISTED {
            self.skips.push(Skip {
                call_id,
                started_at: crate::time::rfc3339(started_at),
                reason,
            });
        }
    }

    /// Adds the outcomes the calls' own jobs recorded so far.
    pub async fn with_outcomes<P: Platform>(
        mut self,
        p: &P,
        integration_id: &str,
    ) -> Result<Self, StoreError> {
        if self.queued + self.rechecked == 0 {
            return Ok(self);
        }
        let prefix = outcome_prefix(integration_id, &self.run_id);
        let mut done = 0;
        for key in all_keys(p, &prefix).await? {
            let mut parts = key[prefix.len()..].split(':');
            let (Some(call_id), Some(code), Some(started_at)) = (
                parts.next().and_then(|v| v.parse::<i64>().ok()),
                parts.next(),
                parts.next().and_then(|v| v.parse::<i64>().ok()),
            ) else {
                continue;
            };
            done += 1;
            match code {
                "imported" => self.imported += 1,
                "already_imported" => self.already_imported += 1,
                "waiting" => self.waiting_for_recording += 1,
                "failed" => self.failures.push(Failure {
                    call_id,
                    error: p.get(&key).await?.unwrap_or_default(),
                }),
                other => match SkipReason::from_code(other) {
                    Some(reason) => self.skip(call_id, started_at, reason),
                    None => done -= 1,
                },
            }
        }
        self.pending = (self.queued + self.rechecked).saturating_sub(done);
        Ok(self)
    }
}

fn report_key(integration_id: &str, run_id: &str) -> String {
    crate::keys::run_key(integration_id, run_id)
}

/// Starts a run (`state` = None) or carries one on.
pub(super) async fn save_report<P: Platform>(
    p: &P,
    integration_id: &str,
    report: &RunReport,
) -> Result<(), StoreError> {
    let text = serde_json::to_string(report).expect("serializes");
    p.put(
        &report_key(integration_id, &report.run_id),
        &text,
        Some(REPORT_SECONDS),
    )
    .await
}

/// The integration's recent runs, newest first.
pub async fn recent_runs<P: Platform>(
    p: &P,
    integration_id: &str,
    limit: usize,
) -> Result<Vec<RunReport>, StoreError> {
    let mut keys = all_keys(p, &crate::keys::runs_prefix(integration_id)).await?;
    keys.sort_unstable_by(|a, b| b.cmp(a)); // run ids start with the time
    let mut runs = Vec::new();
    for key in keys.into_iter().take(limit) {
        if let Some(text) = p.get(&key).await? {
            let report: RunReport =
                serde_json::from_str(&text).map_err(|e| StoreError(format!("{key}: {e}")))?;
            runs.push(report.with_outcomes(p, integration_id).await?);
        }
    }
    Ok(runs)
}
