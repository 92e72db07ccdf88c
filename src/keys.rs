//! Every key the connector stores an integration's state under: KV keys and their prefixes,
//! its recordings in R2, its objects in `ACCOUNT_GATE`. The only place keys are built, so
//! that deleting an integration removes exactly these (`kv_prefixes`), and whatever stores
//! per-integration state adds its key here. Ids have a fixed length, so no prefix matches
//! another integration's keys.

/// The integration's record.
pub fn record_key(id: &str) -> String {
    format!("integration:{id}")
}

/// The import cursor (`import::Cursor`).
pub fn cursor_key(id: &str) -> String {
    format!("cursor:{id}")
}

/// Import run reports.
pub fn runs_prefix(id: &str) -> String {
    format!("run:{id}:")
}

pub fn run_key(id: &str, run_id: &str) -> String {
    format!("{}{run_id}", runs_prefix(id))
}

/// Outcomes of a run's calls, listed by the run's report.
pub fn outcomes_prefix(id: &str) -> String {
    format!("outcome:{id}:")
}

pub fn run_outcomes_prefix(id: &str, run_id: &str) -> String {
    format!("{}{run_id}:", outcomes_prefix(id))
}

/// Deliveries that failed for good.
pub fn dead_letters_prefix(id: &str) -> String {
    format!("dead_letter:{id}:")
}

pub fn dead_letter_key(id: &str, delivery_id: &str) -> String {
    format!("{}{delivery_id}", dead_letters_prefix(id))
}

/// Webhook payloads too large for a queue message.
pub fn payloads_prefix(id: &str) -> String {
    format!("payload:{id}:")
}

pub fn payload_key(id: &str, delivery_id: &str) -> String {
    format!("{}{delivery_id}", payloads_prefix(id))
}

/// Calls re-checked later for a recording that arrives late.
pub fn rechecks_prefix(id: &str) -> String {
    format!("recheck:{id}:")
}

pub fn recheck_key(id: &str, call_id: i64) -> String {
    format!("{}{call_id}", rechecks_prefix(id))
}

/// Calls already imported (a call seen by webhook and by import is imported once).
pub fn imported_prefix(id: &str) -> String {
    format!("imported:{id}:")
}

pub fn imported_key(id: &str, call_id: i64) -> String {
    format!("{}{call_id}", imported_prefix(id))
}

/// A call logged in the CRM: Aircall call id -> the CRM's record id. (Named `hubspot-` since
/// HubSpot was the first CRM; stored keys keep their name.)
pub fn crm_calls_prefix(id: &str) -> String {
    format!("hubspot-call:{id}:")
}

pub fn crm_call_key(id: &str, call_id: i64) -> String {
    format!("{}{call_id}", crm_calls_prefix(id))
}

/// The CRM's owners, cached.
pub fn crm_owners_key(id: &str) -> String {
    format!("hubspot-owners:{id}")
}

/// The CRM account's portal (its id and where its pages are), read once for insight cards'
/// links.
pub fn crm_account_key(id: &str) -> String {
    format!("hubspot-account:{id}")
}

/// Insight cards: a caller's number (E.164) -> the CRM contact it belongs to, kept fresh by
/// contact sync (written when it matches, creates or reads a contact by number).
pub fn caller_cache_prefix(id: &str) -> String {
    format!("caller:{id}:")
}

pub fn caller_cache_key(id: &str, e164: &str) -> String {
    format!("{}{e164}", caller_cache_prefix(id))
}

/// Insight cards: the last call the connector logged on a CRM contact (when, its outcome,
/// title and AI summary), written by the CRM destination, read by the contact's next card.
pub fn crm_last_call_prefix(id: &str) -> String {
    format!("last-call:{id}:")
}

pub fn crm_last_call_key(id: &str, crm_contact_id: &str) -> String {
    format!("{}{crm_contact_id}", crm_last_call_prefix(id))
}

/// Insight cards: the claim (in [`gate_name`]) that the card of a call is being posted.
pub fn card_claim(call_id: i64) -> String {
    format!("card:{call_id}")
}

/// Insight cards' counters (in [`gate_name`]): posted, and skipped (budget, CRM outage).
pub const CARDS_POSTED_COUNTER: &str = "insight_cards_posted";
pub const CARDS_SKIPPED_COUNTER: &str = "insight_cards_skipped";

/// Contact sync: each side's cursor.
pub fn contact_cursors_prefix(id: &str) -> String {
    format!("contact-cursor:{id}:")
}

pub fn contact_cursor_key(id: &str, side: &str) -> String {
    format!("{}{side}", contact_cursors_prefix(id))
}

/// Contact sync: the links between an Aircall contact and a CRM contact, one key per side.
pub fn contact_links_prefix(id: &str) -> String {
    format!("contact-link:{id}:")
}

pub fn contact_link_by_aircall(id: &str, aircall_id: i64) -> String {
    format!("{}aircall:{aircall_id}", contact_links_prefix(id))
}

pub fn contact_link_by_crm(id: &str, crm_id: &str) -> String {
    format!("{}hubspot:{crm_id}", contact_links_prefix(id))
}

/// Contact sync: the contacts it could not sync, and why.
pub fn contact_problems_prefix(id: &str) -> String {
    format!("contact-problem:{id}:")
}

pub fn contact_problem_key(id: &str, crm_id: &str) -> String {
    format!("{}{crm_id}", contact_problems_prefix(id))
}

/// Contact sync: the Aircall contacts it created (deleting the integration deletes them from
/// Aircall first: `lifecycle::remove_synced_contacts`).
pub fn aircall_created_prefix(id: &str) -> String {
    format!("aircall-created:{id}:")
}

pub fn aircall_created_key(id: &str, aircall_id: i64) -> String {
    format!("{}{aircall_id}", aircall_created_prefix(id))
}

/// Aircall refused the integration's AI reads (no AI package): since when (`ai::availability`).
pub fn ai_unavailable_key(id: &str) -> String {
    format!("ai-unavailable:{id}")
}

/// An AI read of the integration went through lately (`ai::availability`): an import reads
/// its calls' transcripts without probing first.
pub fn ai_available_key(id: &str) -> String {
    format!("ai-available:{id}")
}

/// The claim (in [`gate_name`]) of the import job that probes whether Aircall serves the
/// integration's AI data, while nobody knows: the others do not ask at the same time.
pub const AI_PROBE_CLAIM: &str = "ai-probe";

/// Aircall AI data in the CRM: what it made of a call's AI data (the notes and tasks it
/// created, by call, so that a replay updates them), the call's agents' names, and the mark
/// that the CRM has the AI call properties.
pub fn crm_ai_prefix(id: &str) -> String {
    format!("hubspot-ai:{id}:")
}

/// The CRM record (a note, a task) made of part `n` of a call's AI data of `kind`.
pub fn crm_ai_record_key(id: &str, call_id: i64, kind: &str, n: usize) -> String {
    format!("{}{call_id}:{kind}:{n}", crm_ai_prefix(id))
}

/// The names of a logged call's Aircall users (`{"456": "Madeline"}`), for transcripts.
pub fn crm_ai_agents_key(id: &str, call_id: i64) -> String {
    format!("{}{call_id}:agents", crm_ai_prefix(id))
}

/// The CRM has the AI call properties (created, or found there).
pub fn crm_ai_properties_key(id: &str) -> String {
    format!("{}properties", crm_ai_prefix(id))
}

/// The last AI event delivered (`ai::last`).
pub fn ai_last_delivered_key(id: &str) -> String {
    format!("ai-last-delivered:{id}")
}

/// Contact sync: the index of the account's Aircall contacts (`contact_sync::index`), one key
/// per e-mail (`e:` and a hash of it) or phone number (`p:` and its E.164 form) holding the
/// contact's id, and the mark that it holds every contact.
pub fn aircall_index_prefix(id: &str) -> String {
    format!("aircall-index:{id}:")
}

pub fn aircall_index_entry_key(id: &str, entry: &str) -> String {
    format!("{}{entry}", aircall_index_prefix(id))
}

pub fn aircall_index_ready_key(id: &str) -> String {
    format!("{}ready", aircall_index_prefix(id))
}

/// The account's Aircall numbers, cached a few minutes for the dashboard's picker
/// (`crate::numbers`).
pub fn aircall_numbers_key(id: &str) -> String {
    format!("aircall-numbers:{id}")
}

/// Every KV key prefix holding the integration's own state (a destination names what it keeps
/// besides: `destinations::state_prefixes`). The record comes last: a deletion
/// removes the keys in this order, so one interrupted midway is found and finished by the
/// next attempt.
pub fn kv_prefixes(id: &str) -> Vec<String> {
    vec![
        cursor_key(id),
        runs_prefix(id),
        dead_letters_prefix(id),
        payloads_prefix(id),
        rechecks_prefix(id),
        imported_prefix(id),
        outcomes_prefix(id),
        contact_cursors_prefix(id),
        contact_links_prefix(id),
        contact_problems_prefix(id),
        aircall_created_prefix(id),
        ai_unavailable_key(id),
        ai_available_key(id),
        ai_last_delivered_key(id),
        aircall_index_prefix(id),
        caller_cache_prefix(id),
        crm_last_call_prefix(id),
        aircall_numbers_key(id),
        record_key(id),
    ]
}

/// The integration's archived recordings in R2.
pub fn recordings_prefix(id: &str) -> String {
    format!("recordings/{id}/")
}

pub fn recording_key(id: &str, call_id: i64) -> String {
    format!("{}{call_id}", recordings_prefix(id))
}

/// A call's transcript (Aircall's AI data), archived beside its recording.
pub fn transcript_key(id: &str, call_id: i64) -> String {
    format!("{}{call_id}.transcript.json", recordings_prefix(id))
}

/// The `ACCOUNT_GATE` object that counts the integration's dropped webhook events.
pub fn gate_name(id: &str) -> String {
    format!("integration:{id}")
}

/// The counter (in [`gate_name`]) of webhook events dropped while inactive.
pub const DROPPED_COUNTER: &str = "dropped_while_inactive";

/// The `ACCOUNT_GATE` object holding the integration's contact sync leases, and the lease of
/// one side's pass.
pub fn contact_sync_gate(id: &str) -> String {
    format!("contact-sync:{id}")
}

pub fn contact_pass_lease(id: &str, side: &str) -> String {
    format!("{id}:contact-pass:{side}")
}

/// The integration's `EVENT_LOG` Durable Object (its event log; deletion erases it).
pub fn event_log_name(id: &str) -> String {
    format!("event-log:{id}")
}

/// The integration's import lease, in its Aircall account's object.
pub fn import_lease(id: &str) -> String {
    format!("lease:{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_goes_last_and_no_prefix_reaches_another_integration() {
        let id = "int_0123456789abcdef0123";
        let prefixes = kv_prefixes(id);
        assert!(prefixes.iter().all(|p| p.contains(id)), "{prefixes:?}");
        assert_eq!(prefixes.last().unwrap(), &record_key(id));
        let other = "int_0123456789abcdef0124";
        for key in [run_key(other, "1"), record_key(other), cursor_key(other)] {
            assert!(
                !prefixes.iter().any(|p| key.starts_with(p.as_str())),
                "{key}"
            );
        }
    }
}
