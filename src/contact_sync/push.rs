//! Aircall contacts to the CRM: matched by link, then e-mail, then phone number; updated in
//! one batch, created in another; each linked with the fingerprints of what was written.

use super::*;

/// What happened to the contacts of one push to the CRM.
#[derive(Debug, Default, PartialEq)]
pub struct Pushed {
    pub created: usize,
    pub updated: usize,
    /// Their fields as last synced: a change the connector made, coming back.
    pub unchanged: usize,
    /// Outside the filters: left alone.
    pub filtered: usize,
}

/// Brings Aircall contacts to the CRM: matched by link, then e-mail, then phone number;
/// updated in one batch, created in another.
pub async fn push_to_crm<P: Platform>(
    p: &P,
    crm: &impl Crm,
    integration: &Integration,
    sync: &ContactSync,
    contacts: Vec<AircallContact>,
) -> Result<Pushed, SyncError> {
    let mut pushed = Pushed::default();
    // (contact, its properties, its fingerprint, the CRM id it goes to, its link)
    let mut pending = Vec::new();
    for contact in contacts {
        let Some(aircall_id) = contact.id else {
            continue;
        };
        if !sync.passes_aircall(&contact) {
            pushed.filtered += 1;
            continue;
        }
        let fingerprint = fingerprint_aircall(&contact, sync);
        let link = links::by_aircall(p, &integration.id, aircall_id).await?;
        if link
            .as_ref()
            .is_some_and(|l| l.aircall_unchanged(&fingerprint))
        {
            pushed.unchanged += 1;
            continue;
        }
        let properties = to_crm(&contact, sync);
        let target = link.as_ref().map(|l| l.crm_id.clone());
        pending.push((contact, properties, fingerprint, target, link));
    }

    // Unlinked: by e-mail, then by phone number.
    let emails: Vec<String> = pending
        .iter()
        .filter(|c| c.3.is_none())
        .filter_map(|c| c.1.get("email").map(|e| e.to_lowercase()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let by_email = match emails.is_empty() {
        true => BTreeMap::new(),
        false => crm.ids_by_email(&emails).await?,
    };
    let mut numbers: Vec<String> = Vec::new();
    for (contact, properties, _, target, _) in pending.iter_mut() {
        if target.is_none() {
            *target = properties
                .get("email")
                .and_then(|e| by_email.get(&e.to_lowercase()).cloned());
        }
        if target.is_none() {
            numbers.extend(contact.phone_numbers.iter().map(|n| n.value.clone()));
        }
    }
    let by_phone = match numbers.is_empty() {
        true => BTreeMap::new(),
        false => crm.ids_by_phone(&numbers).await?,
    };
    for (contact, _, _, target, _) in pending.iter_mut() {
        if target.is_none() {
            *target = contact
                .phone_numbers
                .iter()
                .find_map(|n| by_phone.get(&n.value).cloned());
        }
    }

    let (updates, creates): (Vec<_>, Vec<_>) = pending.into_iter().partition(|c| c.3.is_some());
    let writes: Vec<(String, CrmProperties)> = updates
        .iter()
        .map(|(_, properties, _, target, _)| {
            (target.clone().unwrap_or_default(), properties.clone())
        })
        .collect();
    if !writes.is_empty() {
        crm.update_contacts(&writes).await?;
    }
    for ((contact, properties, fingerprint, _, link), (id, _)) in updates.iter().zip(writes) {
        remember(
            p,
            sync,
            integration,
            (contact, properties, fingerprint, link),
            id,
        )
        .await?;
        pushed.updated += 1;
    }
    let new: Vec<CrmProperties> = creates.iter().map(|c| c.1.clone()).collect();
    let ids = match new.is_empty() {
        true => Vec::new(),
        false => crm.create_contacts(&new).await?,
    };
    for ((contact, properties, fingerprint, _, link), id) in creates.iter().zip(ids) {
        if let Some(id) = id {
            remember(
                p,
                sync,
                integration,
                (contact, properties, fingerprint, link),
                id,
            )
            .await?;
            pushed.created += 1;
        }
    }
    Ok(pushed)
}

/// Links a contact pushed to the CRM: what was written, its fingerprint, its earlier link.
pub(super) async fn remember<P: Platform>(
    p: &P,
    sync: &ContactSync,
    integration: &Integration,
    (contact, written, aircall_fingerprint, link): (
        &AircallContact,
        &CrmProperties,
        &String,
        &Option<ContactLink>,
    ),
    crm_id: String,
) -> Result<(), StoreError> {
    let link = ContactLink {
        aircall_id: contact.id.unwrap_or_default(),
        crm_id,
        aircall_fingerprint: aircall_fingerprint.to_string(),
        crm_fingerprint: fingerprint_crm(written, sync),
        created_in_aircall: link.as_ref().is_some_and(|l| l.created_in_aircall),
        aircall_echoes: link
            .as_ref()
            .map(|l| l.aircall_echoes.clone())
            .unwrap_or_default(),
    };
    links::save(p, &integration.id, &link).await?;
    let numbers = contact.phone_numbers.iter().map(|n| n.value.as_str());
    crate::cards::remember_contact(p, integration, numbers, &link.crm_id).await
}

/// An Aircall contact event for a HubSpot integration: created/updated go to HubSpot (when
/// the direction says so); deleted forgets the link (the HubSpot contact stays: Aircall
/// deleting a contact is no reason to delete a CRM record).
pub async fn on_contact_event<P: Platform>(
    p: &P,
    config: &Config,
    integration: &Integration,
    event: &str,
    data: &serde_json::Map<String, Value>,
) -> Result<Option<Pushed>, SyncError> {
    let Some(sync) = integration.contact_sync.as_ref() else {
        return Ok(None);
    };
    let contact: AircallContact = serde_json::from_value(Value::Object(data.clone()))
        .map_err(|e| SyncError::NotSynced(format!("the contact is not as documented: {e}")))?;
    let indexing = sync.direction.to_aircall();
    if event == "contact.deleted" {
        if indexing {
            index::remove(p, &integration.id, &contact, &sync.phone).await?;
        }
        if let Some(link) =
            links::by_aircall(p, &integration.id, contact.id.unwrap_or_default()).await?
        {
            links::forget(p, &integration.id, &link).await?;
        }
        return Ok(None);
    }
    if indexing {
        index::add(p, &integration.id, &contact, &sync.phone).await?;
    }
    if !sync.direction.to_crm() {
        return Ok(None);
    }
    let token = integration
        .destination_secret(&config.sealer)
        .map_err(|e| SyncError::NotSynced(format!("the CRM's token cannot be read: {e}")))?;
    let crm = crm_of(p, config, integration, &token)?;
    Ok(Some(
        push_to_crm(p, &crm, integration, sync, vec![contact]).await?,
    ))
}
