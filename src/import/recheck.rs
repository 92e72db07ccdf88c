//! Calls skipped only because their recording was not there yet. Recordings arrive after
//! the call ends, so such a call is looked at again, less and less often, until the
//! integration's grace period (24 h by default) is over.

use crate::aircall::Call;
use crate::calls::ImportRules;
use crate::ports::{Store, StoreError};
use serde::{Deserialize, Serialize};

/// The first look again comes a run (15 minutes) later; each next one twice as late.
const FIRST_AFTER_SECONDS: i64 = 15 * 60;
/// Calls looked at again per run at most, so that a run's start stays small.
pub const PER_RUN: usize = 50;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Entry {
    /// When the grace period ends.
    until: i64,
    next_at: i64,
    checks: u32,
}

fn key(integration_id: &str, call_id: i64) -> String {
    crate::keys::recheck_key(integration_id, call_id)
}

/// Remembers `call` for later looks, if it can still get a recording: someone answered it
/// (a missed call never has one) and its grace period is not over. Answers whether it did.
pub async fn remember<S: Store>(
    store: &S,
    integration_id: &str,
    rules: &ImportRules,
    call: &Call,
    now: i64,
) -> Result<bool, StoreError> {
    let until =
        call.ended_at.unwrap_or(call.started_at) + i64::from(rules.recording_grace_hours) * 3600;
    if call.answered_at.is_none() || until <= now {
        return Ok(false);
    }
    let key = key(integration_id, call.id);
    if store.get(&key).await?.is_none() {
        let entry = Entry {
            until,
            next_at: now + FIRST_AFTER_SECONDS,
            checks: 0,
        };
        put(store, &key, &entry, now).await?;
    }
    Ok(true)
}

/// The calls due for another look (at most [`PER_RUN`]), each moved to its next time.
/// Entries whose grace period is over are dropped.
pub async fn due<S: Store>(
    store: &S,
    integration_id: &str,
    now: i64,
) -> Result<Vec<i64>, StoreError> {
    let page = store
        .list(&crate::keys::rechecks_prefix(integration_id), None)
        .await?;
    let mut due = Vec::new();
    for key in page.keys {
        if due.len() == PER_RUN {
            break;
        }
        let Some(text) = store.get(&key).await? else {
            continue;
        };
        let Ok(mut entry) = serde_json::from_str::<Entry>(&text) else {
            store.delete(&key).await?;
            continue;
        };
        if entry.until <= now {
            store.delete(&key).await?;
            continue;
        }
        if entry.next_at > now {
            continue;
        }
        let Some(call_id) = key.rsplit(':').next().and_then(|id| id.parse().ok()) else {
            continue;
        };
        entry.checks += 1;
        entry.next_at = now + (FIRST_AFTER_SECONDS << entry.checks.min(10));
        put(store, &key, &entry, now).await?;
        due.push(call_id);
    }
    Ok(due)
}

/// The call was imported or is beyond saving: no more looks.
pub async fn forget<S: Store>(
    store: &S,
    integration_id: &str,
    call_id: i64,
) -> Result<(), StoreError> {
    store.delete(&key(integration_id, call_id)).await
}

async fn put<S: Store>(store: &S, key: &str, entry: &Entry, now: i64) -> Result<(), StoreError> {
    let text = serde_json::to_string(entry).expect("serializes");
    let ttl = (entry.until - now).max(60) as u64;
    store.put(key, &text, Some(ttl)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{run, MemoryPlatform};

    fn call(id: i64, answered: bool) -> Call {
        serde_json::from_value(serde_json::json!({
            "id": id, "started_at": 1_000, "ended_at": 1_100,
            "answered_at": if answered { Some(1_010) } else { None }
        }))
        .unwrap()
    }

    #[test]
    fn answered_calls_are_looked_at_again_less_and_less_often_until_the_grace_ends() {
        let p = MemoryPlatform::default();
        let rules = ImportRules::default(); // 24 h
        assert!(
            !run(remember(&p, "int_a", &rules, &call(1, false), 1_200)).unwrap(),
            "missed"
        );
        assert!(run(remember(&p, "int_a", &rules, &call(2, true), 1_200)).unwrap());

        let mut looks = Vec::new();
        let mut now = 1_200;
        while now < 1_100 + 30 * 3600 {
            if run(due(&p, "int_a", now)).unwrap() == vec![2] {
                looks.push(now - 1_200);
            }
            now += 15 * 60; // one run every 15 minutes
        }
        // 15 min, then 30 min, 1 h, 2 h, 4 h, 8 h later (each time rounded up to a run)...
        assert_eq!(looks, vec![900, 2_700, 6_300, 13_500, 27_900, 56_700]);
        // ...and nothing after the 24 h grace: the entry is gone.
        assert!(p.kv.borrow().keys().all(|k| !k.starts_with("recheck:")));
    }

    #[test]
    fn forgetting_ends_the_looks() {
        let p = MemoryPlatform::default();
        run(remember(
            &p,
            "int_a",
            &ImportRules::default(),
            &call(2, true),
            1_200,
        ))
        .unwrap();
        run(forget(&p, "int_a", 2)).unwrap();
        assert!(run(due(&p, "int_a", 100_000)).unwrap().is_empty());
    }
}
