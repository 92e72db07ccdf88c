//! The link an unknown caller's card carries: opened by the agent, it creates the contact in
//! the CRM with the caller's number (or finds the one created meanwhile) and goes to its page.
//! Signed like recording links, so no admin token is needed and no other number can be given.

use super::cache::remember_number;
use crate::config::Config;
use crate::contacts::CrmProperties;
use crate::crm::caller::CallerLookup;
use crate::crm::{Crm, CrmError};
use crate::integration::Integrations;
use crate::ports::{Platform, StoreError};
use thiserror::Error;

/// How long the link works: the agent may open it after the call.
const LINK_SECONDS: u64 = 7 * 86_400;

#[derive(Debug, Error)]
pub enum NewContactError {
    #[error("the link is not valid")]
    BadLink,
    #[error("the link has expired")]
    Expired,
    #[error("no integration has this id, or it has no CRM")]
    Unknown,
    #[error(transparent)]
    Crm(#[from] CrmError),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("the CRM's token cannot be read")]
    Sealed,
}

fn path(integration_id: &str, e164: &str) -> String {
    format!("/cards/{integration_id}/new-contact/{e164}")
}

/// `PUBLIC_BASE_URL/cards/{integration}/new-contact/{number}?expires&signature`.
pub fn new_contact_link(config: &Config, integration_id: &str, e164: &str, now: u64) -> String {
    let path = path(integration_id, e164);
    let expires = now + LINK_SECONDS;
    let signature = config.links.sign(&path, expires);
    let encoded: String = url::form_urlencoded::byte_serialize(e164.as_bytes()).collect();
    format!(
        "{}/cards/{integration_id}/new-contact/{encoded}?expires={expires}&signature={signature}",
        config.public_base_url
    )
}

/// Checks the link, then answers the CRM page of the contact with this number: the one
/// found, or one created with it.
pub async fn create_contact<P: Platform>(
    p: &P,
    config: &Config,
    integration_id: &str,
    e164: &str,
    expires: u64,
    signature: &str,
) -> Result<String, NewContactError> {
    if !config
        .links
        .verify(&path(integration_id, e164), expires, signature)
    {
        return Err(NewContactError::BadLink);
    }
    if p.now_seconds() > expires {
        return Err(NewContactError::Expired);
    }
    let integration = Integrations::new(p)
        .get(integration_id)
        .await?
        .ok_or(NewContactError::Unknown)?;
    let destination = integration
        .destination
        .clone()
        .ok_or(NewContactError::Unknown)?;
    let secret = integration
        .destination_secret(&config.sealer)
        .map_err(|_| NewContactError::Sealed)?;
    let crm = destination
        .crm(p, config, integration_id, &secret)
        .ok_or(NewContactError::Unknown)?;
    let caller = match crm.caller_by_phone(e164).await? {
        Some(caller) => caller,
        None => {
            let contact = CrmProperties::from([("phone".to_string(), e164.to_string())]);
            let id = crm
                .create_contacts(&[contact])
                .await?
                .into_iter()
                .next()
                .flatten()
                .ok_or_else(|| CrmError::Remote {
                    message: "the CRM created no contact".into(),
                    disposition: crate::retry::Disposition::Permanent,
                })?;
            // Read back by id: a new contact takes seconds to show in a search.
            crm.caller_by_id(&id)
                .await?
                .ok_or_else(|| CrmError::Remote {
                    message: "the contact created cannot be read".into(),
                    disposition: crate::retry::Disposition::Transient,
                })?
        }
    };
    remember_number(p, integration_id, e164, &caller.id).await?;
    caller.link.ok_or(NewContactError::Unknown)
}
