//! Aircall calls logged in HubSpot as call engagements, once each: the Aircall call id ->
//! HubSpot id link is kept, so a retry, the import of a call the webhook already logged,
//! or a later change (tags, comments, the archived recording) updates the same engagement.

use super::client::HubspotClient;
use crate::crm::{CrmError, Logged, Owner};
use crate::crm::last_call::{self, LastCall};
use crate::crm::links;
use crate::aircall::Call;
use crate::calls::{BusinessStatus, CallRecord, IMPORTED_EVENT};
use crate::ports::Platform;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// HubSpot's id for a call -> contact association.
const CALL_TO_CONTACT: u32 = 194;
/// The owners list is read again after this long (new HubSpot users appear within it).
const OWNERS_KEPT_SECONDS: u64 = 3600;
/// How long a first creation holds the call, so a concurrent delivery waits for its link.
const CREATING_MS: u64 = 60_000;

/// HubSpot's call dispositions (GUIDs of its default outcomes).
const CONNECTED: &str = "f240bbac-87c9-4f6e-bf70-924b57d47db7";
const NO_ANSWER: &str = "73a0d17f-1163-4015-bdd5-ec830791da20";
const LEFT_VOICEMAIL: &str = "b2cf5968-551e-4856-9783-52b3da59a7d0";

/// The call an event is about, as a record: the imported record itself, or a finished call
/// from a webhook (`ended_at` set); `Ok(None)`: not a call, or not finished. A call event
/// that does not read as a call is an error, never "not a call": it would be lost silently.
pub fn record_of(event: &str, data: &Map<String, Value>) -> Result<Option<CallRecord>, String> {
    let unreadable = |e: serde_json::Error| format!("{event} does not read as a call: {e}");
    if event == IMPORTED_EVENT {
        return serde_json::from_value(Value::Object(data.clone()))
            .map(Some)
            .map_err(unreadable);
    }
    if !event.starts_with("call.") {
        return Ok(None);
    }
    let call: Call = serde_json::from_value(Value::Object(data.clone())).map_err(unreadable)?;
    Ok(call.ended_at.is_some().then(|| CallRecord::of(&call)))
}

/// Creates or updates the engagement of the call in `event`.
pub async fn log_call<P: Platform>(
    p: &P,
    integration_id: &str,
    hubspot: &HubspotClient<'_, P>,
    event: &str,
    data: &Map<String, Value>,
) -> Result<Logged, CrmError> {
    let record = record_of(event, data).map_err(|message| CrmError::Remote {
        message,
        disposition: crate::retry::Disposition::Permanent,
    })?;
    let Some(record) = record else {
        return Ok(Logged::NotACall);
    };
    let owner = match record.user.as_ref().and_then(|u| u.email.as_deref()) {
        Some(email) => owner_for(p, integration_id, hubspot, email).await?,
        None => None,
    };
    let properties = engagement(&record, owner.as_deref());
    let link = crate::keys::crm_call_key(integration_id, record.id);
    if let Some(id) = p.get(&link).await? {
        hubspot.update("calls", &id, &properties).await?;
        return Ok(Logged::Updated(id));
    }
    // No idempotency key at HubSpot: the first creator of a call holds it for a minute.
    let holder = format!("integration:{}", integration_id);
    let until = p.now_ms() + CREATING_MS;
    if !p.claim(&holder, &link, until).await? {
        return Ok(Logged::Busy);
    }
    let contact = contact_for(p, integration_id, hubspot, &record).await?;
    let associations = match &contact {
        Some(contact) => json!([{
            "to": {"id": contact},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": CALL_TO_CONTACT}]
        }]),
        None => json!([]),
    };
    let created = hubspot.create("calls", &properties, associations).await?;
    // Its agent's name, for the transcript Aircall's AI may make of it (`ai.rs`).
    if let Some(user) = record.user.as_ref() {
        if let (Some(id), Some(name)) = (user.id, user.name.as_deref()) {
            let names = json!({ id.to_string(): name }).to_string();
            let key = crate::keys::crm_ai_agents_key(integration_id, record.id);
            p.put(&key, &names, None).await?;
        }
    }
    p.put(&link, &created.id, None).await?;
    // The contact's next insight card shows this call, unless a newer one was logged.
    if let Some(contact) = &contact {
        let at = crate::time::parse_rfc3339(&record.started_at).unwrap_or(0);
        let logged = LastCall {
            call_id: record.id,
            at,
            logged_until: at,
            outcome: outcome(&properties),
            title: properties.get("hs_call_title").cloned(),
            summary: None,
        };
        last_call::remember(p, integration_id, contact, &logged).await?;
    }
    Ok(Logged::Created(created.id))
}

/// The engagement's outcome as HubSpot labels it: its disposition, else its status.
fn outcome(properties: &BTreeMap<String, String>) -> Option<String> {
    let disposition = properties.get("hs_call_disposition").map(|d| match d.as_str() {
        CONNECTED => "Connected",
        NO_ANSWER => "No answer",
        LEFT_VOICEMAIL => "Left voicemail",
        _ => "",
    });
    let status = properties.get("hs_call_status").map(|s| match s.as_str() {
        "COMPLETED" => "Completed",
        "NO_ANSWER" => "No answer",
        "BUSY" => "Busy",
        "FAILED" => "Failed",
        _ => "",
    });
    [disposition, status]
        .into_iter()
        .flatten()
        .find(|l| !l.is_empty())
        .map(str::to_string)
}

/// The engagement's properties. What the record lacks (no owner, no archived recording yet)
/// is left out, so an update never clears what an earlier delivery set.
pub fn engagement(record: &CallRecord, owner: Option<&str>) -> BTreeMap<String, String> {
    let inbound = record.direction.as_deref() != Some("outbound");
    let (status, disposition) = match record.status {
        BusinessStatus::Answered => ("COMPLETED", Some(CONNECTED)),
        // A caller's voicemail is a missed call (its audio is the recording); HubSpot's
        // "Left voicemail" outcome means a rep left one, on an outbound call.
        BusinessStatus::Voicemail if inbound => ("NO_ANSWER", Some(NO_ANSWER)),
        BusinessStatus::Voicemail => ("COMPLETED", Some(LEFT_VOICEMAIL)),
        BusinessStatus::Missed => ("NO_ANSWER", Some(NO_ANSWER)),
        BusinessStatus::Failed => ("FAILED", None),
    };
    let other = record
        .contact
        .as_ref()
        .and_then(|c| c.name.clone())
        .or_else(|| record.external_number.clone())
        .unwrap_or_else(|| "an unknown number".into());
    let title = if inbound {
        format!("Inbound Aircall call from {other}")
    } else {
        format!("Outbound Aircall call to {other}")
    };
    let (from, to) = if inbound {
        (&record.external_number, &record.internal_number)
    } else {
        (&record.internal_number, &record.external_number)
    };
    let started_ms = crate::time::parse_rfc3339(&record.started_at).unwrap_or(0) * 1000;
    let mut properties = BTreeMap::from([
        ("hs_timestamp".to_string(), started_ms.to_string()),
        ("hs_call_title".to_string(), title),
        ("hs_call_body".to_string(), body(record)),
        (
            "hs_call_direction".to_string(),
            if inbound { "INBOUND" } else { "OUTBOUND" }.to_string(),
        ),
        (
            "hs_call_duration".to_string(),
            (record.duration_seconds * 1000).to_string(),
        ),
        ("hs_call_status".to_string(), status.to_string()),
    ]);
    let optional = [
        ("hs_call_from_number", from.clone()),
        ("hs_call_to_number", to.clone()),
        ("hs_call_disposition", disposition.map(str::to_string)),
        ("hs_call_recording_url", record.recording_url.clone()),
        ("hubspot_owner_id", owner.map(str::to_string)),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            properties.insert(name.to_string(), value);
        }
    }
    properties
}

/// The note shown on the engagement: who, how it went, tags, comments, and the way back to
/// Aircall. HubSpot renders it as HTML, so every value is escaped.
fn body(record: &CallRecord) -> String {
    let mut lines = vec![format!(
        "Aircall call {} ({}, {} s)",
        record.id,
        serde_json::to_value(record.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        record.duration_seconds
    )];
    if let Some(name) = record.user.as_ref().and_then(|u| u.name.as_deref()) {
        lines.push(format!("Agent: {name}"));
    }
    if record.status == BusinessStatus::Voicemail && record.direction.as_deref() != Some("outbound")
    {
        lines.push("The caller left a voicemail".to_string());
    }
    if !record.tags.is_empty() {
        lines.push(format!("Tags: {}", record.tags.join(", ")));
    }
    for comment in &record.comments {
        lines.push(format!("Comment: {comment}"));
    }
    let mut html: Vec<String> = lines
        .iter()
        .map(|l| format!("<p>{}</p>", escape(l)))
        .collect();
    if let Some(link) = &record.transcript_url {
        html.push(format!(
            "<p><a href=\"{0}\">Transcript (Aircall AI)</a></p>",
            escape(link)
        ));
    }
    if let Some(link) = &record.aircall_link {
        html.push(format!(
            "<p><a href=\"{0}\">Open in Aircall</a></p>",
            escape(link)
        ));
    }
    html.concat()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The HubSpot owners of the integration's account, read at most once an hour.
pub async fn owners<P: Platform>(
    p: &P,
    integration_id: &str,
    hubspot: &HubspotClient<'_, P>,
) -> Result<Vec<Owner>, CrmError> {
    let key = crate::keys::crm_owners_key(integration_id);
    if let Some(text) = p.get(&key).await? {
        if let Ok(owners) = serde_json::from_str(&text) {
            return Ok(owners);
        }
    }
    let owners = hubspot.owners().await?;
    let text = serde_json::to_string(&owners).expect("owners serialize");
    p.put(&key, &text, Some(OWNERS_KEPT_SECONDS)).await?;
    Ok(owners)
}

async fn owner_for<P: Platform>(
    p: &P,
    integration_id: &str,
    hubspot: &HubspotClient<'_, P>,
    email: &str,
) -> Result<Option<String>, CrmError> {
    let owners = owners(p, integration_id, hubspot).await?;
    Ok(owners
        .into_iter()
        .find(|o| {
            o.email
                .as_deref()
                .is_some_and(|e| e.trim().eq_ignore_ascii_case(email.trim()))
        })
        .map(|o| o.id))
}

/// The HubSpot contact to associate: the one synced with the call's Aircall contact, else
/// the first whose phone or mobile phone is the other party's number, however it was typed.
async fn contact_for<P: Platform>(
    p: &P,
    integration_id: &str,
    hubspot: &HubspotClient<'_, P>,
    record: &CallRecord,
) -> Result<Option<String>, CrmError> {
    if let Some(aircall_id) = record.contact.as_ref().and_then(|c| c.id) {
        if let Some(link) = links::by_aircall(p, integration_id, aircall_id).await? {
            return Ok(Some(link.crm_id));
        }
    }
    let Some(number) = record.external_number.as_deref() else {
        return Ok(None);
    };
    // HubSpot keeps numbers as typed ("06 12 34 56 78") and compares them literally.
    let forms = crate::contacts::typed_forms(number);
    let by = |property: &str| json!({"filters": [{"propertyName": property, "operator": "IN", "values": forms}]});
    let body = json!({
        "filterGroups": [by("phone"), by("mobilephone")],
        "properties": ["email"],
        "limit": 1
    });
    let page = hubspot.search("contacts", &body).await?;
    Ok(page.results.into_iter().next().map(|c| c.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(v: Value) -> Map<String, Value> {
        let mut base = json!({
            "id": 812, "started_at": 1_700_000_000, "ended_at": 1_700_000_192,
            "answered_at": 1_700_000_010, "duration": 192, "direction": "inbound",
            "raw_digits": "+33612345678", "direct_link": "https://api.aircall.io/v1/calls/812",
            "number": {"id": 1, "digits": "+14155550100"},
            "user": {"id": 7, "name": "Ada <Admin>", "email": "ada@example.com"},
            "tags": [{"id": 1, "name": "demo"}], "comments": [{"id": 2, "content": "call back"}]
        });
        base.as_object_mut()
            .unwrap()
            .extend(v.as_object().unwrap().clone());
        base.as_object().unwrap().clone()
    }

    #[test]
    fn an_answered_inbound_call_becomes_a_completed_engagement() {
        let record = record_of("call.ended", &call(json!({}))).unwrap().unwrap();
        let p = engagement(&record, Some("42"));
        assert_eq!(p["hs_timestamp"], "1700000000000");
        assert_eq!(p["hs_call_direction"], "INBOUND");
        assert_eq!(p["hs_call_duration"], "192000", "milliseconds");
        assert_eq!(p["hs_call_from_number"], "+33612345678");
        assert_eq!(p["hs_call_to_number"], "+14155550100");
        assert_eq!(p["hs_call_status"], "COMPLETED");
        assert_eq!(p["hs_call_disposition"], CONNECTED);
        assert_eq!(p["hubspot_owner_id"], "42");
        assert_eq!(p["hs_call_title"], "Inbound Aircall call from +33612345678");
        let body = &p["hs_call_body"];
        assert!(body.contains("Agent: Ada &lt;Admin&gt;"), "{body}");
        assert!(body.contains("Tags: demo") && body.contains("Comment: call back"));
        assert!(body.contains("href=\"https://api.aircall.io/v1/calls/812\""));
        assert!(!p.contains_key("hs_call_recording_url"), "no archive yet");
    }

    #[test]
    fn a_missed_outbound_call_and_a_voicemail() {
        let missed = call(json!({"direction": "outbound", "answered_at": null,
            "missed_call_reason": "no_available_agent", "duration": 20}));
        let p = engagement(&record_of("call.ended", &missed).unwrap().unwrap(), None);
        assert_eq!(p["hs_call_direction"], "OUTBOUND");
        assert_eq!(p["hs_call_from_number"], "+14155550100");
        assert_eq!(
            (
                p["hs_call_status"].as_str(),
                p["hs_call_disposition"].as_str()
            ),
            ("NO_ANSWER", NO_ANSWER)
        );
        assert!(!p.contains_key("hubspot_owner_id"));
        let voicemail = call(json!({"answered_at": null, "voicemail": "https://v.test/1"}));
        let mut record = record_of("call.ended", &voicemail).unwrap().unwrap();
        record.recording_url = Some("https://connector.test/recordings/int/812.mp3?x".into());
        let p = engagement(&record, None);
        // A caller's voicemail: a missed inbound call with its audio, not "Left voicemail".
        assert_eq!(
            (
                p["hs_call_status"].as_str(),
                p["hs_call_disposition"].as_str()
            ),
            ("NO_ANSWER", NO_ANSWER)
        );
        assert!(p["hs_call_body"].contains("The caller left a voicemail"));
        assert!(p["hs_call_recording_url"].ends_with(".mp3?x"));
        let rep_left_one = call(json!({"direction": "outbound", "answered_at": null,
            "voicemail": "https://v.test/2"}));
        let p = engagement(&record_of("call.ended", &rep_left_one).unwrap().unwrap(), None);
        assert_eq!(p["hs_call_disposition"], LEFT_VOICEMAIL);
    }

    #[test]
    fn only_finished_calls_and_imported_records_are_logged() {
        assert_eq!(record_of("call.created", &call(json!({"ended_at": null}))), Ok(None));
        assert_eq!(record_of("contact.updated", &call(json!({}))), Ok(None));
        assert!(record_of("call.tagged", &call(json!({}))).unwrap().is_some());
        let mut record =
            CallRecord::of(&serde_json::from_value(Value::Object(call(json!({})))).unwrap());
        record.recording_url = Some("https://connector.test/recordings/int/812?x".into());
        let Value::Object(data) = serde_json::to_value(&record).unwrap() else {
            panic!()
        };
        let read = record_of(IMPORTED_EVENT, &data).unwrap().unwrap();
        assert_eq!(
            engagement(&read, None)["hs_call_recording_url"],
            "https://connector.test/recordings/int/812?x"
        );
        assert!(!engagement(&read, None)["hs_call_body"].contains("Transcript"));
        // An imported call whose transcript was archived links to it from its body.
        record.transcript_url = Some("https://connector.test/recordings/int/812.transcript.json?a&b".into());
        let Value::Object(data) = serde_json::to_value(&record).unwrap() else {
            panic!()
        };
        let body = &engagement(&record_of(IMPORTED_EVENT, &data).unwrap().unwrap(), None)["hs_call_body"];
        assert!(
            body.contains("<a href=\"https://connector.test/recordings/int/812.transcript.json?a&amp;b\">Transcript (Aircall AI)</a>"),
            "{body}"
        );
    }

    #[test]
    fn real_shapes_are_calls_and_a_broken_call_is_an_error() {
        let sample = call(json!({"user": {}, "contact": {}, "number": {},
            "raw_digits": "+44 330 818 6690"}));
        let record = record_of("call.ended", &sample).unwrap().unwrap();
        assert_eq!((record.user, record.contact), (None, None));
        assert_eq!(record.external_number.as_deref(), Some("+44 330 818 6690"));
        let mut missed = call(json!({"answered_at": null, "duration": 20}));
        missed.remove("user");
        assert!(record_of("call.ended", &missed).unwrap().is_some());
        let broken = call(json!({"user": {"id": "seven"}}));
        assert!(record_of("call.ended", &broken)
            .unwrap_err()
            .contains("does not read as a call"));
    }
}
