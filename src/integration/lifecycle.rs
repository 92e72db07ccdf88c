//! An integration's life after creation: reactivation, settings changes and deletion
//! (deactivation is `deactivation.rs`). Every change is recorded in its history.

use super::model::webhook_url;
use super::new::merge_import;
use super::{
    dropped, Actor, Cause, Change, Deactivation, FieldError, Integration, IntegrationPatch,
    Integrations, Status,
};
use crate::aircall::{oauth, AircallClient, AircallError, Credentials};
use crate::config::Config;
use crate::crypto::SealError;
use crate::destinations::NewDestination;
use crate::import::Cursor;
use crate::keys::{self, DROPPED_COUNTER};
use crate::ports::{all_keys, Platform, Store, StoreError};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// KV deletions one request (or queue message) makes before handing over to the queue:
/// Workers allow 1,000 KV operations per invocation, and listing takes some.
pub const KV_DELETES_PER_STEP: usize = 800;

#[derive(Debug, Error)]
pub enum LifecycleError {
    #[error("no integration has this id")]
    NotFound,
    /// The change cannot be made in the integration's present state.
    #[error("{0}")]
    Refused(String),
    /// Reactivation re-verified the credentials and Aircall still rejects them.
    #[error(
        "Aircall still rejects the credentials (HTTP {status}), so the integration stays inactive \
         ({cause}). Find the cause, give working credentials with PATCH /api/integrations/{{id}} \
         ({{\"aircall\": {{...}}}}), then activate again."
    )]
    StillRejected { status: u16, cause: String },
    #[error("some fields are invalid")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Aircall(#[from] AircallError),
    #[error(transparent)]
    Infra(#[from] crate::infra::InfraError),
}

crate::infra::carries_infra!(LifecycleError);

async fn load<S: Store>(p: &S, id: &str) -> Result<Integration, LifecycleError> {
    Integrations::new(p)
        .get(id)
        .await?
        .ok_or(LifecycleError::NotFound)
}

/// The integration's Aircall credentials, unsealed.
pub fn credentials(config: &Config, integration: &Integration) -> Result<Credentials, SealError> {
    let text = config.sealer.open(
        &integration.sealed.aircall_credentials,
        &Integration::slot(&integration.id, "aircall_credentials"),
    )?;
    serde_json::from_str(&text).map_err(|_| SealError::CannotOpen)
}

fn seal(config: &Config, id: &str, field: &str, value: &str) -> String {
    config.sealer.seal(value, &Integration::slot(id, field))
}

#[derive(Debug)]
pub struct Activated {
    pub integration: Integration,
    pub already_active: bool,
    /// Webhook events received while inactive, not forwarded.
    pub dropped: u64,
    /// Imports start again from this second (UNIX s); `None` for a first activation, whose
    /// first import looks back `window_days` as on creation.
    pub imports_from: Option<u64>,
}

/// Makes the integration active again, from now on: its cursor moves to this second, so
/// calls made while it was inactive are not imported (as Aircall's own integrations do).
/// The credentials are verified first, and the Aircall webhook registered again if it
/// is gone.
pub async fn activate<P: Platform>(
    p: &P,
    config: &Config,
    id: &str,
) -> Result<Activated, LifecycleError> {
    let mut integration = load(p, id).await?;
    if integration.status == Status::Active {
        return Ok(Activated {
            integration,
            already_active: true,
            dropped: 0,
            imports_from: None,
        });
    }
    let cause = integration.deactivation.as_ref().map(|d| d.cause);
    if cause == Some(Cause::Deleting) {
        return Err(LifecycleError::Refused(
            "the integration is being deleted".into(),
        ));
    }
    if integration.destination.is_none() {
        return Err(LifecycleError::Refused(format!(
            "the integration has no destination yet: give one with PATCH /api/integrations/{id} \
             ({{\"destination\": {{\"type\": \"webhook\", \"url\": ...}}}}), then activate it"
        )));
    }
    let mut credentials = credentials(config, &integration)?;
    let now = p.now_seconds();
    if let Err(e) = AircallClient::new(p, config, &credentials).ping().await {
        let AircallError::Rejected { status, .. } = e else {
            return Err(e.into());
        };
        let refused = || LifecycleError::StillRejected {
            status,
            cause: match &integration.deactivation {
                Some(d) => format!(
                    "deactivated by {} at {}: {}",
                    serde_json::to_value(d.by)
                        .expect("serializes")
                        .as_str()
                        .unwrap_or("?"),
                    crate::time::rfc3339(d.at as i64),
                    d.reason
                ),
                None => "inactive".into(),
            },
        };
        // Aircall's tokens do not expire; should one ever come with a refresh token, use it.
        let (
            Credentials::Bearer {
                refresh_token: Some(refresh_token),
                ..
            },
            Some(app),
        ) = (&credentials, &config.oauth)
        else {
            return Err(refused());
        };
        let fresh = oauth::refresh(
            p,
            &config.aircall_api_base,
            &app.client_id,
            &app.client_secret,
            refresh_token,
        )
        .await
        .map_err(|_| refused())?;
        AircallClient::new(p, config, &fresh)
            .ping()
            .await
            .map_err(|_| refused())?;
        credentials = fresh;
        let text = serde_json::to_string(&credentials).expect("serializes");
        integration.sealed.aircall_credentials = seal(config, id, "aircall_credentials", &text);
        integration.aircall_account = credentials.account_key();
        integration.record(
            now,
            Actor::System,
            Change::CredentialsChanged,
            "the OAuth token was refreshed",
        );
    }
    ensure_webhook(p, config, &mut integration, &credentials).await?;

    let imports_from = if was_ever_active(&integration) {
        let cursor = Cursor {
            started_at: now as i64,
            ids_at_started_at: Vec::new(),
        };
        let text = serde_json::to_string(&cursor).expect("serializes");
        p.put(&keys::cursor_key(id), &text, None).await?;
        Some(now)
    } else {
        None
    };
    let dropped = dropped(p, id).await?;
    integration.status = Status::Active;
    integration.deactivation = None;
    integration.record(
        now,
        Actor::Admin,
        Change::Activated,
        format!(
            "active again from now; {dropped} webhook event(s) received while inactive were not \
             forwarded, and calls made while inactive are not imported"
        ),
    );
    Integrations::new(p).save(&integration).await?;
    p.clear(&keys::gate_name(id), DROPPED_COUNTER).await?;
    p.log(&format!("integration {id} activated"));
    Ok(Activated {
        integration,
        already_active: false,
        dropped,
        imports_from,
    })
}

/// Whether the integration was ever active: an OAuth install is not until its first
/// activation, which then imports as a new integration does.
fn was_ever_active(integration: &Integration) -> bool {
    integration.history.is_empty()
        || integration.history.iter().any(|e| {
            e.change == Change::Activated || (e.change == Change::Created && e.by != Actor::Oauth)
        })
}

/// Registers the Aircall webhook again when Aircall no longer has it (removed after
/// `integration.deleted`, or by hand).
async fn ensure_webhook<P: Platform>(
    p: &P,
    config: &Config,
    integration: &mut Integration,
    credentials: &Credentials,
) -> Result<(), LifecycleError> {
    let aircall = AircallClient::new(p, config, credentials);
    if aircall
        .webhook_exists(&integration.aircall_webhook_id)
        .await?
    {
        return Ok(());
    }
    register_webhook(
        p,
        config,
        integration,
        &aircall,
        "Aircall no longer had its webhook",
    )
    .await
}

async fn register_webhook<P: Platform>(
    p: &P,
    config: &Config,
    integration: &mut Integration,
    aircall: &AircallClient<'_, P>,
    why: &str,
) -> Result<(), LifecycleError> {
    let webhook = aircall
        .create_webhook(
            &format!("aircall-connector: {}", integration.name),
            &webhook_url(&config.public_base_url, &integration.id),
            integration.events.as_deref(),
        )
        .await?;
    integration.sealed.webhook_token =
        seal(config, &integration.id, "webhook_token", &webhook.token);
    let now = p.now_seconds();
    integration.record(
        now,
        Actor::Admin,
        Change::WebhookRegistered,
        format!("{why}: webhook {} registered", webhook.webhook_id),
    );
    integration.aircall_webhook_id = webhook.webhook_id;
    Ok(())
}

#[derive(Debug)]
pub struct Updated {
    pub integration: Integration,
    /// A destination secret generated by this change, shown this once.
    pub destination_secret: Option<String>,
}

/// Applies a `PATCH`. New credentials are verified with Aircall before anything is kept;
/// the Aircall webhook is registered again when the events change or the credentials
/// open another account. Any error leaves the integration as it was.
pub async fn update<P: Platform>(
    p: &P,
    config: &Config,
    id: &str,
    patch: IntegrationPatch,
) -> Result<Updated, LifecycleError> {
    let mut integration = load(p, id).await?;
    if integration.deactivation.as_ref().map(|d| d.cause) == Some(Cause::Deleting) {
        return Err(LifecycleError::Refused(
            "the integration is being deleted".into(),
        ));
    }
    let import = match &patch.import {
        Some(changes) => {
            Some(merge_import(&integration.import, changes).map_err(LifecycleError::Invalid)?)
        }
        None => None,
    };
    let now = p.now_seconds();
    let current = credentials(config, &integration)?;
    let new_credentials = patch.credentials.filter(|c| *c != current);
    let events_changed = patch
        .events
        .as_ref()
        .is_some_and(|e| *e != integration.events);
    let mut changed: Vec<&str> = Vec::new();

    if let Some(name) = patch.name.filter(|n| *n != integration.name) {
        integration.name = name;
        changed.push("name");
    }
    if let Some(events) = patch.events.clone().filter(|_| events_changed) {
        integration.events = events;
        changed.push("events");
    }
    if let Some(numbers) = patch.numbers.filter(|n| *n != integration.numbers) {
        integration.numbers = numbers;
        changed.push("numbers");
    }
    if let Some(rules) = import.filter(|r| *r != integration.import) {
        integration.import = rules;
        changed.push("import");
    }
    let mut destination_secret = None;
    if let Some(NewDestination {
        destination,
        secret,
    }) = patch.destination.clone()
    {
        let same_kind = integration
            .destination
            .as_ref()
            .is_some_and(|d| d.kind() == destination.kind());
        let secret = match secret {
            Some(secret) => Some(secret),
            // The current secret stays, if it is one of this kind of destination.
            None if same_kind => None,
            // No secret of this kind yet: a new one (shown once).
            None => {
                let generated = destination.generate_secret();
                destination_secret = generated.clone();
                generated
            }
        };
        if let Some(secret) = secret {
            integration.sealed.destination_secret = seal(config, id, "destination_secret", &secret);
        }
        integration.destination = Some(destination);
        changed.push("destination");
    }

    if let Some(sync) = patch.contact_sync.clone() {
        if sync != integration.contact_sync {
            integration.contact_sync = sync;
            changed.push("contact_sync");
        }
    }
    let crm = integration.destination.as_ref().is_some_and(|d| d.is_crm());
    if let Some(problem) = super::new::users_source_problem(&integration.import, crm) {
        return Err(LifecycleError::Invalid(vec![problem]));
    }
    if integration.contact_sync.is_some() && !crm {
        return Err(LifecycleError::Invalid(vec![FieldError {
            field: "contact_sync".into(),
            message: super::new::CONTACT_SYNC_NEEDS_A_CRM.into(),
        }]));
    }
    // Aircall last: nothing above has been saved, so a refusal changes nothing.
    let credentials = new_credentials.clone().unwrap_or_else(|| current.clone());
    let aircall = AircallClient::new(p, config, &credentials);
    if new_credentials.is_some() {
        aircall.ping().await?;
    }
    let old_webhook = integration.aircall_webhook_id.clone();
    let moved_account = match &new_credentials {
        Some(_) => !aircall.webhook_exists(&old_webhook).await?,
        None => false,
    };
    if events_changed || moved_account {
        let why = if moved_account {
            "the new credentials open another Aircall account"
        } else {
            "the events changed"
        };
        register_webhook(p, config, &mut integration, &aircall, why).await?;
    }
    if let Some(credentials) = &new_credentials {
        let text = serde_json::to_string(credentials).expect("serializes");
        integration.sealed.aircall_credentials = seal(config, id, "aircall_credentials", &text);
        integration.aircall_account = credentials.account_key();
        integration.record(
            now,
            Actor::Admin,
            Change::CredentialsChanged,
            "new Aircall credentials, verified with Aircall",
        );
    }
    if !changed.is_empty() {
        integration.record(
            now,
            Actor::Admin,
            Change::SettingsChanged,
            format!("changed: {}", changed.join(", ")),
        );
    }
    let registered_again = integration.aircall_webhook_id != old_webhook;
    if let Err(e) = Integrations::new(p).save(&integration).await {
        if registered_again {
            if let Err(cleanup) = aircall
                .delete_webhook(&integration.aircall_webhook_id)
                .await
            {
                p.log(&format!(
                    "could not remove the new Aircall webhook of {id}: {cleanup}"
                ));
            }
        }
        return Err(e.into());
    }
    if registered_again {
        // The new webhook works already; the old one goes, with the credentials that own it.
        let owner = if moved_account {
            &current
        } else {
            &credentials
        };
        if let Err(e) = AircallClient::new(p, config, owner)
            .delete_webhook(&old_webhook)
            .await
        {
            p.log(&format!(
                "could not remove the old Aircall webhook {old_webhook} of {id}: {e}"
            ));
        }
    }
    Ok(Updated {
        integration,
        destination_secret,
    })
}

/// What a deletion removed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deleted {
    /// `removed`, or why it could not be.
    pub aircall_webhook: String,
    pub kv_keys: u64,
    pub recordings: u64,
    pub synced_contacts: u64,
    /// `false` when the rest of the KV keys are being deleted in the queue.
    pub finished: bool,
}

/// The queue message that carries on a large deletion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PurgeJob {
    pub integration_id: String,
}

impl crate::queue::Message for PurgeJob {
    const KIND: &'static str = "purge";
    const QUEUE: crate::ports::QueueName = crate::ports::QueueName::Work;
}

/// Deletes the integration entirely: its Aircall webhook, the contacts it synced into
/// Aircall, its archived recordings, its objects in `ACCOUNT_GATE` and every KV key of
/// [`keys::kv_prefixes`], the record last. An interrupted deletion is finished by the next.
pub async fn delete<P: Platform>(
    p: &P,
    config: &Config,
    id: &str,
) -> Result<Deleted, LifecycleError> {
    let mut integration = load(p, id).await?;
    // First stop it: webhooks are dropped and imports do nothing while it goes.
    if integration.deactivation.as_ref().map(|d| d.cause) != Some(Cause::Deleting) {
        let now = p.now_seconds();
        let reason = "being deleted";
        integration.status = Status::Inactive;
        integration.deactivation = Some(Deactivation {
            by: Actor::Admin,
            cause: Cause::Deleting,
            reason: reason.into(),
            at: now,
        });
        integration.record(now, Actor::Admin, Change::DeletionStarted, reason);
        Integrations::new(p).save(&integration).await?;
    }
    let credentials = credentials(config, &integration)?;
    let aircall_webhook = match AircallClient::new(p, config, &credentials)
        .delete_webhook(&integration.aircall_webhook_id)
        .await
    {
        Ok(()) => "removed".to_string(),
        // Credentials that no longer open the account cannot remove it; the webhook then
        // posts to an id that answers 404, and Aircall disables it.
        Err(AircallError::Rejected { status, .. }) => format!(
            "not removed: Aircall rejected the credentials (HTTP {status}); remove webhook {} \
             in Aircall's dashboard",
            integration.aircall_webhook_id
        ),
        Err(e) => return Err(e.into()),
    };
    let (synced_contacts, contacts_left) = remove_synced_contacts(p, config, &integration).await?;
    let recordings = p.delete_all(&keys::recordings_prefix(id)).await?;
    p.clear(&integration.aircall_account, &keys::import_lease(id))
        .await?;
    p.clear(&keys::gate_name(id), DROPPED_COUNTER).await?;
    // The list of created contacts is state too: it goes only once they are gone from Aircall.
    let (kv_keys, finished) = if contacts_left {
        (0, false)
    } else {
        purge_keys(p, id, KV_DELETES_PER_STEP).await?
    };
    if !finished {
        let job = PurgeJob {
            integration_id: id.to_string(),
        };
        crate::queue::send(p, &job, 1).await?;
    }
    p.log(&format!(
        "deleted integration {id}: webhook {aircall_webhook}, {kv_keys} KV keys, {recordings} recordings{}",
        if finished { "" } else { "; the rest goes on in the queue" }
    ));
    Ok(Deleted {
        aircall_webhook,
        kv_keys,
        recordings,
        synced_contacts,
        finished,
    })
}

/// Contacts deleted from Aircall per request or queue step (each is a subrequest).
const CONTACTS_PER_STEP: usize = 40;

/// Deletes from Aircall a step's worth of the contacts the integration's contact sync created
/// there (only those: contacts it merely updated stay); answers how many, and whether some
/// are left. Credentials Aircall rejects cannot delete anything: that is logged, not retried.
async fn remove_synced_contacts<P: Platform>(
    p: &P,
    config: &Config,
    integration: &Integration,
) -> Result<(u64, bool), LifecycleError> {
    use crate::contact_sync::SyncError;
    match crate::contact_sync::remove_created(p, config, integration, CONTACTS_PER_STEP).await {
        Ok(removed) => Ok(removed),
        Err(SyncError::Aircall(AircallError::RateLimited { .. })) => Ok((0, true)),
        Err(SyncError::Aircall(AircallError::Rejected { status, .. })) => {
            p.log(&format!(
                "the contacts integration {} created in Aircall cannot be deleted: Aircall rejected the credentials (HTTP {status})",
                integration.id
            ));
            Ok((0, false))
        }
        Err(SyncError::Aircall(e)) => Err(e.into()),
        Err(SyncError::Infra(e)) => Err(e.into()),
        Err(e) => Err(LifecycleError::Refused(e.to_string())),
    }
}

/// Every KV prefix of the integration's state: what its destinations keep, then its own
/// (the record last).
pub fn state_prefixes(id: &str) -> Vec<String> {
    let mut prefixes = crate::destinations::state_prefixes(id);
    prefixes.extend(keys::kv_prefixes(id));
    prefixes
}

/// Deletes up to `budget` of the integration's KV keys, in [`state_prefixes`] order;
/// answers how many and whether none is left.
pub async fn purge_keys<S: Store>(
    p: &S,
    id: &str,
    budget: usize,
) -> Result<(u64, bool), StoreError> {
    let mut deleted = 0usize;
    for prefix in state_prefixes(id) {
        for key in all_keys(p, &prefix).await? {
            if deleted == budget {
                return Ok((deleted as u64, false));
            }
            p.delete(&key).await?;
            deleted += 1;
        }
    }
    Ok((deleted as u64, true))
}

/// A queued step of a large deletion.
pub async fn purge_step<P: Platform>(
    p: &P,
    config: &Config,
    job: &PurgeJob,
) -> Result<(), LifecycleError> {
    if let Some(integration) = Integrations::new(p).get(&job.integration_id).await? {
        let (removed, left) = remove_synced_contacts(p, config, &integration).await?;
        if left {
            // Aircall's budget sets the pace: a rate-limited step removed nothing.
            let delay = if removed == 0 { 60 } else { 1 };
            crate::queue::send(p, job, delay).await?;
            return Ok(());
        }
    }
    let (deleted, finished) = purge_keys(p, &job.integration_id, KV_DELETES_PER_STEP).await?;
    if !finished {
        crate::queue::send(p, job, 1).await?;
    }
    p.log(&format!(
        "deleting integration {}: {deleted} more KV keys{}",
        job.integration_id,
        if finished { ", done" } else { "" }
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::Job;
    use crate::integration::{count_dropped, deactivate};
    use crate::ports::Gate;
    use crate::selection::NumberRef;
    use crate::testing::{answer, config, integration, run, MemoryPlatform};
    use serde_json::json;
    use std::cell::Cell;
    use std::rc::Rc;

    /// Aircall as the scripted account: `good` says whether the credentials work.
    fn aircall(p: &MemoryPlatform, good: Rc<Cell<bool>>) {
        p.respond(move |r| {
            if !good.get() && !r.url.ends_with("/oauth/token") {
                return Ok(answer(
                    401,
                    &[],
                    r#"{"troubleshoot":"Check your API ID and API token"}"#,
                ));
            }
            Ok(match (r.method, r.url.as_str()) {
                ("GET", "https://aircall.test/v1/ping") => answer(200, &[], r#"{"ping":"pong"}"#),
                ("GET", "https://aircall.test/v1/webhooks/wh-1") => answer(200, &[], "{}"),
                ("POST", "https://aircall.test/v1/webhooks") => answer(
                    201,
                    &[],
                    r#"{"webhook":{"webhook_id":"wh-2","token":"token-2"}}"#,
                ),
                ("DELETE", _) => answer(204, &[], ""),
                _ => answer(404, &[], "{}"),
            })
        });
    }

    fn stored(p: &MemoryPlatform, id: &str) -> Integration {
        run(Integrations::new(p).get(id)).unwrap().unwrap()
    }

    #[test]
    fn reactivation_moves_the_cursor_to_now_and_records_the_drops() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        aircall(&p, Rc::new(Cell::new(true)));
        let (_, changed) = run(deactivate(&p, &i.id, Actor::Admin, Cause::Admin, "holiday"))
            .unwrap()
            .unwrap();
        assert!(changed);
        let (_, again) = run(deactivate(&p, &i.id, Actor::Admin, Cause::Admin, "x"))
            .unwrap()
            .unwrap();
        assert!(!again, "deactivating twice changes nothing");
        run(count_dropped(&p, &i.id)).unwrap();
        p.now_ms.set(p.now_ms.get() + 3_600_000);

        let activated = run(activate(&p, &config(), &i.id)).unwrap();
        let now = p.now_ms.get() / 1000;
        assert_eq!((activated.dropped, activated.imports_from), (1, Some(now)));
        let cursor: Cursor =
            serde_json::from_str(&p.kv.borrow()[&keys::cursor_key(&i.id)]).unwrap();
        assert_eq!(
            cursor,
            Cursor {
                started_at: now as i64,
                ids_at_started_at: vec![]
            }
        );
        assert_eq!(
            run(dropped(&p, &i.id)).unwrap(),
            0,
            "the count starts again"
        );
        let i = stored(&p, &i.id);
        assert_eq!((i.status, i.deactivation.is_none()), (Status::Active, true));
        let changes: Vec<_> = i.history.iter().map(|e| (e.by, e.change)).collect();
        assert_eq!(
            changes,
            vec![
                (Actor::Admin, Change::Created),
                (Actor::Admin, Change::Deactivated),
                (Actor::Admin, Change::Activated)
            ]
        );
    }

    #[test]
    fn rejected_credentials_deactivate_and_block_reactivation() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        let good = Rc::new(Cell::new(false));
        aircall(&p, good.clone());
        let c = config();
        let credentials = credentials(&c, &i).unwrap();
        let refused = run(AircallClient::new(&p, &c, &credentials).ping()).unwrap_err();
        assert!(matches!(
            refused,
            AircallError::Rejected { status: 401, .. }
        ));
        run(crate::integration::on_aircall_error(&p, &c, &i, &refused));
        let d = stored(&p, &i.id).deactivation.unwrap();
        assert_eq!((d.by, d.cause), (Actor::System, Cause::CredentialsRejected));
        assert!(
            d.reason.contains("HTTP 401") && d.reason.contains("Check your API ID"),
            "{}",
            d.reason
        );

        // The admin's own deactivation does not hide the system's reason afterwards.
        run(deactivate(&p, &i.id, Actor::Admin, Cause::Admin, "x")).unwrap();
        assert_eq!(stored(&p, &i.id).deactivation.unwrap().by, Actor::System);

        let refused = run(activate(&p, &c, &i.id)).unwrap_err();
        assert!(matches!(
            refused,
            LifecycleError::StillRejected { status: 401, .. }
        ));
        assert!(
            refused.to_string().contains("deactivated by system"),
            "{refused}"
        );
        assert_eq!(stored(&p, &i.id).status, Status::Inactive);

        // New credentials that work (PATCH), then activation goes through.
        good.set(true);
        let patch =
            IntegrationPatch::parse(&json!({"aircall": {"api_id": "id", "api_token": "new"}}))
                .unwrap();
        run(update(&p, &c, &i.id, patch)).unwrap();
        assert_eq!(
            stored(&p, &i.id).status,
            Status::Inactive,
            "a PATCH does not activate"
        );
        run(activate(&p, &c, &i.id)).unwrap();
        let i = stored(&p, &i.id);
        assert_eq!(i.status, Status::Active);
        assert!(i
            .history
            .iter()
            .any(|e| e.change == Change::CredentialsChanged));
        assert_eq!(
            i.aircall_webhook_id, "wh-1",
            "same account: the webhook stays"
        );
    }

    #[test]
    fn an_invalid_or_refused_patch_changes_nothing() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        aircall(&p, Rc::new(Cell::new(false)));
        let before = p.kv.borrow().clone();
        let c = config();
        let patch = IntegrationPatch::parse(
            &json!({"name": "Renamed", "aircall": {"api_id": "id", "api_token": "bad"}}),
        )
        .unwrap();
        assert!(matches!(
            run(update(&p, &c, &i.id, patch)),
            Err(LifecycleError::Aircall(AircallError::Rejected {
                status: 401,
                ..
            }))
        ));
        let bad_import =
            IntegrationPatch::parse(&json!({"import": {"users": ["nobody"]}})).unwrap_err();
        assert_eq!(bad_import[0].field, "import.users");
        assert_eq!(*p.kv.borrow(), before);
    }

    #[test]
    fn changing_the_events_registers_the_webhook_again() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        aircall(&p, Rc::new(Cell::new(true)));
        let patch =
            IntegrationPatch::parse(&json!({"events": ["call.ended"], "name": "N"})).unwrap();
        let updated = run(update(&p, &config(), &i.id, patch))
            .unwrap()
            .integration;
        assert_eq!(updated.aircall_webhook_id, "wh-2");
        assert_eq!(updated.events, Some(vec!["call.ended".to_string()]));
        let requests: Vec<_> = p
            .requests
            .borrow()
            .iter()
            .map(|r| format!("{} {}", r.method, r.url))
            .collect();
        assert_eq!(
            requests,
            vec![
                "POST https://aircall.test/v1/webhooks",
                "DELETE https://aircall.test/v1/webhooks/wh-1"
            ]
        );
    }

    #[test]
    fn a_patch_sets_and_clears_the_number_filter_without_asking_aircall() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        let c = config();
        let patch = IntegrationPatch::parse(&json!({"numbers": [789, "+33 1 76 36 06 95"]}));
        let updated = run(update(&p, &c, &i.id, patch.unwrap())).unwrap();
        assert_eq!(
            updated.integration.numbers,
            Some(vec![
                NumberRef::Id(789),
                NumberRef::Digits("+33176360695".into())
            ])
        );
        let last = updated.integration.history.last().unwrap();
        assert_eq!(
            (last.change, last.reason.as_str()),
            (Change::SettingsChanged, "changed: numbers")
        );
        let patch = IntegrationPatch::parse(&json!({"numbers": null})).unwrap();
        let cleared = run(update(&p, &c, &i.id, patch)).unwrap().integration;
        assert_eq!(cleared.numbers, None);
        assert!(p.requests.borrow().is_empty(), "numbers are ours alone");
        let bad = IntegrationPatch::parse(&json!({"numbers": ["abc"]})).unwrap_err();
        assert_eq!(bad[0].field, "numbers[0]");
    }

    #[test]
    fn delete_removes_every_key_recording_and_lease_and_a_second_one_finds_nothing() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        let (other, _, _) = integration(&p, None);
        aircall(&p, Rc::new(Cell::new(true)));
        for prefix in state_prefixes(&i.id)
            .iter()
            .chain(state_prefixes(&other.id).iter())
        {
            p.kv.borrow_mut()
                .entry(format!("{prefix}x"))
                .or_insert_with(|| "1".into());
        }
        p.archive
            .borrow_mut()
            .insert(format!("recordings/{}/1.mp3", i.id), vec![1]);
        p.archive
            .borrow_mut()
            .insert(format!("recordings/{}/1.mp3", other.id), vec![1]);
        run(p.lease("acct", &i.id, "run-1", 900)).unwrap();
        run(count_dropped(&p, &i.id)).unwrap();

        let deleted = run(delete(&p, &config(), &i.id)).unwrap();
        assert_eq!(deleted.aircall_webhook, "removed");
        assert_eq!((deleted.recordings, deleted.finished), (1, true));
        assert!(
            p.kv.borrow().keys().all(|k| !k.contains(&i.id)),
            "{:?}",
            p.kv.borrow().keys()
        );
        // One key under each prefix, and the record itself; the `aircall-created:` entry
        // (not a contact id) went with the contacts' removal.
        assert_eq!(deleted.kv_keys as usize, state_prefixes(&i.id).len());
        let others =
            p.kv.borrow()
                .keys()
                .filter(|k| k.contains(&other.id))
                .count();
        assert_eq!(
            others,
            state_prefixes(&other.id).len() + 1,
            "the other one keeps all"
        );
        assert_eq!(p.archive.borrow().len(), 1);
        assert!(
            p.leases.borrow().get(&i.id).is_none(),
            "the lease is released"
        );
        assert!(p
            .counters
            .borrow()
            .keys()
            .all(|(name, _)| !name.contains(&i.id)));
        assert!(matches!(
            run(delete(&p, &config(), &i.id)),
            Err(LifecycleError::NotFound)
        ));
    }

    #[test]
    fn a_large_deletion_goes_on_in_the_queue_and_the_record_goes_last() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        aircall(&p, Rc::new(Cell::new(true)));
        for n in 0..(KV_DELETES_PER_STEP + 50) {
            p.kv.borrow_mut()
                .insert(format!("run:{}:{n:05}", i.id), "r".into());
        }
        let deleted = run(delete(&p, &config(), &i.id)).unwrap();
        assert_eq!(
            (deleted.kv_keys as usize, deleted.finished),
            (KV_DELETES_PER_STEP, false)
        );
        let record = stored(&p, &i.id);
        assert_eq!(record.deactivation.unwrap().cause, Cause::Deleting);
        let (_, message, _) = p.take_sent().remove(0);
        let Job::Purge(job) = Job::from_message(&message).unwrap() else {
            panic!()
        };
        run(purge_step(&p, &config(), &job)).unwrap();
        assert!(p.kv.borrow().keys().all(|k| !k.contains(&i.id)));
        assert!(p.take_sent().is_empty(), "done");
    }

    #[test]
    fn an_oauth_install_imports_like_a_new_integration_on_its_first_activation() {
        let p = MemoryPlatform::default();
        let (mut i, _, _) = integration(&p, None);
        // As `create_as` leaves an OAuth install: no destination, never active.
        i.destination = None;
        i.sealed.destination_secret = String::new();
        i.status = Status::Inactive;
        i.history = vec![];
        i.record(1, Actor::Oauth, Change::Created, "installed");
        i.deactivation = Some(Deactivation {
            by: Actor::Oauth,
            cause: Cause::AwaitingDestination,
            reason: "awaiting".into(),
            at: 1,
        });
        run(Integrations::new(&p).save(&i)).unwrap();
        aircall(&p, Rc::new(Cell::new(true)));
        let c = config();
        assert!(matches!(
            run(activate(&p, &c, &i.id)),
            Err(LifecycleError::Refused(_))
        ));
        let patch = IntegrationPatch::parse(
            &json!({"destination": {"type": "webhook", "url": "https://r.example/h"}}),
        )
        .unwrap();
        let updated = run(update(&p, &c, &i.id, patch)).unwrap();
        assert!(updated.destination_secret.unwrap().starts_with("whsec_"));
        let activated = run(activate(&p, &c, &i.id)).unwrap();
        assert_eq!(activated.imports_from, None);
        assert!(
            !p.kv.borrow().contains_key(&keys::cursor_key(&i.id)),
            "first import still to come"
        );
    }
}
