//! Aircall events as Segment messages: pure functions, no I/O.
//!
//! Every event becomes a `track` named after the Aircall event, its `data` as `properties`,
//! the event's own time as `timestamp`. User and contact events also send an `identify`.
//! Message ids derive from the delivery id, itself a hash of the Aircall event: a retry, or
//! Aircall sending the event twice, gives Segment the same `messageId` to drop.

use crate::aircall::resource;
use serde_json::{json, Map, Value};

/// Who a message is about: Segment needs a `userId` or an `anonymousId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// An Aircall user's id.
    User(String),
    /// A stable id derived from the resource (`aircall-call-812`).
    Anonymous(String),
}

impl Identity {
    fn put(&self, message: &mut Map<String, Value>) {
        match self {
            Identity::User(id) => message.insert("userId".into(), json!(id)),
            Identity::Anonymous(id) => message.insert("anonymousId".into(), json!(id)),
        };
    }
}

/// An id Aircall gives as a number or a string, as text.
pub fn id_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    }
}

/// The Aircall user when the event has one (user events: the user; call events: the
/// call's user), else an id derived from the resource the event is about.
pub fn identity(event: &str, data: &Map<String, Value>) -> Identity {
    let resource = resource(event);
    let user = match resource {
        "user" => id_text(data.get("id")),
        "call" => data
            .get("user")
            .and_then(Value::as_object)
            .and_then(|u| id_text(u.get("id"))),
        _ => None,
    };
    if let Some(user) = user {
        return Identity::User(user);
    }
    Identity::Anonymous(match id_text(data.get("id")) {
        Some(id) => format!("aircall-{resource}-{id}"),
        None => format!("aircall-{resource}"),
    })
}

fn context() -> Value {
    json!({"library": {"name": "aircall-connector", "version": env!("CARGO_PKG_VERSION")}})
}

/// The messages for one delivery: a `track`, and for user and contact events (other than
/// deletions, which would re-create the profile) an `identify` with the person's traits.
pub fn messages(
    delivery_id: &str,
    event: &str,
    occurred_at: i64,
    data: &Map<String, Value>,
) -> Vec<Map<String, Value>> {
    let who = identity(event, data);
    let timestamp = crate::time::rfc3339(occurred_at);
    let mut track = Map::new();
    track.insert("type".into(), json!("track"));
    track.insert("messageId".into(), json!(format!("{delivery_id}-track")));
    track.insert("event".into(), json!(event));
    who.put(&mut track);
    track.insert("timestamp".into(), json!(timestamp));
    track.insert("properties".into(), Value::Object(data.clone()));
    track.insert("context".into(), context());
    let mut out = vec![track];
    if let Some(traits) = traits(event, data) {
        let mut identify = Map::new();
        identify.insert("type".into(), json!("identify"));
        identify.insert("messageId".into(), json!(format!("{delivery_id}-identify")));
        who.put(&mut identify);
        identify.insert("timestamp".into(), json!(timestamp));
        identify.insert("traits".into(), Value::Object(traits));
        identify.insert("context".into(), context());
        out.push(identify);
    }
    out
}

/// A person's traits from a user or contact event: name, e-mail, phone numbers.
pub fn traits(event: &str, data: &Map<String, Value>) -> Option<Map<String, Value>> {
    let resource = resource(event);
    if !matches!(resource, "user" | "contact") || event.split('.').nth(1) == Some("deleted") {
        return None;
    }
    let text = |key: &str| {
        data.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(str::to_string)
    };
    // Contacts list `{label, value}` objects; take the values.
    let values = |key: &str| -> Vec<String> {
        data.get(key)
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|v| v.get("value").and_then(Value::as_str).or(v.as_str()))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut traits = Map::new();
    let mut set = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            traits.insert(key.into(), json!(value));
        }
    };
    if resource == "user" {
        set("name", text("name"));
        set("email", text("email"));
        set("phone", text("phone"));
        set("aircall_user_id", id_text(data.get("id")));
    } else {
        let (first, last) = (text("first_name"), text("last_name"));
        let name = [first.as_deref(), last.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        set("name", (!name.is_empty()).then_some(name));
        set("first_name", first);
        set("last_name", last);
        set("company", text("company_name"));
        let (emails, phones) = (values("emails"), values("phone_numbers"));
        set("email", emails.first().cloned());
        set("phone", phones.first().cloned());
        set("aircall_contact_id", id_text(data.get("id")));
        if phones.len() > 1 {
            traits.insert("phone_numbers".into(), json!(phones));
        }
        if emails.len() > 1 {
            traits.insert("emails".into(), json!(emails));
        }
    }
    Some(traits)
}

/// Serialized size of a message, as Segment counts it.
pub fn size(message: &Map<String, Value>) -> usize {
    serde_json::to_vec(message).map_or(usize::MAX, |b| b.len())
}

/// Keeps a message under `limit` bytes by removing the largest fields of its `properties`
/// (or `traits`) one at a time; `id` is never removed. What was removed is named in
/// `properties.trimmed_fields`, so nothing disappears without a trace. Answers the names.
pub fn trim(message: &mut Map<String, Value>, limit: usize) -> Vec<String> {
    let mut removed = Vec::new();
    let field = if message.contains_key("properties") {
        "properties"
    } else {
        "traits"
    };
    while size(message) > limit {
        let Some(Value::Object(props)) = message.get_mut(field) else {
            break;
        };
        let largest = props
            .iter()
            .filter(|(k, _)| *k != "id" && *k != "trimmed_fields")
            .max_by_key(|(_, v)| serde_json::to_vec(v).map_or(0, |b| b.len()))
            .map(|(k, _)| k.clone());
        let Some(key) = largest else { break };
        props.remove(&key);
        removed.push(key);
        props.insert("trimmed_fields".into(), json!(removed));
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_call_event_is_a_track_by_its_user() {
        let data = obj(json!({"id": 812, "user": {"id": 456, "name": "Madeline"}}));
        let got = messages("msg_abc", "call.ended", 1_700_000_000, &data);
        assert_eq!(got.len(), 1);
        assert_eq!(
            Value::Object(got[0].clone()),
            json!({
                "type": "track",
                "messageId": "msg_abc-track",
                "event": "call.ended",
                "userId": "456",
                "timestamp": "2023-11-14T22:13:20Z",
                "properties": data,
                "context": context(),
            })
        );
    }

    #[test]
    fn without_a_user_the_resource_names_an_anonymous_id() {
        let call = obj(json!({"id": 812, "user": null}));
        assert_eq!(
            identity("call.created", &call),
            Identity::Anonymous("aircall-call-812".into())
        );
        let contact = obj(json!({"id": "c1"}));
        assert_eq!(
            identity("contact.updated", &contact),
            Identity::Anonymous("aircall-contact-c1".into())
        );
        assert_eq!(
            identity("number.opened", &obj(json!({"id": 9}))),
            Identity::Anonymous("aircall-number-9".into())
        );
        assert_eq!(
            identity("user.opened.v2", &obj(json!({"id": 7}))),
            Identity::User("7".into())
        );
        assert_eq!(
            identity("integration.deleted", &obj(json!({}))),
            Identity::Anonymous("aircall-integration".into())
        );
    }

    #[test]
    fn user_and_contact_events_also_identify() {
        let user = obj(json!({"id": 7, "name": "Ann", "email": "ann@example.com"}));
        let got = messages("msg_u", "user.created", 1, &user);
        assert_eq!(got.len(), 2);
        assert_eq!(got[1]["type"], "identify");
        assert_eq!(got[1]["messageId"], "msg_u-identify");
        assert_eq!(got[1]["userId"], "7");
        assert_eq!(got[1]["traits"]["email"], "ann@example.com");

        let contact = obj(json!({
            "id": 3, "first_name": "Jean", "last_name": "Dupont", "company_name": "ACME",
            "phone_numbers": [{"label": "work", "value": "+33612345678"}, {"label": "home", "value": "+33100000000"}],
            "emails": [{"label": "work", "value": "jean@acme.test"}]
        }));
        let got = messages("msg_c", "contact.updated", 1, &contact);
        assert_eq!(
            Value::Object(got[1]["traits"].as_object().unwrap().clone()),
            json!({
                "name": "Jean Dupont", "first_name": "Jean", "last_name": "Dupont",
                "company": "ACME", "email": "jean@acme.test", "phone": "+33612345678",
                "phone_numbers": ["+33612345678", "+33100000000"], "aircall_contact_id": "3"
            })
        );
        assert_eq!(got[1]["anonymousId"], "aircall-contact-3");
        assert_eq!(messages("m", "contact.deleted", 1, &contact).len(), 1);
        assert_eq!(messages("m", "call.ended", 1, &contact).len(), 1);
    }

    #[test]
    fn an_imported_call_is_a_track_of_its_record() {
        let record =
            obj(json!({"id": 812, "status": "answered", "user": {"id": 456, "name": "Ann"}}));
        let got = messages("msg_i", "call.imported", 1_700_000_000, &record);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0]["event"], "call.imported");
        assert_eq!(got[0]["userId"], "456", "the record names its Aircall user");
        assert_eq!(
            Value::Object(got[0]["properties"].as_object().unwrap().clone()),
            Value::Object(record)
        );
    }

    #[test]
    fn message_ids_are_stable_and_short() {
        let data = obj(json!({"id": 1}));
        let id = crate::delivery::Delivery::id_for("int_x", "call.ended", Some(1), "{\"id\":1}");
        let a = messages(&id, "call.ended", 1, &data);
        let b = messages(&id, "call.ended", 1, &data);
        assert_eq!(a[0]["messageId"], b[0]["messageId"]);
        assert!(a[0]["messageId"].as_str().unwrap().len() < 100);
        let user = messages(&id, "user.created", 1, &data);
        assert!(user[1]["messageId"].as_str().unwrap().len() < 100);
        assert_ne!(user[0]["messageId"], user[1]["messageId"]);
    }

    #[test]
    fn an_oversized_message_loses_its_largest_optional_fields_and_says_so() {
        let data = obj(json!({
            "id": 812,
            "comments": "c".repeat(40_000),
            "tags": "t".repeat(10_000),
            "status": "done"
        }));
        let mut track = messages("m", "call.ended", 1, &data).remove(0);
        let removed = trim(&mut track, 32_000);
        assert_eq!(removed, vec!["comments"]);
        assert!(size(&track) <= 32_000);
        assert_eq!(track["properties"]["trimmed_fields"], json!(["comments"]));
        assert_eq!(track["properties"]["id"], 812);
        assert_eq!(track["properties"]["status"], "done");

        let mut small = messages("m", "call.ended", 1, &obj(json!({"id": 1}))).remove(0);
        assert!(trim(&mut small, 32_000).is_empty());
        assert!(!small["properties"]
            .as_object()
            .unwrap()
            .contains_key("trimmed_fields"));
    }
}
