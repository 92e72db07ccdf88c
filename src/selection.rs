//! Which events an integration forwards, whatever its destination: the events chosen, the
//! number filter, and when a call event needs reading from Aircall first (its payload
//! minimal).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Whether `event` is among the `chosen` events (`None`: every event is).
pub fn forwards(chosen: Option<&[String]>, event: &str) -> bool {
    chosen.is_none_or(|events| events.iter().any(|e| e == event))
}

/// One Aircall number of the filter: its id, or its digits (kept as `+` and digits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NumberRef {
    Id(i64),
    Digits(String),
}

/// `+33 1 76 36 06 95` -> `+33176360695`; the `+` matters not for matching.
pub fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

impl NumberRef {
    fn matches(&self, id: Option<i64>, number_digits: Option<&str>) -> bool {
        match self {
            NumberRef::Id(want) => id == Some(*want),
            NumberRef::Digits(want) => {
                number_digits.is_some_and(|d| !d.is_empty() && digits(d) == digits(want))
            }
        }
    }
}

/// Whether an event is about one of `numbers`: `Some(true)` forward it, `Some(false)` drop
/// it, `None` cannot tell yet (a call payload without its number: read the call first).
/// Events about no number (users, contacts, ...) pass.
pub fn about_numbers(
    numbers: &[NumberRef],
    event: &str,
    data: &Map<String, Value>,
) -> Option<bool> {
    let any = |id: Option<i64>, d: Option<&str>| numbers.iter().any(|n| n.matches(id, d));
    match crate::aircall::resource(event) {
        // An imported call carries the normalized record: its number's digits.
        "call" if event == crate::calls::IMPORTED_EVENT => Some(any(
            None,
            data.get("internal_number").and_then(Value::as_str),
        )),
        "call" => match data.get("number")? {
            // Aircall's sample payloads carry `"number": {}`: read the call to tell.
            Value::Object(n) if n.is_empty() => None,
            Value::Object(n) => Some(any(
                n.get("id").and_then(Value::as_i64),
                n.get("digits").and_then(Value::as_str),
            )),
            _ => Some(false),
        },
        "number" => Some(any(
            data.get("id").and_then(Value::as_i64),
            data.get("digits").and_then(Value::as_str),
        )),
        _ => Some(true),
    }
}

/// What a destination reading calls needs from a call: its user, number, contact and
/// recording. A key that is null (no recording yet) is an answer, not a gap; an empty object
/// (Aircall's sample payloads) is a gap.
pub const CALL_NEEDS: [&str; 4] = ["user", "number", "contact", "recording"];

/// Whether the payload says nothing of `key`: absent, or an empty object.
fn lacks(data: &Map<String, Value>, key: &str) -> bool {
    match data.get(key) {
        None => true,
        Some(Value::Object(o)) => o.is_empty(),
        Some(_) => false,
    }
}

/// Whether the call can have `key` at all, as far as the payload tells: an inbound call
/// nobody answered has no user (nor a recording; a voicemail comes at `voicemail`), and an
/// unknown caller no contact. A payload that never got as far as saying (no number, no
/// direction) is minimal: everything may be missing.
fn may_have(data: &Map<String, Value>, key: &str) -> bool {
    let unanswered_inbound = data.get("direction").and_then(Value::as_str) == Some("inbound")
        && data.get("answered_at").is_some_and(Value::is_null);
    let minimal = lacks(data, "number") || !data.contains_key("direction");
    match key {
        "user" | "recording" => !unanswered_inbound,
        // Aircall leaves `contact` out for an unknown caller: only a minimal payload's
        // missing contact may be a gap.
        "contact" => minimal,
        _ => true,
    }
}

/// The call to read when a call event's payload lacks something the call has. No Aircall
/// request is spent on a field the call will never have.
pub fn needs_enrichment(event: &str, data: &Map<String, Value>) -> Option<i64> {
    if crate::aircall::resource(event) != "call" || event == crate::calls::IMPORTED_EVENT {
        return None;
    }
    let id = data.get("id").and_then(Value::as_i64)?;
    CALL_NEEDS
        .iter()
        .any(|key| lacks(data, key) && may_have(data, key))
        .then_some(id)
}

/// Fills the keys the payload lacks (absent or empty objects) from the call as the API shows
/// it; what the webhook said is kept (it is the state at the event's time).
pub fn enrich(data: &mut Map<String, Value>, call: Map<String, Value>) {
    for (key, value) in call {
        if lacks(data, &key) {
            data.insert(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn the_number_filter_matches_ids_and_digits() {
        let numbers = vec![
            NumberRef::Id(789),
            NumberRef::Digits("+33 1 00 00 00 01".into()),
        ];
        let call = |number: Value| obj(json!({"id": 1, "number": number}));
        let yes = call(json!({"id": 789, "digits": "+33 1 76 36 06 95"}));
        let by_digits = call(json!({"id": 5, "digits": "+33100000001"}));
        let no = call(json!({"id": 5, "digits": "+33 1 76 36 06 95"}));
        assert_eq!(about_numbers(&numbers, "call.ended", &yes), Some(true));
        assert_eq!(
            about_numbers(&numbers, "call.ended", &by_digits),
            Some(true)
        );
        assert_eq!(about_numbers(&numbers, "call.ended", &no), Some(false));
        assert_eq!(
            about_numbers(&numbers, "call.ended", &call(Value::Null)),
            Some(false)
        );
        assert_eq!(
            about_numbers(&numbers, "call.ended", &obj(json!({"id": 1}))),
            None
        );
        assert_eq!(
            about_numbers(&numbers, "call.ended", &call(json!({}))),
            None
        );
        assert_eq!(
            about_numbers(&numbers, "number.opened", &obj(json!({"id": 789}))),
            Some(true)
        );
        assert_eq!(
            about_numbers(&numbers, "number.opened", &obj(json!({"id": 790}))),
            Some(false)
        );
        assert_eq!(
            about_numbers(&numbers, "user.created", &obj(json!({"id": 1}))),
            Some(true)
        );
        let record = obj(json!({"id": 1, "internal_number": "+33100000001"}));
        assert_eq!(
            about_numbers(&numbers, "call.imported", &record),
            Some(true)
        );
    }

    #[test]
    fn minimal_call_payloads_are_completed_without_overwriting() {
        let full = obj(
            json!({"id": 1, "user": null, "number": {"id": 2}, "contact": null, "recording": null}),
        );
        assert_eq!(needs_enrichment("call.ended", &full), None);
        let minimal = obj(json!({"id": 1, "status": "done"}));
        assert_eq!(needs_enrichment("call.ended", &minimal), Some(1));
        assert_eq!(needs_enrichment("call.imported", &minimal), None);
        assert_eq!(needs_enrichment("user.created", &minimal), None);

        let mut data = minimal;
        enrich(
            &mut data,
            obj(json!({"id": 1, "status": "answered", "user": {"id": 4}})),
        );
        assert_eq!(
            data,
            obj(json!({"id": 1, "status": "done", "user": {"id": 4}}))
        );
        let mut sample = obj(json!({"id": 1, "user": {}, "number": {"id": 2}}));
        enrich(
            &mut sample,
            obj(json!({"user": {"id": 4}, "number": {"id": 9}})),
        );
        assert_eq!(
            sample,
            obj(json!({"id": 1, "user": {"id": 4}, "number": {"id": 2}}))
        );
    }

    #[test]
    fn no_read_for_what_the_call_will_never_have() {
        let full = json!({"id": 1, "direction": "inbound", "answered_at": 5,
            "user": {"id": 4}, "number": {"id": 2}, "recording": null});
        let with = |changes: Value| {
            let mut data = obj(full.clone());
            data.extend(obj(changes));
            data.retain(|_, v| v != &json!("DROP"));
            needs_enrichment("call.ended", &data)
        };
        // An unknown caller: no contact key, nothing to read.
        assert_eq!(with(json!({})), None);
        // A missed inbound call: no user, no recording, and that is all it will ever have.
        assert_eq!(
            with(json!({"answered_at": null, "user": "DROP", "recording": "DROP"})),
            None
        );
        // An answered call whose payload lacks its agent, or an empty user: read it.
        assert_eq!(with(json!({"user": "DROP"})), Some(1));
        assert_eq!(with(json!({"user": {}})), Some(1));
        // An outbound call always has its agent.
        assert_eq!(
            with(json!({"direction": "outbound", "answered_at": null, "user": {}})),
            Some(1)
        );
        // `"number": {}`: every call has a number; a minimal payload may lack its contact too.
        assert_eq!(with(json!({"number": {}})), Some(1));
    }
}
