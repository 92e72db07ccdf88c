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

/// Bytes the `trimmed_fields` entry may take: its list is cut to fit, so that naming what was
/// removed can never itself push a message over the limit.
const TRIMMED_FIELDS_BYTES: usize = 1_024;
/// A removed field's name is shown up to this many characters.
const NAME_CHARS: usize = 64;

/// A message that stays over the limit with every removable field gone: its `id`, its
/// identity or its event name alone are too large.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("over Segment's {limit} bytes per message even without its optional fields ({bytes} bytes left)")]
pub struct TooLarge {
    pub limit: usize,
    pub bytes: usize,
}

/// Keeps a message under `limit` bytes by removing the largest fields of its `properties`
/// (or `traits`); `id` is never removed. What was removed is named in
/// `properties.trimmed_fields` (the longest names cut, and past 1 KB of names a last entry
/// `"... and N more"`), so nothing disappears without a trace. Answers those names.
///
/// Linear in the message's size: each field is serialized once, and the sizes are added up
/// instead of serializing the message again after each removal.
pub fn trim(message: &mut Map<String, Value>, limit: usize) -> Result<Vec<String>, TooLarge> {
    let total = size(message);
    if total <= limit {
        return Ok(Vec::new());
    }
    let field = if message.contains_key("properties") {
        "properties"
    } else {
        "traits"
    };
    let Some(Value::Object(props)) = message.get_mut(field) else {
        return Err(TooLarge { limit, bytes: total });
    };
    // Each entry's bytes: `"key":value` and its comma (one comma fewer than entries, so
    // this counts one too many when all go: the sum errs on the safe side).
    let entry = |key: &str, value: &Value| {
        serde_json::to_vec(key).map_or(usize::MAX, |b| b.len())
            + 1
            + serde_json::to_vec(value).map_or(usize::MAX, |b| b.len())
            + 1
    };
    let mut candidates: Vec<(usize, String)> = props
        .iter()
        .filter(|(k, _)| *k != "id")
        .map(|(k, v)| (entry(k, v), k.clone()))
        .collect();
    // A `trimmed_fields` Aircall sent would be overwritten by ours: it goes first.
    candidates.sort_by(|a, b| {
        (b.1 == "trimmed_fields")
            .cmp(&(a.1 == "trimmed_fields"))
            .then(b.0.cmp(&a.0))
            .then(a.1.cmp(&b.1))
    });
    // Room for our own `"trimmed_fields":[...],` whatever it names.
    let target = limit.saturating_sub(TRIMMED_FIELDS_BYTES + 20);
    let mut left = total;
    let mut removed = Vec::new();
    for (bytes, key) in candidates {
        if left <= target {
            break;
        }
        props.remove(&key);
        left = left.saturating_sub(bytes);
        removed.push(key);
    }
    let names = named(&removed);
    props.insert("trimmed_fields".into(), json!(names));
    let bytes = size(message);
    if bytes > limit {
        return Err(TooLarge { limit, bytes });
    }
    Ok(names)
}

/// The names for `trimmed_fields`: each cut to [`NAME_CHARS`], as many as fit in
/// [`TRIMMED_FIELDS_BYTES`], then how many more there were.
fn named(removed: &[String]) -> Vec<String> {
    let mut names = Vec::new();
    let mut bytes = "\"trimmed_fields\":[]".len();
    for (n, key) in removed.iter().enumerate() {
        let name = if key.chars().count() > NAME_CHARS {
            format!("{}...", key.chars().take(NAME_CHARS).collect::<String>())
        } else {
            key.clone()
        };
        let cost = serde_json::to_vec(&name).map_or(usize::MAX, |b| b.len()) + 1;
        // Keep room for the last entry, `"... and 99999 more"`.
        if bytes + cost + 30 > TRIMMED_FIELDS_BYTES {
            names.push(format!("... and {} more", removed.len() - n));
            break;
        }
        bytes += cost;
        names.push(name);
    }
    names
}

#[cfg(test)]
pub(crate) mod tests {
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
        let removed = trim(&mut track, 32_000).unwrap();
        assert_eq!(removed, vec!["comments"]);
        assert!(size(&track) <= 32_000);
        assert_eq!(track["properties"]["trimmed_fields"], json!(["comments"]));
        assert_eq!(track["properties"]["id"], 812);
        assert_eq!(track["properties"]["status"], "done");

        let mut small = messages("m", "call.ended", 1, &obj(json!({"id": 1}))).remove(0);
        assert!(trim(&mut small, 32_000).unwrap().is_empty());
        assert!(!small["properties"]
            .as_object()
            .unwrap()
            .contains_key("trimmed_fields"));
    }

    /// A 900 KB call: a long comment list and 7,000 fields with long names (Aircall signs
    /// nothing, so a payload may carry any keys): naming each removed field would take more
    /// room than removing it frees.
    pub(crate) fn call_of_900_kb() -> Map<String, Value> {
        let mut data = obj(json!({
            "id": 812,
            "user": {"id": 456},
            "comments": (0..1_500).map(|n| json!({"id": n, "content": "c".repeat(100)})).collect::<Vec<_>>(),
        }));
        for n in 0..7_000 {
            data.insert(
                format!("custom_field_with_a_rather_long_descriptive_name_{n:05}"),
                json!("f".repeat(40)),
            );
        }
        assert!((850_000..950_000).contains(&size(&data)), "{}", size(&data));
        data
    }

    #[test]
    fn a_900_kb_event_with_thousands_of_fields_is_trimmed_under_the_limit() {
        let mut track = messages("m", "call.ended", 1, &call_of_900_kb()).remove(0);
        let removed = trim(&mut track, 32_000).unwrap();
        assert!(size(&track) <= 32_000, "{} bytes", size(&track));
        assert_eq!(track["properties"]["id"], 812);
        assert_eq!(track["userId"], "456");
        assert_eq!(removed[0], "comments", "the largest goes first");
        let named = track["properties"]["trimmed_fields"].as_array().unwrap();
        assert_eq!(Value::Array(named.clone()), json!(removed));
        let last = named.last().unwrap().as_str().unwrap();
        assert!(last.starts_with("... and ") && last.ends_with(" more"), "{last}");
        // What was kept plus what was removed is every field.
        let more: usize = last["... and ".len()..last.len() - " more".len()].parse().unwrap();
        let kept = track["properties"].as_object().unwrap().len() - 2; // id, trimmed_fields
        assert_eq!(kept + named.len() - 1 + more, 7_002);
    }

    #[test]
    fn long_field_names_are_shortened_in_the_list() {
        let long = "n".repeat(5_000);
        let data = obj(json!({"id": 1, long.clone(): "v".repeat(40_000)}));
        let mut track = messages("m", "call.ended", 1, &data).remove(0);
        let removed = trim(&mut track, 32_000).unwrap();
        assert_eq!(removed, vec![format!("{}...", &long[..64])]);
        assert!(size(&track) <= 32_000);
    }

    #[test]
    fn a_message_too_large_without_its_optional_fields_is_refused() {
        let data = obj(json!({"id": "9".repeat(40_000), "status": "done"}));
        let mut track = messages("m", "call.ended", 1, &data).remove(0);
        let refused = trim(&mut track, 32_000).unwrap_err();
        assert_eq!(refused.limit, 32_000);
        assert!(refused.bytes > 32_000);
    }
}
