//! Whether an integration's Aircall company has the AI package, as far as the connector
//! knows: a 403 on an AI read marks it unavailable (in KV), and AI reads then wait a day
//! before one more try, so a company without the package costs one request a day, not one
//! per AI event.

use crate::keys;
use crate::ports::{Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// How long AI reads wait after a 403 before one more try.
pub const RECHECK_SECONDS: u64 = 24 * 60 * 60;

/// Aircall refused the integration's AI reads (403: no AI package).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unavailable {
    /// UNIX seconds of the first refusal.
    pub since: u64,
    /// UNIX seconds of the latest refusal: no AI read before a day after it.
    pub checked_at: u64,
}

impl Unavailable {
    /// Whether an AI read at `now` waits (no request is made).
    pub fn holds_at(&self, now: u64) -> bool {
        now < self.checked_at + RECHECK_SECONDS
    }

    pub fn next_check_at(&self) -> u64 {
        self.checked_at + RECHECK_SECONDS
    }
}

/// The integration's refusal, if Aircall refused its AI reads.
pub async fn get<S: Store>(store: &S, id: &str) -> Result<Option<Unavailable>, StoreError> {
    let Some(text) = store.get(&keys::ai_unavailable_key(id)).await? else {
        return Ok(None);
    };
    // A value that does not read (written by hand) counts as no refusal: one read finds out.
    Ok(serde_json::from_str(&text).ok())
}

/// Records a refusal at `now`, keeping the first one's time.
pub async fn mark_unavailable<S: Store>(
    store: &S,
    id: &str,
    now: u64,
) -> Result<Unavailable, StoreError> {
    let since = get(store, id).await?.map_or(now, |u| u.since);
    let unavailable = Unavailable {
        since,
        checked_at: now,
    };
    let text = serde_json::to_string(&unavailable).expect("serializes");
    store
        .put(&keys::ai_unavailable_key(id), &text, None)
        .await?;
    store.delete(&keys::ai_available_key(id)).await?;
    Ok(unavailable)
}

/// An AI read went through: the package is there (again).
pub async fn mark_available<S: Store>(store: &S, id: &str) -> Result<(), StoreError> {
    store.delete(&keys::ai_unavailable_key(id)).await
}

/// Whether an AI read went through in the last day ([`note_seen`]).
pub async fn seen<S: Store>(store: &S, id: &str) -> Result<bool, StoreError> {
    Ok(store.get(&keys::ai_available_key(id)).await?.is_some())
}

/// Notes an AI read that went through, for a day: imports then read without probing first.
pub async fn note_seen<S: Store>(store: &S, id: &str) -> Result<(), StoreError> {
    store
        .put(&keys::ai_available_key(id), "1", Some(RECHECK_SECONDS))
        .await
}

/// What `GET /api/integrations/{id}` shows as `ai`.
pub fn view(unavailable: Option<Unavailable>) -> Value {
    match unavailable {
        None => json!({ "available": true }),
        Some(u) => json!({
            "available": false,
            "since": crate::time::rfc3339(u.since as i64),
            "next_check_after": crate::time::rfc3339(u.next_check_at() as i64),
        }),
    }
}

/// The `ai` view with the last AI event delivered (`last_delivered`: `null` before any).
pub fn view_with(
    unavailable: Option<Unavailable>,
    last: Option<super::last::LastDelivered>,
) -> Value {
    let mut view = view(unavailable);
    view["last_delivered"] = match last {
        None => Value::Null,
        Some(l) => json!({
            "event": l.event,
            "call_id": l.call_id,
            "delivered_at": crate::time::rfc3339(l.delivered_at as i64),
        }),
    };
    view
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{run, MemoryPlatform};

    #[test]
    fn a_refusal_holds_a_day_and_keeps_its_first_time() {
        let p = MemoryPlatform::default();
        assert_eq!(run(get(&p, "int_1")).unwrap(), None);
        let first = run(mark_unavailable(&p, "int_1", 1_000)).unwrap();
        assert!(first.holds_at(1_000 + RECHECK_SECONDS - 1));
        assert!(!first.holds_at(1_000 + RECHECK_SECONDS));
        let again = run(mark_unavailable(&p, "int_1", 90_000)).unwrap();
        assert_eq!(
            again,
            Unavailable {
                since: 1_000,
                checked_at: 90_000
            }
        );
        assert_eq!(run(get(&p, "int_1")).unwrap(), Some(again));
        run(mark_available(&p, "int_1")).unwrap();
        assert_eq!(run(get(&p, "int_1")).unwrap(), None);
    }

    #[test]
    fn the_view_says_since_when() {
        assert_eq!(view(None), json!({"available": true}));
        let u = Unavailable {
            since: 1_700_000_000,
            checked_at: 1_700_000_000,
        };
        assert_eq!(
            view(Some(u)),
            json!({
                "available": false,
                "since": "2023-11-14T22:13:20Z",
                "next_check_after": "2023-11-15T22:13:20Z",
            })
        );
    }
}
