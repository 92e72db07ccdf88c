//! The log of one integration over an ordered key-value store (its `EVENT_LOG` Durable
//! Object's storage): rows, search indexes, pages newest first, and the 7-day retention.
//!
//! Keys, every time as `{received_at ms, 13 digits}:{event id}` ("sort") after a prefix:
//! `id:{event}` the row (summary and history), `b:{event}` its payloads, and the indexes
//! `t:{sort}` (every event), `e:{name}:{sort}`, `c:{call id}:{sort}`, `p:{digits}:{sort}`.
#![allow(async_fn_in_trait)] // single-threaded runtime: no Send bounds wanted

use super::entry::{redact, redact_map, Entry, Kept, Status, Subjects};
use super::query::{Page, Query, Summary};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How long an event stays in the log.
pub const KEEP_MS: u64 = 7 * 24 * 3600 * 1000;

/// Steps kept per event (a delivery retried 10 times, waits, resends); older ones are counted.
pub const MAX_STEPS: usize = 50;

/// Index entries one search reads at most before answering with what it found and a cursor.
pub const MAX_SCAN: usize = 1_000;

/// Events the retention removes per call (the alarm calls again while some are left).
pub const EXPIRE_PER_CALL: usize = 200;

#[derive(Debug, thiserror::Error)]
#[error("event log storage: {0}")]
pub struct RowsError(pub String);

/// An ordered key-value store.
pub trait Rows {
    async fn get(&self, keys: &[String]) -> Result<BTreeMap<String, String>, RowsError>;
    async fn put(&self, entries: &[(String, String)]) -> Result<(), RowsError>;
    async fn delete(&self, keys: &[String]) -> Result<(), RowsError>;
    /// Keys under `prefix`, below `before` (exclusive) when given, greatest first.
    async fn newest(
        &self,
        prefix: &str,
        before: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, RowsError>;
    /// Keys under `prefix` below `end` (exclusive), smallest first.
    async fn oldest(&self, prefix: &str, end: &str, limit: usize)
        -> Result<Vec<String>, RowsError>;
}

/// One step in an event's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub at: u64,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
}

/// An event as stored: what the list shows, and its history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub id: String,
    pub received_at: u64,
    pub event: String,
    #[serde(default)]
    pub occurred_at: Option<i64>,
    #[serde(flatten)]
    pub subjects: Subjects,
    pub last: Step,
    pub history: Vec<Step>,
    /// Steps dropped from the front of `history` past [`MAX_STEPS`].
    #[serde(default)]
    pub earlier_steps: u32,
}

impl Row {
    pub fn sort(&self) -> String {
        sort_key(self.received_at, &self.id)
    }

    /// Every index key of the row.
    fn indexes(&self) -> Vec<String> {
        let sort = self.sort();
        let mut keys = vec![format!("t:{sort}"), format!("e:{}:{sort}", self.event)];
        if let Some(call) = self.subjects.call_id {
            keys.push(format!("c:{call}:{sort}"));
        }
        for phone in &self.subjects.phones {
            keys.push(format!("p:{phone}:{sort}"));
        }
        keys
    }

    pub fn summary(&self) -> Summary {
        Summary {
            id: self.id.clone(),
            received_at: self.received_at,
            event: self.event.clone(),
            occurred_at: self.occurred_at,
            subjects: self.subjects.clone(),
            status: self.last.status,
            reason: self.last.reason.clone(),
            destination: self.last.destination.clone(),
            updated_at: self.last.at,
            attempts: self
                .history
                .iter()
                .filter(|s| s.status != Status::Filtered)
                .count() as u32
                + self.earlier_steps,
        }
    }
}

/// The payloads of an event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Body {
    #[serde(default)]
    pub received: Option<Kept>,
    /// What the destination was sent the last time it was sent something.
    #[serde(default)]
    pub sent: Option<Kept>,
}

pub fn sort_key(received_at: u64, id: &str) -> String {
    format!("{received_at:013}:{id}")
}

fn row_key(id: &str) -> String {
    format!("id:{id}")
}

fn body_key(id: &str) -> String {
    format!("b:{id}")
}

fn parse<T: serde::de::DeserializeOwned>(key: &str, text: &str) -> Result<T, RowsError> {
    serde_json::from_str(text).map_err(|e| RowsError(format!("{key}: {e}")))
}

/// Writes `entries` (a batch's steps, in order): a new event gets its row, payloads and
/// indexes; a known one a step in its history (and the payload it was sent, if any).
pub async fn append<R: Rows>(rows: &R, entries: Vec<Entry>) -> Result<(), RowsError> {
    let mut ids: Vec<String> = entries.iter().map(|e| e.event_id.clone()).collect();
    ids.dedup();
    let keys: Vec<String> = ids
        .iter()
        .flat_map(|id| [row_key(id), body_key(id)])
        .collect();
    let found = rows.get(&keys).await?;
    let mut stored: BTreeMap<String, (Row, Body)> = BTreeMap::new();
    for id in &ids {
        if let Some(text) = found.get(&row_key(id)) {
            let row: Row = parse(id, text)?;
            let body = match found.get(&body_key(id)) {
                Some(text) => parse(id, text)?,
                None => Body::default(),
            };
            stored.insert(id.clone(), (row, body));
        }
    }
    let mut changed: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    let mut new_indexes = Vec::new();
    for mut entry in entries {
        // Secrets never enter the log, whatever a payload carries.
        if let Some(data) = entry.received.as_mut() {
            redact_map(data);
        }
        if let Some(sent) = entry.sent.as_mut() {
            redact(sent);
        }
        let step = Step {
            at: entry.at_ms,
            status: entry.status,
            reason: entry.reason,
            attempt: entry.attempt,
            delivery_id: entry.delivery_id.filter(|d| *d != entry.event_id),
            destination: entry.destination,
        };
        let id = entry.event_id;
        let flags = changed.entry(id.clone()).or_default();
        match stored.get_mut(&id) {
            Some((row, body)) => {
                row.history.push(step.clone());
                if row.history.len() > MAX_STEPS {
                    row.history.remove(0);
                    row.earlier_steps += 1;
                }
                row.last = step;
                if body.received.is_none() {
                    if let Some(data) = entry.received {
                        body.received = Some(Kept::of(serde_json::Value::Object(data)));
                        flags.1 = true;
                    }
                }
                if let Some(sent) = entry.sent {
                    body.sent = Some(Kept::of(sent));
                    flags.1 = true;
                }
                flags.0 = true;
            }
            None => {
                let subjects = entry
                    .received
                    .as_ref()
                    .map(|data| Subjects::of(&entry.event, data))
                    .unwrap_or_default();
                let row = Row {
                    id: id.clone(),
                    received_at: entry.at_ms,
                    event: entry.event,
                    occurred_at: entry.occurred_at,
                    subjects,
                    last: step.clone(),
                    history: vec![step],
                    earlier_steps: 0,
                };
                let body = Body {
                    received: entry
                        .received
                        .map(|d| Kept::of(serde_json::Value::Object(d))),
                    sent: entry.sent.map(Kept::of),
                };
                new_indexes.extend(row.indexes());
                stored.insert(id, (row, body));
                *flags = (true, true);
            }
        }
    }
    let mut puts: Vec<(String, String)> = new_indexes
        .into_iter()
        .map(|k| (k, String::new()))
        .collect();
    for (id, (row_changed, body_changed)) in changed {
        let (row, body) = &stored[&id];
        if row_changed {
            puts.push((
                row_key(&id),
                serde_json::to_string(row).expect("serializes"),
            ));
        }
        if body_changed {
            puts.push((
                body_key(&id),
                serde_json::to_string(body).expect("serializes"),
            ));
        }
    }
    rows.put(&puts).await
}

/// One page of events matching `query`, newest first, received after `now_ms - KEEP_MS`.
pub async fn search<R: Rows>(rows: &R, query: &Query, now_ms: u64) -> Result<Page, RowsError> {
    let prefix = match (&query.call_id, &query.phone, &query.event) {
        (Some(call), _, _) => format!("c:{call}:"),
        (None, Some(phone), _) => format!("p:{phone}:"),
        (None, None, Some(event)) => format!("e:{event}:"),
        (None, None, None) => "t:".to_string(),
    };
    let oldest = now_ms.saturating_sub(KEEP_MS);
    let mut before = query.before.clone();
    let mut events = Vec::new();
    let mut scanned = 0;
    let chunk = (query.limit * 2).clamp(20, 128);
    loop {
        let bound = before.as_ref().map(|b| format!("{prefix}{b}"));
        let keys = rows.newest(&prefix, bound.as_deref(), chunk).await?;
        let exhausted = keys.len() < chunk;
        let sorts: Vec<String> = keys.iter().map(|k| k[prefix.len()..].to_string()).collect();
        let wanted: Vec<String> = sorts
            .iter()
            .filter_map(|s| s.split_once(':').map(|(_, id)| row_key(id)))
            .collect();
        let found = rows.get(&wanted).await?;
        for sort in sorts {
            scanned += 1;
            before = Some(sort.clone());
            let Some((at, id)) = sort.split_once(':') else {
                continue;
            };
            if at.parse::<u64>().map_or(true, |at| at < oldest) {
                // Older than the retention (the alarm removes it soon): so is every later one.
                return Ok(Page { events, next: None });
            }
            let Some(text) = found.get(&row_key(id)) else {
                continue; // an index entry whose row went first: expiring
            };
            let row: Row = parse(id, text)?;
            if query.matches(&row.id, &row.event, &row.subjects) {
                events.push(row.summary());
                if events.len() == query.limit {
                    return Ok(Page {
                        events,
                        next: before,
                    });
                }
            }
            if scanned >= MAX_SCAN {
                return Ok(Page {
                    events,
                    next: before,
                });
            }
        }
        if exhausted {
            return Ok(Page { events, next: None });
        }
    }
}

/// An event whole: its row (with its history) and payloads.
pub async fn detail<R: Rows>(rows: &R, id: &str) -> Result<Option<(Row, Body)>, RowsError> {
    let found = rows.get(&[row_key(id), body_key(id)]).await?;
    let Some(text) = found.get(&row_key(id)) else {
        return Ok(None);
    };
    let body = match found.get(&body_key(id)) {
        Some(text) => parse(id, text)?,
        None => Body::default(),
    };
    Ok(Some((parse(id, text)?, body)))
}

/// Removes events received before `now_ms - KEEP_MS`, at most [`EXPIRE_PER_CALL`]; answers
/// how many, and whether older ones are left (call again).
pub async fn expire<R: Rows>(rows: &R, now_ms: u64) -> Result<(usize, bool), RowsError> {
    let end = format!("t:{:013}", now_ms.saturating_sub(KEEP_MS));
    let keys = rows.oldest("t:", &end, EXPIRE_PER_CALL).await?;
    let ids: Vec<String> = keys
        .iter()
        .filter_map(|k| k.split_once(':').and_then(|(_, s)| s.split_once(':')))
        .map(|(_, id)| id.to_string())
        .collect();
    let found = rows
        .get(&ids.iter().map(|id| row_key(id)).collect::<Vec<_>>())
        .await?;
    let mut gone = keys.clone();
    for id in &ids {
        if let Some(text) = found.get(&row_key(id)) {
            let row: Row = parse(id, text)?;
            gone.extend(row.indexes());
        }
        gone.push(row_key(id));
        gone.push(body_key(id));
    }
    gone.sort();
    gone.dedup();
    rows.delete(&gone).await?;
    Ok((ids.len(), keys.len() == EXPIRE_PER_CALL))
}

#[cfg(test)]
pub(crate) mod memory {
    use super::*;
    use std::cell::RefCell;

    /// An ordered store in memory, as the Durable Object's storage behaves.
    #[derive(Default)]
    pub struct MemoryRows(pub RefCell<BTreeMap<String, String>>);

    impl Rows for MemoryRows {
        async fn get(&self, keys: &[String]) -> Result<BTreeMap<String, String>, RowsError> {
            let map = self.0.borrow();
            Ok(keys
                .iter()
                .filter_map(|k| map.get(k).map(|v| (k.clone(), v.clone())))
                .collect())
        }
        async fn put(&self, entries: &[(String, String)]) -> Result<(), RowsError> {
            let mut map = self.0.borrow_mut();
            for (k, v) in entries {
                map.insert(k.clone(), v.clone());
            }
            Ok(())
        }
        async fn delete(&self, keys: &[String]) -> Result<(), RowsError> {
            let mut map = self.0.borrow_mut();
            for k in keys {
                map.remove(k);
            }
            Ok(())
        }
        async fn newest(
            &self,
            prefix: &str,
            before: Option<&str>,
            limit: usize,
        ) -> Result<Vec<String>, RowsError> {
            let map = self.0.borrow();
            Ok(map
                .keys()
                .rev()
                .filter(|k| k.starts_with(prefix) && before.is_none_or(|b| k.as_str() < b))
                .take(limit)
                .cloned()
                .collect())
        }
        async fn oldest(
            &self,
            prefix: &str,
            end: &str,
            limit: usize,
        ) -> Result<Vec<String>, RowsError> {
            let map = self.0.borrow();
            Ok(map
                .keys()
                .filter(|k| k.starts_with(prefix) && k.as_str() < end)
                .take(limit)
                .cloned()
                .collect())
        }
    }
}

#[cfg(test)]
mod tests;
