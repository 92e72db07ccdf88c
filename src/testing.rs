//! Test code only: declared under `#[cfg(test)]` in lib.rs.
//! An in-memory platform for native tests: KV, queues, gate and clock in plain maps, and
//! outgoing HTTP answered by a closure. Like the real one, KV forgets a key when its time to
//! live has passed (and refuses one under 60 s), and store and queue calls can be made to
//! fail, to test what happens then.

use crate::budget::{Rate, RateBudget, Take};
use crate::config::Config;
use crate::event_log::store::memory::MemoryRows;
use crate::event_log::{Detail, Entry, Page, Query};
use crate::ports::{
    Archive, ArchiveError, Clock, EventLog, Fetch, FetchError, Gate, HttpRequest, HttpResponse,
    KeyPage, Log, QueueError, QueueName, Queues, Store, StoreError,
};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};

type Responder = Box<dyn Fn(&HttpRequest) -> Result<HttpResponse, FetchError>>;

pub struct MemoryPlatform {
    pub kv: RefCell<BTreeMap<String, String>>,
    /// When each KV key with a time to live expires (ms).
    expires: RefCell<HashMap<String, u64>>,
    /// The next this many store calls (KV get, put, delete, list) fail.
    pub failing_store_calls: Cell<u32>,
    /// The next this many queue sends fail.
    pub failing_queue_sends: Cell<u32>,
    /// The recordings archive (R2).
    pub archive: RefCell<BTreeMap<String, Vec<u8>>>,
    pub sent: RefCell<Vec<(QueueName, String, u32)>>,
    pub requests: RefCell<Vec<HttpRequest>>,
    pub logs: RefCell<Vec<String>>,
    pub now_ms: Cell<u64>,
    /// Keys per `list` page (KV gives 1,000).
    pub list_page_size: Cell<usize>,
    budgets: RefCell<HashMap<String, RateBudget>>,
    pub leases: RefCell<HashMap<String, crate::budget::Lease>>,
    /// `ACCOUNT_GATE` counters and claims, by (object name, key).
    pub counters: RefCell<HashMap<(String, String), u64>>,
    claims: RefCell<HashMap<String, crate::budget::Claims>>,
    responder: RefCell<Responder>,
    /// Each integration's event log, as its Durable Object stores it.
    pub event_logs: RefCell<BTreeMap<String, std::rc::Rc<MemoryRows>>>,
    /// Steps noted and not written yet (written before any read, as after a batch).
    notes: RefCell<Vec<(String, Entry)>>,
    /// While set, the event log cannot be written: notes are lost (and said so in the log).
    pub event_log_down: Cell<bool>,
}

impl Default for MemoryPlatform {
    fn default() -> Self {
        Self {
            kv: RefCell::default(),
            expires: RefCell::default(),
            failing_store_calls: Cell::new(0),
            failing_queue_sends: Cell::new(0),
            archive: RefCell::default(),
            sent: RefCell::default(),
            requests: RefCell::default(),
            logs: RefCell::default(),
            now_ms: Cell::new(1_763_980_000_000),
            list_page_size: Cell::new(1000),
            budgets: RefCell::default(),
            leases: RefCell::default(),
            counters: RefCell::default(),
            claims: RefCell::default(),
            responder: RefCell::new(Box::new(|_| Ok(answer(200, &[], "")))),
            event_logs: RefCell::default(),
            notes: RefCell::default(),
            event_log_down: Cell::new(false),
        }
    }
}

impl MemoryPlatform {
    /// How outgoing requests are answered from now on.
    pub fn respond(
        &self,
        responder: impl Fn(&HttpRequest) -> Result<HttpResponse, FetchError> + 'static,
    ) {
        *self.responder.borrow_mut() = Box::new(responder);
    }

    /// The messages sent so far, emptied.
    pub fn take_sent(&self) -> Vec<(QueueName, String, u32)> {
        std::mem::take(&mut *self.sent.borrow_mut())
    }

    /// Whether this store call fails (one fewer to fail).
    fn store_fails(&self) -> Result<(), StoreError> {
        let left = self.failing_store_calls.get();
        if left == 0 {
            return Ok(());
        }
        self.failing_store_calls.set(left - 1);
        Err(StoreError("KV is unavailable (a test said so)".into()))
    }

    /// Whether the key's time to live has passed.
    fn expired(&self, key: &str) -> bool {
        self.expires
            .borrow()
            .get(key)
            .is_some_and(|at| *at <= self.now_ms.get())
    }

    /// The oldest message still queued, as a consumer would get it.
    pub fn next_sent(&self) -> Option<(QueueName, String, u32)> {
        let mut sent = self.sent.borrow_mut();
        (!sent.is_empty()).then(|| sent.remove(0))
    }
}

pub fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
    HttpResponse {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.as_bytes().to_vec(),
    }
}

pub fn config() -> Config {
    Config::from_lookup(|name| {
        let value = match name {
            "ADMIN_TOKEN" => "test-admin-token-0123456789",
            "ENCRYPTION_KEY" => "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            "PUBLIC_BASE_URL" => "https://connector.test",
            "AIRCALL_API_BASE" => "https://aircall.test",
            "RECORDING_HOSTS" => "r.test",
            _ => return None,
        };
        Some(value.to_string())
    })
    .expect("test config is valid")
}

/// Runs a future to completion (the domain's futures never wait on real I/O here).
pub fn run<F: std::future::Future>(future: F) -> F::Output {
    futures_executor::block_on(future)
}

impl Store for MemoryPlatform {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.store_fails()?;
        if self.expired(key) {
            return Ok(None);
        }
        Ok(self.kv.borrow().get(key).cloned())
    }
    /// Like KV: a time to live under 60 s is refused.
    async fn put(&self, key: &str, value: &str, ttl: Option<u64>) -> Result<(), StoreError> {
        self.store_fails()?;
        match ttl {
            Some(seconds) if seconds < 60 => {
                return Err(StoreError(format!("expiration_ttl {seconds} is under 60")))
            }
            Some(seconds) => self
                .expires
                .borrow_mut()
                .insert(key.to_string(), self.now_ms.get() + seconds * 1000),
            None => self.expires.borrow_mut().remove(key),
        };
        self.kv
            .borrow_mut()
            .insert(key.to_string(), value.to_string());
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.store_fails()?;
        self.expires.borrow_mut().remove(key);
        self.kv.borrow_mut().remove(key);
        Ok(())
    }
    /// Pages like KV: `list_page_size` keys at most, the cursor being the last key given.
    async fn list(&self, prefix: &str, cursor: Option<String>) -> Result<KeyPage, StoreError> {
        self.store_fails()?;
        let kv = self.kv.borrow();
        let after = cursor.unwrap_or_default();
        let mut keys: Vec<String> = kv
            .keys()
            .filter(|k| k.starts_with(prefix) && **k > after && !self.expired(k))
            .take(self.list_page_size.get() + 1)
            .cloned()
            .collect();
        let more = keys.len() > self.list_page_size.get();
        keys.truncate(self.list_page_size.get());
        let cursor = if more { keys.last().cloned() } else { None };
        Ok(KeyPage { keys, cursor })
    }
}

impl MemoryPlatform {
    /// The integration's log storage.
    fn log_rows(&self, integration_id: &str) -> std::rc::Rc<MemoryRows> {
        self.event_logs
            .borrow_mut()
            .entry(integration_id.to_string())
            .or_default()
            .clone()
    }

    /// The noted steps not written yet, taken.
    pub fn take_notes(&self) -> Vec<(String, Entry)> {
        std::mem::take(&mut *self.notes.borrow_mut())
    }

    /// Writes the noted steps, per integration, as the platform does after a batch.
    pub async fn flush_log(&self) {
        let notes = std::mem::take(&mut *self.notes.borrow_mut());
        let mut by_integration: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
        for (id, entry) in notes {
            by_integration.entry(id).or_default().push(entry);
        }
        for (id, entries) in by_integration {
            let rows = self.log_rows(&id);
            crate::event_log::store::append(rows.as_ref(), entries)
                .await
                .expect("memory rows");
        }
    }
}

impl EventLog for MemoryPlatform {
    fn note(&self, integration_id: &str, entry: Entry) {
        if self.event_log_down.get() {
            self.log(&format!("event log of {integration_id} not written (down)"));
            return;
        }
        self.notes
            .borrow_mut()
            .push((integration_id.to_string(), entry));
    }

    async fn events(&self, integration_id: &str, query: &Query) -> Result<Page, StoreError> {
        self.flush_log().await;
        let rows = self.log_rows(integration_id);
        crate::event_log::store::search(rows.as_ref(), query, self.now_ms.get())
            .await
            .map_err(|e| StoreError(e.to_string()))
    }

    async fn event(
        &self,
        integration_id: &str,
        event_id: &str,
    ) -> Result<Option<Detail>, StoreError> {
        self.flush_log().await;
        let rows = self.log_rows(integration_id);
        let found = crate::event_log::store::detail(rows.as_ref(), event_id)
            .await
            .map_err(|e| StoreError(e.to_string()))?;
        Ok(found.map(|(row, body)| Detail::of(row, body)))
    }

    async fn erase(&self, integration_id: &str) -> Result<(), StoreError> {
        self.flush_log().await;
        self.event_logs.borrow_mut().remove(integration_id);
        Ok(())
    }
}

impl Fetch for MemoryPlatform {
    async fn fetch(&self, request: HttpRequest) -> Result<HttpResponse, FetchError> {
        let mut result = (self.responder.borrow())(&request);
        if let (true, Ok(response)) = (request.headers_only, result.as_mut()) {
            response.body.clear();
        }
        self.requests.borrow_mut().push(request);
        result
    }
}

impl Archive for MemoryPlatform {
    /// Fetches through the responder; like R2, refuses a body of another length than `size`.
    async fn archive(&self, key: &str, source: HttpRequest, size: u64) -> Result<(), ArchiveError> {
        let response = self.fetch(source).await?;
        if !(200..300).contains(&response.status) {
            return Err(ArchiveError::Source(response.status));
        }
        if response.body.len() as u64 != size {
            return Err(ArchiveError::Store(format!(
                "expected {size} bytes, got {}",
                response.body.len()
            )));
        }
        self.archive
            .borrow_mut()
            .insert(key.to_string(), response.body);
        Ok(())
    }

    async fn delete_all(&self, prefix: &str) -> Result<u64, StoreError> {
        let mut archive = self.archive.borrow_mut();
        let before = archive.len();
        archive.retain(|k, _| !k.starts_with(prefix));
        Ok((before - archive.len()) as u64)
    }

    async fn put_object(&self, key: &str, body: Vec<u8>, _type: &str) -> Result<(), ArchiveError> {
        self.archive.borrow_mut().insert(key.to_string(), body);
        Ok(())
    }
}

impl Queues for MemoryPlatform {
    async fn send_batch(&self, queue: QueueName, messages: &[String]) -> Result<(), QueueError> {
        assert!(
            messages.len() <= crate::ports::MAX_BATCH,
            "batches hold at most 100 messages"
        );
        for message in messages {
            self.send(queue, message, 0).await?;
        }
        Ok(())
    }

    async fn send(
        &self,
        queue: QueueName,
        message: &str,
        delay_seconds: u32,
    ) -> Result<(), QueueError> {
        let left = self.failing_queue_sends.get();
        if left > 0 {
            self.failing_queue_sends.set(left - 1);
            return Err(QueueError(
                "the queue is unavailable (a test said so)".into(),
            ));
        }
        self.sent
            .borrow_mut()
            .push((queue, message.to_string(), delay_seconds));
        Ok(())
    }
}

impl Gate for MemoryPlatform {
    async fn block(&self, account: &str, until_ms: u64) -> Result<(), StoreError> {
        let mut budgets = self.budgets.borrow_mut();
        budgets
            .entry(account.to_string())
            .or_insert_with(|| RateBudget::new(Rate::per_minute(60)))
            .block_until(until_ms);
        Ok(())
    }

    async fn lease(
        &self,
        _account: &str,
        integration_id: &str,
        holder: &str,
        ttl: u64,
    ) -> Result<bool, StoreError> {
        let now = self.now_ms();
        let mut leases = self.leases.borrow_mut();
        if !crate::budget::Lease::grantable(leases.get(integration_id), holder, now) {
            return Ok(false);
        }
        leases.insert(
            integration_id.to_string(),
            crate::budget::Lease {
                holder: holder.to_string(),
                until_ms: now + ttl * 1000,
            },
        );
        Ok(true)
    }

    async fn release(
        &self,
        _account: &str,
        integration_id: &str,
        holder: &str,
    ) -> Result<(), StoreError> {
        let mut leases = self.leases.borrow_mut();
        if leases
            .get(integration_id)
            .is_some_and(|l| l.holder == holder)
        {
            leases.remove(integration_id);
        }
        Ok(())
    }

    async fn count(&self, name: &str, key: &str, add: u64) -> Result<u64, StoreError> {
        let mut counters = self.counters.borrow_mut();
        let value = counters
            .entry((name.to_string(), key.to_string()))
            .or_default();
        *value += add;
        Ok(*value)
    }

    async fn claim(&self, name: &str, key: &str, until_ms: u64) -> Result<bool, StoreError> {
        let now = self.now_ms();
        Ok(self
            .claims
            .borrow_mut()
            .entry(name.to_string())
            .or_default()
            .claim(key, until_ms, now))
    }

    /// Leases are kept by integration id here (the account does not matter in memory).
    async fn clear(&self, name: &str, key: &str) -> Result<(), StoreError> {
        self.counters
            .borrow_mut()
            .remove(&(name.to_string(), key.to_string()));
        if let Some(id) = key.strip_prefix("lease:") {
            self.leases.borrow_mut().remove(id);
        }
        Ok(())
    }

    async fn take(&self, name: &str, rate: Rate) -> Result<Take, StoreError> {
        let now = self.now_ms();
        let mut budgets = self.budgets.borrow_mut();
        let budget = budgets
            .entry(name.to_string())
            .or_insert_with(|| RateBudget::new(rate));
        // As ACCOUNT_GATE does: each take names its own limit (live work's is higher).
        if budget.rate != rate {
            budget.set_rate(rate);
        }
        Ok(budget.take(now))
    }
}

impl Clock for MemoryPlatform {
    fn now_ms(&self) -> u64 {
        self.now_ms.get()
    }
}

impl Log for MemoryPlatform {
    fn log(&self, line: &str) {
        // As the platform prints it.
        self.logs
            .borrow_mut()
            .push(crate::ports::escape_controls(line).into_owned());
    }
}

/// A destination as an admin's request gives it.
pub fn destination(fields: serde_json::Value) -> crate::destinations::NewDestination {
    let mut problems = crate::problems::Problems::default();
    let parsed = crate::destinations::parse(fields.as_object().expect("an object"), &mut problems);
    assert!(problems.0.is_empty(), "{:?}", problems.0);
    parsed.expect("a destination")
}

/// Creates an integration through the real `create`, with Aircall answered here.
/// Returns it with its destination secret and Aircall's webhook token.
pub fn integration(
    p: &MemoryPlatform,
    events: Option<Vec<&str>>,
) -> (crate::integration::Integration, String, String) {
    let destination =
        destination(serde_json::json!({"type": "webhook", "url": "https://receiver.test/hook"}));
    let (integration, secret) = integration_to(p, destination, events);
    (
        integration,
        secret.expect("a destination secret"),
        "aircall-token-1".into(),
    )
}

/// Creates an integration with this destination through the real `create`, with Aircall
/// answered here; returns it with its destination secret if it has one.
pub fn integration_to(
    p: &MemoryPlatform,
    destination: crate::destinations::NewDestination,
    events: Option<Vec<&str>>,
) -> (crate::integration::Integration, Option<String>) {
    use crate::aircall::Credentials;
    use crate::integration::NewIntegration;
    p.respond(|request| match (request.method, request.url.as_str()) {
        ("GET", "https://aircall.test/v1/ping") => Ok(answer(200, &[], r#"{"ping":"pong"}"#)),
        ("POST", "https://aircall.test/v1/webhooks") => Ok(answer(
            201,
            &[],
            r#"{"webhook":{"webhook_id":"wh-1","token":"aircall-token-1"}}"#,
        )),
        _ => Ok(answer(404, &[], "")),
    });
    let new = NewIntegration {
        name: "Test".into(),
        credentials: Credentials::Basic {
            api_id: "id".into(),
            api_token: "token".into(),
        },
        destination: Some(destination),
        events: events.map(|e| e.into_iter().map(str::to_string).collect()),
        import: Default::default(),
        numbers: None,
        contact_sync: None,
        insight_cards: None,
    };
    let created = run(crate::lifecycle::create(p, &config(), new)).expect("created");
    p.requests.borrow_mut().clear();
    p.respond(|_| Ok(answer(200, &[], "")));
    (created.integration, created.destination_secret)
}

/// The size of every recording [`aircall_calls`] serves.
pub const RECORDING_BYTES: usize = 1_000;

/// A recording file of `size` bytes, served like S3: a `Range` gets 206 and its part.
pub fn recording(request: &HttpRequest, size: usize) -> HttpResponse {
    let ranged = request
        .headers
        .iter()
        .any(|(n, v)| n == "range" && v == "bytes=0-0");
    if ranged {
        let range = format!("bytes 0-0/{size}");
        answer(
            206,
            &[("content-range", &range), ("content-length", "1")],
            "x",
        )
    } else {
        let length = size.to_string();
        answer(200, &[("content-length", &length)], &"x".repeat(size))
    }
}

/// Calls of a scripted Aircall account, kept sorted by (started_at, id).
#[derive(Clone, Default)]
pub struct FakeCalls {
    calls: std::rc::Rc<RefCell<Vec<(i64, i64, serde_json::Value)>>>,
    /// Recording links given in listings answer 403 (expired); those of `/v1/calls/{id}` work.
    pub listed_links_expired: std::rc::Rc<Cell<bool>>,
}

impl FakeCalls {
    pub fn add(&self, calls: Vec<serde_json::Value>) {
        let mut all = self.calls.borrow_mut();
        all.extend(calls.into_iter().map(|c| {
            (
                c["started_at"].as_i64().unwrap(),
                c["id"].as_i64().unwrap(),
                c,
            )
        }));
        all.sort_by_key(|(t, id, _)| (*t, *id));
    }

    /// Changes a call after the fact, as calls change after they end.
    pub fn update(&self, id: i64, change: impl FnOnce(&mut serde_json::Value)) {
        let mut all = self.calls.borrow_mut();
        let (_, _, call) = all
            .iter_mut()
            .find(|(_, i, _)| *i == id)
            .expect("a known call");
        change(call);
    }
}

/// Answers `GET /v1/calls` and `/v1/calls/{id}` over `calls` as Aircall documents it:
/// `from` exclusive, `to` inclusive, `per_page` clamped to 50, 400 past 10,000 results.
pub fn aircall_calls(p: &MemoryPlatform, calls: FakeCalls) {
    p.respond(aircall_calls_answer(calls));
}

/// How [`aircall_calls`] answers, to be combined with other answers.
pub fn aircall_calls_answer(
    calls: FakeCalls,
) -> impl Fn(&HttpRequest) -> Result<HttpResponse, FetchError> + 'static {
    move |request| {
        let url = url::Url::parse(&request.url).unwrap();
        if url.host_str() == Some("r.test") {
            if url.query() == Some("listed") && calls.listed_links_expired.get() {
                return Ok(answer(403, &[], "<Error><Code>AccessDenied</Code></Error>"));
            }
            return Ok(recording(request, RECORDING_BYTES));
        }
        let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
        let number =
            |name: &str, default: i64| query.get(name).map_or(default, |v| v.parse().unwrap());
        let all = calls.calls.borrow();
        if let Some(id) = url.path().strip_prefix("/v1/calls/") {
            let call = all.iter().find(|(_, i, _)| i.to_string() == id);
            return Ok(match call {
                Some((_, _, call)) => {
                    answer(200, &[], &serde_json::json!({ "call": call }).to_string())
                }
                None => answer(404, &[], r#"{"error":"Not Found"}"#),
            });
        }
        assert_eq!(
            url.path(),
            "/v1/calls",
            "unexpected request {}",
            request.url
        );
        let per_page = number("per_page", 20).min(50);
        let page = number("page", 1);
        if page * per_page > 10_000 {
            return Ok(answer(
                400,
                &[],
                r#"{"troubleshoot":"Your query is limited to 10k results"}"#,
            ));
        }
        let (from, to) = (number("from", i64::MIN), number("to", i64::MAX));
        let first = all.partition_point(|(t, _, _)| *t <= from);
        let end = all.partition_point(|(t, _, _)| *t <= to);
        let matching = &all[first..end.max(first)];
        let skip = ((page - 1) * per_page) as usize;
        let listed = |(_, _, c): &(i64, i64, serde_json::Value)| {
            let mut c = c.clone();
            if let Some(link) = c["recording"].as_str() {
                c["recording"] = format!("{link}?listed").into();
            }
            c
        };
        let slice: Vec<serde_json::Value> =
            if query.get("order").map(String::as_str) == Some("desc") {
                matching
                    .iter()
                    .rev()
                    .skip(skip)
                    .take(per_page as usize)
                    .map(listed)
                    .collect()
            } else {
                matching
                    .iter()
                    .skip(skip)
                    .take(per_page as usize)
                    .map(listed)
                    .collect()
            };
        let body = serde_json::json!({"calls": slice, "meta": {"total": matching.len(), "per_page": per_page, "current_page": page}});
        Ok(answer(200, &[], &body.to_string()))
    }
}
