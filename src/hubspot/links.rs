//! What the connector remembers between Aircall and HubSpot records, in KV under the
//! integration (see `integration::keys`): call -> engagement, and contact <-> contact.

use crate::ports::{Store, StoreError};
use serde::{Deserialize, Serialize};

/// Aircall call id -> HubSpot engagement id.
pub fn call_key(integration_id: &str, call_id: i64) -> String {
    format!("hubspot-call:{integration_id}:{call_id}")
}

/// The cached HubSpot owners.
pub fn owners_key(integration_id: &str) -> String {
    format!("hubspot-owners:{integration_id}")
}

/// A synced pair of contacts and what the connector last wrote to each side, so a change it
/// made itself is recognised when it comes back (no ping-pong).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactLink {
    pub aircall_id: i64,
    pub hubspot_id: String,
    /// Fingerprints (`contacts::fingerprint_*`) of the two sides when last in step.
    #[serde(default)]
    pub aircall_fingerprint: String,
    #[serde(default)]
    pub hubspot_fingerprint: String,
    /// The connector created the Aircall contact: deleting the integration deletes it.
    #[serde(default)]
    pub created_in_aircall: bool,
}

fn aircall_key(integration_id: &str, aircall_id: i64) -> String {
    format!("contact-link:{integration_id}:aircall:{aircall_id}")
}

fn hubspot_key(integration_id: &str, hubspot_id: &str) -> String {
    format!("contact-link:{integration_id}:hubspot:{hubspot_id}")
}

/// Aircall contacts the connector created, listed by deletion.
pub fn created_prefix(integration_id: &str) -> String {
    format!("aircall-created:{integration_id}:")
}

pub async fn by_aircall<S: Store>(
    store: &S,
    integration_id: &str,
    aircall_id: i64,
) -> Result<Option<ContactLink>, StoreError> {
    read(store, &aircall_key(integration_id, aircall_id)).await
}

pub async fn by_hubspot<S: Store>(
    store: &S,
    integration_id: &str,
    hubspot_id: &str,
) -> Result<Option<ContactLink>, StoreError> {
    read(store, &hubspot_key(integration_id, hubspot_id)).await
}

/// Saves the link under both ids (and in the created list when the connector made the
/// Aircall contact).
pub async fn save<S: Store>(
    store: &S,
    integration_id: &str,
    link: &ContactLink,
) -> Result<(), StoreError> {
    let text = serde_json::to_string(link).expect("links serialize");
    store
        .put(&aircall_key(integration_id, link.aircall_id), &text, None)
        .await?;
    store
        .put(&hubspot_key(integration_id, &link.hubspot_id), &text, None)
        .await?;
    if link.created_in_aircall {
        let key = format!("{}{}", created_prefix(integration_id), link.aircall_id);
        store.put(&key, "", None).await?;
    }
    Ok(())
}

/// Forgets a pair (one side was deleted).
pub async fn forget<S: Store>(
    store: &S,
    integration_id: &str,
    link: &ContactLink,
) -> Result<(), StoreError> {
    store
        .delete(&aircall_key(integration_id, link.aircall_id))
        .await?;
    store
        .delete(&hubspot_key(integration_id, &link.hubspot_id))
        .await?;
    let key = format!("{}{}", created_prefix(integration_id), link.aircall_id);
    store.delete(&key).await
}

async fn read<S: Store>(store: &S, key: &str) -> Result<Option<ContactLink>, StoreError> {
    Ok(store
        .get(key)
        .await?
        .and_then(|text| serde_json::from_str(&text).ok()))
}
