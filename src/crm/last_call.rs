//! The last call the connector logged on a CRM contact, kept for insight cards: the card reads
//! the contact's last-activity date with the contact (no request of its own) and this record
//! (KV, no request either), instead of searching the contact's calls while the phone rings.
//!
//! The CRM destination writes it when it logs a call associated with a contact (a newer call
//! replaces an older one, never the reverse), and adds what its AI delivery logs on the
//! contact about that call (the summary, and the notes' and tasks' time).

use super::caller::Activity;
use crate::keys;
use crate::ports::{Store, StoreError};
use serde::{Deserialize, Serialize};

/// Kept a year: older, the card shows the CRM's last-activity date alone.
const KEPT_SECONDS: u64 = 365 * 86_400;

/// HubSpot fills its last-activity date itself, from the engagements' timestamps, which the
/// connector set from Aircall's clock: within a minute of ours it is ours (a rounding or a
/// clock a little off), while a note typed by hand after a call comes later than that.
const SAME_ACTIVITY_SECONDS: i64 = 60;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastCall {
    pub call_id: i64,
    /// When the call began (UNIX seconds).
    pub at: i64,
    /// The newest timestamp of what the connector logged on the contact about this call (the
    /// call, its AI notes and tasks): what the CRM's last-activity date is compared with.
    pub logged_until: i64,
    #[serde(default)]
    pub outcome: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
}

/// What a card says of the contact's last activity.
#[derive(Debug, Clone, PartialEq)]
pub enum LastActivity {
    /// The connector's call is the contact's latest activity: shown whole.
    Call(Activity),
    /// Something newer was logged by someone else (a note, a call logged by hand): its date
    /// (UNIX seconds), nothing else known of it.
    Other(i64),
}

impl LastActivity {
    /// From the connector's record and the CRM's last-activity date (UNIX seconds); `None`
    /// when neither is known.
    pub fn of(ours: Option<LastCall>, crm_latest: Option<i64>) -> Option<Self> {
        match (ours, crm_latest) {
            (Some(call), Some(latest)) if latest > call.logged_until + SAME_ACTIVITY_SECONDS => {
                Some(Self::Other(latest))
            }
            (Some(call), _) => Some(Self::Call(Activity {
                at: Some(call.at),
                outcome: call.outcome,
                title: call.title,
                summary: call.summary,
            })),
            (None, Some(latest)) => Some(Self::Other(latest)),
            (None, None) => None,
        }
    }
}

pub async fn read<S: Store>(
    store: &S,
    integration_id: &str,
    contact_id: &str,
) -> Result<Option<LastCall>, StoreError> {
    let key = keys::crm_last_call_key(integration_id, contact_id);
    Ok(store
        .get(&key)
        .await?
        .and_then(|text| serde_json::from_str(&text).ok()))
}

/// The connector logged `call` on the contact: kept unless a newer call is (an import of old
/// calls never hides the last one). Two calls of one contact logged at the same instant may
/// race; the next call's record settles it.
pub async fn remember<S: Store>(
    store: &S,
    integration_id: &str,
    contact_id: &str,
    call: &LastCall,
) -> Result<(), StoreError> {
    if let Some(kept) = read(store, integration_id, contact_id).await? {
        if kept.at > call.at || kept == *call {
            return Ok(());
        }
    }
    write(store, integration_id, contact_id, call).await
}

/// The AI delivery logged notes or tasks (at `at`, UNIX seconds) on the contact about
/// `call_id`, and its summary when given: added to the record when that call is the
/// contact's last.
pub async fn ai_logged<S: Store>(
    store: &S,
    integration_id: &str,
    contact_id: &str,
    call_id: i64,
    at: i64,
    summary: Option<&str>,
) -> Result<(), StoreError> {
    let Some(mut kept) = read(store, integration_id, contact_id).await? else {
        return Ok(());
    };
    if kept.call_id != call_id {
        return Ok(());
    }
    let before = kept.clone();
    kept.logged_until = kept.logged_until.max(at);
    if let Some(summary) = summary.map(str::trim).filter(|s| !s.is_empty()) {
        kept.summary = Some(summary.to_string());
    }
    if kept == before {
        return Ok(());
    }
    write(store, integration_id, contact_id, &kept).await
}

async fn write<S: Store>(
    store: &S,
    integration_id: &str,
    contact_id: &str,
    call: &LastCall,
) -> Result<(), StoreError> {
    let key = keys::crm_last_call_key(integration_id, contact_id);
    let text = serde_json::to_string(call).expect("serializes");
    store.put(&key, &text, Some(KEPT_SECONDS)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{run, MemoryPlatform};

    fn call(call_id: i64, at: i64) -> LastCall {
        LastCall {
            call_id,
            at,
            logged_until: at,
            outcome: Some("Connected".into()),
            title: Some("Inbound Aircall call from Ann".into()),
            summary: None,
        }
    }

    #[test]
    fn a_newer_call_replaces_an_older_one_never_the_reverse() {
        let p = MemoryPlatform::default();
        run(remember(&p, "int", "1001", &call(2, 2_000))).unwrap();
        run(remember(&p, "int", "1001", &call(1, 1_000))).unwrap();
        assert_eq!(
            run(read(&p, "int", "1001")).unwrap().unwrap().call_id,
            2,
            "an import of an older call"
        );
        run(remember(&p, "int", "1001", &call(3, 3_000))).unwrap();
        assert_eq!(run(read(&p, "int", "1001")).unwrap().unwrap().call_id, 3);
        assert_eq!(run(read(&p, "int", "1002")).unwrap(), None, "per contact");
    }

    #[test]
    fn ai_data_joins_the_record_of_its_call_only() {
        let p = MemoryPlatform::default();
        run(remember(&p, "int", "1001", &call(2, 2_000))).unwrap();
        run(ai_logged(&p, "int", "1001", 1, 5_000, Some("older call's"))).unwrap();
        assert_eq!(
            run(read(&p, "int", "1001")).unwrap().unwrap(),
            call(2, 2_000)
        );
        run(ai_logged(
            &p,
            "int",
            "1001",
            2,
            2_300,
            Some("Wants a quote"),
        ))
        .unwrap();
        run(ai_logged(&p, "int", "1001", 2, 2_200, None)).unwrap();
        let kept = run(read(&p, "int", "1001")).unwrap().unwrap();
        assert_eq!(kept.summary.as_deref(), Some("Wants a quote"));
        assert_eq!(kept.logged_until, 2_300, "the newest of what was logged");
        run(ai_logged(&p, "int", "1002", 2, 2_300, Some("x"))).unwrap();
        assert_eq!(
            run(read(&p, "int", "1002")).unwrap(),
            None,
            "no record, nothing made up"
        );
    }

    #[test]
    fn the_call_shows_whole_unless_something_newer_was_logged_by_someone_else() {
        let mut ours = call(2, 2_000);
        ours.logged_until = 2_300;
        let whole = |l: Option<LastActivity>| matches!(l, Some(LastActivity::Call(a)) if a.at == Some(2_000));
        assert!(whole(LastActivity::of(Some(ours.clone()), Some(2_300))));
        assert!(
            whole(LastActivity::of(Some(ours.clone()), Some(2_360))),
            "within a minute"
        );
        assert!(
            whole(LastActivity::of(Some(ours.clone()), Some(1_000))),
            "the CRM behind"
        );
        assert!(whole(LastActivity::of(Some(ours.clone()), None)));
        assert_eq!(
            LastActivity::of(Some(ours), Some(2_361)),
            Some(LastActivity::Other(2_361)),
            "a note typed after it"
        );
        assert_eq!(
            LastActivity::of(None, Some(9)),
            Some(LastActivity::Other(9))
        );
        assert_eq!(LastActivity::of(None, None), None);
    }
}
