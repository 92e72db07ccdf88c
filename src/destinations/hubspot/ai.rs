//! Aircall AI data on the call's HubSpot engagement (logged first if it was not yet, once
//! either way: the same call id -> engagement link as every call event):
//! - the summary and the transcript (speaker-labelled) as notes associated with the call and
//!   its contact, a transcript past HubSpot's 65,536 characters per note in several notes;
//! - topics and sentiment as call properties (`aircall_ai_topics`, `aircall_ai_sentiment`),
//!   created in the portal the first time (HubSpot answers 409 when they exist: fine);
//! - each action item as a task owned by the call's owner, associated with the contact.
//!
//! HubSpot has no idempotency key: each note and task made is remembered by call, kind and
//! position, so that a replayed AI webhook updates them instead of making more.

use super::calls::log_call;
use super::client::{HubspotClient, HubspotError};
use crate::aircall::AiKind;
use crate::crm::{CrmError, Logged};
use crate::keys;
use crate::ports::Platform;
use crate::retry::Outcome;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// HubSpot's association type ids: note -> contact, task -> contact.
const NOTE_TO_CONTACT: u32 = 202;
const TASK_TO_CONTACT: u32 = 204;
/// HubSpot keeps at most 65,536 characters in a note; a little under, for the heading.
const NOTE_CHARS: usize = 60_000;
/// The call properties the AI data fills.
pub const TOPICS_PROPERTY: &str = "aircall_ai_topics";
pub const SENTIMENT_PROPERTY: &str = "aircall_ai_sentiment";
/// The summary also as a call property: an insight card shows it with the last call, read by
/// the same search that finds that call.
pub const SUMMARY_PROPERTY: &str = "aircall_ai_summary";
/// The mark that the properties exist is kept a day: a property deleted in the portal is
/// created again the next day (HubSpot answers 409 for those still there).
const PROPERTIES_KEPT_SECONDS: u64 = 86_400;

/// Whether `event` is AI data the pipeline read for HubSpot (`call.summary`, ...).
pub fn kind_of(event: &str) -> Option<AiKind> {
    AiKind::ALL.into_iter().find(|k| k.delivered_event() == event)
}

/// Delivers one AI event's data (`{"call_id", <Aircall's answer>, "call"?}`: `call` is the
/// Aircall call, read by the pipeline when it was not logged yet).
pub async fn deliver<P: Platform>(
    p: &P,
    integration_id: &str,
    hubspot: &HubspotClient<'_, P>,
    kind: AiKind,
    occurred_at: i64,
    data: &Map<String, Value>,
) -> Result<Outcome, CrmError> {
    let Some(call_id) = data.get("call_id").and_then(Value::as_i64) else {
        return Ok(failed("the AI data names no call"));
    };
    let engagement = match p.get(&keys::crm_call_key(integration_id, call_id)).await? {
        Some(id) => id,
        None => {
            let Some(Value::Object(call)) = data.get("call") else {
                return Ok(failed(&format!("call {call_id} is not logged in HubSpot and was not read")));
            };
            match log_call(p, integration_id, hubspot, "call.ended", call).await? {
                Logged::Created(id) | Logged::Updated(id) => id,
                Logged::Busy => {
                    return Ok(Outcome::Wait {
                        reason: "another delivery of this call to create its HubSpot engagement"
                            .into(),
                        seconds: 65,
                    })
                }
                Logged::NotACall => {
                    return Ok(failed(&format!("call {call_id} has not ended: nothing to log")))
                }
            }
        }
    };
    let on = Engagement::read(hubspot, &engagement).await?;
    let at = (occurred_at.max(0) as u64 * 1000).to_string();
    match kind {
        AiKind::Summary => {
            let text = content(data, "summary").as_str().unwrap_or_default().to_string();
            let body = format!("<p><strong>Aircall AI summary</strong></p>{}", paragraphs(&text));
            notes(p, integration_id, hubspot, &on, call_id, kind, &at, vec![body]).await?;
            properties(p, integration_id, hubspot).await?;
            let set = BTreeMap::from([(SUMMARY_PROPERTY.to_string(), text)]);
            hubspot.update("calls", &on.id, &set).await?;
        }
        AiKind::Transcription => {
            let agents = agents(p, integration_id, call_id).await?;
            let lines = transcript_lines(&content(data, "transcription"), &agents);
            let mut bodies = transcript_notes(&lines);
            if let (Some(first), Some(link)) = (bodies.first_mut(), data.get("transcript_url").and_then(Value::as_str)) {
                first.push_str(&format!("<p><a href=\"{}\">The transcript, archived</a></p>", escape(link)));
            }
            notes(p, integration_id, hubspot, &on, call_id, kind, &at, bodies).await?;
        }
        AiKind::Topics => {
            let topics: Vec<String> = content(data, "topic")
                .as_array()
                .map(|l| l.iter().filter_map(|t| t.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            properties(p, integration_id, hubspot).await?;
            let set = BTreeMap::from([(TOPICS_PROPERTY.to_string(), topics.join("; "))]);
            hubspot.update("calls", &on.id, &set).await?;
        }
        AiKind::Sentiment => {
            let value = sentiment(data);
            properties(p, integration_id, hubspot).await?;
            let set = BTreeMap::from([(SENTIMENT_PROPERTY.to_string(), value)]);
            hubspot.update("calls", &on.id, &set).await?;
        }
        AiKind::ActionItems => {
            tasks(p, integration_id, hubspot, &on, call_id, &at, &action_items(data)).await?;
        }
    }
    // Insight cards: the notes and tasks just logged on the contact, and the summary, join
    // its last call's record when this call is its last (topics and sentiment log none).
    if let (Some(contact), false) = (&on.contact, matches!(kind, AiKind::Topics | AiKind::Sentiment)) {
        let summary = content(data, "summary");
        let summary = (kind == AiKind::Summary).then(|| summary.as_str()).flatten();
        crate::crm::last_call::ai_logged(p, integration_id, contact, call_id, occurred_at, summary).await?;
    }
    Ok(Outcome::Delivered)
}

fn failed(reason: &str) -> Outcome {
    Outcome::Failed {
        reason: reason.to_string(),
    }
}

/// The engagement as the notes and tasks need it: its owner and its contact.
struct Engagement {
    id: String,
    owner: Option<String>,
    contact: Option<String>,
}

impl Engagement {
    async fn read<P: Platform>(hubspot: &HubspotClient<'_, P>, id: &str) -> Result<Self, HubspotError> {
        let path = format!("/crm/v3/objects/calls/{id}?properties=hubspot_owner_id&associations=contacts");
        let answer = hubspot.json("GET", &path, None).await?;
        let text = |v: &Value| match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        Ok(Engagement {
            id: id.to_string(),
            owner: text(&answer["properties"]["hubspot_owner_id"]),
            contact: text(&answer["associations"]["contacts"]["results"][0]["id"]),
        })
    }

    /// What a record made for this call gets only when created: its time, its owner, `more`.
    fn first_properties(&self, at: &str, more: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut properties = BTreeMap::from([("hs_timestamp".to_string(), at.to_string())]);
        properties.extend(more.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        if let Some(owner) = &self.owner {
            properties.insert("hubspot_owner_id".into(), owner.clone());
        }
        properties
    }

    fn with_contact(&self, type_id: u32) -> Value {
        match &self.contact {
            Some(contact) => json!([{"to": {"id": contact}, "types": [
                {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}]}]),
            None => json!([]),
        }
    }
}

/// The AI object in Aircall's answer: `{"summary": {...}}` -> its `content`.
fn content(data: &Map<String, Value>, wrapper: &str) -> Value {
    data.get(wrapper)
        .and_then(|o| o.get("content"))
        .cloned()
        .unwrap_or(Value::Null)
}

/// The notes of one kind of a call's AI data: each created once (associated with the contact
/// and the call), then updated.
#[allow(clippy::too_many_arguments)]
async fn notes<P: Platform>(
    p: &P,
    integration_id: &str,
    hubspot: &HubspotClient<'_, P>,
    on: &Engagement,
    call_id: i64,
    kind: AiKind,
    at: &str,
    bodies: Vec<String>,
) -> Result<(), CrmError> {
    for (n, body) in bodies.into_iter().enumerate() {
        let key = keys::crm_ai_record_key(integration_id, call_id, kind.path(), n);
        let properties = BTreeMap::from([("hs_note_body".to_string(), body)]);
        let first = on.first_properties(at, &[]);
        let association = on.with_contact(NOTE_TO_CONTACT);
        let note = made_once(p, hubspot, &key, "notes", properties, first, association).await?;
        // HubSpot's default (unlabelled) note -> call association; repeated, it changes nothing.
        let path = format!("/crm/v4/objects/notes/{note}/associations/default/calls/{}", on.id);
        hubspot.json("PUT", &path, None).await?;
    }
    Ok(())
}

/// The action items as tasks: each created once, owned by the call's owner and associated
/// with its contact; a replay updates its subject and text (never its status, which the
/// owner may have changed).
async fn tasks<P: Platform>(
    p: &P,
    integration_id: &str,
    hubspot: &HubspotClient<'_, P>,
    on: &Engagement,
    call_id: i64,
    at: &str,
    items: &[String],
) -> Result<(), CrmError> {
    for (n, text) in items.iter().enumerate() {
        let key = keys::crm_ai_record_key(integration_id, call_id, "action_items", n);
        let subject: String = text.chars().take(200).collect();
        let properties = BTreeMap::from([
            ("hs_task_subject".to_string(), subject),
            ("hs_task_body".to_string(), format!("{} (Aircall call {call_id})", escape(text))),
        ]);
        let first = on.first_properties(at, &[("hs_task_status", "NOT_STARTED")]);
        let association = on.with_contact(TASK_TO_CONTACT);
        made_once(p, hubspot, &key, "tasks", properties, first, association).await?;
    }
    Ok(())
}

/// A record the connector makes once for a call's AI data, its id kept under `key`: updated
/// with `properties` when it exists, else created with `first` too (its time, owner, a
/// task's status: what a replay must not reset) and `association`. Its id.
async fn made_once<P: Platform>(
    p: &P,
    hubspot: &HubspotClient<'_, P>,
    key: &str,
    object: &str,
    mut properties: BTreeMap<String, String>,
    first: BTreeMap<String, String>,
    association: Value,
) -> Result<String, CrmError> {
    if let Some(id) = p.get(key).await? {
        hubspot.update(object, &id, &properties).await?;
        return Ok(id);
    }
    properties.extend(first);
    let created = hubspot.create(object, &properties, association).await?;
    p.put(key, &created.id, None).await?;
    Ok(created.id)
}

/// The action items' texts. Their shape is not confirmed: a list (under `action_items`, or
/// under `action_items.content`) of texts or of objects with `text` or `content`.
pub fn action_items(data: &Map<String, Value>) -> Vec<String> {
    let list = match data.get("action_items") {
        Some(Value::Array(list)) => list.clone(),
        Some(Value::Object(o)) => match o.get("content").or(o.get("action_items")) {
            Some(Value::Array(list)) => list.clone(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    list.iter()
        .filter_map(|item| match item {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o
                .get("text")
                .or(o.get("content"))
                .and_then(Value::as_str)
                .map(str::to_string),
            _ => None,
        })
        .filter(|s| !s.trim().is_empty())
        .collect()
}

/// The caller's sentiment (the external participant's), else the first one given.
pub fn sentiment(data: &Map<String, Value>) -> String {
    let participants = data
        .get("sentiment")
        .and_then(|s| s.get("participants"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    participants
        .iter()
        .find(|p| p["type"] == "external")
        .or(participants.first())
        .and_then(|p| p["value"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// Creates the AI call properties in the portal unless known to be there.
async fn properties<P: Platform>(
    p: &P,
    integration_id: &str,
    hubspot: &HubspotClient<'_, P>,
) -> Result<(), CrmError> {
    let mark = keys::crm_ai_properties_key(integration_id);
    if p.get(&mark).await?.is_some() {
        return Ok(());
    }
    for (name, label) in [
        (TOPICS_PROPERTY, "Aircall AI topics"),
        (SENTIMENT_PROPERTY, "Aircall AI sentiment"),
        (SUMMARY_PROPERTY, "Aircall AI summary"),
    ] {
        let definition = json!({"name": name, "label": label, "type": "string",
            "fieldType": "text", "groupName": "callinformation",
            "description": "Set by the Aircall connector from Aircall's AI data."});
        match hubspot.json("POST", "/crm/v3/properties/calls", Some(&definition)).await {
            Ok(_) | Err(HubspotError::Failed { status: 409, .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    p.put(&mark, "1", Some(PROPERTIES_KEPT_SECONDS)).await?;
    Ok(())
}

/// The names of the call's Aircall users, kept when the call was logged.
async fn agents<P: Platform>(
    p: &P,
    integration_id: &str,
    call_id: i64,
) -> Result<BTreeMap<String, String>, CrmError> {
    let text = p.get(&keys::crm_ai_agents_key(integration_id, call_id)).await?;
    Ok(text
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default())
}

/// The transcript as lines `Speaker: text`: an agent by name (else `Agent {user id}`), the
/// other party by number.
pub fn transcript_lines(content: &Value, agents: &BTreeMap<String, String>) -> Vec<String> {
    let utterances = content["utterances"].as_array().cloned().unwrap_or_default();
    utterances
        .iter()
        .map(|u| {
            let user = match u.get("user_id") {
                Some(Value::Number(n)) => Some(n.to_string()),
                Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                _ => None,
            };
            let speaker = match (u["participant_type"].as_str(), user) {
                (Some("internal"), Some(id)) => agents
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| format!("Agent {id}")),
                (Some("internal"), None) => "Agent".into(),
                _ => match u["phone_number"].as_str() {
                    Some(number) => format!("Caller ({number})"),
                    None => "Caller".into(),
                },
            };
            format!("{speaker}: {}", u["text"].as_str().unwrap_or_default())
        })
        .collect()
}

/// The transcript's notes: as many as HubSpot's note size needs, each headed with its part.
pub fn transcript_notes(lines: &[String]) -> Vec<String> {
    let mut parts: Vec<String> = vec![String::new()];
    for line in lines {
        let html = format!("<p>{}</p>", escape(line));
        let last = parts.last_mut().expect("one is there");
        if !last.is_empty() && last.chars().count() + html.chars().count() > NOTE_CHARS {
            parts.push(String::new());
        }
        parts.last_mut().expect("one is there").push_str(&html);
    }
    let count = parts.len();
    parts
        .into_iter()
        .enumerate()
        .map(|(n, body)| {
            let heading = match count {
                1 => "Aircall AI transcript".to_string(),
                _ => format!("Aircall AI transcript (part {} of {count})", n + 1),
            };
            format!("<p><strong>{heading}</strong></p>{body}")
        })
        .collect()
}

fn paragraphs(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("<p>{}</p>", escape(l)))
        .collect()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// How an AI delivery's failure reads for the pipeline.
pub fn outcome(result: Result<Outcome, CrmError>) -> Result<Outcome, crate::infra::InfraError> {
    match result {
        Ok(outcome) => Ok(outcome),
        Err(CrmError::Infra(e)) => Err(e),
        Err(e) => Ok(Outcome::of(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn speakers_are_named_agents_by_their_aircall_name_callers_by_number() {
        let content = json!({"language": "en", "utterances": [
            {"text": "Sales, Madeline <speaking>.", "participant_type": "internal", "user_id": 456},
            {"text": "Hi.", "participant_type": "external", "phone_number": "+33612345678"},
            {"text": "Let me transfer you.", "participant_type": "internal", "user_id": 9},
        ]});
        let agents = BTreeMap::from([("456".to_string(), "Madeline".to_string())]);
        let lines = transcript_lines(&content, &agents);
        assert_eq!(
            lines,
            [
                "Madeline: Sales, Madeline <speaking>.",
                "Caller (+33612345678): Hi.",
                "Agent 9: Let me transfer you."
            ]
        );
        let notes = transcript_notes(&lines);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("<p>Madeline: Sales, Madeline &lt;speaking&gt;.</p>"));
    }

    #[test]
    fn a_long_transcript_takes_several_notes_and_loses_nothing() {
        let lines: Vec<String> = (0..3_000).map(|n| format!("Caller: line {n} {}", "x".repeat(40))).collect();
        let notes = transcript_notes(&lines);
        assert!(notes.len() >= 3, "{}", notes.len());
        for (n, note) in notes.iter().enumerate() {
            assert!(note.chars().count() <= 65_536);
            assert!(note.contains(&format!("(part {} of {})", n + 1, notes.len())));
        }
        let joined = notes.concat();
        for line in [&lines[0], &lines[1_500], &lines[2_999]] {
            assert!(joined.contains(&format!("<p>{line}</p>")), "{line}");
        }
    }

    #[test]
    fn action_items_sentiment_and_kinds_read_from_aircall_s_answers() {
        let items = obj(json!({"call_id": 1, "action_items": [{"text": "Refund", "user_id": 4}, "Call back", {"x": 1}]}));
        assert_eq!(action_items(&items), ["Refund", "Call back"]);
        let wrapped = obj(json!({"call_id": 1, "action_items": {"id": 3, "content": ["Send the quote"]}}));
        assert_eq!(action_items(&wrapped), ["Send the quote"]);
        let s = obj(json!({"sentiment": {"participants": [
            {"type": "internal", "value": "NEUTRAL"}, {"type": "external", "value": "NEGATIVE"}]}}));
        assert_eq!(sentiment(&s), "NEGATIVE");
        assert_eq!(kind_of("call.topics"), Some(AiKind::Topics));
        assert_eq!(kind_of("call.ended"), None);
    }
}
