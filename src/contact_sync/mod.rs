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

#[cfg(test)]
mod cursor_tests;
mod index;
mod jobs;
mod matching;
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

/// Aircall requests a new CRM contact costs: its creation (matched in the index of Aircall's
/// contacts, not searched for).
pub const AIRCALL_REQUESTS_PER_CONTACT: u32 = 1;

/// Seconds a CRM pass waits, before reading, for the first Aircall pass to finish the index
/// (without it each new contact would cost two searches more). The Aircall pass starts the
/// CRM's once the index is complete; this covers a step queued before, or a stale read.
const INDEX_WAIT_SECONDS: u32 = 30;

/// Seconds before a CRM pass reads its next page: the time the account's Aircall budget
/// needs for the contacts just queued. Queuing faster would only leave them waiting for the
/// budget, each coming back again and again.
pub fn crm_pace(queued: usize, aircall_requests_per_minute: u32) -> u32 {
    let requests = queued as u64 * u64::from(AIRCALL_REQUESTS_PER_CONTACT);
    (requests * 60)
        .div_ceil(u64::from(aircall_requests_per_minute.max(1)))
        .clamp(1, u64::from(crate::retry::MAX_DELAY_SECONDS)) as u32
}

/// A pass holds its side's lease from step to step; a step may be late by this much.
const LEASE_MARGIN_SECONDS: u64 = 300;

/// The gate object and lease name of an integration's passes on one side.
fn pass_lease(integration_id: &str, side: Side) -> (String, String) {
    (
        crate::keys::contact_sync_gate(integration_id),
        crate::keys::contact_pass_lease(integration_id, side.name()),
    )
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

/// Which passes a start queued, and which sides already had one under way (it will see
/// every change anyway).
#[derive(Debug, Default, PartialEq, Serialize)]
pub struct PassesStarted {
    pub passes: Vec<Side>,
    pub under_way: Vec<Side>,
}

/// Queues the passes an integration's direction asks for (the cron, or an admin's "sync
/// now"), each side's unless one is under way.
pub async fn start_passes<P: Platform>(
    p: &P,
    integration_id: &str,
) -> Result<PassesStarted, SyncError> {
    let mut started = PassesStarted::default();
    let Some((_, sync)) = synced(p, integration_id).await? else {
        return Ok(started);
    };
    // The Aircall pass runs either way: towards the CRM it syncs, and it keeps the index of
    // Aircall's contacts that matches CRM contacts without a request (`index`).
    let mut sides = vec![Side::Aircall];
    if sync.direction.to_aircall() {
        sides.push(Side::Crm);
    }
    let indexed = index::ready(p, integration_id).await?;
    for side in sides {
        // Until the index is complete, the Aircall pass starts the CRM's when it is.
        let deferred = side == Side::Crm && !indexed;
        if deferred || start_pass(p, integration_id, side).await? {
            started.passes.push(side);
        } else {
            started.under_way.push(side);
        }
    }
    Ok(started)
}

/// Starts one side's pass unless one is under way; answers whether it started.
async fn start_pass<P: Platform>(
    p: &P,
    integration_id: &str,
    side: Side,
) -> Result<bool, SyncError> {
    let pass_id = crate::crypto::hex(&crate::crypto::random_bytes::<8>());
    let (gate, lease) = pass_lease(integration_id, side);
    if !p
        .lease(&gate, &lease, &pass_id, LEASE_MARGIN_SECONDS)
        .await?
    {
        return Ok(false);
    }
    let job = PassJob {
        integration_id: integration_id.to_string(),
        side,
        page: 1,
        newest: 0,
        pass_id,
        window: None,
        windows: Vec::new(),
        builds_index: false,
    };
    crate::queue::send(p, &job, 0).await?;
    Ok(true)
}

/// Gives up a pass that stopped (its next cron starts another from the cursor).
pub async fn abandon_pass<P: Platform>(p: &P, job: &PassJob) -> Result<(), StoreError> {
    let (gate, lease) = pass_lease(&job.integration_id, job.side);
    p.release(&gate, &lease, &job.pass_id).await
}

/// One step of a pass.
pub async fn pass_step<P: Platform>(p: &P, config: &Config, job: PassJob) -> Result<(), SyncError> {
    let Some((integration, sync)) = synced(p, &job.integration_id).await? else {
        return Ok(());
    };
    let token = integration
        .destination_secret(&config.sealer)
        .map_err(|e| SyncError::NotSynced(format!("the CRM's token cannot be read: {e}")))?;
    // One pass at a time per side: a paced pass outlives the 15 minutes between crons, and
    // two passes reading from one cursor would queue the same contacts twice.
    let (gate, lease) = pass_lease(&integration.id, job.side);
    if !p
        .lease(&gate, &lease, &job.pass_id, LEASE_MARGIN_SECONDS)
        .await?
    {
        p.log(&format!(
            "contact sync of integration {}: a {:?} pass is already under way",
            integration.id, job.side
        ));
        return Ok(());
    }
    let crm = crm_of(p, config, &integration, &token)?;
    let mut cursor = read_cursor(p, &integration.id, job.side).await?;
    let mut next = job.clone();
    let mut pace = 1;
    let more = match job.side {
        Side::Crm if !index::ready(p, &integration.id).await? => {
            p.log(&format!(
                "contact sync of integration {}: the HubSpot pass waits for the index of \
                 Aircall's contacts",
                integration.id
            ));
            pace = INDEX_WAIT_SECONDS;
            true
        }
        Side::Crm => {
            let (queued, more) = read_crm(p, &crm, &integration, &sync, &mut cursor).await?;
            pace = crm_pace(queued, config.aircall_requests_per_minute);
            more
        }
        Side::Aircall => {
            let more =
                read_aircall(p, config, &crm, &integration, &sync, &cursor, &mut next).await?;
            // The mark moves only once the pass is through: a later page may still be older.
            if !more {
                cursor.aircall_updated = cursor.aircall_updated.max(next.newest);
            }
            more
        }
    };
    let text = serde_json::to_string(&cursor).expect("cursors serialize");
    p.put(&cursor_key(&integration.id, job.side), &text, None)
        .await?;
    if more {
        let ttl = u64::from(pace) + LEASE_MARGIN_SECONDS;
        p.lease(&gate, &lease, &job.pass_id, ttl).await?;
        crate::queue::send(p, &next, pace).await?;
    } else {
        p.release(&gate, &lease, &job.pass_id).await?;
    }
    Ok(())
}

/// Reads the page `next` points at of the Aircall contacts updated since the cursor (every
/// contact while the pass builds the index), newest first; indexes them when the direction
/// goes to Aircall, pushes them to the CRM when it goes there; points `next` at the following
/// page. Answers whether there is one.
///
/// Aircall pages through at most its result cap (10,000), contact lists too: when more
/// contacts than that may have changed (the first pass of a large account), the pass reads
/// them window by window of `created_at` instead, each one newest-updated first.
async fn read_aircall<P: Platform>(
    p: &P,
    config: &Config,
    crm: &impl Crm,
    integration: &Integration,
    sync: &ContactSync,
    cursor: &Cursor,
    next: &mut PassJob,
) -> Result<bool, SyncError> {
    let credentials = integration
        .credentials(&config.sealer)
        .map_err(|e| SyncError::NotSynced(e.to_string()))?;
    let aircall = AircallClient::new(p, config, &credentials);
    let (page, window) = (next.page, next.window);
    // The index serves the way to Aircall only. Until it holds every contact, a pass reads
    // them all: decided at its first step, so that a pass marks it complete only if it
    // indexed every page.
    let indexing = sync.direction.to_aircall();
    if page == 1 && window.is_none() && next.windows.is_empty() {
        next.builds_index = indexing && !index::ready(p, &integration.id).await?;
    }
    let building = indexing && next.builds_index;
    let mark = if building { 0 } else { cursor.aircall_updated };
    let listed = aircall.list_contacts::<Value>(page, window).await;
    let listed = checked(p, config, integration, listed).await?;
    let contacts = listed.contacts;
    let updated = |c: &Value| c["updated_at"].as_i64().unwrap_or(i64::MAX);
    let fresh = contacts.iter().take_while(|c| updated(c) >= mark).count();
    let reached_old = fresh < contacts.len();
    let cap = config.aircall_result_cap;
    if page == 1 && listed.total > cap && !reached_old {
        let now = p.now_seconds() as i64;
        let whole = window.unwrap_or(Window { from: 0, to: now });
        let parts = whole.split(Window::parts_for(listed.total, cap));
        if parts.len() > 1 {
            next.windows.extend(parts.into_iter().rev()); // the earliest is read next
            return Ok(next_window(next));
        }
    }
    next.newest = next.newest.max(contacts.first().map_or(0, updated));
    let mut changed = Vec::new();
    for value in &contacts[..fresh] {
        let Ok(contact) = serde_json::from_value::<AircallContact>(value.clone()) else {
            continue;
        };
        if indexing {
            index::add(p, &integration.id, &contact, &sync.phone).await?;
        }
        if updated(value) >= cursor.aircall_updated {
            changed.push(contact);
        }
    }
    if sync.direction.to_crm() {
        push_to_crm(p, crm, integration, sync, changed).await?;
    }
    let per_page = crate::aircall::MAX_PER_PAGE;
    let full = contacts.len() == per_page as usize;
    let capped = u64::from(page + 1) * u64::from(per_page) > cap;
    if !reached_old && full && !capped {
        next.page = page + 1;
        return Ok(true);
    }
    if !reached_old && full {
        // Only a second holding more contacts than the cap gets here: it cannot be split.
        p.log(&format!(
            "contact sync of integration {}: more than {cap} Aircall contacts were created in \
             one second ({window:?}); those past the {cap}th are read when they change",
            integration.id
        ));
    }
    let more = next_window(next);
    if !more && building {
        index::mark_ready(p, &integration.id).await?;
        start_pass(p, &integration.id, Side::Crm).await?;
    }
    Ok(more)
}

/// Points a pass at the first page of its next window; answers whether there is one.
fn next_window(next: &mut PassJob) -> bool {
    next.page = 1;
    next.window = next.windows.pop();
    next.window.is_some()
}

/// Reads the next CRM contacts modified since the cursor, oldest first, and queues a job for
/// each; answers how many, and whether there are more.
async fn read_crm<P: Platform>(
    p: &P,
    crm: &impl Crm,
    integration: &Integration,
    sync: &ContactSync,
    cursor: &mut Cursor,
) -> Result<(usize, bool), SyncError> {
    let (records, more) = crm
        .changed_contacts(&mut cursor.crm, &sync.crm_properties())
        .await?;
    let jobs: Vec<ContactJob> = records
        .into_iter()
        .map(|record| ContactJob {
            integration_id: integration.id.clone(),
            crm: record,
            attempt: 1,
        })
        .collect();
    crate::queue::send_all(p, &jobs).await?;
    Ok((jobs.len(), more))
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

/// What happened to the contacts of one push to the CRM.
#[derive(Debug, Default, PartialEq)]
pub struct Pushed {
    pub created: usize,
    pub updated: usize,
    /// Their fields as last synced: a change the connector made, coming back.
    pub unchanged: usize,
    /// Outside the filters: left alone.
    pub filtered: usize,
}

/// Brings Aircall contacts to the CRM: matched by link, then e-mail, then phone number;
/// updated in one batch, created in another.
pub async fn push_to_crm<P: Platform>(
    p: &P,
    crm: &impl Crm,
    integration: &Integration,
    sync: &ContactSync,
    contacts: Vec<AircallContact>,
) -> Result<Pushed, SyncError> {
    let mut pushed = Pushed::default();
    // (contact, its properties, its fingerprint, the CRM id it goes to, its link)
    let mut pending = Vec::new();
    for contact in contacts {
        let Some(aircall_id) = contact.id else {
            continue;
        };
        if !sync.passes_aircall(&contact) {
            pushed.filtered += 1;
            continue;
        }
        let fingerprint = fingerprint_aircall(&contact, sync);
        let link = links::by_aircall(p, &integration.id, aircall_id).await?;
        if link
            .as_ref()
            .is_some_and(|l| l.aircall_unchanged(&fingerprint))
        {
            pushed.unchanged += 1;
            continue;
        }
        let properties = to_crm(&contact, sync);
        let target = link.as_ref().map(|l| l.crm_id.clone());
        pending.push((contact, properties, fingerprint, target, link));
    }

    // Unlinked: by e-mail, then by phone number.
    let emails: Vec<String> = pending
        .iter()
        .filter(|c| c.3.is_none())
        .filter_map(|c| c.1.get("email").map(|e| e.to_lowercase()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let by_email = match emails.is_empty() {
        true => BTreeMap::new(),
        false => crm.ids_by_email(&emails).await?,
    };
    let mut numbers: Vec<String> = Vec::new();
    for (contact, properties, _, target, _) in pending.iter_mut() {
        if target.is_none() {
            *target = properties
                .get("email")
                .and_then(|e| by_email.get(&e.to_lowercase()).cloned());
        }
        if target.is_none() {
            numbers.extend(contact.phone_numbers.iter().map(|n| n.value.clone()));
        }
    }
    let by_phone = match numbers.is_empty() {
        true => BTreeMap::new(),
        false => crm.ids_by_phone(&numbers).await?,
    };
    for (contact, _, _, target, _) in pending.iter_mut() {
        if target.is_none() {
            *target = contact
                .phone_numbers
                .iter()
                .find_map(|n| by_phone.get(&n.value).cloned());
        }
    }

    let (updates, creates): (Vec<_>, Vec<_>) = pending.into_iter().partition(|c| c.3.is_some());
    let writes: Vec<(String, CrmProperties)> = updates
        .iter()
        .map(|(_, properties, _, target, _)| {
            (target.clone().unwrap_or_default(), properties.clone())
        })
        .collect();
    if !writes.is_empty() {
        crm.update_contacts(&writes).await?;
    }
    for ((contact, properties, fingerprint, _, link), (id, _)) in updates.iter().zip(writes) {
        remember(
            p,
            sync,
            integration,
            (contact, properties, fingerprint, link),
            id,
        )
        .await?;
        pushed.updated += 1;
    }
    let new: Vec<CrmProperties> = creates.iter().map(|c| c.1.clone()).collect();
    let ids = match new.is_empty() {
        true => Vec::new(),
        false => crm.create_contacts(&new).await?,
    };
    for ((contact, properties, fingerprint, _, link), id) in creates.iter().zip(ids) {
        if let Some(id) = id {
            remember(
                p,
                sync,
                integration,
                (contact, properties, fingerprint, link),
                id,
            )
            .await?;
            pushed.created += 1;
        }
    }
    Ok(pushed)
}

/// Links a contact pushed to the CRM: what was written, its fingerprint, its earlier link.
async fn remember<P: Platform>(
    p: &P,
    sync: &ContactSync,
    integration: &Integration,
    (contact, written, aircall_fingerprint, link): (
        &AircallContact,
        &CrmProperties,
        &String,
        &Option<ContactLink>,
    ),
    crm_id: String,
) -> Result<(), StoreError> {
    let link = ContactLink {
        aircall_id: contact.id.unwrap_or_default(),
        crm_id,
        aircall_fingerprint: aircall_fingerprint.to_string(),
        crm_fingerprint: fingerprint_crm(written, sync),
        created_in_aircall: link.as_ref().is_some_and(|l| l.created_in_aircall),
        aircall_echoes: link
            .as_ref()
            .map(|l| l.aircall_echoes.clone())
            .unwrap_or_default(),
    };
    links::save(p, &integration.id, &link).await
}

/// What became of one HubSpot contact.
#[derive(Debug, PartialEq)]
pub enum Pulled {
    Created(i64),
    Updated(i64),
    Unchanged,
    Filtered,
    /// Not written (no usable phone number for a new Aircall contact...): reported.
    Refused(Vec<String>),
}

/// Brings one HubSpot contact to Aircall: matched by link, then e-mail, then normalised phone
/// number; numbers that cannot be normalised are reported and left out, never sent broken.
pub async fn pull_contact<P: Platform>(
    p: &P,
    config: &Config,
    job: &ContactJob,
) -> Result<Pulled, SyncError> {
    let Some((integration, sync)) = synced(p, &job.integration_id).await? else {
        return Ok(Pulled::Filtered);
    };
    let properties = &job.crm.properties;
    let crm_id = &job.crm.id;
    if !sync.passes_crm(properties) {
        return Ok(Pulled::Filtered);
    }
    let fingerprint = fingerprint_crm(properties, &sync);
    let link = links::by_crm(p, &integration.id, crm_id).await?;
    if link
        .as_ref()
        .is_some_and(|l| l.crm_fingerprint == fingerprint)
    {
        return Ok(Pulled::Unchanged);
    }
    let credentials = integration
        .credentials(&config.sealer)
        .map_err(|e| SyncError::NotSynced(e.to_string()))?;
    let aircall = AircallClient::new(p, config, &credentials);

    // The Aircall contact it goes to: the linked one, else one with its e-mail or a number.
    let mut current: Option<AircallContact> = None;
    if let Some(link) = &link {
        current = checked(
            p,
            config,
            &integration,
            aircall.get_contact(link.aircall_id).await,
        )
        .await?;
        if current.is_none() {
            links::forget(p, &integration.id, link).await?; // deleted in Aircall since
        }
    }
    if current.is_none() {
        current =
            matching::aircall_match(p, config, &integration, &sync, &aircall, properties).await?;
    }

    let translated = to_aircall(properties, current.as_ref(), &sync);
    let problems_key = problem_key(&integration.id, crm_id);
    if translated.problems.is_empty() {
        p.delete(&problems_key).await?;
    } else {
        report_problems(p, &problems_key, crm_id, &translated.problems).await?;
    }
    let new_fingerprint = fingerprint_aircall(&translated.contact, &sync);
    // Late webhooks of the previous write are still the connector's own.
    let mut echoes = link
        .as_ref()
        .map(|l| l.aircall_echoes.clone())
        .unwrap_or_default();
    let (saved, outcome) = match &current {
        Some(c) if fingerprint_aircall(c, &sync) == new_fingerprint => {
            (c.clone(), Pulled::Unchanged)
        }
        Some(c) => {
            let linked = link.as_ref().filter(|l| Some(l.aircall_id) == c.id);
            let wanted = &translated.contact;
            let written = update::update_aircall(
                p,
                config,
                &integration,
                &sync,
                &aircall,
                c,
                wanted,
                linked,
                crm_id,
            )
            .await?;
            echoes = written.echoes;
            let id = written.contact.id.unwrap_or_default();
            (written.contact, Pulled::Updated(id))
        }
        None if translated.contact.phone_numbers.is_empty() => {
            let mut problems = translated.problems.clone();
            problems.push("not created in Aircall: it has no phone number Aircall accepts".into());
            report_problems(p, &problems_key, crm_id, &problems).await?;
            return Ok(Pulled::Refused(problems));
        }
        None => {
            let body = contact_body(&translated.contact);
            let saved: AircallContact = checked(
                p,
                config,
                &integration,
                aircall.save_contact(None, &body).await,
            )
            .await?;
            let id = saved.id.unwrap_or_default();
            (saved, Pulled::Created(id))
        }
    };
    let link = ContactLink {
        aircall_id: saved.id.unwrap_or_default(),
        crm_id: crm_id.clone(),
        aircall_fingerprint: fingerprint_aircall(&saved, &sync),
        crm_fingerprint: fingerprint,
        created_in_aircall: matches!(outcome, Pulled::Created(_))
            || link
                .as_ref()
                .is_some_and(|l| l.created_in_aircall && Some(l.aircall_id) == saved.id),
        aircall_echoes: echoes,
    };
    links::save(p, &integration.id, &link).await?;
    if matches!(outcome, Pulled::Created(_) | Pulled::Updated(_)) {
        index::add(p, &integration.id, &saved, &sync.phone).await?;
    }
    Ok(outcome)
}

/// Keeps why a HubSpot contact could not be synced (fully), for `GET .../contacts`.
async fn report_problems<P: Platform>(
    p: &P,
    key: &str,
    crm_id: &str,
    problems: &[String],
) -> Result<(), StoreError> {
    let report = json!({
        "hubspot_id": crm_id,
        "at": crate::time::rfc3339(p.now_seconds() as i64),
        "problems": problems,
    });
    p.put(key, &report.to_string(), None).await
}

/// The body Aircall's create takes: the contact without its id.
fn contact_body(contact: &AircallContact) -> Value {
    let mut body = serde_json::to_value(contact).expect("contacts serialize");
    if let Some(map) = body.as_object_mut() {
        map.remove("id");
        map.retain(|_, v| !v.is_null());
    }
    body
}

/// An Aircall contact event for a HubSpot integration: created/updated go to HubSpot (when
/// the direction says so); deleted forgets the link (the HubSpot contact stays: Aircall
/// deleting a contact is no reason to delete a CRM record).
pub async fn on_contact_event<P: Platform>(
    p: &P,
    config: &Config,
    integration: &Integration,
    event: &str,
    data: &serde_json::Map<String, Value>,
) -> Result<Option<Pushed>, SyncError> {
    let Some(sync) = integration.contact_sync.as_ref() else {
        return Ok(None);
    };
    let contact: AircallContact = serde_json::from_value(Value::Object(data.clone()))
        .map_err(|e| SyncError::NotSynced(format!("the contact is not as documented: {e}")))?;
    let indexing = sync.direction.to_aircall();
    if event == "contact.deleted" {
        if indexing {
            index::remove(p, &integration.id, &contact, &sync.phone).await?;
        }
        if let Some(link) =
            links::by_aircall(p, &integration.id, contact.id.unwrap_or_default()).await?
        {
            links::forget(p, &integration.id, &link).await?;
        }
        return Ok(None);
    }
    if indexing {
        index::add(p, &integration.id, &contact, &sync.phone).await?;
    }
    if !sync.direction.to_crm() {
        return Ok(None);
    }
    let token = integration
        .destination_secret(&config.sealer)
        .map_err(|e| SyncError::NotSynced(format!("the CRM's token cannot be read: {e}")))?;
    let crm = crm_of(p, config, integration, &token)?;
    Ok(Some(
        push_to_crm(p, &crm, integration, sync, vec![contact]).await?,
    ))
}

/// Deletes from Aircall up to `budget` of the contacts the integration created there, and
/// only those; answers how many, and whether any are left.
pub async fn remove_created<P: Platform>(
    p: &P,
    config: &Config,
    integration: &Integration,
    budget: usize,
) -> Result<(u64, bool), SyncError> {
    let prefix = crate::keys::aircall_created_prefix(&integration.id);
    let page = p.list(&prefix, None).await?;
    let credentials = integration
        .credentials(&config.sealer)
        .map_err(|e| SyncError::NotSynced(e.to_string()))?;
    let aircall = AircallClient::new(p, config, &credentials);
    let mut removed = 0;
    for key in page.keys.iter().take(budget) {
        let Ok(id) = key[prefix.len()..].parse::<i64>() else {
            p.delete(key).await?;
            continue;
        };
        aircall.delete_contact(id).await?;
        p.delete(key).await?;
        removed += 1;
    }
    Ok((removed, page.keys.len() > budget || page.cursor.is_some()))
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
