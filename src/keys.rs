//! Where an integration's state lives: the one list of its KV key prefixes, its recordings
//! in R2 and its objects in `ACCOUNT_GATE`. Deleting an integration removes exactly these,
//! so whatever stores per-integration state adds its prefix here.

/// The integration's record.
pub fn record_key(id: &str) -> String {
    format!("integration:{id}")
}

/// The import cursor (`import::Cursor`).
pub fn cursor_key(id: &str) -> String {
    format!("cursor:{id}")
}

/// Every KV key prefix holding the integration's state. The record comes last: a deletion
/// removes the keys in this order, so one interrupted midway is found and finished by the
/// next attempt. Ids have a fixed length, so no prefix matches another integration's keys.
pub fn kv_prefixes(id: &str) -> Vec<String> {
    vec![
        cursor_key(id),
        // Import run reports.
        format!("run:{id}:"),
        // Deliveries that failed for good.
        format!("dead_letter:{id}:"),
        // Webhook payloads too large for a queue message (`Delivery::payload_key`).
        format!("payload:{id}:"),
        // Calls re-checked later for a recording that arrives late.
        format!("recheck:{id}:"),
        // Calls already imported (recognising a call seen by webhook and by import).
        format!("imported:{id}:"),
        // Outcomes of imported calls.
        format!("outcome:{id}:"),
        // HubSpot: call -> engagement links and the cached owners.
        format!("hubspot-call:{id}:"),
        format!("hubspot-owners:{id}"),
        // Contact sync: its cursors, the links between contacts, and the Aircall contacts it
        // created (those are deleted from Aircall first: `lifecycle::remove_synced_contacts`).
        format!("contact-cursor:{id}:"),
        format!("contact-link:{id}:"),
        format!("contact-problem:{id}:"),
        format!("aircall-created:{id}:"),
        record_key(id),
    ]
}

/// The integration's archived recordings in R2.
pub fn recordings_prefix(id: &str) -> String {
    format!("recordings/{id}/")
}

/// The `ACCOUNT_GATE` object that counts the integration's dropped webhook events.
pub fn gate_name(id: &str) -> String {
    format!("integration:{id}")
}

/// The counter (in [`gate_name`]) of webhook events dropped while inactive.
pub const DROPPED_COUNTER: &str = "dropped_while_inactive";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prefix_is_scoped_to_the_integration_and_the_record_goes_last() {
        let id = "int_0123456789abcdef0123";
        let prefixes = kv_prefixes(id);
        assert!(prefixes.iter().all(|p| p.contains(id)), "{prefixes:?}");
        assert_eq!(prefixes.last().unwrap(), &format!("integration:{id}"));
        for wanted in [
            "cursor:",
            "run:",
            "dead_letter:",
            "payload:",
            "recheck:",
            "imported:",
            "outcome:",
            "hubspot-call:",
            "contact-link:",
            "aircall-created:",
        ] {
            assert!(prefixes.iter().any(|p| p.starts_with(wanted)), "{wanted}");
        }
        // Another id never falls under these prefixes.
        let other = "int_0123456789abcdef0124";
        for key in [format!("run:{other}:1"), format!("integration:{other}")] {
            assert!(
                !prefixes.iter().any(|p| key.starts_with(p.as_str())),
                "{key}"
            );
        }
    }
}
