//! What the log keeps of an event: the entries noted as it goes through the connector, the
//! ids and phone numbers it is searched by, its payloads capped and without secrets.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What happened to an event at one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The destination took it.
    Delivered,
    /// Not forwarded, on purpose (not selected, another number, inactive...): `reason` says why.
    Filtered,
    /// Waiting for a rate budget (Aircall's, HubSpot's); not a failed attempt.
    Waiting,
    /// The attempt failed and another follows with back-off.
    Retrying,
    /// Given up: in the failed deliveries.
    Failed,
}

/// One step of an event, noted by ingress or the delivery pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The event's id: its delivery id (`msg_...`); a "send again" carries its own delivery
    /// id, logged under the event's ([`event_id_of`]).
    pub event_id: String,
    /// When this step happened (UNIX ms).
    pub at_ms: u64,
    /// The Aircall event name, as received.
    pub event: String,
    /// UNIX seconds at which Aircall emitted it.
    #[serde(default)]
    pub occurred_at: Option<i64>,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The delivery attempt (0 for a step before any: filtered at ingress).
    #[serde(default)]
    pub attempt: u32,
    /// The delivery id this step used (differs from `event_id` for a "send again").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_id: Option<String>,
    /// The destination type (`webhook`, `segment`, `hubspot`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// The event's data as received (kept from the first entry that has it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<Map<String, Value>>,
    /// What the destination was sent, secrets removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<Value>,
}

/// A "send again" delivers under `{event id}r{n}`: receivers and Segment drop a repeated id,
/// so a resend needs its own; its steps still belong to the event.
pub fn event_id_of(delivery_id: &str) -> &str {
    match delivery_id.rfind('r') {
        Some(at)
            if at > 4
                && delivery_id.len() > at + 1
                && delivery_id[at + 1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            &delivery_id[..at]
        }
        _ => delivery_id,
    }
}

/// The delivery id of the `n`-th "send again" of an event.
pub fn resend_id(event_id: &str, n: u32) -> String {
    format!("{event_id}r{n}")
}

/// Field names whose values never enter the log, at any depth (compared lower case).
const SECRET_NAMES: &[&str] = &[
    "token",
    "secret",
    "password",
    "api_key",
    "api_token",
    "apikey",
    "authorization",
    "write_key",
    "writekey",
    "access_token",
    "refresh_token",
    "signature",
    "webhook-signature",
    "client_secret",
];

pub const REDACTED: &str = "[redacted]";

/// `value` with every secret-named field's value replaced by [`REDACTED`].
pub fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => redact_map(map),
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

pub fn redact_map(map: &mut Map<String, Value>) {
    for (name, value) in map.iter_mut() {
        if SECRET_NAMES.contains(&name.to_ascii_lowercase().as_str()) {
            *value = Value::String(REDACTED.into());
        } else {
            redact(value);
        }
    }
}

/// Largest payload kept, per side (as received, as sent), in bytes of JSON.
pub const MAX_PAYLOAD_BYTES: usize = 32 * 1024;

/// A payload as the log keeps it: whole, or its first [`MAX_PAYLOAD_BYTES`] as text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kept {
    /// The JSON itself when whole; the start of its text when truncated.
    pub payload: Value,
    #[serde(default)]
    pub truncated: bool,
    /// Its full size in bytes of JSON.
    pub bytes: usize,
}

impl Kept {
    pub fn of(value: Value) -> Self {
        let text = value.to_string();
        if text.len() <= MAX_PAYLOAD_BYTES {
            return Kept {
                payload: value,
                truncated: false,
                bytes: text.len(),
            };
        }
        let mut end = MAX_PAYLOAD_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        Kept {
            payload: Value::String(text[..end].to_string()),
            truncated: true,
            bytes: text.len(),
        }
    }
}

/// The ids an event is about: its call, contact and message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Subjects {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<i64>,
    /// The phone numbers it carries, digits only (`+33 1 76...` -> `33176...`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<String>,
}

/// Most phone numbers kept per event (each is a search index entry).
const MAX_PHONES: usize = 6;

impl Subjects {
    pub fn of(event: &str, data: &Map<String, Value>) -> Self {
        let id = |v: Option<&Value>| -> Option<i64> {
            match v? {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            }
        };
        let resource = event.split('.').next().unwrap_or("");
        let own = id(data.get("id"));
        let call_id = match resource {
            "call" => own,
            _ => id(data.get("call_id")),
        };
        let contact_id = match resource {
            "contact" => own,
            _ => data
                .get("contact")
                .and_then(|c| id(c.get("id")))
                .or_else(|| id(data.get("contact_id"))),
        };
        let message_id = (resource == "message").then_some(own).flatten();
        let mut phones = Vec::new();
        collect_phones(data, 0, &mut phones);
        Subjects {
            call_id,
            contact_id,
            message_id,
            phones,
        }
    }
}

/// Keys whose string values are phone numbers in Aircall's payloads.
const PHONE_KEYS: &[&str] = &[
    "raw_digits",
    "digits",
    "phone_number",
    "external_number",
    "internal_number",
    "phone",
    "from",
    "to",
];

fn collect_phones(data: &Map<String, Value>, depth: usize, out: &mut Vec<String>) {
    for (key, value) in data {
        match value {
            Value::String(s) if PHONE_KEYS.contains(&key.as_str()) => add_phone(s, out),
            // `phone_numbers: [{label, value}]` (contacts).
            Value::Array(items) if key == "phone_numbers" => {
                for item in items {
                    if let Some(Value::String(s)) = item.get("value") {
                        add_phone(s, out);
                    }
                }
            }
            Value::Object(inner) if depth < 2 => collect_phones(inner, depth + 1, out),
            _ => {}
        }
    }
}

fn add_phone(text: &str, out: &mut Vec<String>) {
    let digits = phone_digits(text);
    if (6..=15).contains(&digits.len()) && !out.contains(&digits) && out.len() < MAX_PHONES {
        out.push(digits);
    }
}

/// A phone number as the log searches it: its digits only.
pub fn phone_digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_call_names_its_call_contact_and_numbers() {
        let data = obj(json!({"id": 812, "raw_digits": "+33 6 12 34 56 78",
            "number": {"id": 789, "digits": "+33 1 76 36 06 95"},
            "contact": {"id": 321, "phone_numbers": [{"label": "work", "value": "+33612345678"}]},
            "user": {"id": 4}}));
        let s = Subjects::of("call.ended", &data);
        assert_eq!(
            (s.call_id, s.contact_id, s.message_id),
            (Some(812), Some(321), None)
        );
        assert_eq!(s.phones, vec!["33612345678", "33176360695"]);
    }

    #[test]
    fn contacts_messages_and_ai_events_name_theirs() {
        let contact = obj(json!({"id": 3, "phone_numbers": [{"value": "+1 415 555 0100"}]}));
        let s = Subjects::of("contact.created", &contact);
        assert_eq!((s.call_id, s.contact_id), (None, Some(3)));
        assert_eq!(s.phones, vec!["14155550100"]);
        let message = obj(json!({"id": 9, "external_number": "+14155550100"}));
        assert_eq!(Subjects::of("message.sent", &message).message_id, Some(9));
        let ai = obj(json!({"id": 1, "call_id": 812}));
        assert_eq!(Subjects::of("summary.created", &ai).call_id, Some(812));
        let user = obj(json!({"id": 456, "email": "a@b.c"}));
        assert_eq!(Subjects::of("user.created", &user), Subjects::default());
    }

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let mut v = json!({"token": "t", "data": {"Authorization": "Bearer x",
            "list": [{"write_key": "k", "name": "kept"}]}, "tokens_count": 2});
        redact(&mut v);
        assert_eq!(
            v,
            json!({"token": REDACTED, "data": {"Authorization": REDACTED,
                "list": [{"write_key": REDACTED, "name": "kept"}]}, "tokens_count": 2})
        );
    }

    #[test]
    fn a_payload_over_the_cap_is_kept_truncated_and_says_so() {
        let small = Kept::of(json!({"a": 1}));
        assert_eq!((small.truncated, small.bytes), (false, 7));
        let big = Kept::of(json!({"note": "é".repeat(MAX_PAYLOAD_BYTES)}));
        assert!(big.truncated);
        assert!(big.bytes > MAX_PAYLOAD_BYTES * 2);
        let Value::String(text) = &big.payload else {
            panic!("text")
        };
        assert!(text.len() <= MAX_PAYLOAD_BYTES && text.starts_with("{\"note\":\"é"));
    }

    #[test]
    fn a_resend_is_logged_under_its_event() {
        let id = "msg_0123456789abcdef0123456789abcdef";
        assert_eq!(event_id_of(id), id);
        assert_eq!(event_id_of(&resend_id(id, 3)), id);
        assert_eq!(event_id_of("msg_r"), "msg_r");
    }
}
