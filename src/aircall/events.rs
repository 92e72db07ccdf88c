//! Every Aircall webhook event the connector knows, grouped as an admin chooses them (the
//! dashboard's checklist, `GET /api/events`). Names not listed here still pass through: Aircall
//! adds events, and a list may name any of them.

/// Events of one kind, in the order Aircall's reference lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventGroup {
    pub name: &'static str,
    pub label: &'static str,
    pub events: &'static [&'static str],
}

/// Aircall's current event names. Users go by their `.v2` names: Aircall is retiring the
/// v1 ones (which can still be named), and `integration.deleted` is left out: the connector
/// acts on it whatever the selection.
pub const GROUPS: &[EventGroup] = &[
    EventGroup {
        name: "calls",
        label: "Calls",
        events: &[
            "call.created",
            "call.ringing_on_agent",
            "call.agent_declined",
            "call.answered",
            "call.transferred",
            "call.external_transferred",
            "call.unsuccessful_transfer",
            "call.hungup",
            "call.ended",
            "call.hold",
            "call.unhold",
            "call.ivr_option_selected",
            "call.comm_assets_generated",
            "call.voicemail_left",
            "call.assigned",
            "call.archived",
            "call.tagged",
            "call.untagged",
            "call.commented",
        ],
    },
    EventGroup {
        name: "users",
        label: "Users",
        events: &[
            "user.created.v2",
            "user.deleted.v2",
            "user.connected.v2",
            "user.disconnected.v2",
            "user.opened.v2",
            "user.closed.v2",
            "user.wut_start.v2",
            "user.wut_end.v2",
        ],
    },
    EventGroup {
        name: "contacts",
        label: "Contacts",
        events: &["contact.created", "contact.updated", "contact.deleted"],
    },
    EventGroup {
        name: "numbers",
        label: "Numbers",
        events: &[
            "number.created",
            "number.opened",
            "number.closed",
            "number.deleted",
        ],
    },
    EventGroup {
        name: "messages",
        label: "Messages (SMS, WhatsApp)",
        events: &["message.sent", "message.received", "message.status_updated"],
    },
    EventGroup {
        name: "ai",
        label: "AI (Aircall AI package)",
        events: &[
            "transcription.created",
            "summary.created",
            "topics.created",
            "sentiment.created",
            "action_item.created",
        ],
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn each_event_is_in_one_group_under_its_resource() {
        let mut seen = BTreeSet::new();
        for group in GROUPS {
            for event in group.events {
                assert!(seen.insert(*event), "{event} twice");
                let resource = super::super::resource(event);
                match group.name {
                    // Each AI object has its own resource; Aircall announces each once made.
                    "ai" => assert!(event.ends_with(".created"), "{event}"),
                    plural => assert_eq!(resource, plural.trim_end_matches('s'), "{event}"),
                }
            }
        }
        assert_eq!(seen.len(), 42);
        for left_out in ["integration.deleted", "user.created"] {
            assert!(!seen.contains(left_out), "{left_out}");
        }
    }
}
