//! Delivering events to an integration's destination: at least once, signed, retried with
//! back-off through the queue, and recorded as a dead letter when it cannot be done.

mod dead_letters;
mod job;
pub mod subrequests;
mod webhook;

pub use dead_letters::{DeadLetter, DeadLetters, KEEP_SECONDS};
pub use job::{Delivery, Payload, MAX_INLINE_PAYLOAD};
pub use webhook::{delivery_body, signed_request};
