//! An index of the account's Aircall contacts by e-mail and by phone number, in KV, so that a
//! CRM contact is matched without asking Aircall: a search costs a request of the account's
//! budget, and a new contact then costs only its creation.
//!
//! One key per entry (`keys::aircall_index_entry_key`) holding the contact's id: no value is
//! read, changed and written back, so concurrent jobs never lose each other's entries, and
//! none grows with the account (KV: 25 MiB a value, one write a second a key). The first
//! Aircall pass builds it (every contact, a request per 50) and marks it ready; contact
//! webhooks, later passes and the connector's own writes keep it current. An entry may still
//! be stale (a deletion or an edit missed): a match counts only once the contact read from
//! Aircall holds the value.

use crate::contacts::{AircallContact, PhoneSettings};
use crate::keys;
use crate::ports::{Store, StoreError};

/// What an entry is for: an e-mail (any case) or a phone number (its E.164 form).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Entry {
    Email(String),
    Phone(String),
}

impl Entry {
    fn key(&self, integration_id: &str) -> String {
        let entry = match self {
            // Hashed: e-mails are unbounded and any text; keys are 512 bytes at most.
            Entry::Email(email) => {
                let hash = crate::crypto::sha256_hex(email.trim().to_lowercase().as_bytes());
                format!("e:{}", &hash[..32])
            }
            Entry::Phone(number) => format!("p:{number}"),
        };
        keys::aircall_index_entry_key(integration_id, &entry)
    }

    /// Whether an Aircall contact holds this e-mail or number.
    pub(super) fn held_by(&self, contact: &AircallContact, phone: &PhoneSettings) -> bool {
        match self {
            Entry::Email(email) => contact
                .emails
                .iter()
                .any(|e| e.value.trim().eq_ignore_ascii_case(email.trim())),
            Entry::Phone(number) => contact
                .phone_numbers
                .iter()
                .any(|n| crate::contacts::same_number(&n.value, number, phone)),
        }
    }
}

/// A contact's entries: its e-mails and its numbers (E.164 when they can be read so).
fn entries(contact: &AircallContact, phone: &PhoneSettings) -> Vec<Entry> {
    let emails = contact.emails.iter().map(|e| e.value.trim());
    let numbers = contact.phone_numbers.iter().map(|n| n.value.trim());
    emails
        .filter(|v| !v.is_empty())
        .map(|v| Entry::Email(v.to_string()))
        .chain(
            numbers
                .filter(|v| !v.is_empty())
                .map(|v| Entry::Phone(crate::contacts::phone::canonical(v, phone))),
        )
        .collect()
}

/// Whether the index holds every contact of the account (a pass read them all).
pub(super) async fn ready<S: Store>(store: &S, integration_id: &str) -> Result<bool, StoreError> {
    Ok(store
        .get(&keys::aircall_index_ready_key(integration_id))
        .await?
        .is_some())
}

pub(super) async fn mark_ready<S: Store>(
    store: &S,
    integration_id: &str,
) -> Result<(), StoreError> {
    store
        .put(&keys::aircall_index_ready_key(integration_id), "", None)
        .await
}

/// Points the contact's e-mails and numbers at it.
pub(super) async fn add<S: Store>(
    store: &S,
    integration_id: &str,
    contact: &AircallContact,
    phone: &PhoneSettings,
) -> Result<(), StoreError> {
    let Some(id) = contact.id else {
        return Ok(());
    };
    for entry in entries(contact, phone) {
        // Read first: the connector's write and Aircall's webhook about it come within a
        // second, and KV refuses a second write of a key in the same second.
        if find(store, integration_id, &entry).await? != Some(id) {
            store
                .put(&entry.key(integration_id), &id.to_string(), None)
                .await?;
        }
    }
    Ok(())
}

/// Forgets the entries of a deleted contact (those pointing at another contact stay).
pub(super) async fn remove<S: Store>(
    store: &S,
    integration_id: &str,
    contact: &AircallContact,
    phone: &PhoneSettings,
) -> Result<(), StoreError> {
    let Some(id) = contact.id else {
        return Ok(());
    };
    for entry in entries(contact, phone) {
        forget(store, integration_id, &entry, id).await?;
    }
    Ok(())
}

/// The contact the index names for an entry, if any.
pub(super) async fn find<S: Store>(
    store: &S,
    integration_id: &str,
    entry: &Entry,
) -> Result<Option<i64>, StoreError> {
    Ok(store
        .get(&entry.key(integration_id))
        .await?
        .and_then(|id| id.parse().ok()))
}

/// Forgets an entry found stale, if it still names that contact.
pub(super) async fn forget<S: Store>(
    store: &S,
    integration_id: &str,
    entry: &Entry,
    aircall_id: i64,
) -> Result<(), StoreError> {
    if find(store, integration_id, entry).await? == Some(aircall_id) {
        store.delete(&entry.key(integration_id)).await?;
    }
    Ok(())
}
