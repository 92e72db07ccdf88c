//! The HubSpot destination: calls logged as engagements (`calls`), and the I/O of the
//! two-way contact sync (`sync`); the sync's pure rules live in `crate::contacts`.

mod calls;
mod client;
pub mod links;
mod sync;

pub use calls::{engagement, log_call, owners, record_of, CallLogError, Logged};
pub use client::{HubspotClient, HubspotError, Owner, Record, SearchPage, BATCH_MAX, SEARCH_CAP};
pub use sync::{
    pass_step, pull_contact, remove_created, start_passes, status as contact_sync_status,
    ContactJob, PassJob, Pulled, Pushed, Side, SyncError,
};

use crate::aircall::AircallError;
use crate::config::Config;
use crate::delivery::Outcome;
use crate::integration::Integration;
use crate::ports::{Platform, StoreError};
use serde_json::{Map, Value};

/// How long the recording links given to HubSpot last (ten years): HubSpot keeps the URL on
/// the engagement and plays it from there.
pub const RECORDING_LINK_SECONDS: u64 = 10 * 365 * 86_400;

/// The integration's HubSpot access token, unsealed.
pub fn token(
    config: &Config,
    integration: &Integration,
) -> Result<String, crate::crypto::SealError> {
    let slot = Integration::slot(&integration.id, "destination_secret");
    config
        .sealer
        .open(&integration.sealed.destination_secret, &slot)
}

/// Delivers one event to a HubSpot integration: a finished call is logged (or its
/// engagement updated); other events have nothing to do in HubSpot.
pub async fn deliver<P: Platform>(
    p: &P,
    config: &Config,
    integration: &Integration,
    event: &str,
    data: &Map<String, Value>,
) -> Result<Outcome, StoreError> {
    let token = match token(config, integration) {
        Ok(token) => token,
        Err(e) => {
            return Ok(Outcome::Failed {
                reason: format!("the HubSpot access token cannot be read: {e}"),
            })
        }
    };
    if event.starts_with("contact.") {
        return Ok(
            match sync::on_contact_event(p, config, integration, event, data).await {
                Ok(pushed) => {
                    if let Some(pushed) = pushed {
                        p.log(&format!("{event} synced to HubSpot: {pushed:?}"));
                    }
                    Outcome::Delivered
                }
                Err(SyncError::Store(e)) => return Err(e),
                Err(e) => sync_outcome(e),
            },
        );
    }
    let hubspot = HubspotClient::new(p, config, &token);
    let logged = log_call(p, integration, &hubspot, event, data).await;
    Ok(match logged {
        Ok(Logged::Created(id)) | Ok(Logged::Updated(id)) => {
            p.log(&format!("{event} logged as HubSpot call {id}"));
            Outcome::Delivered
        }
        Ok(Logged::NotACall) => Outcome::Delivered,
        Ok(Logged::Busy) => Outcome::Retry {
            reason: "another delivery of this call is creating its HubSpot engagement".into(),
            retry_after: Some(65),
        },
        Err(CallLogError::Store(e)) => return Err(e),
        Err(CallLogError::Hubspot(e)) => outcome_of(e),
    })
}

/// The integration's import rules in force: with `users_from: hubspot_owners`, `users` are
/// the HubSpot owners' e-mails (read at most once an hour).
pub async fn import_rules<P: Platform>(
    p: &P,
    config: &Config,
    integration: &Integration,
) -> Result<crate::import::ImportRules, CallLogError> {
    let rules = &integration.import;
    if rules.users_from != crate::import::UsersFrom::HubspotOwners {
        return Ok(rules.clone());
    }
    let token = token(config, integration).map_err(|e| {
        CallLogError::Hubspot(HubspotError::Rejected {
            status: 0,
            message: format!("the access token cannot be read: {e}"),
        })
    })?;
    let hubspot = HubspotClient::new(p, config, &token);
    let owners = owners(p, integration, &hubspot).await?;
    Ok(rules.with_users(owners.into_iter().filter_map(|o| o.email).collect()))
}

/// What a contact sync error means for a delivery.
fn sync_outcome(e: SyncError) -> Outcome {
    match e {
        SyncError::Hubspot(e) => outcome_of(e),
        SyncError::Aircall(AircallError::Rejected(_)) | SyncError::NotSynced(_) => {
            Outcome::Failed {
                reason: e.to_string(),
            }
        }
        e => Outcome::Retry {
            retry_after: e.retry_after(),
            reason: e.to_string(),
        },
    }
}

/// What a HubSpot error means for a delivery.
pub fn outcome_of(e: HubspotError) -> Outcome {
    if e.is_transient() {
        Outcome::Retry {
            retry_after: e.retry_after(),
            reason: e.to_string(),
        }
    } else {
        Outcome::Failed {
            reason: e.to_string(),
        }
    }
}
