//! Writing a CRM contact's values onto an existing Aircall contact. Aircall's plain update
//! takes the text fields only; each phone number and e-mail goes through its own endpoint
//! (`contacts::details`). So one contact may cost several requests, and Aircall sends a
//! `contact.updated` webhook for each: before the first, the link records the fingerprint of
//! every state the contact passes through, so that none of those webhooks is taken for a
//! change made in Aircall and sent back to the CRM (a half-written contact would undo the
//! CRM's edit there).

use super::SyncError;
use crate::aircall::AircallClient;
use crate::config::Config;
use crate::contacts::{details, fingerprint_aircall, AircallContact, ContactSync, DetailChange};
use crate::contacts::{DetailList, Labeled};
use crate::crm::links::{self, ContactLink};
use crate::integration::{checked, Integration};
use crate::ports::Platform;
use serde_json::Value;

/// The contact as written, and the fingerprints of the states it passed through.
pub(super) struct Written {
    pub contact: AircallContact,
    pub echoes: Vec<String>,
}

/// Makes Aircall's contact `current` read as `wanted`. `link` is the contact's link, if any.
/// Nothing is written when an entry has no id; an error on the way leaves the link as it was
/// (plus the echoes), so the job's retry writes the rest.
#[allow(clippy::too_many_arguments)] // each is what one write needs; none is derived
pub(super) async fn update_aircall<P: Platform>(
    p: &P,
    config: &Config,
    integration: &Integration,
    sync: &ContactSync,
    aircall: &AircallClient<'_, P>,
    current: &AircallContact,
    wanted: &AircallContact,
    link: Option<&ContactLink>,
    crm_id: &str,
) -> Result<Written, SyncError> {
    let id = current
        .id
        .ok_or_else(|| SyncError::NotSynced("Aircall answered a contact without id".into()))?;
    let changes = detail_changes(current, wanted)?;
    let fields = scalar_fields(wanted);
    let fields_change = fields != scalar_fields(current);

    // The states Aircall will show, in the order of the writes: lists first, then fields.
    let mut state = current.clone();
    let mut echoes = Vec::new();
    for change in &changes {
        let list = match change {
            DetailChange::Add(l, _) | DetailChange::Replace(l, ..) | DetailChange::Delete(l, _) => {
                l
            }
        };
        match list {
            DetailList::PhoneNumbers => details::apply(&mut state.phone_numbers, change),
            DetailList::Emails => details::apply(&mut state.emails, change),
        }
        echoes.push(fingerprint_aircall(&state, sync));
    }
    if fields_change {
        state = AircallContact {
            phone_numbers: state.phone_numbers,
            emails: state.emails,
            ..wanted.clone()
        };
        echoes.push(fingerprint_aircall(&state, sync));
    }
    if echoes.is_empty() {
        return Ok(Written {
            contact: current.clone(),
            echoes,
        });
    }
    let before = ContactLink {
        aircall_id: id,
        crm_id: crm_id.to_string(),
        aircall_fingerprint: fingerprint_aircall(current, sync),
        // Not in step until every write went through: a retry must not find it synced.
        crm_fingerprint: link.map(|l| l.crm_fingerprint.clone()).unwrap_or_default(),
        created_in_aircall: link.is_some_and(|l| l.created_in_aircall),
        aircall_echoes: echoes.clone(),
    };
    links::save(p, &integration.id, &before).await?;

    for change in &changes {
        let done = aircall.change_contact_detail(id, change).await;
        checked(p, config, integration, done).await?;
    }
    if fields_change {
        let saved = aircall.save_contact::<Value>(Some(id), &fields).await;
        checked(p, config, integration, saved).await?;
    }
    Ok(Written {
        contact: AircallContact {
            id: Some(id),
            ..wanted.clone()
        },
        echoes,
    })
}

/// The changes to the phone numbers and e-mails of `current` that make them `wanted`'s.
fn detail_changes(
    current: &AircallContact,
    wanted: &AircallContact,
) -> Result<Vec<DetailChange>, SyncError> {
    let plan = |list, have: &[Labeled], want: &[Labeled]| {
        details::plan(list, have, want).map_err(|e| SyncError::NotSynced(e.to_string()))
    };
    let mut changes = plan(
        DetailList::PhoneNumbers,
        &current.phone_numbers,
        &wanted.phone_numbers,
    )?;
    changes.extend(plan(DetailList::Emails, &current.emails, &wanted.emails)?);
    Ok(changes)
}

/// What Aircall's plain update takes: the contact's text fields (it ignores the lists).
fn scalar_fields(contact: &AircallContact) -> Value {
    let mut body = serde_json::to_value(contact).expect("contacts serialize");
    if let Some(map) = body.as_object_mut() {
        map.remove("id");
        map.remove("phone_numbers");
        map.remove("emails");
        map.retain(|_, v| !v.is_null());
    }
    body
}
