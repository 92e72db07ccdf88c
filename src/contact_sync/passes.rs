//! The passes: each side read since its cursor, one pass at a time per side, at the pace of
//! the account's Aircall budget; an Aircall pass pushes to the CRM, a CRM pass queues a job
//! per contact.

use super::*;

/// Aircall requests a new CRM contact costs: its creation (matched in the index of Aircall's
/// contacts, not searched for).
pub const AIRCALL_REQUESTS_PER_CONTACT: u32 = 1;

/// Seconds a CRM pass waits, before reading, for the first Aircall pass to finish the index
/// (without it each new contact would cost two searches more). The Aircall pass starts the
/// CRM's once the index is complete; this covers a step queued before, or a stale read.
pub(super) const INDEX_WAIT_SECONDS: u32 = 30;

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
pub(super) const LEASE_MARGIN_SECONDS: u64 = 300;

/// The gate object and lease name of an integration's passes on one side.
pub(super) fn pass_lease(integration_id: &str, side: Side) -> (String, String) {
    (
        crate::keys::contact_sync_gate(integration_id),
        crate::keys::contact_pass_lease(integration_id, side.name()),
    )
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
pub(super) async fn start_pass<P: Platform>(
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
pub(super) async fn read_aircall<P: Platform>(
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
pub(super) fn next_window(next: &mut PassJob) -> bool {
    next.page = 1;
    next.window = next.windows.pop();
    next.window.is_some()
}

/// Reads the next CRM contacts modified since the cursor, oldest first, and queues a job for
/// each; answers how many, and whether there are more.
pub(super) async fn read_crm<P: Platform>(
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
