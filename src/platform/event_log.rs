//! `EVENT_LOG`: one Durable Object per integration holding its event log in its own
//! SQLite-backed storage, through the ordered key-value API (`crate::event_log::store` lays out
//! the keys; tested natively). Strongly consistent, and written once per webhook answered or
//! queue batch, never once per KV key a second.
//!
//! `POST /append` (a JSON list of entries), `POST /search` (a query: a page), `GET /event?id=`
//! (the event or `null`), `POST /erase`. The alarm removes what is older than 7 days, hourly.

use crate::event_log::store::{self, Rows, RowsError};
use crate::event_log::{Detail, Entry, Query};
use std::collections::BTreeMap;
use std::time::Duration;
use worker::wasm_bindgen::JsValue;
use worker::{durable_object, DurableObject, Env, ListOptions, Request, Response, Result, State};

/// DO storage takes at most 128 keys per multi-key call.
const KEYS_PER_CALL: usize = 128;

/// How often the retention runs while the log holds events.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

#[durable_object]
pub struct EventLog {
    state: State,
}

struct Storage(worker::Storage);

fn failed(e: worker::Error) -> RowsError {
    RowsError(e.to_string())
}

impl Storage {
    async fn keys(&self, options: ListOptions<'_>) -> std::result::Result<Vec<String>, RowsError> {
        let map = self.0.list_with_options(options).await.map_err(failed)?;
        Ok(map
            .keys()
            .into_iter()
            .filter_map(|k| k.ok().and_then(|k| k.as_string()))
            .collect())
    }
}

impl Rows for Storage {
    async fn get(
        &self,
        keys: &[String],
    ) -> std::result::Result<BTreeMap<String, String>, RowsError> {
        let mut out = BTreeMap::new();
        for chunk in keys.chunks(KEYS_PER_CALL) {
            let map = self
                .0
                .get_multiple(chunk.iter().map(String::as_str).collect())
                .await
                .map_err(failed)?;
            for key in chunk {
                if let Some(value) = map.get(&JsValue::from_str(key)).as_string() {
                    out.insert(key.clone(), value);
                }
            }
        }
        Ok(out)
    }

    async fn put(&self, entries: &[(String, String)]) -> std::result::Result<(), RowsError> {
        for chunk in entries.chunks(KEYS_PER_CALL) {
            let object = js_sys::Object::new();
            for (key, value) in chunk {
                js_sys::Reflect::set(&object, &JsValue::from_str(key), &JsValue::from_str(value))
                    .map_err(|e| RowsError(format!("{e:?}")))?;
            }
            self.0.put_multiple_raw(object).await.map_err(failed)?;
        }
        Ok(())
    }

    async fn delete(&self, keys: &[String]) -> std::result::Result<(), RowsError> {
        for chunk in keys.chunks(KEYS_PER_CALL) {
            self.0
                .delete_multiple(chunk.iter().map(String::as_str).collect())
                .await
                .map_err(failed)?;
        }
        Ok(())
    }

    async fn newest(
        &self,
        prefix: &str,
        before: Option<&str>,
        limit: usize,
    ) -> std::result::Result<Vec<String>, RowsError> {
        let mut options = ListOptions::new().prefix(prefix).reverse(true).limit(limit);
        if let Some(before) = before {
            options = options.end(before);
        }
        self.keys(options).await
    }

    async fn oldest(
        &self,
        prefix: &str,
        end: &str,
        limit: usize,
    ) -> std::result::Result<Vec<String>, RowsError> {
        self.keys(ListOptions::new().prefix(prefix).end(end).limit(limit))
            .await
    }
}

impl EventLog {
    fn rows(&self) -> Storage {
        Storage(self.state.storage())
    }

    /// The retention runs while the log holds events: an alarm is set with the first.
    async fn keep_alarm(&self) -> Result<()> {
        let storage = self.state.storage();
        if storage.get_alarm().await?.is_none() {
            storage.set_alarm(RETENTION_EVERY).await?;
        }
        Ok(())
    }
}

fn stored<T>(result: std::result::Result<T, RowsError>) -> Result<T> {
    result.map_err(|e| worker::Error::RustError(e.to_string()))
}

impl DurableObject for EventLog {
    fn new(state: State, _env: Env) -> Self {
        Self { state }
    }

    async fn fetch(&self, mut request: Request) -> Result<Response> {
        let url = request.url()?;
        let now = js_sys::Date::now() as u64;
        match url.path() {
            "/append" => {
                let entries: Vec<Entry> = request.json().await?;
                stored(store::append(&self.rows(), entries).await)?;
                self.keep_alarm().await?;
                Response::from_json(&serde_json::json!({"ok": true}))
            }
            "/search" => {
                let query: Query = request.json().await?;
                let page = stored(store::search(&self.rows(), &query, now).await)?;
                Response::from_json(&page)
            }
            "/event" => {
                let id = url
                    .query_pairs()
                    .find(|(k, _)| k == "id")
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
                let found = stored(store::detail(&self.rows(), &id).await)?;
                Response::from_json(&found.map(|(row, body)| Detail::of(row, body)))
            }
            "/erase" => {
                let storage = self.state.storage();
                storage.delete_alarm().await?;
                storage.delete_all().await?;
                Response::from_json(&serde_json::json!({"ok": true}))
            }
            _ => Response::error("not found", 404),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        let now = js_sys::Date::now() as u64;
        let (removed, more) = stored(store::expire(&self.rows(), now).await)?;
        let storage = self.state.storage();
        if more {
            storage.set_alarm(Duration::from_secs(1)).await?;
        } else if !self
            .rows()
            .keys(ListOptions::new().prefix("t:").limit(1))
            .await
            .map_err(|e| worker::Error::RustError(e.0))?
            .is_empty()
        {
            storage.set_alarm(RETENTION_EVERY).await?;
        }
        Response::from_json(&serde_json::json!({"removed": removed}))
    }
}
