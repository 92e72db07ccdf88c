//! Insight cards: while the phone rings, who is calling, from the CRM, on the agent's screen
//! (Aircall's `POST /v1/calls/{id}/insight_cards`).
//!
//! The path is its own: ingress answers Aircall first, then the platform runs [`post`] in the
//! same request's context (`waitUntil`), never behind the queues' bulk work. A card costs one
//! contact read (a read by id when contact sync or an earlier card cached the number, else a
//! search; the CRM's last-activity date comes with it), the open deals when shown (one
//! search), and one Aircall request from the share of the account's budget bulk work leaves
//! free. The last call's details are the connector's own record (`crm::last_call`), no
//! request. It is posted once per call: the first delivery of `call.created` claims the call
//! in `ACCOUNT_GATE` (strongly consistent, unlike KV), and any resend finds the claim. A card that cannot be made at once
//! (a budget spent, the CRM or Aircall failing) is skipped, counted and logged: late, it is
//! worth nothing, so it is never retried.

mod cache;
mod job;
mod new_contact;

pub use cache::{forget_number, remember_contact, remember_number};
pub use job::CardJob;
pub use new_contact::{create_contact, new_contact_link, NewContactError};

use crate::aircall::{AircallClient, AircallError};
use crate::config::Config;
use crate::crm::caller::{CallerLookup, OpenDeals};
use crate::crm::cards::{Block, InsightCards, UnknownCaller};
use crate::crm::last_call::{self, LastActivity, LastCall};
use crate::crm::CrmError;
use crate::integration::{Integration, Integrations, Status};
use crate::keys;
use crate::ports::Platform;
use serde_json::{json, Value};

/// How long the claim on a call's card is remembered: past it, a resent `call.created` is
/// too old for a card anyway ([`job::FRESH_SECONDS`]).
const CLAIM_MS: u64 = 10 * 60 * 1000;

/// What became of a card.
#[derive(Debug, PartialEq)]
pub enum Posted {
    Card,
    /// Nothing to show, by the settings (an unknown caller, an outbound call to a stranger),
    /// or already posted for this call.
    Nothing(&'static str),
    /// Could not be made in time: counted and logged.
    Skipped(String),
}

/// Makes and posts the card of `job`; never fails, never retries (see the module's note).
pub async fn post<P: Platform>(p: &P, config: &Config, job: &CardJob) -> Posted {
    let outcome = match attempt(p, config, job).await {
        Ok(posted) => posted,
        Err(reason) => Posted::Skipped(reason),
    };
    let counter = match &outcome {
        Posted::Card => Some(keys::CARDS_POSTED_COUNTER),
        Posted::Skipped(reason) => {
            p.log(&format!(
                "insight card for call {} of {} skipped: {reason}",
                job.call_id, job.integration_id
            ));
            Some(keys::CARDS_SKIPPED_COUNTER)
        }
        Posted::Nothing(_) => None,
    };
    if let Some(counter) = counter {
        if let Err(e) = p
            .count(&keys::gate_name(&job.integration_id), counter, 1)
            .await
        {
            p.log(&format!(
                "could not count an insight card of {}: {e}",
                job.integration_id
            ));
        }
    }
    outcome
}

async fn attempt<P: Platform>(p: &P, config: &Config, job: &CardJob) -> Result<Posted, String> {
    let storage = |e: crate::ports::StoreError| format!("storage: {e}");
    let Some(integration) = Integrations::new(p)
        .get(&job.integration_id)
        .await
        .map_err(storage)?
    else {
        return Ok(Posted::Nothing("the integration is gone"));
    };
    let settings = match &integration.insight_cards {
        Some(s) if s.enabled && integration.status == Status::Active => s.clone(),
        _ => return Ok(Posted::Nothing("insight cards are off")),
    };
    let Some(destination) = integration.destination.clone() else {
        return Ok(Posted::Nothing("no destination"));
    };
    let until = p.now_ms() + CLAIM_MS;
    let gate = keys::gate_name(&integration.id);
    if !p
        .claim(&gate, &keys::card_claim(job.call_id), until)
        .await
        .map_err(storage)?
    {
        return Ok(Posted::Nothing("this call's card was posted already"));
    }
    let secret = integration
        .destination_secret(&config.sealer)
        .map_err(|e| format!("the CRM token cannot be read: {e}"))?;
    let Some(crm) = destination.crm(p, config, &integration.id, &secret) else {
        return Ok(Posted::Nothing("the destination is not a CRM"));
    };
    let crm = crm.live();
    let contents = match contents(p, &integration, &settings, &crm, job, config).await {
        Ok(Some(contents)) => contents,
        Ok(None) => return Ok(Posted::Nothing("nothing to show for this caller")),
        Err(e) => return Err(format!("{}: {e}", destination.name())),
    };
    let credentials = integration
        .credentials(&config.sealer)
        .map_err(|e| format!("the Aircall credentials cannot be read: {e}"))?;
    let aircall = AircallClient::new(p, config, &credentials).live();
    match aircall.insight_card(job.call_id, &contents).await {
        Ok(()) => Ok(Posted::Card),
        Err(e) => {
            if matches!(e, AircallError::Rejected { .. }) {
                crate::integration::on_aircall_error(p, config, &integration, &e).await;
            }
            Err(format!("Aircall: {e}"))
        }
    }
}

/// The card's blocks; `None` when the settings show nothing for this caller.
async fn contents<P: Platform, C: CallerLookup>(
    p: &P,
    integration: &Integration,
    settings: &InsightCards,
    crm: &C,
    job: &CardJob,
    config: &Config,
) -> Result<Option<Vec<Value>>, CrmError> {
    let cached = match cache::cached(p, &integration.id, &job.number).await? {
        Some(id) => match crm.caller_by_id(&id).await? {
            Some(caller) if caller.has_number(&job.number) => Some(caller),
            // Deleted in the CRM since, or its number changed: forgotten, and the number
            // looked up.
            _ => {
                forget_number(p, &integration.id, &job.number).await?;
                None
            }
        },
        None => None,
    };
    let caller = match cached {
        Some(caller) => Some(caller),
        None => {
            let found = crm.caller_by_phone(&job.number).await?;
            if let Some(caller) = &found {
                remember_number(p, &integration.id, &job.number, &caller.id).await?;
            }
            found
        }
    };
    let Some(caller) = caller else {
        if job.inbound && settings.unknown_caller == UnknownCaller::Card {
            let name = integration.destination.as_ref().map_or("CRM", |d| d.name());
            let link = new_contact_link(config, &integration.id, &job.number, p.now_seconds());
            return Ok(Some(InsightCards::unknown(&job.number, name, &link)));
        }
        return Ok(None);
    };
    let deals = async {
        match settings.wants(Block::Deals) {
            true => crm.open_deals(&caller.id).await.map(Some),
            false => Ok::<Option<OpenDeals>, CrmError>(None),
        }
    };
    let ours = async {
        match settings.wants(Block::LastActivity) {
            true => last_call::read(p, &integration.id, &caller.id).await,
            false => Ok::<Option<LastCall>, crate::ports::StoreError>(None),
        }
    };
    let (deals, ours) = futures_util::future::join(deals, ours).await;
    let deals = deals?;
    let activity = match settings.wants(Block::LastActivity) {
        true => LastActivity::of(ours?, caller.last_activity_at),
        false => None,
    };
    Ok(Some(settings.known(
        &job.number,
        &caller,
        deals.as_ref(),
        activity.as_ref(),
    )))
}

/// `{"posted", "skipped"}` for `GET /api/integrations/{id}`.
pub async fn stats<P: Platform>(p: &P, id: &str) -> Result<Value, crate::ports::StoreError> {
    let gate = keys::gate_name(id);
    Ok(json!({
        "posted": p.count(&gate, keys::CARDS_POSTED_COUNTER, 0).await?,
        "skipped": p.count(&gate, keys::CARDS_SKIPPED_COUNTER, 0).await?,
    }))
}

#[cfg(test)]
mod tests;
