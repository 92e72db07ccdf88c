//! One import run: list calls from Aircall, apply the rules, queue a delivery per imported
//! call, move the cursor. A step reads at most [`PAGES_PER_STEP`] pages and hands over to
//! a queued continuation, so no invocation nears the free plan's 50 subrequests.

use super::report::{save_report, RunReport, RunStatus, Trigger};
use super::ImportError;
use super::{plan, recheck, CallJob, Cursor, Origin, Plan, Window};
use crate::aircall::{AircallClient, AircallError, Call, MAX_PER_PAGE};
use crate::calls::{ImportRules, SkipReason};
use crate::config::Config;
use crate::crm::CrmError;
use crate::integration::{Integration, Integrations, Status};
use crate::ports::{Platform, StoreError};
use crate::retry::{Disposition, Failure as _};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

/// A continuation waits this long, so the cursor and report keys see at most a write a second.
const CONTINUE_AFTER_SECONDS: u32 = 1;
/// Pages (Aircall requests) one step reads. Measured natively (`npm run bench`), a page of 50
/// calls costs about 0.7 ms of CPU to read, check and queue; WebAssembly is slower, and the
/// free plan allows 10 ms per invocation: 4 pages leave room.
pub const PAGES_PER_STEP: u32 = 4;
/// A run that stops renewing its lease (a crash) frees the integration after this.
const LEASE_SECONDS: u64 = 15 * 60;
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
#[allow(clippy::large_enum_variant)] // one per sync, never stored
pub enum SyncAnswer {
    /// Another run of this integration holds the lease.
    Busy,
    /// The integration is not active: nothing was asked of Aircall.
    Inactive,
    /// The report as it stands (`running` when a continuation was queued).
    Report(RunReport),
}

fn cursor_key(integration_id: &str) -> String {
    crate::keys::cursor_key(integration_id)
}

pub async fn sync<P: Platform>(
    p: &P,
    config: &Config,
    integration_id: &str,
    trigger: Trigger,
    state: Option<SyncState>,
) -> Result<SyncAnswer, ImportError> {
    let mut integration = Integrations::new(p)
        .get(integration_id)
        .await?
        .ok_or(ImportError::UnknownIntegration)?;
    if integration.status != Status::Active {
        return Ok(SyncAnswer::Inactive);
    }
    let account = &integration.aircall_account;
    if let Some(old) = state
        .as_ref()
        .filter(|s| began_before_activation(s, &integration))
    {
        // Queued before a deactivation: carrying on would import the inactive period, which
        // reactivation leaves out. Its lease is given back; the next run starts afresh.
        p.release(account, &integration.id, &old.report.run_id)
            .await?;
        p.log(&format!(
            "dropped run {} of integration {}: it began before the integration was reactivated",
            old.report.run_id, integration.id
        ));
        return Ok(SyncAnswer::Inactive);
    }
    let mut state = match state {
        Some(state) => state,
        None => new_run(p, &integration, trigger).await?,
    };
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
    let credentials = integration.credentials(&config.sealer)?;
    let client = AircallClient::new(p, config, &credentials);

    let cap = config.aircall_result_cap;
    let outcome = match crate::import::rules_in_force(p, config, &integration).await {
        Ok(rules) => {
            integration.import = rules;
            read_pages(p, &client, &integration, cap, &mut state).await
        }
        Err(CrmError::Infra(e)) => Err(StepError::Infra(e)),
        Err(e) => Err(StepError::Crm(e)),
    };
    if let Err(StepError::Aircall(e)) = &outcome {
        crate::integration::on_aircall_error(p, config, &integration, e).await;
    }
    let now = p.now_seconds() as i64;
    let next_in = match outcome {
        // KV takes one write a second per key: the next step saves the cursor again.
        Ok(true) => Some(CONTINUE_AFTER_SECONDS),
        Ok(false) => None,
        Err(StepError::Infra(e)) => return Err(e.into()),
        Err(e) => match e.disposition() {
            // Our share of a budget is spent, or Aircall or the CRM said 429: carry on after
            // the reset.
            Disposition::Wait(seconds) => Some(seconds),
            // The cursor keeps what was done: the next scheduled run goes on from there.
            _ => {
                state.report.error = Some(e.to_string());
                state.report.status = RunStatus::Failed;
                None
            }
        },
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
            let job = SyncJob {
                integration_id: integration.id.clone(),
                trigger,
                state: Some(state.clone()),
            };
            crate::queue::send(p, &job, delay).await?;
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

/// Whether the run began before the integration's latest activation (run ids start with the
/// time the run began, in milliseconds).
fn began_before_activation(state: &SyncState, integration: &Integration) -> bool {
    let began_ms: u64 = state
        .report
        .run_id
        .get(..13)
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(0);
    integration
        .history
        .iter()
        .filter(|e| e.change == crate::integration::Change::Activated)
        .any(|e| e.at * 1000 > began_ms)
}

/// The queue message that starts or continues a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncJob {
    pub integration_id: String,
    pub trigger: Trigger,
    pub state: Option<SyncState>,
}

impl crate::queue::Message for SyncJob {
    const KIND: &'static str = "sync";
    const QUEUE: crate::ports::QueueName = crate::ports::QueueName::Work;
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
    // Calls still waiting for their recording get another look, each in its own job.
    let rechecks: Vec<CallJob> = recheck::due(p, &integration.id, now)
        .await?
        .into_iter()
        .map(|call_id| CallJob {
            integration_id: integration.id.clone(),
            call_id,
            call: None,
            read_at: now,
            origin: Origin::Recheck,
            run_id: Some(run_id.clone()),
            attempt: 1,
        })
        .collect();
    crate::queue::send_all(p, &rechecks)
        .await
        .map_err(|e| StoreError(e.to_string()))?;
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
            queued: 0,
            rechecked: rechecks.len() as u64,
            imported: 0,
            already_imported: 0,
            pending: 0,
            waiting_for_recording: 0,
            skipped: 0,
            skipped_by_reason: BTreeMap::new(),
            skips: Vec::new(),
            failures: Vec::new(),
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
    /// The CRM's users could not be read (`users_from: hubspot_owners`).
    #[error("the CRM's owners could not be read: {0}")]
    Crm(CrmError),
    #[error(transparent)]
    Infra(#[from] crate::infra::InfraError),
}

crate::infra::carries_infra!(StepError);

impl crate::retry::Failure for StepError {
    fn disposition(&self) -> Disposition {
        match self {
            StepError::Aircall(e) => e.disposition(),
            StepError::Crm(e) => e.disposition(),
            StepError::Infra(e) => e.disposition(),
        }
    }
}

/// Reads up to [`PAGES_PER_STEP`] pages; `Ok(true)` when there is more to read.
async fn read_pages<P: Platform>(
    p: &P,
    client: &AircallClient<'_, P>,
    integration: &Integration,
    result_cap: u64,
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

        // Aircall refuses to page past 10,000 results: split the window by time instead.
        if !first_import && state.page == 1 && page.total > result_cap {
            let parts = window.split(Window::parts_for(page.total, result_cap));
            if parts.len() > 1 {
                state.windows.pop();
                state.windows.extend(parts.into_iter().rev()); // the earliest is read next
                continue;
            }
        }

        let mut jobs = Vec::new();
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
                    jobs.push(call_job(&integration.id, &state.report.run_id, call, now));
                    state.report.queued += 1;
                    if let Some(left) = state.first_import_left.as_mut() {
                        *left -= 1;
                    }
                }
                Err(reason) => {
                    if reason == SkipReason::NoRecording {
                        recheck::remember(p, &integration.id, rules, call, now).await?;
                    }
                    state.report.skip(call.id, call.started_at, reason)
                }
            }
        }
        crate::queue::send_all(p, &jobs).await?;

        let read_so_far = u64::from(state.page) * u64::from(MAX_PER_PAGE);
        let window_done = read_so_far >= page.total || page.calls.len() < MAX_PER_PAGE as usize;
        let first_import_done = state.first_import_left == Some(0)
            || (first_import && read_so_far + u64::from(MAX_PER_PAGE) > result_cap);
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

/// The job of one listed call: its recording link is fresh, so it goes with it.
fn call_job(integration_id: &str, run_id: &str, call: &Call, now: i64) -> CallJob {
    CallJob {
        integration_id: integration_id.to_string(),
        call_id: call.id,
        call: Some(call.clone()),
        read_at: now,
        origin: Origin::Poll,
        run_id: Some(run_id.to_string()),
        attempt: 1,
    }
}

/// The cron: one sync job per integration, queued 100 to a request, so that one invocation
/// serves thousands of integrations with a few subrequests (the jobs skip inactive ones).
pub async fn schedule_all<P: Platform>(p: &P) -> Result<usize, ImportError> {
    let mut queued = 0;
    let mut cursor = None;
    loop {
        let (ids, next) = Integrations::new(p).ids(cursor).await?;
        let jobs: Vec<SyncJob> = ids
            .into_iter()
            .map(|integration_id| SyncJob {
                integration_id,
                trigger: Trigger::Schedule,
                state: None,
            })
            .collect();
        crate::queue::send_all(p, &jobs).await?;
        queued += jobs.len();
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok(queued),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::Job;
    use crate::delivery::{Delivery, Payload};
    use crate::import::import_call;
    use crate::import::recent_runs;
    use crate::testing::{
        aircall_calls, answer, config, integration, run, FakeCalls, MemoryPlatform,
    };
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

    /// Runs a whole run, step by step, as the queue would, call jobs included. Returns the
    /// final report (with the calls' outcomes) and the ids of the calls delivered, in order.
    fn run_to_end(p: &MemoryPlatform, id: &str) -> (RunReport, Vec<i64>) {
        let mut answer = run(sync(p, &config(), id, Trigger::Admin, None)).unwrap();
        let mut delivered = Vec::new();
        loop {
            let SyncAnswer::Report(report) = answer else {
                panic!("{answer:?}")
            };
            let mut continuation = None;
            while let Some((_, message, delay)) = p.next_sent() {
                match Job::from_message(&message).unwrap() {
                    Job::Sync(job) => continuation = Some((job, delay)),
                    Job::Import(job) => run(import_call(p, &config(), *job)).unwrap(),
                    Job::Deliver(Delivery {
                        payload: Payload::Inline { data },
                        ..
                    }) => delivered.push(data["id"].as_i64().unwrap()),
                    other => panic!("unexpected {other:?}"),
                }
            }
            let Some((job, delay)) = continuation else {
                let report = run(report.with_outcomes(p, id)).unwrap();
                return (report, delivered);
            };
            // The queue holds a delayed continuation back; time passes meanwhile.
            p.now_ms.set(p.now_ms.get() + u64::from(delay) * 1000);
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

    fn set_rules(p: &MemoryPlatform, id: &str, change: impl FnOnce(&mut ImportRules)) {
        let mut i = run(Integrations::new(p).get(id)).unwrap().unwrap();
        change(&mut i.import);
        run(Integrations::new(p).save(&i)).unwrap();
    }

    fn recording_downloads(p: &MemoryPlatform) -> Vec<String> {
        let requests = p.requests.borrow();
        let downloads = requests
            .iter()
            .filter(|r| r.url.starts_with("https://r.test/"));
        downloads
            .filter(|r| !r.headers.iter().any(|(n, _)| n == "range"))
            .map(|r| r.url.clone())
            .collect()
    }

    #[test]
    fn recordings_are_archived_and_the_record_carries_a_signed_link() {
        let (p, id, _) = setup(calls(1..3, |id| NOW - 100 + id));
        let (report, ids) = run_to_end(&p, &id);
        assert_eq!((report.imported, report.pending), (2, 0));
        assert_eq!(ids, vec![2, 1]); // first import: newest first
        let archive = p.archive.borrow();
        let stored = &archive[&crate::import::recording_key(&id, 1)];
        assert_eq!(stored.len(), crate::testing::RECORDING_BYTES);
        // The listing's link was fresh: no second read of the call before downloading.
        assert!(p
            .requests
            .borrow()
            .iter()
            .all(|r| !r.url.contains("/v1/calls/")));
    }

    #[test]
    fn a_recording_over_the_size_limit_is_skipped_without_being_downloaded() {
        let (p, id, _) = setup(calls(1..2, |id| NOW - 100 + id));
        set_rules(&p, &id, |r| {
            r.max_recording_bytes = crate::testing::RECORDING_BYTES as u64 - 1
        });
        let (report, ids) = run_to_end(&p, &id);
        assert!(ids.is_empty());
        assert_eq!(
            report.skipped_by_reason,
            BTreeMap::from([(SkipReason::RecordingTooLarge, 1)])
        );
        assert_eq!(report.skips[0].call_id, 1);
        assert!(recording_downloads(&p).is_empty(), "only the 1-byte probe");
        assert!(p.archive.borrow().is_empty());
    }

    fn assert_read_again_then_downloaded(p: &MemoryPlatform) {
        let requests = p.requests.borrow();
        let read = requests
            .iter()
            .position(|r| r.url.ends_with("/v1/calls/1?fetch_contact=true"));
        let last_probe = requests
            .iter()
            .rposition(|r| r.url.starts_with("https://r.test/"));
        assert!(
            read < last_probe,
            "the call is read again before its recording is fetched"
        );
        drop(requests);
        assert_eq!(recording_downloads(p), vec!["https://r.test/1.mp3"]);
    }

    #[test]
    fn an_expired_link_makes_the_call_read_again_for_a_new_one() {
        let (p, id, store) = setup(calls(1..2, |id| NOW - 100 + id));
        store.listed_links_expired.set(true);
        let (report, ids) = run_to_end(&p, &id);
        assert_eq!((report.imported, ids), (1, vec![1]));
        assert_read_again_then_downloaded(&p);
    }

    #[test]
    fn a_stale_listing_is_read_again_before_downloading() {
        let (p, id, _) = setup(calls(1..2, |id| NOW - 100 + id));
        run(sync(&p, &config(), &id, Trigger::Admin, None)).unwrap();
        let (_, message, _) = p.take_sent().remove(0);
        let Job::Import(job) = Job::from_message(&message).unwrap() else {
            panic!("{message}")
        };
        p.now_ms.set(p.now_ms.get() + 3_600_000); // the queue was slow: an hour later
        run(import_call(&p, &config(), *job)).unwrap();
        assert_read_again_then_downloaded(&p);
    }

    /// The call job `call.ended` queues for call 1, its payload's recording at `link`.
    fn webhook_job(p: &MemoryPlatform, id: &str, link: &str) -> crate::import::CallJob {
        let mut data = calls(1..2, |id| NOW - 100 + id).remove(0);
        data["recording"] = json!(link);
        let now = p.now_ms.get() as i64 / 1000;
        crate::import::CallJob::from_webhook(id, data.as_object().unwrap(), now).unwrap()
    }

    fn requested(p: &MemoryPlatform, host: &str) -> usize {
        let requests = p.requests.borrow();
        requests.iter().filter(|r| r.url.contains(host)).count()
    }

    #[test]
    fn a_webhook_link_outside_the_recording_hosts_is_never_fetched_the_call_is_read_instead() {
        for link in [
            "http://169.254.169.254/latest/meta-data/1.mp3",
            "https://evil.example/1.mp3",
            "http://r.test/1.mp3", // the right host, but not https
        ] {
            let (p, id, _) = setup(calls(1..2, |id| NOW - 100 + id));
            run(import_call(&p, &config(), webhook_job(&p, &id, link))).unwrap();
            assert_eq!(
                requested(&p, "169.254.169.254") + requested(&p, "evil.example"),
                0
            );
            assert!(!p
                .requests
                .borrow()
                .iter()
                .any(|r| r.url.starts_with("http://r.test")));
            assert_read_again_then_downloaded(&p);
            assert!(
                p.logs
                    .borrow()
                    .iter()
                    .any(|l| l.contains("not in RECORDING_HOSTS")),
                "{link}"
            );
        }
    }

    #[test]
    fn redirects_are_followed_only_to_the_recording_hosts() {
        let (p, id, store) = setup(calls(1..2, |id| NOW - 100 + id));
        let aircall = crate::testing::aircall_calls_answer(store);
        // The payload's link redirects within the allowed hosts: followed.
        p.respond(move |request| match request.url.as_str() {
            "https://r.test/moved.mp3" => Ok(answer(302, &[("location", "/1.mp3")], "")),
            "https://r.test/away.mp3" => Ok(answer(
                302,
                &[("location", "https://evil.example/1.mp3")],
                "",
            )),
            _ => aircall(request),
        });
        run(import_call(
            &p,
            &config(),
            webhook_job(&p, &id, "https://r.test/moved.mp3"),
        ))
        .unwrap();
        assert!(p
            .archive
            .borrow()
            .contains_key(&crate::import::recording_key(&id, 1)));
        assert_eq!(requested(&p, "/v1/calls/1"), 0, "no need to ask Aircall");

        // Redirected elsewhere: not followed; Aircall gives a fresh link instead.
        p.archive.borrow_mut().clear();
        p.kv.borrow_mut().retain(|k, _| !k.starts_with("imported:"));
        run(import_call(
            &p,
            &config(),
            webhook_job(&p, &id, "https://r.test/away.mp3"),
        ))
        .unwrap();
        assert_eq!(requested(&p, "evil.example"), 0);
        assert_eq!(requested(&p, "/v1/calls/1"), 1);
        assert!(p
            .archive
            .borrow()
            .contains_key(&crate::import::recording_key(&id, 1)));
    }

    #[test]
    fn a_link_from_aircall_itself_outside_the_recording_hosts_fails_the_call_and_says_why() {
        let mut all = calls(1..2, |id| NOW - 100 + id);
        all[0]["recording"] = json!("https://recordings.elsewhere.example/1.mp3");
        let (p, id, _) = setup(all);
        let (report, ids) = run_to_end(&p, &id);
        assert!(ids.is_empty());
        assert_eq!(requested(&p, "elsewhere.example"), 0);
        let failure = format!("{:?}", report.failures);
        assert!(
            failure.contains("recordings.elsewhere.example, which is not in RECORDING_HOSTS"),
            "{failure}"
        );
    }

    #[test]
    fn a_late_recording_is_imported_by_a_later_run_within_the_grace_period() {
        let mut all = calls(1..3, |id| NOW - 100 + id);
        for call in &mut all {
            call["recording"] = json!(null);
        }
        all[0]["answered_at"] = json!(NOW - 90); // answered: a recording may come
        let (p, id, store) = setup(all); // call 2 was missed: it never gets one
        let (first, ids) = run_to_end(&p, &id);
        assert!(ids.is_empty());
        assert_eq!(first.skipped_by_reason[&SkipReason::NoRecording], 2);

        // Fifteen minutes on, still nothing: the run says so, and finishes (nothing pending).
        p.now_ms.set(p.now_ms.get() + 16 * 60 * 1000);
        let (still, ids) = run_to_end(&p, &id);
        assert!(ids.is_empty());
        let waiting = (
            still.rechecked,
            still.waiting_for_recording,
            still.pending,
            still.skipped,
        );
        assert_eq!(waiting, (1, 1, 0, 0), "waiting, not skipped again");

        store.update(1, |c| c["recording"] = json!("https://r.test/1.mp3"));
        p.now_ms.set(p.now_ms.get() + 31 * 60 * 1000); // the next look: 30 min later
        let (later, ids) = run_to_end(&p, &id);
        assert_eq!(ids, vec![1], "looked at again, and imported");
        assert_eq!((later.rechecked, later.imported), (1, 1));
        assert!(p.kv.borrow().keys().all(|k| !k.starts_with("recheck:")));
    }

    #[test]
    fn a_call_waiting_for_its_recording_past_the_window_is_reported_too_old() {
        let mut all = calls(1..2, |_| NOW - 23 * 3600); // within a one-day window, just
        all[0]["recording"] = json!(null);
        all[0]["answered_at"] = json!(NOW - 23 * 3600 + 5);
        all[0]["ended_at"] = json!(NOW - 20 * 3600); // a long call: the grace runs from its end
        let (p, id, _) = setup(all);
        set_rules(&p, &id, |r| r.window_days = 1);
        assert_eq!(
            run_to_end(&p, &id).0.skips[0].reason,
            SkipReason::NoRecording
        );

        p.now_ms.set(p.now_ms.get() + 2 * 3600 * 1000); // looked at again two hours later
        let (later, _) = run_to_end(&p, &id);
        assert_eq!(later.rechecked, 1);
        assert_eq!(
            later.skipped_by_reason,
            BTreeMap::from([(SkipReason::TooOld, 1)])
        );
        assert!(p.kv.borrow().keys().all(|k| !k.starts_with("recheck:")));
    }

    #[test]
    fn a_call_that_comes_by_webhook_and_by_polling_is_delivered_once() {
        let (p, id, _) = setup(calls(1..2, |id| NOW - 100 + id));
        let listed = run(AircallClient::at(
            &p,
            "https://aircall.test",
            &crate::aircall::Credentials::Basic {
                api_id: "id".into(),
                api_token: "token".into(),
            },
            60,
        )
        .get_call(1))
        .unwrap();
        let data = serde_json::to_value(&listed).unwrap();
        let job = CallJob::from_webhook(&id, data.as_object().unwrap(), NOW).unwrap();
        run(import_call(&p, &config(), job)).unwrap();
        let by_webhook = p.take_sent().len();
        assert_eq!(by_webhook, 1, "the record's delivery");

        let (report, ids) = run_to_end(&p, &id);
        assert!(ids.is_empty(), "not delivered again");
        assert_eq!((report.queued, report.already_imported), (1, 1));
    }

    #[test]
    fn a_run_queued_before_a_reactivation_is_dropped_not_continued() {
        let (p, id, store) = setup(vec![]);
        run_to_end(&p, &id);
        store.add(calls(1..1_000, |id| NOW + id));
        p.now_ms.set((NOW as u64 + 2_000) * 1000);
        run(sync(&p, &config(), &id, Trigger::Admin, None)).unwrap();
        let Job::Sync(continuation) = Job::from_message(&p.take_sent().pop().unwrap().1).unwrap()
        else {
            panic!("a continuation")
        };
        // Deactivated and reactivated while the continuation waited in the queue.
        let mut i = run(Integrations::new(&p).get(&id)).unwrap().unwrap();
        p.now_ms.set(p.now_ms.get() + 5_000);
        i.record(
            p.now_ms.get() / 1000,
            crate::integration::Actor::Admin,
            crate::integration::Change::Activated,
            "",
        );
        run(Integrations::new(&p).save(&i)).unwrap();
        let answer = run(sync(
            &p,
            &config(),
            &id,
            continuation.trigger,
            continuation.state,
        ));
        assert_eq!(answer.unwrap(), SyncAnswer::Inactive);
        assert!(
            p.take_sent().is_empty(),
            "nothing more imported by the old run"
        );
        // Its lease was given back: a new run may start.
        assert!(matches!(
            run(sync(&p, &config(), &id, Trigger::Admin, None)).unwrap(),
            SyncAnswer::Report(_)
        ));
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
        // Steps follow each other with no time passing: the minute's 54 tokens for bulk work
        // run out (of 60: a tenth is kept for insight cards).
        let mut answer = run(sync(&p, &config(), &id, Trigger::Admin, None)).unwrap();
        loop {
            let SyncAnswer::Report(report) = &answer else {
                panic!()
            };
            let (job, delay) = p
                .take_sent()
                .into_iter()
                .find_map(|(_, m, delay)| match Job::from_message(&m) {
                    Ok(Job::Sync(job)) => Some((job, delay)),
                    _ => None,
                })
                .expect("the run goes on");
            if delay > CONTINUE_AFTER_SECONDS {
                assert_eq!(report.aircall_requests, 54, "bulk work's share of 60/min");
                assert_eq!(
                    p.requests.borrow().len(),
                    54,
                    "no request beyond the budget left"
                );
                assert_eq!(report.status, RunStatus::Running);
                assert!(delay >= 60, "waits for the window to free a place");
                return;
            }
            answer = run(sync(&p, &config(), &id, job.trigger, job.state)).unwrap();
        }
    }
}
