//! The links between an Aircall contact and a CRM contact, with what the connector last
//! wrote to each side, in KV under the integration (`crate::keys`).

use crate::keys;
use crate::ports::{Store, StoreError};
use serde::{Deserialize, Serialize};

/// A synced pair of contacts and what the connector last wrote to each side, so a change it
/// made itself is recognised when it comes back (no ping-pong).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactLink {
    pub aircall_id: i64,
    /// (`hubspot_id` in KV: its first CRM.)
    #[serde(rename = "hubspot_id")]
    pub crm_id: String,
    /// Fingerprints (`contacts::fingerprint_*`) of the two sides when last in step.
    #[serde(default)]
    pub aircall_fingerprint: String,
    #[serde(default, rename = "hubspot_fingerprint")]
    pub crm_fingerprint: String,
    /// The connector created the Aircall contact: deleting the integration deletes it.
    #[serde(default)]
    pub created_in_aircall: bool,
    /// Fingerprints of the states the connector's last write to the Aircall contact passed
    /// through: a write takes several requests, and Aircall sends a webhook for each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aircall_echoes: Vec<String>,
}

impl ContactLink {
    /// Whether an Aircall contact with this fingerprint is as the connector left it (or on
    /// the way there): its own change coming back, nothing to sync.
    pub fn aircall_unchanged(&self, fingerprint: &str) -> bool {
        self.aircall_fingerprint == fingerprint
            || self.aircall_echoes.iter().any(|e| e == fingerprint)
    }
}

pub async fn by_aircall<S: Store>(
    store: &S,
    integration_id: &str,
    aircall_id: i64,
) -> Result<Option<ContactLink>, StoreError> {
    read(
        store,
        &keys::contact_link_by_aircall(integration_id, aircall_id),
    )
    .await
}

pub async fn by_crm<S: Store>(
    store: &S,
    integration_id: &str,
    crm_id: &str,
) -> Result<Option<ContactLink>, StoreError> {
    read(store, &keys::contact_link_by_crm(integration_id, crm_id)).await
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
        .put(
            &keys::contact_link_by_aircall(integration_id, link.aircall_id),
            &text,
            None,
        )
        .await?;
    store
        .put(
            &keys::contact_link_by_crm(integration_id, &link.crm_id),
            &text,
            None,
        )
        .await?;
    if link.created_in_aircall {
        let key = keys::aircall_created_key(integration_id, link.aircall_id);
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
        .delete(&keys::contact_link_by_aircall(
            integration_id,
            link.aircall_id,
        ))
        .await?;
    store
        .delete(&keys::contact_link_by_crm(integration_id, &link.crm_id))
        .await?;
    let key = keys::aircall_created_key(integration_id, link.aircall_id);
    store.delete(&key).await
}

async fn read<S: Store>(store: &S, key: &str) -> Result<Option<ContactLink>, StoreError> {
    Ok(store
        .get(key)
        .await?
        .and_then(|text| serde_json::from_str(&text).ok()))
}
