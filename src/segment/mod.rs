//! The Segment destination: Aircall events as Segment `track` (and `identify`) calls,
//! batched through `/v1/batch` within Segment's limits, in the integration's region.

mod batch;
mod mapping;
mod send;

pub use batch::{pack, request, Batch, Region, MAX_MESSAGES, MAX_MESSAGE_BYTES, MAX_REQUEST_BYTES};
pub use mapping::{identity, messages, traits, trim, Identity};
pub(crate) use send::deliver_all;
pub use send::outcome;

/// The default selection of a Segment integration: the 26 events of Aircall's own Segment
/// source (seed 003), its six user events under their current `.v2` names. Aircall is
/// retiring the v1 names (`/v1/users` was sunset on 2026-09-30), so a webhook registered with
/// them would go quiet. Any other Aircall event name, v1 ones included, can be chosen too.
pub const DEFAULT_EVENTS: [&str; 26] = [
    "number.created",
    "number.opened",
    "number.closed",
    "number.deleted",
    "contact.created",
    "contact.updated",
    "contact.deleted",
    "user.created.v2",
    "user.opened.v2",
    "user.connected.v2",
    "user.closed.v2",
    "user.disconnected.v2",
    "user.deleted.v2",
    "call.created",
    "call.answered",
    "call.hungup",
    "call.ended",
    "call.assigned",
    "call.archived",
    "call.tagged",
    "call.untagged",
    "call.commented",
    "call.transferred",
    "call.ringing_on_agent",
    "call.agent_declined",
    "call.voicemail_left",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_has_the_seed_s_26_distinct_events_with_current_user_names() {
        let mut names = DEFAULT_EVENTS.to_vec();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 26);
        assert!(names.iter().all(|n| crate::integration::is_event_name(n)));
        let users: Vec<_> = names.iter().filter(|n| n.starts_with("user.")).collect();
        assert_eq!(users.len(), 6);
        assert!(users.iter().all(|n| n.ends_with(".v2")), "{users:?}");
    }
}
