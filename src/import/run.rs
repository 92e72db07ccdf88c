//! One import run: list calls from Aircall, apply the rules, queue a delivery per imported
//! call, move the cursor. A step reads at most [`PAGES_PER_STEP`] pages and hands over to
//! a queued continuation, so no invocation nears the free plan's 50 subrequests.

use super::{plan, CallRecord, Cursor, ImportRules, Plan, SkipReason, Window};
use crate::aircall::{AircallClient, AircallError, Call, Credentials, MAX_PER_PAGE};
use crate::config::Config;
use crate::crypto::SealError;
use crate::delivery::{Delivery, Job, Payload};
use crate::integration::{Integration, Integrations, Status};
use crate::ports::{all_keys, Platform, QueueError, QueueName, StoreError, MAX_BATCH};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

/// A continuation waits this long, so the cursor and report keys see at most a write a second.
const CONTINUE_AFTER_SECONDS: u32 = 1;
/// Pages (Aircall requests) one step reads.
pub const PAGES_PER_STEP: u32 = 8;
/// A run that stops renewing its lease (a crash) frees the integration after this.
const LEASE_SECONDS: u64 = 15 * 60;
/// Run reports are kept this long.
const REPORT_SECONDS: u64 = 30 * 24 * 60 * 60;
/// Skipped calls listed one by one in a report (all are counted).
const SKIPS_LISTED: usize = 100;
/// The event name of an imported call's delivery.
pub const IMPORTED_EVENT: &str = "call.imported";

#[derive(Debug, Error)]
pub enum ImportError {
    #[error("no integration has this id")]
    UnknownIntegration,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Seal(#[from] SealError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Schedule,
    Admin,
}

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

/// What a run did: answers "why was my call not imported".
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
    pub imported: u64,
    pub skipped: u64,
    pub skipped_by_reason: BTreeMap<SkipReason, u64>,
    /// The first skipped calls, each with its reason.
    pub skips: Vec<Skip>,
    pub aircall_requests: u64,
    pub error: Option<String>,
}

impl RunReport {
    fn skip(&mut self, call: &Call, reason: SkipReason) {
        self.skipped += 1;
        *self.skipped_by_reason.entry(reason).or_default() += 1;
        if self.skips.len() < SKIPS_LISTED {
            self.skips.push(Skip {
                call_id: call.id,
                started_at: crate::time::rfc3339(call.started_at),
                reason,
            });
        }
    }
}

/// A run between two steps: it travels in the continuation's queue message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncState {
    pub report: RunReport,
    /// Windows still to read; the last one is read next.
    pub windows: Vec<Window>,
    pub page: u32,
    pub cursor: Cursor,
    /// On a first import: how many calls it may still import.
    pub first_import_left: Option<u32>,
}

/// What a call to [`sync`] came to.
#[derive(Debug, PartialEq)]
pub enum SyncAnswer {
    /// Another run of this integration holds the lease.
    Busy,
    /// The integration is not active: nothing was asked of Aircall.
    Inactive,
    /// The report as it stands (`running` when a continuation was queued).
    Report(RunReport),
}

fn cursor_key(integration_id: &str) -> String {
    format!("cursor:{integration_id}")
}

fn report_key(integration_id: &str, run_id: &str) -> String {
    format!("run:{integration_id}:{run_id}")
}

/// Starts a run (`state` = None) or carries one on.
pub async fn sync<P: Platform>(
    p: &P,
    config: &Config,
    integration_id: &str,
    trigger: Trigger,
    state: Option<SyncState>,
) -> Result<SyncAnswer, ImportError> {
    let integration = Integrations::new(p)
        .get(integration_id)
        .await?
        .ok_or(ImportError::UnknownIntegration)?;
    if integration.status != Status::Active {
        return Ok(SyncAnswer::Inactive);
    }
    let mut state = match state {
        Some(state) => state,
        None => new_run(p, &integration, trigger).await?,
    };
    let account = &integration.aircall_account;
    if !p
        .lease(
            account,
            &integration.id,
            &state.report.run_id,
            LEASE_SECONDS,
        )
        .await?
    {
        return Ok(SyncAnswer::Busy);
    }
    let credentials: Credentials = serde_json::from_str(&config.sealer.open(
        &integration.sealed.aircall_credentials,
        &Integration::slot(&integration.id, "aircall_credentials"),
    )?)
    .map_err(|_| SealError::CannotOpen)?;
    let client = AircallClient::new(
        p,
        &config.aircall_api_base,
        &credentials,
        config.aircall_requests_per_minute,
    )
    .for_integration(&integration.id);

    let outcome = read_pages(p, &client, &integration, &mut state).await;
    let now = p.now_seconds() as i64;
    let next_in = match outcome {
        // KV takes one write a second per key: the next step saves the cursor again.
        Ok(true) => Some(CONTINUE_AFTER_SECONDS),
        Ok(false) => None,
        // Our share of the budget is spent, or Aircall said 429: carry on after the reset.
        Err(StepError::Aircall(AircallError::RateLimited {
            retry_after_seconds,
        })) => Some(retry_after_seconds.min(crate::delivery::MAX_DELAY_SECONDS as u64) as u32),
        Err(StepError::Aircall(e)) => {
            // The cursor keeps what was done: the next scheduled run goes on from there.
            state.report.error = Some(e.to_string());
            state.report.status = RunStatus::Failed;
            None
        }
        Err(StepError::Queue(e)) => return Err(e.into()),
    };
    p.put(
        &cursor_key(&integration.id),
        &serde_json::to_string(&state.cursor).expect("serializes"),
        None,
    )
    .await?;
    match next_in {
        Some(delay) => {
            save_report(p, &integration.id, &state.report).await?;
            let job = Job::Sync(SyncJob {
                integration_id: integration.id.clone(),
                trigger,
                state: Some(state.clone()),
            });
            p.send(QueueName::Jobs, &job.to_message(), delay).await?;
        }
        None => {
            if state.report.status == RunStatus::Running {
                state.report.status = RunStatus::Done;
            }
            state.report.finished_at = Some(crate::time::rfc3339(now));
            save_report(p, &integration.id, &state.report).await?;
            p.release(account, &integration.id, &state.report.run_id)
                .await?;
        }
    }
    Ok(SyncAnswer::Report(state.report))
}

/// The queue message that starts or continues a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncJob {
    pub integration_id: String,
    pub trigger: Trigger,
    pub state: Option<SyncState>,
}

async fn new_run<P: Platform>(
    p: &P,
    integration: &Integration,
    trigger: Trigger,
) -> Result<SyncState, StoreError> {
    let now_ms = p.now_ms();
    let run_id = format!(
        "{now_ms:013}-{}",
        crate::crypto::hex(&crate::crypto::random_bytes::<3>())
    );
    let cursor: Option<Cursor> = match p.get(&cursor_key(&integration.id)).await? {
        Some(text) => {
            Some(serde_json::from_str(&text).map_err(|e| StoreError(format!("cursor: {e}")))?)
        }
        None => None,
    };
    let now = (now_ms / 1000) as i64;
    let (window, first_import_left, cursor) = match plan(cursor.as_ref(), &integration.import, now)
    {
        // The newest call the first import lists sets the cursor.
        Plan::First { window, limit } => (window, Some(limit), Cursor::default()),
        Plan::Since { window } => (window, None, cursor.unwrap_or_default()),
    };
    Ok(SyncState {
        report: RunReport {
            run_id,
            trigger,
            first_import: first_import_left.is_some(),
            status: RunStatus::Running,
            started_at: crate::time::rfc3339(now),
            finished_at: None,
            seen: 0,
            imported: 0,
            skipped: 0,
            skipped_by_reason: BTreeMap::new(),
            skips: Vec::new(),
            aircall_requests: 0,
            error: None,
        },
        windows: vec![window],
        page: 1,
        cursor,
        first_import_left,
    })
}

#[derive(Debug, Error)]
enum StepError {
    #[error(transparent)]
    Aircall(#[from] AircallError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Reads up to [`PAGES_PER_STEP`] pages; `Ok(true)` when there is more to read.
async fn read_pages<P: Platform>(
    p: &P,
    client: &AircallClient<'_, P>,
    integration: &Integration,
    state: &mut SyncState,
) -> Result<bool, StepError> {
    let rules: &ImportRules = &integration.import;
    let now = p.now_seconds() as i64;
    for _ in 0..PAGES_PER_STEP {
        let Some(&window) = state.windows.last() else {
            return Ok(false);
        };
        let first_import = state.first_import_left.is_some();
        let page = client
            .list_calls(window.from, window.to, first_import, state.page)
            .await?;
        state.report.aircall_requests += 1;

        // Aircall refuses to page past 10,000 results: halve the window by time instead.
        if !first_import && state.page == 1 && !Window::fits(page.total) {
            if let Some((early, late)) = window.split() {
                state.windows.pop();
                state.windows.push(late);
                state.windows.push(early);
                continue;
            }
        }

        let mut deliveries = Vec::new();
        for call in &page.calls {
            if first_import {
                if state.first_import_left == Some(0) {
                    break;
                }
                // Newest first: the newest second seen is where later runs start.
                if call.started_at >= state.cursor.started_at
                    || state.cursor.ids_at_started_at.is_empty()
                {
                    state.cursor.advance(call);
                }
            } else if state.cursor.already_handled(call) {
                continue;
            } else {
                state.cursor.advance(call);
            }
            state.report.seen += 1;
            match rules.check(call, now) {
                Ok(()) => {
                    deliveries.push(imported_call(&integration.id, call));
                    state.report.imported += 1;
                    if let Some(left) = state.first_import_left.as_mut() {
                        *left -= 1;
                    }
                }
                Err(reason) => state.report.skip(call, reason),
            }
        }
        for batch in deliveries.chunks(MAX_BATCH) {
            p.send_batch(QueueName::Jobs, batch).await?;
        }

        let read_so_far = u64::from(state.page) * u64::from(MAX_PER_PAGE);
        let window_done = read_so_far >= page.total || page.calls.len() < MAX_PER_PAGE as usize;
        let first_import_done = state.first_import_left == Some(0)
            || (first_import && read_so_far + u64::from(MAX_PER_PAGE) > super::RESULT_CAP);
        if first_import_done {
            state.windows.clear();
        } else if window_done {
            state.windows.pop();
            state.page = 1;
        } else {
            state.page += 1;
        }
    }
    Ok(!state.windows.is_empty())
}

/// The delivery of one imported call. Its id depends on the call only, so a call imported
/// twice reaches the destination with the same idempotency key.
fn imported_call(integration_id: &str, call: &Call) -> String {
    let record = serde_json::to_value(CallRecord::of(call)).expect("serializes");
    let serde_json::Value::Object(data) = record else {
        unreachable!("a record is an object")
    };
    Job::Deliver(Delivery {
        id: Delivery::id_for(integration_id, IMPORTED_EVENT, None, &call.id.to_string()),
        integration_id: integration_id.to_string(),
        event: IMPORTED_EVENT.to_string(),
        occurred_at: call.started_at,
        payload: Payload::Inline { data },
        attempt: 1,
    })
    .to_message()
}

/// The cron: one sync job per integration, queued 100 to a request, so that one invocation
/// serves thousands of integrations with a few subrequests (the jobs skip inactive ones).
pub async fn schedule_all<P: Platform>(p: &P) -> Result<usize, ImportError> {
    let mut queued = 0;
    let mut cursor = None;
    loop {
        let (ids, next) = Integrations::new(p).ids(cursor).await?;
        let jobs: Vec<String> = ids
            .into_iter()
            .map(|integration_id| {
                Job::Sync(SyncJob {
                    integration_id,
                    trigger: Trigger::Schedule,
                    state: None,
                })
                .to_message()
            })
            .collect();
        for batch in jobs.chunks(MAX_BATCH) {
            p.send_batch(QueueName::Jobs, batch).await?;
        }
        queued += jobs.len();
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok(queued),
        }
    }
}

async fn save_report<P: Platform>(
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
    let mut keys = all_keys(p, &format!("run:{integration_id}:")).await?;
    keys.sort_unstable_by(|a, b| b.cmp(a)); // run ids start with the time
    let mut runs = Vec::new();
    for key in keys.into_iter().take(limit) {
        if let Some(text) = p.get(&key).await? {
            runs.push(serde_json::from_str(&text).map_err(|e| StoreError(format!("{key}: {e}")))?);
        }
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{aircall_calls, config, integration, run, FakeCalls, MemoryPlatform};
    use serde_json::json;
    use std::collections::HashMap;

    const NOW: i64 = 1_763_980_000;

    fn calls(ids: std::ops::Range<i64>, started_at: impl Fn(i64) -> i64) -> Vec<serde_json::Value> {
        ids.map(|id| {
            json!({"id": id, "started_at": started_at(id), "recording": format!("https://r.test/{id}.mp3"),
                   "user": {"id": 1, "email": "agent@example.com"}})
        })
        .collect()
    }

    /// Runs a whole run, step by step, as the queue would. Returns the final report and
    /// the ids of the calls it queued for delivery, in order.
    fn run_to_end(p: &MemoryPlatform, id: &str) -> (RunReport, Vec<i64>) {
        let mut answer = run(sync(p, &config(), id, Trigger::Admin, None)).unwrap();
        let mut delivered = Vec::new();
        loop {
            let SyncAnswer::Report(report) = answer else {
                panic!("{answer:?}")
            };
            let mut continuation = None;
            for (_, message, delay) in p.take_sent() {
                match serde_json::from_str(&message).unwrap() {
                    Job::Sync(job) => {
                        // The queue holds a delayed continuation back; time passes meanwhile.
                        p.now_ms.set(p.now_ms.get() + u64::from(delay) * 1000);
                        continuation = Some(job)
                    }
                    Job::Deliver(Delivery {
                        payload: Payload::Inline { data },
                        ..
                    }) => delivered.push(data["id"].as_i64().unwrap()),
                    other => panic!("unexpected {other:?}"),
                }
            }
            let Some(job) = continuation else {
                return (report, delivered);
            };
            answer = run(sync(p, &config(), id, job.trigger, job.state)).unwrap();
        }
    }

    fn setup(all: Vec<serde_json::Value>) -> (MemoryPlatform, String, FakeCalls) {
        let p = MemoryPlatform::default();
        p.now_ms.set(NOW as u64 * 1000);
        let (i, _, _) = integration(&p, None);
        let store = FakeCalls::default();
        store.add(all);
        aircall_calls(&p, store.clone());
        (p, i.id, store)
    }

    #[test]
    fn the_first_import_brings_the_200_newest_and_the_next_only_new_calls() {
        // The newest call started 1,000 s before the first run.
        let (p, id, store) = setup(calls(1..501, |id| NOW - 1_000 - 500 * 60 + id * 60));
        let (first, mut ids) = run_to_end(&p, &id);
        assert!(first.first_import && first.status == RunStatus::Done);
        assert_eq!((first.seen, first.imported), (200, 200));
        ids.sort();
        assert_eq!(ids, (301..501).collect::<Vec<_>>());

        // Listed only now: two calls sharing call 500's second, and one that started before
        // the first run's clock but after call 500.
        store.add(calls(501..503, |_| NOW - 1_000));
        store.add(calls(503..504, |_| NOW - 500));
        p.now_ms.set((NOW as u64 + 60) * 1000);
        let (second, ids) = run_to_end(&p, &id);
        assert!(!second.first_import);
        assert_eq!(ids, vec![501, 502, 503]);
        assert_eq!(second.imported, 3);

        let (third, ids) = run_to_end(&p, &id);
        assert_eq!(
            (third.imported, ids.len()),
            (0, 0),
            "a third run finds nothing new"
        );
    }

    #[test]
    fn a_25000_call_backlog_imports_completely_once_in_small_steps() {
        let (p, id, store) = setup(vec![]);
        assert_eq!(run_to_end(&p, &id).0.imported, 0); // first import: nothing yet, cursor at NOW
                                                       // 25,000 calls in the next 10 hours, several per second at the busiest.
        store.add(calls(1..25_001, |id| NOW + 1 + (id * 36_000 / 25_000)));
        p.now_ms.set((NOW as u64 + 40_000) * 1000);
        let (report, ids) = run_to_end(&p, &id);
        let unique: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(
            (ids.len(), unique.len()),
            (25_000, 25_000),
            "no gap, no duplicate"
        );
        assert_eq!(report.imported, 25_000);
        let minimum = 25_000u64.div_ceil(50);
        assert!(
            report.aircall_requests < minimum + 20,
            "{} requests",
            report.aircall_requests
        );
    }

    #[test]
    fn every_skip_has_its_reason_in_the_report() {
        let mut all = calls(1..4, |id| NOW - 100 + id);
        all[0]["recording"] = json!(null);
        all[1]["user"]["email"] = json!("someone-else@example.com");
        let (p, id, _) = setup(all);
        let mut i = run(Integrations::new(&p).get(&id)).unwrap().unwrap();
        i.import.users = vec!["AGENT@example.com".into()];
        run(Integrations::new(&p).save(&i)).unwrap();
        let (report, _) = run_to_end(&p, &id);
        assert_eq!((report.seen, report.imported, report.skipped), (3, 1, 2));
        let reasons: HashMap<i64, SkipReason> =
            report.skips.iter().map(|s| (s.call_id, s.reason)).collect();
        assert_eq!(
            reasons,
            HashMap::from([(1, SkipReason::NoRecording), (2, SkipReason::NoUserMatch)])
        );
        assert_eq!(run(recent_runs(&p, &id, 10)).unwrap().len(), 1);
    }

    #[test]
    fn one_run_at_a_time() {
        let (p, id, store) = setup(vec![]);
        run_to_end(&p, &id);
        store.add(calls(1..2_000, |id| NOW + id));
        p.now_ms.set((NOW as u64 + 3_000) * 1000);
        // The run reads 8 of its 40 pages, then its continuation holds the lease.
        let SyncAnswer::Report(report) =
            run(sync(&p, &config(), &id, Trigger::Admin, None)).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (report.status, report.aircall_requests),
            (RunStatus::Running, PAGES_PER_STEP as u64)
        );
        assert_eq!(
            run(sync(&p, &config(), &id, Trigger::Schedule, None)).unwrap(),
            SyncAnswer::Busy
        );
    }

    #[test]
    fn a_spent_budget_makes_the_run_wait_instead_of_calling_aircall() {
        let (p, id, store) = setup(vec![]);
        run_to_end(&p, &id);
        store.add(calls(1..5_000, |id| NOW + id));
        p.now_ms.set((NOW as u64 + 6_000) * 1000); // long enough for a full budget again
        p.requests.borrow_mut().clear();
        // Steps follow each other with no time passing: the minute's 60 tokens run out.
        let mut answer = run(sync(&p, &config(), &id, Trigger::Admin, None)).unwrap();
        loop {
            let SyncAnswer::Report(report) = &answer else {
                panic!()
            };
            let (job, delay) = p
                .take_sent()
                .into_iter()
                .find_map(|(_, m, delay)| match serde_json::from_str(&m) {
                    Ok(Job::Sync(job)) => Some((job, delay)),
                    _ => None,
                })
                .expect("the run goes on");
            if report.aircall_requests % u64::from(PAGES_PER_STEP) != 0 {
                assert_eq!(report.aircall_requests, 60, "a minute's worth at 60/min");
                assert_eq!(
                    p.requests.borrow().len(),
                    60,
                    "no request beyond the budget left"
                );
                assert_eq!(report.status, RunStatus::Running);
                assert!(delay >= 1, "waits for the next token");
                return;
            }
            answer = run(sync(&p, &config(), &id, job.trigger, job.state)).unwrap();
        }
    }
}
