//! A delivery: one event for one destination, as its queue message.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One event for one destination. Its `id` is the Standard Webhooks `webhook-id`: the same
/// Aircall event always gets the same id, so receivers can drop the repeats at-least-once
/// delivery brings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: String,
    pub integration_id: String,
    pub event: String,
    /// UNIX seconds at which Aircall emitted the event.
    pub occurred_at: i64,
    pub payload: Payload,
    /// The attempt this message is for, from 1.
    pub attempt: u32,
}

impl crate::queue::Message for Delivery {
    const KIND: &'static str = "deliver";
    const QUEUE: crate::ports::QueueName = crate::ports::QueueName::Jobs;
}

/// The event's data. Queue messages are limited to 128 KB, so larger payloads wait in KV.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "in", rename_all = "snake_case")]
pub enum Payload {
    Inline { data: Map<String, Value> },
    Stored { key: String },
}

/// Above this, a payload is kept in KV rather than in the queue message.
pub const MAX_INLINE_PAYLOAD: usize = 96 * 1024;

impl Delivery {
    /// The stable id of an Aircall event for one integration: a hash of everything Aircall
    /// sends again when it retries. `data_json` must be canonical (serde_json's sorted maps).
    pub fn id_for(
        integration_id: &str,
        event: &str,
        occurred_at: Option<i64>,
        data_json: &str,
    ) -> String {
        let at = occurred_at.map(|t| t.to_string()).unwrap_or_default();
        let canonical = [integration_id, event, &at, data_json].join("\n");
        format!(
            "msg_{}",
            &crate::crypto::sha256_hex(canonical.as_bytes())[..32]
        )
    }

    /// Where a payload too large for a queue message waits: under its integration, so that
    /// deleting the integration finds it (`integration::keys`).
    pub fn payload_key(integration_id: &str, delivery_id: &str) -> String {
        crate::keys::payload_key(integration_id, delivery_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data(v: Value) -> String {
        serde_json::to_string(v.as_object().unwrap()).unwrap()
    }

    #[test]
    fn the_same_event_gets_the_same_id() {
        let a = Delivery::id_for(
            "int_1",
            "call.ended",
            Some(1),
            &data(json!({"id": 1, "b": [1, 2]})),
        );
        let b = Delivery::id_for(
            "int_1",
            "call.ended",
            Some(1),
            &data(json!({"b": [1, 2], "id": 1})),
        );
        assert_eq!(a, b);
        assert!(a.starts_with("msg_") && a.len() < 100);
    }

    #[test]
    fn different_events_get_different_ids() {
        let d = data(json!({"id": 1}));
        let base = Delivery::id_for("int_1", "call.ended", Some(1), &d);
        assert_ne!(base, Delivery::id_for("int_2", "call.ended", Some(1), &d));
        assert_ne!(base, Delivery::id_for("int_1", "call.hungup", Some(1), &d));
        assert_ne!(base, Delivery::id_for("int_1", "call.ended", Some(2), &d));
        assert_ne!(
            base,
            Delivery::id_for("int_1", "call.ended", Some(1), &data(json!({"id": 2})))
        );
    }

    #[test]
    fn deliveries_round_trip_as_queue_messages() {
        let delivery = Delivery {
            id: "msg_1".into(),
            integration_id: "int_1".into(),
            event: "call.ended".into(),
            occurred_at: 5,
            payload: Payload::Stored {
                key: "payload:msg_1".into(),
            },
            attempt: 2,
        };
        let text = crate::queue::encode(&delivery);
        assert!(
            text.starts_with(r#"{"kind":"deliver","v":1,"id":"msg_1","#),
            "{text}"
        );
        assert_eq!(crate::queue::decode::<Delivery>(&text).unwrap(), delivery);
    }
}
