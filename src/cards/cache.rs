//! The phone -> CRM contact cache: a number (E.164) cached here costs a card a read of the
//! contact by id instead of a search (no search budget, no phone library). Contact sync
//! writes it whenever it matches, creates or links a contact by number, and cards whenever a
//! search finds one; an entry whose contact is gone is forgotten by the card that finds out.

use crate::keys;
use crate::ports::{Store, StoreError};

/// How long an entry lives without being written again (a changed number ages out).
const KEPT_SECONDS: u64 = 30 * 86_400;

pub(super) async fn cached<S: Store>(
    store: &S,
    integration_id: &str,
    e164: &str,
) -> Result<Option<String>, StoreError> {
    store
        .get(&keys::caller_cache_key(integration_id, e164))
        .await
}

/// `e164` belongs to the CRM contact `crm_id`.
pub async fn remember_number<S: Store>(
    store: &S,
    integration_id: &str,
    e164: &str,
    crm_id: &str,
) -> Result<(), StoreError> {
    let key = keys::caller_cache_key(integration_id, e164);
    store.put(&key, crm_id, Some(KEPT_SECONDS)).await
}

/// Contact sync linked the CRM contact `crm_id` with a contact having these numbers: each
/// number (normalised as Aircall writes it) now points there, when the integration shows
/// insight cards (KV writes are counted: none otherwise, nor for an entry already right).
pub async fn remember_contact<'n, S: Store>(
    store: &S,
    integration: &crate::integration::Integration,
    numbers: impl IntoIterator<Item = &'n str>,
    crm_id: &str,
) -> Result<(), StoreError> {
    if !integration
        .insight_cards
        .as_ref()
        .is_some_and(|c| c.enabled)
    {
        return Ok(());
    }
    for number in numbers.into_iter().filter_map(super::job::e164) {
        if cached(store, &integration.id, &number).await?.as_deref() != Some(crm_id) {
            remember_number(store, &integration.id, &number, crm_id).await?;
        }
    }
    Ok(())
}

pub async fn forget_number<S: Store>(
    store: &S,
    integration_id: &str,
    e164: &str,
) -> Result<(), StoreError> {
    store
        .delete(&keys::caller_cache_key(integration_id, e164))
        .await
}
