//! The Aircall contact an unlinked CRM contact goes to: one with its e-mail, else one with
//! one of its numbers. Found in the index of Aircall's contacts once it is ready (no request
//! unless a contact matches: then its read), through Aircall's search before (a request per
//! value asked).

use super::index::{self, Entry};
use super::SyncError;
use crate::aircall::{AircallClient, ContactSearch};
use crate::config::Config;
use crate::contacts::{to_e164, AircallContact, ContactSync, CrmProperties};
use crate::integration::{checked, Integration};
use crate::ports::Platform;

/// The values to match on, in order: the e-mail, then each usable number.
fn wanted(properties: &CrmProperties, sync: &ContactSync) -> Vec<Entry> {
    let email = properties
        .get("email")
        .map(|e| e.trim())
        .filter(|e| !e.is_empty())
        .map(|e| Entry::Email(e.to_string()));
    let numbers = ["phone", "mobilephone"]
        .into_iter()
        .filter_map(|property| to_e164(properties.get(property)?, &sync.phone).ok())
        .map(Entry::Phone);
    email.into_iter().chain(numbers).collect()
}

/// The Aircall contact a CRM contact with these properties goes to, if any.
pub(super) async fn aircall_match<P: Platform>(
    p: &P,
    config: &Config,
    integration: &Integration,
    sync: &ContactSync,
    aircall: &AircallClient<'_, P>,
    properties: &CrmProperties,
) -> Result<Option<AircallContact>, SyncError> {
    let indexed = index::ready(p, &integration.id).await?;
    for entry in wanted(properties, sync) {
        if indexed {
            let Some(id) = index::find(p, &integration.id, &entry).await? else {
                continue;
            };
            let found = checked(p, config, integration, aircall.get_contact(id).await).await?;
            match found {
                Some(contact) if entry.held_by(&contact, &sync.phone) => return Ok(Some(contact)),
                // Deleted, or the value changed, without the index hearing of it.
                _ => index::forget(p, &integration.id, &entry, id).await?,
            }
        } else {
            let (field, value) = match &entry {
                Entry::Email(email) => (ContactSearch::Email, email),
                Entry::Phone(number) => (ContactSearch::PhoneNumber, number),
            };
            let found = aircall
                .search_contacts::<AircallContact>(field, value)
                .await;
            let found = checked(p, config, integration, found).await?;
            if let Some(contact) = found.into_iter().next() {
                return Ok(Some(contact));
            }
        }
    }
    Ok(None)
}
