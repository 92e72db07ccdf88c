//! Integrations in KV, one record per key `integration:{id}`.

use super::Integration;
use crate::ports::{all_keys, Store, StoreError};

const PREFIX: &str = "integration:";

pub struct Integrations<'a, S> {
    store: &'a S,
}

impl<'a, S: Store> Integrations<'a, S> {
    pub fn new(store: &'a S) -> Self {
        Self { store }
    }

    pub async fn get(&self, id: &str) -> Result<Option<Integration>, StoreError> {
        // Ids come from URLs: refuse anything that could not be ours before touching KV.
        if !is_integration_id(id) {
            return Ok(None);
        }
        match self.store.get(&format!("{PREFIX}{id}")).await? {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| StoreError(format!("integration {id} is unreadable: {e}"))),
        }
    }

    pub async fn save(&self, integration: &Integration) -> Result<(), StoreError> {
        let text = serde_json::to_string(integration).expect("integrations serialize");
        self.store
            .put(&format!("{PREFIX}{}", integration.id), &text, None)
            .await
    }

    /// One page of integration ids (up to 1,000, KV's page), and where the next page starts.
    pub async fn ids(
        &self,
        cursor: Option<String>,
    ) -> Result<(Vec<String>, Option<String>), StoreError> {
        let page = self.store.list(PREFIX, cursor).await?;
        let ids = page
            .keys
            .iter()
            .map(|k| k[PREFIX.len()..].to_string())
            .collect();
        Ok((ids, page.cursor))
    }

    /// Every integration, in id order, reading KV a page at a time.
    pub async fn all(&self) -> Result<Vec<Integration>, StoreError> {
        let mut out = Vec::new();
        for key in all_keys(self.store, PREFIX).await? {
            if let Some(integration) = self.get(&key[PREFIX.len()..]).await? {
                out.push(integration);
            }
        }
        Ok(out)
    }
}

/// A new id: `int_` and 20 hex digits of randomness.
pub fn new_integration_id() -> String {
    format!(
        "int_{}",
        crate::crypto::hex(&crate::crypto::random_bytes::<10>())
    )
}

pub fn is_integration_id(id: &str) -> bool {
    id.strip_prefix("int_")
        .is_some_and(|hex| hex.len() == 20 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_recognisable() {
        let id = new_integration_id();
        assert!(is_integration_id(&id), "{id}");
        assert!(!is_integration_id("int_../../admin"));
        assert!(!is_integration_id("integration:x"));
    }
}
