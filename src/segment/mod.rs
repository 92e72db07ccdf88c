//! The Segment destination: Aircall events as Segment `track` (and `identify`) calls,
//! batched through `/v1/batch` within Segment's limits, in the integration's region.

mod batch;
mod mapping;
mod select;
mod send;

pub use batch::{pack, request, Batch, Region, MAX_MESSAGES, MAX_MESSAGE_BYTES, MAX_REQUEST_BYTES};
pub use mapping::{identity, messages, traits, trim, Identity};
pub use select::{about_numbers, digits, enrich, needs_enrichment, NumberRef, DEFAULT_EVENTS};
pub(crate) use send::deliver_all;
pub use send::outcome;
