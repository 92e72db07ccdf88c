//! What the event log notes of each outcome the pipeline settles (see `crate::event_log`).

use super::{Delivery, Payload};
use crate::event_log::{event_id_of, Entry, Status};
use crate::ports::Platform;
use crate::retry::Outcome;
use serde_json::{Map, Value};

/// What the pipeline knows of an outcome besides it, for the log.
#[derive(Default)]
pub struct Seen<'a> {
    /// The event's data, when the message only referred to it (a payload kept in KV).
    pub data: Option<&'a Map<String, Value>>,
    /// What the destination was sent, without secrets.
    pub sent: Option<Value>,
    /// Not sent, on purpose: why.
    pub filtered: Option<String>,
    pub destination: Option<&'static str>,
}

/// Notes the outcome of one attempt in the integration's event log.
pub fn note<P: Platform>(p: &P, delivery: &Delivery, outcome: &Outcome, seen: Seen) {
    let (status, reason) = match (outcome, seen.filtered) {
        (_, Some(why)) => (Status::Filtered, Some(why)),
        (Outcome::Delivered, None) => (Status::Delivered, None),
        (Outcome::Wait { reason, .. }, None) => (Status::Waiting, Some(reason.clone())),
        (Outcome::Retry { reason, .. }, None) => (Status::Retrying, Some(reason.clone())),
        (Outcome::Failed { reason }, None) => (Status::Failed, Some(reason.clone())),
    };
    // The payload goes with the first attempt only: the log keeps the first it gets.
    let received = match &delivery.payload {
        _ if delivery.attempt > 1 => None,
        Payload::Inline { data } => Some(data.clone()),
        Payload::Stored { .. } => seen.data.cloned(),
    };
    let entry = Entry {
        event_id: event_id_of(&delivery.id).to_string(),
        at_ms: p.now_ms(),
        event: delivery.event.clone(),
        occurred_at: Some(delivery.occurred_at),
        status,
        reason,
        attempt: delivery.attempt,
        delivery_id: Some(delivery.id.clone()),
        destination: seen.destination.map(str::to_string),
        received,
        sent: seen.sent,
    };
    p.note(&delivery.integration_id, entry);
}
