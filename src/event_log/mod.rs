//! The event log: every event an integration received in the last 7 days, what happened to
//! it, and its payloads, searchable. Ingress and the delivery pipeline note [`Entry`]s; the
//! platform writes them after the webhook's answer or at the end of a queue batch, in one call
//! per integration to its `EVENT_LOG` Durable Object, whose storage [`store`] organises. A log
//! that cannot be written loses its entries, never a delivery.
//!
//! Plain data and logic only: no `ports`, no runtime.

mod entry;
mod query;
pub mod store;

pub use entry::{
    event_id_of, phone_digits, redact, redact_map, resend_id, Entry, Kept, Status, Subjects,
    MAX_PAYLOAD_BYTES, REDACTED,
};
pub use query::{Page, Query, Summary, DEFAULT_LIMIT, MAX_LIMIT};
pub use store::{Body, Row, Step, KEEP_MS};

/// An event whole, as `GET .../events/{id}` answers it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Detail {
    #[serde(flatten)]
    pub summary: Summary,
    /// The payload as received (`data`), secrets removed.
    pub received: Option<Kept>,
    /// What the destination was last sent, secrets removed.
    pub sent: Option<Kept>,
    /// Every step, oldest first.
    pub history: Vec<Step>,
    /// Steps older than `history` that were not kept.
    pub earlier_steps: u32,
}

impl Detail {
    pub fn of(row: Row, body: Body) -> Self {
        Detail {
            summary: row.summary(),
            received: body.received,
            sent: body.sent,
            history: row.history,
            earlier_steps: row.earlier_steps,
        }
    }
}
