//! One CRM contact to Aircall: matched in the index of Aircall's contacts (or by search),
//! updated or created, its problems reported instead of sent broken.

use super::*;

/// What became of one HubSpot contact.
#[derive(Debug, PartialEq)]
pub enum Pulled {
    Created(i64),
    Updated(i64),
    Unchanged,
    Filtered,
    /// Not written (no usable phone number for a new Aircall contact...): reported.
    Refused(Vec<String>),
}

/// Brings one HubSpot contact to Aircall: matched by link, then e-mail, then normalised phone
/// number; numbers that cannot be normalised are reported and left out, never sent broken.
pub async fn pull_contact<P: Platform>(
    p: &P,
    config: &Config,
    job: &ContactJob,
) -> Result<Pulled, SyncError> {
    let Some((integration, sync)) = synced(p, &job.integration_id).await? else {
        return Ok(Pulled::Filtered);
    };
    let properties = &job.crm.properties;
    let crm_id = &job.crm.id;
    if !sync.passes_crm(properties) {
        return Ok(Pulled::Filtered);
    }
    let fingerprint = fingerprint_crm(properties, &sync);
    let link = links::by_crm(p, &integration.id, crm_id).await?;
    if link
        .as_ref()
        .is_some_and(|l| l.crm_fingerprint == fingerprint)
    {
        return Ok(Pulled::Unchanged);
    }
    let credentials = integration
        .credentials(&config.sealer)
        .map_err(|e| SyncError::NotSynced(e.to_string()))?;
    let aircall = AircallClient::new(p, config, &credentials);

    // The Aircall contact it goes to: the linked one, else one with its e-mail or a number.
    let mut current: Option<AircallContact> = None;
    if let Some(link) = &link {
        current = checked(
            p,
            config,
            &integration,
            aircall.get_contact(link.aircall_id).await,
        )
        .await?;
        if current.is_none() {
            links::forget(p, &integration.id, link).await?; // deleted in Aircall since
        }
    }
    if current.is_none() {
        current =
            matching::aircall_match(p, config, &integration, &sync, &aircall, properties).await?;
    }

    let translated = to_aircall(properties, current.as_ref(), &sync);
    let problems_key = problem_key(&integration.id, crm_id);
    if translated.problems.is_empty() {
        p.delete(&problems_key).await?;
    } else {
        report_problems(p, &problems_key, crm_id, &translated.problems).await?;
    }
    let new_fingerprint = fingerprint_aircall(&translated.contact, &sync);
    // Late webhooks of the previous write are still the connector's own.
    let mut echoes = link
        .as_ref()
        .map(|l| l.aircall_echoes.clone())
        .unwrap_or_default();
    let (saved, outcome) = match &current {
        Some(c) if fingerprint_aircall(c, &sync) == new_fingerprint => {
            (c.clone(), Pulled::Unchanged)
        }
        Some(c) => {
            let linked = link.as_ref().filter(|l| Some(l.aircall_id) == c.id);
            let wanted = &translated.contact;
            let written = update::update_aircall(
                p,
                config,
                &integration,
                &sync,
                &aircall,
                c,
                wanted,
                linked,
                crm_id,
            )
            .await?;
            echoes = written.echoes;
            let id = written.contact.id.unwrap_or_default();
            (written.contact, Pulled::Updated(id))
        }
        None if translated.contact.phone_numbers.is_empty() => {
            let mut problems = translated.problems.clone();
            problems.push("not created in Aircall: it has no phone number Aircall accepts".into());
            report_problems(p, &problems_key, crm_id, &problems).await?;
            return Ok(Pulled::Refused(problems));
        }
        None => {
            let body = contact_body(&translated.contact);
            let saved: AircallContact = checked(
                p,
                config,
                &integration,
                aircall.save_contact(None, &body).await,
            )
            .await?;
            let id = saved.id.unwrap_or_default();
            (saved, Pulled::Created(id))
        }
    };
    let link = ContactLink {
        aircall_id: saved.id.unwrap_or_default(),
        crm_id: crm_id.clone(),
        aircall_fingerprint: fingerprint_aircall(&saved, &sync),
        crm_fingerprint: fingerprint,
        created_in_aircall: matches!(outcome, Pulled::Created(_))
            || link
                .as_ref()
                .is_some_and(|l| l.created_in_aircall && Some(l.aircall_id) == saved.id),
        aircall_echoes: echoes,
    };
    links::save(p, &integration.id, &link).await?;
    let numbers = saved.phone_numbers.iter().map(|n| n.value.as_str());
    crate::cards::remember_contact(p, &integration, numbers, crm_id).await?;
    if matches!(outcome, Pulled::Created(_) | Pulled::Updated(_)) {
        index::add(p, &integration.id, &saved, &sync.phone).await?;
    }
    Ok(outcome)
}

/// Keeps why a HubSpot contact could not be synced (fully), for `GET .../contacts`.
pub(super) async fn report_problems<P: Platform>(
    p: &P,
    key: &str,
    crm_id: &str,
    problems: &[String],
) -> Result<(), StoreError> {
    let report = json!({
        "hubspot_id": crm_id,
        "at": crate::time::rfc3339(p.now_seconds() as i64),
        "problems": problems,
    });
    p.put(key, &report.to_string(), None).await
}

/// The body Aircall's create takes: the contact without its id.
pub(super) fn contact_body(contact: &AircallContact) -> Value {
    let mut body = serde_json::to_value(contact).expect("contacts serialize");
    if let Some(map) = body.as_object_mut() {
        map.remove("id");
        map.retain(|_, v| !v.is_null());
    }
    body
}
