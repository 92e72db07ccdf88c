//! Delivering events to an integration's destination: at least once, retried with back-off
//! through the queue, waited out behind rate budgets, and recorded as a dead letter when it
//! cannot be done. The same pipeline for every destination (`pipeline`); what differs is the
//! destination's own part (`crate::destinations`).

mod dead_letters;
mod job;
mod journal;
mod pipeline;
pub(crate) mod subrequests;

pub use dead_letters::{DeadLetter, DeadLetters, KEEP_SECONDS};
pub use job::{Delivery, Payload, MAX_INLINE_PAYLOAD};
pub use pipeline::{deliver, give_up, load_payload, settle};
