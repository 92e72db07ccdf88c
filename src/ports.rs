//! The few things the domain needs from the runtime. `platform` implements them over
//! Cloudflare's bindings; `testing` implements them in memory for native tests.
#![allow(async_fn_in_trait)] // single-threaded runtime: no Send bounds wanted

use thiserror::Error;

/// An outgoing HTTP request, built by the domain.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Give up on the request after this long.
    pub timeout_ms: u32,
    /// Only the status and headers are wanted: the body is dropped unread.
    pub headers_only: bool,
}

impl HttpRequest {
    pub fn new(method: &'static str, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout_ms: 15_000,
            headers_only: false,
        }
    }

    /// Drops the answer's body unread (a size probe of a file that may be huge).
    pub fn headers_only(mut self) -> Self {
        self.headers_only = true;
        self
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn json(mut self, body: &serde_json::Value) -> Self {
        self.body = body.to_string().into_bytes();
        self.header("content-type", "application/json")
    }
}

#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Error, Clone, PartialEq)]
pub enum FetchError {
    #[error("no answer within {0} ms")]
    Timeout(u32),
    #[error("could not connect: {0}")]
    Network(String),
}

#[derive(Debug, Error)]
#[error("storage error: {0}")]
pub struct StoreError(pub String);

#[derive(Debug, Error)]
#[error("queue error: {0}")]
pub struct QueueError(pub String);

/// One page of keys from [`Store::list`].
#[derive(Debug, Default)]
pub struct KeyPage {
    pub keys: Vec<String>,
    /// Present when there are more keys to read.
    pub cursor: Option<String>,
}

/// Every key under `prefix`, reading the store a page at a time.
pub async fn all_keys<S: Store>(store: &S, prefix: &str) -> Result<Vec<String>, StoreError> {
    let mut keys = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.list(prefix, cursor).await?;
        keys.extend(page.keys);
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(keys),
        }
    }
}

/// The key-value store (KV `STATE`).
pub trait Store {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// `ttl_seconds` makes the value expire (KV wants at least 60).
    async fn put(&self, key: &str, value: &str, ttl_seconds: Option<u64>)
        -> Result<(), StoreError>;
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    async fn list(&self, prefix: &str, cursor: Option<String>) -> Result<KeyPage, StoreError>;
}

/// Outgoing HTTP (`fetch`). Must not follow redirects: a 3xx is an answer, not a hop.
pub trait Fetch {
    async fn fetch(&self, request: HttpRequest) -> Result<HttpResponse, FetchError>;
}

/// The queues the connector owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueName {
    /// `JOBS`: deliveries, light (a request each) and taken up to 47 at a time.
    Jobs,
    /// `WORK`: call imports, import steps, contact sync and deletion steps, heavy (up to 6
    /// requests each) and taken 8 at a time, so that a batch fits one invocation's 50
    /// subrequests instead of most of it going back on the queue.
    Work,
    /// `JOBS_DLQ`: what could not be delivered, to be recorded for the admin.
    DeadLetters,
}

pub trait Queues {
    /// Sends one JSON message, visible to the consumer after `delay_seconds`.
    async fn send(
        &self,
        queue: QueueName,
        message: &str,
        delay_seconds: u32,
    ) -> Result<(), QueueError>;
    /// Sends up to [`MAX_BATCH`] messages in one request (one subrequest, not one each).
    async fn send_batch(&self, queue: QueueName, messages: &[String]) -> Result<(), QueueError>;
}

/// Most messages one `send_batch` takes (Cloudflare Queues' limit).
pub const MAX_BATCH: usize = 100;

pub trait Clock {
    fn now_ms(&self) -> u64;
    fn now_seconds(&self) -> u64 {
        self.now_ms() / 1000
    }
}

/// Each Aircall account's shared rate budget (the `ACCOUNT_GATE` Durable Object).
pub trait Gate {
    /// Takes one request's place in the budget kept by the object `name` (an Aircall
    /// account, a HubSpot app token...), limited to `rate`.
    async fn take(
        &self,
        name: &str,
        rate: crate::budget::Rate,
    ) -> Result<crate::budget::Take, StoreError>;
    /// Holds `integration_id`'s sync lease for `holder` (a run id) for `ttl_seconds`: granted
    /// when free, expired, or already held by `holder` (a continuing run renews it).
    async fn lease(
        &self,
        account: &str,
        integration_id: &str,
        holder: &str,
        ttl_seconds: u64,
    ) -> Result<bool, StoreError>;
    /// Holds every request of `account` until `until_ms` (Aircall's reset after a 429).
    async fn block(&self, account: &str, until_ms: u64) -> Result<(), StoreError>;
    /// Gives the lease back, if `holder` still has it.
    async fn release(
        &self,
        account: &str,
        integration_id: &str,
        holder: &str,
    ) -> Result<(), StoreError>;
    /// Adds `add` to the counter `key` kept by the object `name` (strongly consistent, unlike
    /// KV) and answers its new value; `add` 0 reads it.
    async fn count(&self, name: &str, key: &str, add: u64) -> Result<u64, StoreError>;
    /// Claims `key` in the object `name`: `true` the first time, `false` while an earlier
    /// claim is remembered (until `until_ms`). Single use for OAuth states.
    async fn claim(&self, name: &str, key: &str, until_ms: u64) -> Result<bool, StoreError>;
    /// Forgets `key` in the object `name` (a counter, or a lease: [`crate::budget::lease_key`]).
    async fn clear(&self, name: &str, key: &str) -> Result<(), StoreError>;
}

#[derive(Debug, Error)]
pub enum ArchiveError {
    #[error("the recording's URL answered HTTP {0}")]
    Source(u16),
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("archive error: {0}")]
    Store(String),
}

/// Archived recordings (R2 `RECORDINGS`). Bodies stream through; none is held in memory.
pub trait Archive {
    /// Streams what `source` answers (`size` bytes) into the archive under `key`. Follows no
    /// redirect: a 3xx is `Source(3xx)`.
    async fn archive(&self, key: &str, source: HttpRequest, size: u64) -> Result<(), ArchiveError>;
    /// Deletes every object whose key starts with `prefix`; answers how many it deleted.
    async fn delete_all(&self, prefix: &str) -> Result<u64, StoreError>;
    /// Stores `body` (small: a transcript) under `key`, replacing what was there.
    async fn put_object(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), ArchiveError>;
}

/// Operational log lines (never secrets). Implementations pass each line through
/// [`escape_controls`], so that text from an admin or a remote answer cannot forge a line.
pub trait Log {
    fn log(&self, line: &str);
}

/// `line` with its control characters (CR, LF, escape sequences...) and Unicode line breaks
/// written as `\r`, `\n` or `\u{..}`: one call to the log is one line, whatever it quotes.
pub fn escape_controls(line: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
    if !line.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len() + 8);
    for c in line.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Each integration's event log (the `EVENT_LOG` Durable Object, one per integration).
pub trait EventLog {
    /// Notes a step of an event. Never waits nor fails: the platform writes a batch's notes in
    /// one call per integration once the webhook is answered or the queue batch handled, and
    /// a write that fails is logged and lost, never a delivery.
    fn note(&self, integration_id: &str, entry: crate::event_log::Entry);
    /// A page of the integration's events.
    async fn events(
        &self,
        integration_id: &str,
        query: &crate::event_log::Query,
    ) -> Result<crate::event_log::Page, StoreError>;
    /// One event whole.
    async fn event(
        &self,
        integration_id: &str,
        event_id: &str,
    ) -> Result<Option<crate::event_log::Detail>, StoreError>;
    /// Deletes the integration's whole log.
    async fn erase(&self, integration_id: &str) -> Result<(), StoreError>;
}

/// Everything the domain uses, in one bound.
pub trait Platform: Store + Fetch + Queues + Gate + Archive + Clock + Log + EventLog {}
impl<T: Store + Fetch + Queues + Gate + Archive + Clock + Log + EventLog> Platform for T {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{run, MemoryPlatform};

    #[test]
    fn all_keys_reads_every_page() {
        let p = MemoryPlatform::default();
        p.list_page_size.set(3);
        for i in 0..10 {
            run(p.put(&format!("run:a:{i}"), "x", None)).unwrap();
        }
        run(p.put("run:b:0", "x", None)).unwrap();
        let keys = run(all_keys(&p, "run:a:")).unwrap();
        assert_eq!(
            keys,
            (0..10).map(|i| format!("run:a:{i}")).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_log_line_cannot_be_split_or_carry_terminal_escapes() {
        assert_eq!(escape_controls("plain line: é ok"), "plain line: é ok");
        assert_eq!(
            escape_controls("reason\r\nintegration x activated\u{1b}[2J\u{2028}"),
            "reason\\r\\nintegration x activated\\u{1b}[2J\\u{2028}"
        );
    }
}
