//! The id a destination sees for AI data (the `webhook-id`, Segment's `messageId` and its
//! parts'): derived from the integration, the call, the kind and the content read, not from
//! the event that brought it. The same transcript brought by an import (`import.ai`), by
//! Aircall's webhook or by a replay of it is one id, so a receiver or Segment drops the
//! repeats; new content (a longer action-item list, a summary made again) is a new id, never
//! dropped as a repeat even if Aircall announces each item with an event of its own.
//!
//! Only the id shown to the destination changes: the delivery keeps its own id (the event's),
//! under which the event log, the dead-letter list and a payload kept in KV know it.

use crate::aircall::AiKind;
use serde_json::{Map, Value};

/// The id of AI data: `content` is what the read brought (`{"call_id", <Aircall's answer>}`),
/// before anything the connector adds (a signed link changes with every delivery).
pub fn content_id(
    integration_id: &str,
    call_id: i64,
    kind: AiKind,
    content: &Map<String, Value>,
) -> String {
    // serde_json's maps are sorted: the same content is the same text.
    let text = serde_json::to_string(content).expect("JSON values serialize");
    let canonical = [
        "ai",
        integration_id,
        &call_id.to_string(),
        kind.path(),
        &text,
    ]
    .join("\n");
    format!(
        "msg_{}",
        &crate::crypto::sha256_hex(canonical.as_bytes())[..32]
    )
}

/// The id the destination gets for one delivery of AI data whose content has `content_id`:
/// that id; for the n-th "send again" of an event (`{event id}r{n}`), that id with the same
/// `r{n}`, so that an admin's resend is a new id the receiver accepts.
pub fn delivered_id(delivery_id: &str, content_id: &str) -> String {
    let event_id = crate::event_log::event_id_of(delivery_id);
    format!("{content_id}{}", &delivery_id[event_id.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn content(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn the_same_content_is_one_id_whatever_brought_it_and_new_content_a_new_one() {
        let items = content(json!({"call_id": 812, "action_items": [{"text": "Refund"}]}));
        let same = content(json!({"action_items": [{"text": "Refund"}], "call_id": 812}));
        let id = content_id("int_a", 812, AiKind::ActionItems, &items);
        assert!(id.starts_with("msg_") && id.len() == 36, "{id}");
        assert_eq!(id, content_id("int_a", 812, AiKind::ActionItems, &same));
        // The import's delivery and the webhook's (their own ids differ) send the same id.
        assert_eq!(delivered_id("msg_import0001", &id), id);
        assert_eq!(delivered_id("msg_webhook0002", &id), id);

        let longer = content(
            json!({"call_id": 812, "action_items": [{"text": "Refund"}, {"text": "Call back"}]}),
        );
        assert_ne!(id, content_id("int_a", 812, AiKind::ActionItems, &longer));
        assert_ne!(id, content_id("int_b", 812, AiKind::ActionItems, &items));
        assert_ne!(id, content_id("int_a", 813, AiKind::ActionItems, &items));
        assert_ne!(id, content_id("int_a", 812, AiKind::Summary, &items));
    }

    #[test]
    fn a_send_again_keeps_its_resend_number_so_the_receiver_takes_it() {
        let id = content_id("int_a", 1, AiKind::Summary, &content(json!({"call_id": 1})));
        assert_eq!(delivered_id("msg_abc123r1", &id), format!("{id}r1"));
        assert_eq!(delivered_id("msg_abc123r12", &id), format!("{id}r12"));
        assert_ne!(
            delivered_id("msg_abc123r1", &id),
            delivered_id("msg_abc123r2", &id)
        );
    }
}
