//! The last AI event delivered for an integration (`GET /api/integrations/{id}` shows it as
//! `ai.last_delivered`, the dashboard too). Written at most once a minute: KV takes one write
//! per key per second, and a burst of AI events must not turn into failed writes.

use crate::keys;
use crate::ports::{Store, StoreError};
use serde::{Deserialize, Serialize};

/// How old the stored one must be before another replaces it.
pub const EVERY_SECONDS: u64 = 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastDelivered {
    /// What was delivered (`call.summary`, ...).
    pub event: String,
    pub call_id: i64,
    /// UNIX seconds.
    pub delivered_at: u64,
}

pub async fn get<S: Store>(store: &S, id: &str) -> Result<Option<LastDelivered>, StoreError> {
    let text = store.get(&keys::ai_last_delivered_key(id)).await?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// Notes a delivery, unless one was noted less than a minute before.
pub async fn note<S: Store>(store: &S, id: &str, last: &LastDelivered) -> Result<(), StoreError> {
    if let Some(known) = get(store, id).await? {
        if last.delivered_at < known.delivered_at + EVERY_SECONDS {
            return Ok(());
        }
    }
    let text = serde_json::to_string(last).expect("serializes");
    store
        .put(&keys::ai_last_delivered_key(id), &text, None)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{run, MemoryPlatform};

    #[test]
    fn the_last_delivery_is_kept_at_most_once_a_minute() {
        let p = MemoryPlatform::default();
        let at = |event: &str, t: u64| LastDelivered {
            event: event.into(),
            call_id: 1,
            delivered_at: t,
        };
        assert_eq!(run(get(&p, "int_a")).unwrap(), None);
        run(note(&p, "int_a", &at("call.summary", 1_000))).unwrap();
        run(note(&p, "int_a", &at("call.topics", 1_030))).unwrap();
        assert_eq!(
            run(get(&p, "int_a")).unwrap(),
            Some(at("call.summary", 1_000))
        );
        run(note(&p, "int_a", &at("call.topics", 1_060))).unwrap();
        assert_eq!(
            run(get(&p, "int_a")).unwrap(),
            Some(at("call.topics", 1_060))
        );
    }
}
