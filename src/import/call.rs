//! The per-call half of an import: from a call that passed the listing's rules to a
//! delivered record, its recording archived in R2. One queue message per call keeps each
//! invocation far from the free plan's 50 subrequests: at most a fresh read of the call,
//! a size probe and the download (twice the last two when a link had expired).

use super::recheck;
use crate::ai::imported::{Transcript, Turn};
use crate::aircall::{AiKind, AircallClient, AircallError, Call};
use crate::calls::{CallRecord, ImportRules, SkipReason, IMPORTED_EVENT};
use crate::config::Config;
use crate::delivery::{Delivery, Payload};
use crate::integration::{checked, Integration, Integrations, Status};
use crate::ports::{ArchiveError, HttpRequest, Platform};
use crate::retry::jitter;
use crate::retry::{Disposition, Failure};
use serde::{Deserialize, Serialize};

use super::ImportError;

/// A recording link read this recently is used as it is. Aircall's links last an hour by
/// its reference (30 minutes by other sources); older ones are read again first.
const LINK_TRUSTED_SECONDS: i64 = 10 * 60;
/// The same for a voicemail link: a real one carried `X-Amz-Expires=600` (10 minutes).
const VOICEMAIL_LINK_TRUSTED_SECONDS: i64 = 3 * 60;
/// A call is recognised as imported for this long, whichever way it comes again.
const IMPORTED_MARK_SECONDS: u64 = 30 * 24 * 60 * 60;
/// Outcomes are kept as long as the run reports they belong to.
const OUTCOME_SECONDS: u64 = 30 * 24 * 60 * 60;

/// How the call came to be imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Listed by an import run.
    Poll,
    /// Aircall's `call.ended` webhook.
    Webhook,
    /// A call skipped for lacking a recording, looked at again.
    Recheck,
}

/// The queue message for one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallJob {
    pub integration_id: String,
    pub call_id: i64,
    /// The call as read at `read_at`; `None`: read it from Aircall first.
    pub call: Option<Call>,
    pub read_at: i64,
    pub origin: Origin,
    /// The run whose report counts this call's outcome.
    pub run_id: Option<String>,
    #[serde(default = "first")]
    pub attempt: u32,
}

impl crate::queue::Message for CallJob {
    const KIND: &'static str = "import";
    const QUEUE: crate::ports::QueueName = crate::ports::QueueName::Work;
}

impl CallJob {
    /// From `call.ended`, whose data is the call as the API shows it (links fresh); read
    /// from Aircall when it does not parse as one.
    pub fn from_webhook(
        integration_id: &str,
        data: &serde_json::Map<String, serde_json::Value>,
        now: i64,
    ) -> Option<Self> {
        let call_id = data.get("id")?.as_i64()?;
        let call = serde_json::from_value(serde_json::Value::Object(data.clone())).ok();
        Some(CallJob {
            integration_id: integration_id.to_string(),
            call_id,
            call,
            read_at: now,
            origin: Origin::Webhook,
            run_id: None,
            attempt: 1,
        })
    }
}

fn first() -> u32 {
    1
}

/// What became of one call.
#[derive(Debug, Clone, PartialEq)]
pub enum CallOutcome {
    Imported,
    /// Delivered before (by the webhook or an earlier run): not delivered again.
    AlreadyImported,
    Skipped(SkipReason),
    /// Still no recording: it will be looked at again.
    Waiting,
    Failed(String),
}

impl CallOutcome {
    /// The outcome's name in its key.
    pub fn code(&self) -> &'static str {
        match self {
            CallOutcome::Imported => "imported",
            CallOutcome::AlreadyImported => "already_imported",
            CallOutcome::Skipped(reason) => reason.code(),
            CallOutcome::Waiting => "waiting",
            CallOutcome::Failed(_) => "failed",
        }
    }
}

/// Why a call job stops before an outcome.
enum Stop {
    /// Try again in this many seconds (`counts`: as a failed attempt).
    Later {
        seconds: u32,
        counts: bool,
        why: String,
    },
    Failed(String),
}

impl Stop {
    /// A failure worth another attempt, after the usual back-off.
    fn retry(why: impl std::fmt::Display) -> Self {
        Stop::Later {
            seconds: 0,
            counts: true,
            why: why.to_string(),
        }
    }
}

impl From<AircallError> for Stop {
    fn from(e: AircallError) -> Self {
        match e.disposition() {
            // Our share of the budget, or Aircall's limit: wait for the reset, not an attempt.
            Disposition::Wait(seconds) => Stop::Later {
                seconds,
                counts: false,
                why: e.to_string(),
            },
            Disposition::Permanent => Stop::Failed(e.to_string()),
            Disposition::Transient => Stop::retry(e),
        }
    }
}

/// Where a call's archived recording lives in R2.
pub fn recording_key(integration_id: &str, call_id: i64) -> String {
    crate::keys::recording_key(integration_id, call_id)
}

/// The public path of an archived recording (signed links point at it). It ends in `.mp3`:
/// HubSpot plays only links to `.mp3` or `.wav` files.
pub fn recording_path(integration_id: &str, call_id: i64) -> String {
    format!("/recordings/{integration_id}/{call_id}.mp3")
}

fn imported_key(integration_id: &str, call_id: i64) -> String {
    crate::keys::imported_key(integration_id, call_id)
}

/// `outcome:{integration}:{run}:{call}:{code}:{started_at}`: a report reads outcomes with
/// a key listing, without reading each value (only a failure's value says why).
pub fn outcome_prefix(integration_id: &str, run_id: &str) -> String {
    crate::keys::run_outcomes_prefix(integration_id, run_id)
}

/// Runs one call job.
pub async fn import_call<P: Platform>(
    p: &P,
    config: &Config,
    job: CallJob,
) -> Result<(), ImportError> {
    let Some(integration) = Integrations::new(p).get(&job.integration_id).await? else {
        p.log(&format!(
            "dropped call {} : integration {} no longer exists",
            job.call_id, job.integration_id
        ));
        return Ok(());
    };
    if integration.status != Status::Active {
        p.log(&format!(
            "dropped call {}: integration {} is inactive",
            job.call_id, integration.id
        ));
        return Ok(());
    }
    let (outcome, started_at) = match bring(p, config, &integration, &job).await {
        Ok(done) => done,
        Err(Stop::Later {
            seconds,
            counts,
            why,
        }) if !(counts && config.retry.gives_up_after(job.attempt)) => {
            let delay = if counts {
                config
                    .retry
                    .delay_after(job.attempt, Some(seconds), jitter())
            } else {
                seconds
            };
            p.log(&format!(
                "call {} of integration {}: {why}; again in {delay} s",
                job.call_id, integration.id
            ));
            let next = CallJob {
                attempt: job.attempt + u32::from(counts),
                ..job
            };
            crate::queue::send(p, &next, delay).await?;
            return Ok(());
        }
        Err(Stop::Later { why, .. } | Stop::Failed(why)) => (
            CallOutcome::Failed(why),
            job.call.as_ref().map_or(0, |c| c.started_at),
        ),
    };
    p.log(&format!(
        "call {} of integration {}: {}",
        job.call_id,
        integration.id,
        outcome.code()
    ));
    if let Some(run_id) = &job.run_id {
        let key = format!(
            "{}{}:{}:{started_at}",
            outcome_prefix(&integration.id, run_id),
            job.call_id,
            outcome.code()
        );
        let value = match &outcome {
            CallOutcome::Failed(why) => why.clone(),
            _ => String::new(),
        };
        p.put(&key, &value, Some(OUTCOME_SECONDS)).await?;
    }
    Ok(())
}

/// With `import.ai`, a call's job reads its transcript (the read its transcription event
/// would make), so that the record links to its archived copy: one more request, which the
/// consumer prices in.
pub fn reads_transcript(integration: &Integration) -> bool {
    integration.import.imports_ai()
        && crate::selection::forwards(integration.events.as_deref(), AiKind::Transcription.event())
}

/// The call's journey; answers its outcome and when it started.
async fn bring<P: Platform>(
    p: &P,
    config: &Config,
    integration: &Integration,
    job: &CallJob,
) -> Result<(CallOutcome, i64), Stop> {
    let marker = imported_key(&integration.id, job.call_id);
    if p.get(&marker).await.map_err(Stop::retry)?.is_some() {
        recheck::forget(p, &integration.id, job.call_id)
            .await
            .map_err(Stop::retry)?;
        let started_at = job.call.as_ref().map_or(0, |c| c.started_at);
        return Ok((CallOutcome::AlreadyImported, started_at));
    }
    let credentials = integration
        .credentials(&config.sealer)
        .map_err(|e| Stop::Failed(e.to_string()))?;
    let client = AircallClient::new(p, config, &credentials);
    let now = p.now_seconds() as i64;
    let rules = &crate::import::rules_in_force(p, config, integration)
        .await
        .map_err(|e| match e.disposition() {
            Disposition::Wait(seconds) => Stop::Later {
                seconds,
                counts: false,
                why: e.to_string(),
            },
            _ => Stop::retry(format!("the CRM's owners could not be read: {e}")),
        })?;
    let reads_transcript = reads_transcript(integration);
    let probing = match reads_transcript {
        true => match crate::ai::imported::turn(p, integration)
            .await
            .map_err(Stop::retry)?
        {
            Turn::Read { probing } => probing,
            Turn::Wait => {
                return Err(Stop::Later {
                    seconds: AI_PROBE_WAIT_SECONDS,
                    counts: false,
                    why: "another call's job is asking whether Aircall serves the AI data".into(),
                })
            }
        },
        false => false,
    };
    let trusted = |call: &Call| match call.recording.as_deref() {
        Some(r) if !r.is_empty() => LINK_TRUSTED_SECONDS,
        _ => VOICEMAIL_LINK_TRUSTED_SECONDS,
    };
    let (mut call, mut fresh) = match &job.call {
        Some(call) if now - job.read_at <= trusted(call) => (call.clone(), false),
        _ => (
            checked(p, config, integration, client.get_call(job.call_id).await).await?,
            true,
        ),
    };
    let recording_url = loop {
        if let Err(reason) = rules.check(&call, now) {
            let waiting = reason == SkipReason::NoRecording
                && recheck::remember(p, &integration.id, rules, &call, now)
                    .await
                    .map_err(Stop::retry)?;
            if !waiting {
                recheck::forget(p, &integration.id, call.id)
                    .await
                    .map_err(Stop::retry)?;
            }
            let outcome = match (waiting, job.origin) {
                // A second look that still finds nothing is not news for the report.
                (true, Origin::Recheck) => CallOutcome::Waiting,
                _ => CallOutcome::Skipped(reason),
            };
            return Ok((outcome, call.started_at));
        }
        // The recording, or the voicemail standing for it.
        let Some(url) = rules.audio(&call).map(str::to_string) else {
            break None; // no recording, and none required
        };
        // Aircall signs nothing: a link in a webhook payload may point anywhere. Only links
        // to RECORDING_HOSTS are fetched; another makes the job ask Aircall for the call.
        if !config.recording_hosts.allows(&url) {
            let host = host_of(&url);
            if fresh {
                return Err(Stop::Failed(format!(
                    "Aircall's recording link points at {host}, which is not in RECORDING_HOSTS"
                )));
            }
            p.log(&format!(
                "call {} of integration {}: recording link to {host} not in RECORDING_HOSTS; reading the call from Aircall",
                call.id, integration.id
            ));
            call = checked(p, config, integration, client.get_call(job.call_id).await).await?;
            fresh = true;
            continue;
        }
        match archive(p, config, integration, rules, &call, &url).await {
            Ok(Archived::Stored) => break Some(url),
            Ok(Archived::TooLarge) => {
                return Ok((
                    CallOutcome::Skipped(SkipReason::RecordingTooLarge),
                    call.started_at,
                ))
            }
            // The link expired on the way, or redirects outside RECORDING_HOSTS: read the
            // call again for a new one, once.
            Err(ArchiveError::Source(300..=399 | 403 | 404 | 410)) if !fresh => {
                call = checked(p, config, integration, client.get_call(job.call_id).await).await?;
                fresh = true;
            }
            Err(e) => {
                return Err(Stop::retry(format!(
                    "the recording could not be archived: {e}"
                )))
            }
        }
    };

    let mut record = CallRecord::of(&call);
    // Each destination says how long its links last (HubSpot keeps the link on the
    // engagement and plays it from there: as long as the archive).
    let lifetime = integration
        .destination
        .as_ref()
        .map_or(config.recording_link_seconds, |d| {
            d.recording_link_seconds(config)
        });
    if recording_url.is_some() {
        let expires = p.now_seconds() + lifetime;
        let path = recording_path(&integration.id, call.id);
        let signature = config.links.sign(&path, expires);
        record.recording_url = Some(format!(
            "{}{path}?expires={expires}&signature={signature}",
            config.public_base_url
        ));
    }
    let transcript = match reads_transcript {
        true => crate::ai::imported::transcript(p, config, integration, call.id, lifetime, probing)
            .await
            .map_err(Stop::retry)?,
        false => Transcript::Later,
    };
    if let Transcript::Kept { link, .. } = &transcript {
        record.transcript_url = Some(link.clone());
    }
    let serde_json::Value::Object(data) = serde_json::to_value(record).expect("serializes") else {
        unreachable!("a record is an object")
    };
    let delivery = Delivery {
        // Depends on the call only: however it comes, the receiver sees one id.
        id: Delivery::id_for(&integration.id, IMPORTED_EVENT, None, &call.id.to_string()),
        integration_id: integration.id.clone(),
        event: IMPORTED_EVENT.to_string(),
        occurred_at: call.started_at,
        payload: Payload::Inline { data },
        attempt: 1,
    };
    crate::queue::send(p, &delivery, 0)
        .await
        .map_err(Stop::retry)?;
    if integration.import.imports_ai() {
        ai_events(p, integration, call.id, transcript)
            .await
            .map_err(Stop::retry)?;
    }
    p.put(&marker, "", Some(IMPORTED_MARK_SECONDS))
        .await
        .map_err(Stop::retry)?;
    recheck::forget(p, &integration.id, call.id)
        .await
        .map_err(Stop::retry)?;
    Ok((CallOutcome::Imported, call.started_at))
}

/// An imported call's AI data (`import.ai: "when_available"`): one AI event per kind the
/// integration forwards, as if Aircall had announced it, each read and delivered like one.
/// Marked `imported`: a kind the call has no data of (Aircall's 404) is skipped, not failed.
/// A little after the call, so that the call's own delivery goes first. Their ids depend on
/// the call and kind only: a call imported again brings the same. The transcript, read by
/// the call's job, goes with its event (kept in KV when too large for a queue message); none
/// goes when the call has none.
async fn ai_events<P: Platform>(
    p: &P,
    integration: &Integration,
    call_id: i64,
    transcript: Transcript,
) -> Result<(), crate::infra::InfraError> {
    let mut transcript = Some(transcript);
    for kind in AiKind::ALL {
        let event = kind.event();
        if !crate::selection::forwards(integration.events.as_deref(), event) {
            continue;
        }
        let mut data = serde_json::Map::new();
        data.insert("call_id".into(), call_id.into());
        data.insert(crate::ai::IMPORTED.into(), true.into());
        if kind == AiKind::Transcription {
            match transcript.take() {
                Some(Transcript::None) => continue,
                Some(Transcript::Kept { event_data, .. }) => data = event_data,
                Some(Transcript::Later) | None => {}
            }
        }
        let id = Delivery::id_for(&integration.id, event, None, &format!("import:{call_id}"));
        let text = serde_json::to_string(&data).expect("JSON values serialize");
        let payload = if text.len() > crate::delivery::MAX_INLINE_PAYLOAD {
            let key = Delivery::payload_key(&integration.id, &id);
            p.put(&key, &text, Some(crate::delivery::KEEP_SECONDS))
                .await?;
            Payload::Stored { key }
        } else {
            Payload::Inline { data }
        };
        let delivery = Delivery {
            id,
            integration_id: integration.id.clone(),
            event: event.to_string(),
            occurred_at: p.now_seconds() as i64,
            payload,
            attempt: 1,
        };
        crate::queue::send(p, &delivery, AI_AFTER_SECONDS).await?;
    }
    Ok(())
}

/// How long a call's job waits while another asks whether Aircall serves the AI data.
const AI_PROBE_WAIT_SECONDS: u32 = 5;

/// How long an imported call's AI events wait after it.
const AI_AFTER_SECONDS: u32 = 5;

enum Archived {
    Stored,
    TooLarge,
}

/// The host of a link, for logs and errors (never the whole link: it carries a signature).
fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "an unreadable URL".into())
}

/// Redirects followed from a recording link, each within RECORDING_HOSTS.
const MAX_REDIRECTS: u32 = 3;

/// Finds the recording's size with a one-byte ranged GET (the body of a huge file is never
/// read), applies the size rule, then streams the file into R2. Redirects are followed only
/// to RECORDING_HOSTS (a 3xx elsewhere is answered as `Source(3xx)`); the download then uses
/// the link the probe ended at, and follows none.
async fn archive<P: Platform>(
    p: &P,
    config: &Config,
    integration: &Integration,
    rules: &ImportRules,
    call: &Call,
    url: &str,
) -> Result<Archived, ArchiveError> {
    let mut url = url.to_string();
    let mut hops = 0;
    let probe = loop {
        let probe = p
            .fetch(
                HttpRequest::new("GET", &url)
                    .header("range", "bytes=0-0")
                    .headers_only(),
            )
            .await?;
        if !(300..400).contains(&probe.status) {
            break probe;
        }
        let next = probe
            .header("location")
            .and_then(|to| url::Url::parse(&url).ok()?.join(to).ok())
            .map(String::from)
            .filter(|next| hops < MAX_REDIRECTS && config.recording_hosts.allows(next));
        match next {
            Some(next) => {
                url = next;
                hops += 1;
            }
            None => return Err(ArchiveError::Source(probe.status)),
        }
    };
    let size = match probe.status {
        206 => probe
            .header("content-range")
            .and_then(|v| v.rsplit('/').next())
            .and_then(|total| total.trim().parse::<u64>().ok()),
        // A server that ignores Range answers the whole file: its length says the size.
        200 => probe
            .header("content-length")
            .and_then(|v| v.trim().parse::<u64>().ok()),
        status => return Err(ArchiveError::Source(status)),
    }
    .ok_or_else(|| ArchiveError::Store("the recording's size is not given".into()))?;
    if rules.check_size(size).is_err() {
        return Ok(Archived::TooLarge);
    }
    p.archive(
        &recording_key(&integration.id, call.id),
        HttpRequest::new("GET", url),
        size,
    )
    .await?;
    Ok(Archived::Stored)
}
