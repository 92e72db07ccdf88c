//! Two-way contact sync between Aircall and a CRM (any [`Crm`]: HubSpot is the first): the
//! reads and writes around the pure rules of `crate::contacts` (settings, mapping, names,
//! phone numbers, fingerprints).
//!
//! - Aircall -> CRM: each `contact.created`/`contact.updated` webhook, and a pass over the
//!   Aircall contacts updated since the last one (catching missed webhooks), go to the CRM in
//!   batches: matched by link, then e-mail, then phone number, before anything is created.
//! - CRM -> Aircall: a pass (the 15-minute cron, or `POST .../contacts/sync`) reads the CRM
//!   contacts modified since its cursor and queues one job per contact, matched the same way
//!   at Aircall.
//! - Each link keeps the fingerprints of both sides as last written, so a change the
//!   connector made comes back as "unchanged" instead of being synced again (no ping-pong).

mod index;
mod jobs;
mod matching;
mod passes;
mod pull;
mod push;
mod removal;
mod update;

use crate::aircall::{AircallClient, AircallError, Window};
use crate::config::Config;
use crate::contacts::{
    fingerprint_aircall, fingerprint_crm, to_aircall, to_crm, AircallContact, ContactSync,
    CrmProperties,
};
use crate::crm::links::{self, ContactLink};
use crate::crm::{ChangeCursor, Crm, CrmError, CrmRecord};
use crate::destinations::AnyCrm;
use crate::integration::{checked, Integration, Integrations};
use crate::ports::{Platform, StoreError};
use crate::retry::{Disposition, Failure};
pub use jobs::{run_contact, run_pass};
pub use passes::{
    abandon_pass, crm_pace, pass_step, start_passes, PassesStarted, AIRCALL_REQUESTS_PER_CONTACT,
};
pub use pull::{pull_contact, Pulled};
pub use push::{on_contact_event, push_to_crm, Pushed};
pub use removal::remove_created;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SyncError {
    #[error(transparent)]
    Crm(CrmError),
    #[error(transparent)]
    Aircall(#[from] AircallError),
    #[error("{0}")]
    NotSynced(String),
    #[error(transparent)]
    Infra(#[from] crate::infra::InfraError),
}

crate::infra::carries_infra!(SyncError);

impl From<CrmError> for SyncError {
    fn from(e: CrmError) -> Self {
        match e {
            CrmError::Infra(e) => SyncError::Infra(e),
            e => SyncError::Crm(e),
        }
    }
}

impl Failure for SyncError {
    fn disposition(&self) -> Disposition {
        match self {
            SyncError::Crm(e) => e.disposition(),
            SyncError::Aircall(e) => e.disposition(),
            SyncError::Infra(e) => e.disposition(),
            SyncError::NotSynced(_) => Disposition::Permanent,
        }
    }
}

/// Which side a pass reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Aircall,
    /// The CRM; `hubspot` on queues, in keys and in the API (its first CRM).
    #[serde(rename = "hubspot")]
    Crm,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Aircall => "aircall",
            Side::Crm => "hubspot",
        }
    }
}

/// One step of a pass; an Aircall pass goes page by page, newest first, until it reaches
/// what the previous pass saw (window by window past Aircall's 10,000-result cap).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PassJob {
    pub integration_id: String,
    pub side: Side,
    #[serde(default)]
    pub page: u32,
    /// The newest `updated_at` this Aircall pass has seen (the next pass's stop).
    #[serde(default)]
    pub newest: i64,
    /// Which pass this step belongs to; it holds the side's lease (one pass at a time).
    #[serde(default)]
    pub pass_id: String,
    /// The `created_at` window this Aircall pass reads (none: every contact), and those it
    /// reads after it, the last one next: Aircall pages through at most 10,000 results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<Window>,
    /// This Aircall pass reads every contact to complete the index of Aircall's contacts.
    #[serde(default)]
    pub builds_index: bool,
}

impl crate::queue::Message for PassJob {
    const KIND: &'static str = "contact_pass";
    const QUEUE: crate::ports::QueueName = crate::ports::QueueName::Work;
}

/// One CRM contact to bring to Aircall.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactJob {
    pub integration_id: String,
    /// (`hubspot` on the queue: its first CRM.)
    #[serde(rename = "hubspot")]
    pub crm: CrmRecord,
    #[serde(default)]
    pub attempt: u32,
}

impl crate::queue::Message for ContactJob {
    const KIND: &'static str = "contact";
    const QUEUE: crate::ports::QueueName = crate::ports::QueueName::Work;
}

/// Where a pass stands, in KV under `contact-cursor:{id}:{side}` (each side its own key, so
/// the two passes never overwrite each other's).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Cursor {
    /// Where the reading of the CRM's changes stands.
    #[serde(flatten)]
    crm: ChangeCursor,
    /// Aircall contacts updated at or after this (UNIX s) are still to read: its second again,
    /// since a contact changed later in that second has the same stamp (the links'
    /// fingerprints tell an unchanged one, which costs no request).
    aircall_updated: i64,
}

fn cursor_key(integration_id: &str, side: Side) -> String {
    crate::keys::contact_cursor_key(integration_id, side.name())
}

async fn read_cursor<P: Platform>(p: &P, id: &str, side: Side) -> Result<Cursor, StoreError> {
    Ok(p.get(&cursor_key(id, side))
        .await?
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default())
}

fn problem_key(integration_id: &str, crm_id: &str) -> String {
    crate::keys::contact_problem_key(integration_id, crm_id)
}

/// The integration, when it syncs contacts with HubSpot.
async fn synced<P: Platform>(
    p: &P,
    integration_id: &str,
) -> Result<Option<(Integration, ContactSync)>, StoreError> {
    let Some(integration) = Integrations::new(p).get(integration_id).await? else {
        return Ok(None);
    };
    let active = integration.status == crate::integration::Status::Active;
    let crm = integration.destination.as_ref().is_some_and(|d| d.is_crm());
    match integration.contact_sync.clone() {
        Some(sync) if active && crm => Ok(Some((integration, sync))),
        _ => Ok(None),
    }
}

/// The integration's CRM.
fn crm_of<'a, P: Platform>(
    p: &'a P,
    config: &'a Config,
    integration: &'a Integration,
    token: &'a str,
) -> Result<AnyCrm<'a, P>, SyncError> {
    integration
        .destination
        .as_ref()
        .and_then(|d| d.crm(p, config, &integration.id, token))
        .ok_or_else(|| SyncError::NotSynced("the destination is not a CRM".into()))
}

/// What `GET /api/integrations/{id}/contacts` shows: the passes' cursors and the contacts
/// that could not be synced, with why.
pub async fn status<P: Platform>(p: &P, integration_id: &str) -> Result<Value, StoreError> {
    let hubspot = read_cursor(p, integration_id, Side::Crm).await?;
    let aircall = read_cursor(p, integration_id, Side::Aircall).await?;
    let mut problems = Vec::new();
    let prefix = crate::keys::contact_problems_prefix(integration_id);
    for key in crate::ports::all_keys(p, &prefix)
        .await?
        .into_iter()
        .take(100)
    {
        if let Some(text) = p.get(&key).await? {
            problems.push(serde_json::from_str::<Value>(&text).unwrap_or(Value::Null));
        }
    }
    let created = crate::ports::all_keys(p, &crate::keys::aircall_created_prefix(integration_id))
        .await?
        .len();
    Ok(json!({
        "hubspot_modified_since": (hubspot.crm.modified_ms > 0)
            .then(|| crate::time::rfc3339((hubspot.crm.modified_ms / 1000) as i64)),
        "aircall_updated_since": (aircall.aircall_updated > 0)
            .then(|| crate::time::rfc3339(aircall.aircall_updated)),
        "created_in_aircall": created,
        "problems": problems,
    }))
}

#[cfg(test)]
mod tests {
    use super::passes::INDEX_WAIT_SECONDS;
    use super::*;
    use crate::consumer::Job;
    use crate::ports::QueueName;
    use crate::testing::{answer, config, run, MemoryPlatform};

    #[test]
    fn a_hubspot_pass_goes_at_the_aircall_budget_s_pace() {
        // 100 new contacts cost 100 Aircall requests: 100 s at 60 a minute.
        assert_eq!(crm_pace(100, 60), 100);
        assert_eq!(crm_pace(100, 6_000), 1);
        assert_eq!(crm_pace(0, 60), 1);
        assert_eq!(crm_pace(100, 1), 6_000);
        assert_eq!(crm_pace(1_000, 1), crate::retry::MAX_DELAY_SECONDS);
    }

    /// An integration syncing contacts both ways, created through the real `create`.
    fn synced_integration(p: &MemoryPlatform) -> Integration {
        p.respond(|request| match (request.method, request.url.as_str()) {
            ("POST", "https://aircall.test/v1/webhooks") => Ok(answer(
                201,
                &[],
                r#"{"webhook":{"webhook_id":"wh-1","token":"t"}}"#,
            )),
            _ => Ok(answer(200, &[], "{}")),
        });
        let new = crate::integration::NewIntegration {
            name: "Contacts".into(),
            credentials: crate::aircall::Credentials::Basic {
                api_id: "id".into(),
                api_token: "token".into(),
            },
            destination: Some(crate::testing::destination(
                serde_json::json!({"type": "hubspot", "access_token": "pat-na1-x"}),
            )),
            events: None,
            import: Default::default(),
            numbers: None,
            contact_sync: Some(serde_json::from_value(json!({"direction": "to_aircall"})).unwrap()),
            insight_cards: None,
        };
        run(crate::lifecycle::create(p, &config(), new))
            .unwrap()
            .integration
    }

    /// HubSpot's search answers `n` contacts modified one ms apart from `from_ms`.
    fn hubspot_answers(p: &MemoryPlatform, from_ms: u64, n: u64) {
        p.respond(move |_| {
            let results: Vec<Value> = (0..n)
                .map(|k| {
                    json!({"id": (from_ms + k).to_string(),
                                "properties": {"lastmodifieddate": (from_ms + k).to_string()}})
                })
                .collect();
            Ok(answer(
                200,
                &[],
                &json!({"results": results, "total": n}).to_string(),
            ))
        });
    }

    /// What a pass step queued: contact jobs, and the next step with its delay.
    fn queued(p: &MemoryPlatform) -> (usize, Option<(PassJob, u32)>) {
        let mut contacts = 0;
        let mut next = None;
        for (_, message, delay) in p.take_sent() {
            match Job::from_message(&message).unwrap() {
                Job::Contact(_) => contacts += 1,
                Job::ContactPass(step) => next = Some((step, delay)),
                other => panic!("unexpected {other:?}"),
            }
        }
        (contacts, next)
    }

    #[test]
    fn one_hubspot_pass_at_a_time_reads_at_the_budget_s_pace() {
        let p = MemoryPlatform::default();
        p.now_ms.set(1_700_000_000_000);
        let i = synced_integration(&p);
        p.take_sent();
        let start = || run(start_passes(&p, &i.id)).unwrap();
        // Until the index of Aircall's contacts is complete, only the Aircall pass starts: it
        // starts the HubSpot pass once it has read them all.
        assert_eq!(start().passes, vec![Side::Aircall, Side::Crm]);
        let (contacts, first) = queued(&p);
        let first = first.map(|(step, _)| step.side);
        assert_eq!((contacts, first), (0, Some(Side::Aircall)));
        run(index::mark_ready(&p, &i.id)).unwrap();
        p.now_ms.set(p.now_ms.get() + 400_000); // the unfinished Aircall pass's lease ran out
        assert_eq!(start().passes, vec![Side::Aircall, Side::Crm]);
        let (_, first) = queued(&p);
        let (first, _) = first.expect("the HubSpot pass's first step");
        assert_eq!(first.side, Side::Crm);
        hubspot_answers(&p, 1_000, 100);
        run(pass_step(&p, &config(), first.clone())).unwrap();
        let (contacts, next) = queued(&p);
        let (next, delay) = next.expect("a full page: more to read");
        assert_eq!((contacts, &next.pass_id), (100, &first.pass_id));
        assert_eq!(delay, 100, "100 contacts at Aircall's 60 requests a minute");

        // The next cron, or "sync now", while the first pass waits: nothing new starts, and
        // the answer says why; a stray step of another pass reads nothing either.
        p.now_ms.set(p.now_ms.get() + 60_000);
        let again = start();
        assert!(!again.passes.contains(&Side::Crm), "{again:?}");
        assert!(again.under_way.contains(&Side::Crm), "{again:?}");
        let stray = PassJob {
            pass_id: "another".into(),
            ..first.clone()
        };
        run(pass_step(&p, &config(), stray)).unwrap();
        assert_eq!(queued(&p), (0, None));

        // The first pass goes on from its cursor and, at its end, lets the next one in.
        p.now_ms.set(p.now_ms.get() + 40_000);
        hubspot_answers(&p, 1_100, 7);
        run(pass_step(&p, &config(), next)).unwrap();
        assert_eq!(queued(&p), (7, None));
        let asked = p.requests.borrow().last().unwrap().body.clone();
        assert!(
            String::from_utf8(asked)
                .unwrap()
                .contains(r#""value":"1099""#),
            "from the cursor"
        );
        assert!(start().passes.contains(&Side::Crm));
    }

    #[test]
    fn a_hubspot_step_that_finds_the_index_incomplete_reads_nothing_and_waits() {
        let p = MemoryPlatform::default();
        let i = synced_integration(&p);
        p.take_sent();
        run(index::mark_ready(&p, &i.id)).unwrap();
        run(start_passes(&p, &i.id)).unwrap();
        let (_, step) = queued(&p);
        let (step, _) = step.expect("the HubSpot pass's first step");
        assert_eq!(step.side, Side::Crm);
        // (Queued before the index was complete, or read from a KV location behind.)
        let ready = crate::keys::aircall_index_ready_key(&i.id);
        run(crate::ports::Store::delete(&p, &ready)).unwrap();
        let requests = p.requests.borrow().len();
        run(pass_step(&p, &config(), step.clone())).unwrap();
        assert_eq!(queued(&p), (0, Some((step, INDEX_WAIT_SECONDS))));
        assert_eq!(p.requests.borrow().len(), requests, "nothing read");
    }

    #[test]
    fn a_contact_job_waits_out_aircall_s_limit_without_spending_attempts() {
        let p = MemoryPlatform::default();
        let i = synced_integration(&p);
        p.take_sent();
        // Aircall's limit is spent (by the account's other tools): 429, resetting in 30 s.
        let reset = (p.now_ms.get() / 1000 + 30).to_string();
        p.respond(move |_| Ok(answer(429, &[("x-aircallapi-reset", &reset)], "")));
        let last = config().retry.max_attempts;
        let record: CrmRecord = serde_json::from_value(json!({"id": "501", "properties": {
            "email": "jean@example.com", "phone": "+33612345678", "firstname": "Jean"}}))
        .unwrap();
        let job = Job::Contact(Box::new(ContactJob {
            integration_id: i.id.clone(),
            crm: record,
            attempt: last,
        }));
        let ack = run(crate::consumer::handle_message(
            &p,
            &config(),
            QueueName::Work,
            &job.to_message(),
        ));
        assert_eq!(ack, crate::consumer::Ack::Done);
        let sent = p.take_sent();
        let [(queue, message, delay)] = sent.as_slice() else {
            panic!("{sent:?}")
        };
        let Job::Contact(again) = Job::from_message(message).unwrap() else {
            panic!("{message}")
        };
        assert_eq!((*queue, again.attempt), (QueueName::Work, last));
        assert!((30..=35).contains(delay), "{delay}");
    }
}

#[cfg(test)]
mod cursor_tests;
