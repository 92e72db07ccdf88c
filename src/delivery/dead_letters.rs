//! Deliveries that failed for good, kept in KV so an admin can see what and why.

use super::Delivery;
use crate::ports::{all_keys, Store, StoreError};
use serde::{Deserialize, Serialize};

/// Kept at least as long as the 14 days an admin may need to notice and retry.
pub const KEEP_SECONDS: u64 = 30 * 24 * 60 * 60;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub delivery: Delivery,
    pub reason: String,
    pub attempts: u32,
    pub failed_at: u64,
}

impl crate::queue::Message for DeadLetter {
    const KIND: &'static str = "failed";
    const QUEUE: crate::ports::QueueName = crate::ports::QueueName::DeadLetters;
}

impl DeadLetter {
    /// What the admin API shows.
    pub fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "delivery_id": self.delivery.id,
            "event": self.delivery.event,
            "occurred_at": crate::time::rfc3339(self.delivery.occurred_at),
            "status": "failed",
            "reason": self.reason,
            "attempts": self.attempts,
            "failed_at": crate::time::rfc3339(self.failed_at as i64),
        })
    }
}

pub struct DeadLetters<'a, S> {
    store: &'a S,
}

impl<'a, S: Store> DeadLetters<'a, S> {
    pub fn new(store: &'a S) -> Self {
        Self { store }
    }

    fn prefix(integration_id: &str) -> String {
        crate::keys::dead_letters_prefix(integration_id)
    }

    fn key(integration_id: &str, delivery_id: &str) -> String {
        crate::keys::dead_letter_key(integration_id, delivery_id)
    }

    pub async fn record(&self, letter: &DeadLetter) -> Result<(), StoreError> {
        let key = Self::key(&letter.delivery.integration_id, &letter.delivery.id);
        let text = serde_json::to_string(letter).expect("serializes");
        self.store.put(&key, &text, Some(KEEP_SECONDS)).await
    }

    pub async fn get(
        &self,
        integration_id: &str,
        delivery_id: &str,
    ) -> Result<Option<DeadLetter>, StoreError> {
        let key = Self::key(integration_id, delivery_id);
        match self.store.get(&key).await? {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| StoreError(format!("dead letter {key} is unreadable: {e}"))),
        }
    }

    pub async fn delete(&self, integration_id: &str, delivery_id: &str) -> Result<(), StoreError> {
        self.store
            .delete(&Self::key(integration_id, delivery_id))
            .await
    }

    /// How many of the integration's deliveries failed for good (one key listing, no reads).
    pub async fn count(&self, integration_id: &str) -> Result<usize, StoreError> {
        Ok(all_keys(self.store, &Self::prefix(integration_id))
            .await?
            .len())
    }

    /// The integration's dead letters, newest first.
    pub async fn list(&self, integration_id: &str) -> Result<Vec<DeadLetter>, StoreError> {
        let mut letters = Vec::new();
        for key in all_keys(self.store, &Self::prefix(integration_id)).await? {
            if let Some(text) = self.store.get(&key).await? {
                let letter: DeadLetter = serde_json::from_str(&text)
                    .map_err(|e| StoreError(format!("dead letter {key} is unreadable: {e}")))?;
                letters.push(letter);
            }
        }
        letters.sort_by_key(|l| std::cmp::Reverse(l.failed_at));
        Ok(letters)
    }
}
