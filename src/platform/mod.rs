//! The only code that touches `worker` types: it adapts Cloudflare's bindings to the
//! traits in `ports` and hands each event to the domain at once.

mod entry;
mod event_log;
mod gate;

use crate::budget::{Rate, Take};
use crate::config::{Config, ConfigError};
use crate::consumer::{self, Ack};
use crate::event_log::{Detail, Entry, Page, Query};
use crate::http::{self, MAX_BODY_BYTES};
use crate::ports::{
    Archive, ArchiveError, Clock, EventLog, Fetch as FetchPort, FetchError, Gate, HttpRequest,
    HttpResponse, KeyPage, Log, QueueError, QueueName, Queues, Store, StoreError,
};
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use std::time::Duration;
use worker::wasm_bindgen::JsCast;
use worker::wasm_bindgen::JsValue;
use worker::{
    AbortController, BatchMessageBuilder, Data, Delay, Env, Fetch, Headers, HttpMetadata, KvStore,
    MessageBatch, MessageBuilder, MessageExt, Method, Request, RequestInit, RequestRedirect,
    Response, ResponseBody, Result,
};

/// The runtime, seen through `ports`.
struct Cloudflare {
    env: Env,
    kv: KvStore,
    /// Event log steps noted, per integration, written once the invocation's work is done.
    notes: std::cell::RefCell<std::collections::BTreeMap<String, Vec<Entry>>>,
}

impl Cloudflare {
    fn new(env: Env) -> Result<Self> {
        let kv = env.kv("STATE")?;
        Ok(Self {
            env,
            kv,
            notes: Default::default(),
        })
    }

    /// Writes the noted steps after the answer (`waitUntil`): one request per integration;
    /// a failure is logged, and only the log loses it.
    fn write_notes_later(&self, ctx: &worker::Context) {
        let notes = std::mem::take(&mut *self.notes.borrow_mut());
        if notes.is_empty() {
            return;
        }
        let env = self.env.clone();
        ctx.wait_until(async move {
            for (integration_id, entries) in notes {
                let body = serde_json::to_string(&entries).expect("entries serialize");
                let line = match event_log_call(&env, &integration_id, "/append", Some(body)).await
                {
                    Ok(_) => format!(
                        "event log of {integration_id}: {} step(s) written",
                        entries.len()
                    ),
                    Err(e) => format!(
                        "event log of {integration_id}: {} step(s) not written: {e}",
                        entries.len()
                    ),
                };
                worker::console_log!("{}", crate::ports::escape_controls(&line));
            }
        });
    }

    fn config(&self) -> std::result::Result<Config, ConfigError> {
        Config::from_lookup(|name| self.env.var(name).ok().map(|v| v.to_string()))
    }
}

pub async fn fetch(mut request: Request, env: Env, ctx: worker::Context) -> Result<Response> {
    console_error_panic_hook::set_once();
    let platform = Cloudflare::new(env.clone())?;
    let request = read_request(&mut request).await?;
    let config = platform.config();
    let (mut response, card) = http::handle_then(&platform, &config, request).await;
    platform.write_notes_later(&ctx);
    if let (Some(card), Ok(config)) = (card, config) {
        // After the answer, in this request's own context: Aircall has its 2xx at once, and
        // the card waits behind no queue. The settings read for the request serve it too.
        ctx.wait_until(async move {
            let Ok(platform) = Cloudflare::new(env) else {
                return;
            };
            crate::cards::post(&platform, &config, &card).await;
        });
    }
    let headers = Headers::new();
    for (name, value) in &response.headers {
        headers.set(name, value)?;
    }
    if let Some(key) = response.archived.take() {
        // Streamed from R2 to the client: a 200 MB recording never sits in memory.
        if let Some(object) = platform
            .env
            .bucket("RECORDINGS")?
            .get(key)
            .execute()
            .await?
        {
            headers.set("content-length", &object.size().to_string())?;
            return Ok(Response::from_body(
                object
                    .body()
                    .map_or(Ok(ResponseBody::Empty), |b| b.response_body())?,
            )?
            .with_status(response.status)
            .with_headers(headers));
        }
        response = http::Response::json(
            404,
            &serde_json::json!({"error": {"code": "not_found", "message": "this recording is no longer archived"}}),
        );
        headers.set("content-type", "application/json")?;
    }
    Ok(Response::from_bytes(response.body)?
        .with_status(response.status)
        .with_headers(headers))
}

/// The 15-minute cron: queues one import run per integration.
pub async fn scheduled(event: worker::ScheduledEvent, env: Env) {
    let result = match Cloudflare::new(env) {
        Ok(platform) => crate::import::schedule_all(&platform)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match result {
        Ok(queued) => worker::console_log!("cron {}: queued {queued} import run(s)", event.cron()),
        // A missed tick loses nothing: the next run starts from each cursor.
        Err(e) => worker::console_log!("cron {}: could not queue import runs: {e}", event.cron()),
    }
}

pub async fn queue(batch: MessageBatch<String>, env: Env, ctx: worker::Context) -> Result<()> {
    console_error_panic_hook::set_once();
    let platform = Cloudflare::new(env)?;
    // Queues are told apart by the end of their names (see wrangler.toml).
    let queue = match batch.queue() {
        name if name.ends_with("-dlq") => QueueName::DeadLetters,
        name if name.ends_with("-work") => QueueName::Work,
        _ => QueueName::Jobs,
    };
    let config = match platform.config() {
        Ok(config) => config,
        Err(e) => {
            platform.log(&format!("cannot process the queue: {e}"));
            batch.retry_all();
            return Ok(());
        }
    };
    let messages = batch.messages()?;
    // Deliveries of one batch run side by side (the runtime caps open connections at 6);
    // a Segment integration's deliveries go in one request.
    let bodies: Vec<String> = messages.iter().map(|m| m.body().clone()).collect();
    let acks = consumer::handle_batch(&platform, &config, queue, &bodies).await;
    for (message, ack) in messages.iter().zip(acks) {
        match ack {
            Ack::Done => message.ack(),
            Ack::Redeliver => message.retry(),
        }
    }
    platform.write_notes_later(&ctx);
    Ok(())
}

/// Copies the request into plain data, reading at most `MAX_BODY_BYTES + 1` bytes of body.
async fn read_request(request: &mut Request) -> Result<http::Request> {
    let url = request.url()?;
    let headers: Vec<(String, String)> = request
        .headers()
        .entries()
        .map(|(n, v)| (n.to_ascii_lowercase(), v))
        .collect();
    let declared = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let mut body = Vec::new();
    if declared.is_some_and(|len| len > MAX_BODY_BYTES) {
        body.resize(MAX_BODY_BYTES + 1, 0); // refused as too large without reading it
    } else if !matches!(request.method(), Method::Get | Method::Head)
        && request.inner().body().is_some()
    {
        // A DELETE or a bodiless POST (activate, deactivate) has no stream to read.
        let mut stream = request.stream()?;
        while let Some(chunk) = stream.next().await {
            body.extend_from_slice(&chunk?);
            if body.len() > MAX_BODY_BYTES {
                body.truncate(MAX_BODY_BYTES + 1);
                break;
            }
        }
    }
    Ok(http::Request {
        method: request.method().to_string(),
        path: url.path().to_string(),
        query: url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
        headers,
        body,
    })
}

impl Store for Cloudflare {
    async fn get(&self, key: &str) -> std::result::Result<Option<String>, StoreError> {
        self.kv
            .get(key)
            .text()
            .await
            .map_err(|e| StoreError(e.to_string()))
    }

    async fn put(
        &self,
        key: &str,
        value: &str,
        ttl_seconds: Option<u64>,
    ) -> std::result::Result<(), StoreError> {
        let mut put = self
            .kv
            .put(key, value)
            .map_err(|e| StoreError(e.to_string()))?;
        if let Some(ttl) = ttl_seconds {
            put = put.expiration_ttl(ttl.max(60));
        }
        put.execute().await.map_err(|e| StoreError(e.to_string()))
    }

    async fn delete(&self, key: &str) -> std::result::Result<(), StoreError> {
        self.kv
            .delete(key)
            .await
            .map_err(|e| StoreError(e.to_string()))
    }

    async fn list(
        &self,
        prefix: &str,
        cursor: Option<String>,
    ) -> std::result::Result<KeyPage, StoreError> {
        let mut list = self.kv.list().prefix(prefix.to_string());
        if let Some(cursor) = cursor {
            list = list.cursor(cursor);
        }
        let page = list
            .execute()
            .await
            .map_err(|e| StoreError(e.to_string()))?;
        Ok(KeyPage {
            keys: page.keys.into_iter().map(|k| k.name).collect(),
            cursor: if page.list_complete {
                None
            } else {
                page.cursor
            },
        })
    }
}

impl FetchPort for Cloudflare {
    async fn fetch(&self, request: HttpRequest) -> std::result::Result<HttpResponse, FetchError> {
        let timeout_ms = request.timeout_ms;
        let controller = AbortController::default();
        let signal = controller.signal();
        let attempt = async {
            let headers = Headers::new();
            for (name, value) in &request.headers {
                headers.set(name, value)?;
            }
            let mut init = RequestInit::new();
            init.with_method(Method::from(request.method.to_string()))
                .with_headers(headers)
                .with_redirect(RequestRedirect::Manual);
            if !request.body.is_empty() {
                init.with_body(Some(
                    js_sys::Uint8Array::from(request.body.as_slice()).into(),
                ));
            }
            let outgoing = Request::new_with_init(&request.url, &init)?;
            let mut response = Fetch::Request(outgoing).send_with_signal(&signal).await?;
            let headers = response
                .headers()
                .entries()
                .map(|(n, v)| (n.to_ascii_lowercase(), v))
                .collect();
            // Dropping the response unread cancels the rest of its body.
            let body = if request.headers_only {
                Vec::new()
            } else {
                response.bytes().await?
            };
            Ok::<_, worker::Error>(HttpResponse {
                status: response.status_code(),
                headers,
                body,
            })
        };
        let timeout = Delay::from(Duration::from_millis(timeout_ms as u64));
        let outcome = match select(Box::pin(attempt), timeout).await {
            Either::Left((result, _)) => result.map_err(|e| FetchError::Network(e.to_string())),
            Either::Right(_) => {
                controller.abort();
                Err(FetchError::Timeout(timeout_ms))
            }
        };
        outcome
    }
}

impl Cloudflare {
    fn queue(&self, queue: QueueName) -> std::result::Result<worker::Queue, QueueError> {
        let binding = match queue {
            QueueName::Jobs => "JOBS",
            QueueName::Work => "WORK",
            QueueName::DeadLetters => "JOBS_DLQ",
        };
        self.env
            .queue(binding)
            .map_err(|e| QueueError(e.to_string()))
    }
}

impl Queues for Cloudflare {
    async fn send_batch(
        &self,
        queue: QueueName,
        messages: &[String],
    ) -> std::result::Result<(), QueueError> {
        if messages.is_empty() {
            return Ok(());
        }
        let batch = BatchMessageBuilder::new()
            .messages(messages.to_vec())
            .build();
        self.queue(queue)?
            .send_batch(batch)
            .await
            .map_err(|e| QueueError(e.to_string()))
    }

    async fn send(
        &self,
        queue: QueueName,
        message: &str,
        delay_seconds: u32,
    ) -> std::result::Result<(), QueueError> {
        let queue = self.queue(queue)?;
        let mut message = MessageBuilder::new(message.to_string());
        if delay_seconds > 0 {
            message = message.delay_seconds(delay_seconds);
        }
        queue
            .send(message.build())
            .await
            .map_err(|e| QueueError(e.to_string()))
    }
}

impl Cloudflare {
    /// Asks the account's `ACCOUNT_GATE` object (`path` with its query).
    async fn gate(
        &self,
        account: &str,
        path: &str,
    ) -> std::result::Result<gate::Answer, StoreError> {
        let answer = async {
            let stub = self
                .env
                .durable_object("ACCOUNT_GATE")?
                .id_from_name(account)?
                .get_stub()?;
            stub.fetch_with_str(&format!("https://gate{path}"))
                .await?
                .json::<gate::Answer>()
                .await
        };
        answer
            .await
            .map_err(|e| StoreError(format!("ACCOUNT_GATE: {e}")))
    }
}

impl Gate for Cloudflare {
    async fn take(&self, name: &str, rate: Rate) -> std::result::Result<Take, StoreError> {
        let query = format!(
            "/take?requests={}&window_ms={}",
            rate.requests, rate.window_ms
        );
        let answer = self.gate(name, &query).await?;
        Ok(if answer.granted {
            Take::Granted
        } else {
            Take::Wait(answer.wait_ms.unwrap_or(1000))
        })
    }

    async fn lease(
        &self,
        account: &str,
        integration_id: &str,
        holder: &str,
        ttl_seconds: u64,
    ) -> std::result::Result<bool, StoreError> {
        let path = format!("/lease?integration={integration_id}&holder={holder}&ttl={ttl_seconds}");
        Ok(self.gate(account, &path).await?.granted)
    }

    async fn block(&self, account: &str, until_ms: u64) -> std::result::Result<(), StoreError> {
        self.gate(account, &format!("/block?until_ms={until_ms}"))
            .await
            .map(|_| ())
    }

    async fn release(
        &self,
        account: &str,
        integration_id: &str,
        holder: &str,
    ) -> std::result::Result<(), StoreError> {
        self.gate(
            account,
            &format!("/release?integration={integration_id}&holder={holder}"),
        )
        .await
        .map(|_| ())
    }

    async fn count(&self, name: &str, key: &str, add: u64) -> std::result::Result<u64, StoreError> {
        let answer = self
            .gate_keyed(name, "/count", key, &format!("&add={add}"))
            .await?;
        Ok(answer.count.unwrap_or(0))
    }

    async fn claim(
        &self,
        name: &str,
        key: &str,
        until_ms: u64,
    ) -> std::result::Result<bool, StoreError> {
        let answer = self
            .gate_keyed(name, "/claim", key, &format!("&until_ms={until_ms}"))
            .await?;
        Ok(answer.granted)
    }

    async fn clear(&self, name: &str, key: &str) -> std::result::Result<(), StoreError> {
        self.gate_keyed(name, "/clear", key, "").await.map(|_| ())
    }
}

impl Cloudflare {
    async fn gate_keyed(
        &self,
        name: &str,
        path: &str,
        key: &str,
        rest: &str,
    ) -> std::result::Result<gate::Answer, StoreError> {
        let key: String = url::form_urlencoded::byte_serialize(key.as_bytes()).collect();
        self.gate(name, &format!("{path}?key={key}{rest}")).await
    }
}

impl Archive for Cloudflare {
    async fn archive(
        &self,
        key: &str,
        source: HttpRequest,
        size: u64,
    ) -> std::result::Result<(), ArchiveError> {
        let store = |e: worker::Error| ArchiveError::Store(e.to_string());
        let bucket = self.env.bucket("RECORDINGS").map_err(store)?;
        let headers = Headers::new();
        for (name, value) in &source.headers {
            headers.set(name, value).map_err(store)?;
        }
        let mut init = RequestInit::new();
        // The link was checked against RECORDING_HOSTS: a redirect elsewhere is not followed.
        init.with_method(Method::Get)
            .with_headers(headers)
            .with_redirect(RequestRedirect::Manual);
        let request = Request::new_with_init(&source.url, &init).map_err(store)?;
        let response = Fetch::Request(request)
            .send()
            .await
            .map_err(|e| ArchiveError::Fetch(FetchError::Network(e.to_string())))?;
        let status = response.status_code();
        if !(200..300).contains(&status) {
            return Err(ArchiveError::Source(status));
        }
        let content_type = response
            .headers()
            .get("content-type")
            .ok()
            .flatten()
            .unwrap_or_else(|| "audio/mpeg".into());
        let ResponseBody::Stream(body) = response.into_parts().1 else {
            return Err(ArchiveError::Store("the recording has no body".into()));
        };
        // R2 wants a stream of known length. The body is piped through a FixedLengthStream
        // inside the runtime, so its bytes never cross into WebAssembly.
        let fixed = if size < u64::from(u32::MAX) {
            worker::worker_sys::FixedLengthStream::new(size as u32)
        } else {
            worker::worker_sys::FixedLengthStream::new_big_int(js_sys::BigInt::from(size))
        }
        .map_err(|e| ArchiveError::Store(format!("{e:?}")))?;
        let fixed: &worker::web_sys::TransformStream = fixed.unchecked_ref();
        let pipe = worker::wasm_bindgen_futures::JsFuture::from(body.pipe_to(&fixed.writable()));
        let put = bucket
            .put(key, Data::ReadableStream(fixed.readable()))
            .http_metadata(HttpMetadata {
                content_type: Some(content_type),
                ..Default::default()
            })
            .execute();
        let (piped, put) = futures_util::future::join(pipe, put).await;
        put.map_err(store)?;
        piped.map_err(|e| ArchiveError::Store(format!("{e:?}")))?;
        Ok(())
    }

    async fn put_object(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> std::result::Result<(), ArchiveError> {
        let store = |e: worker::Error| ArchiveError::Store(e.to_string());
        let bucket = self.env.bucket("RECORDINGS").map_err(store)?;
        bucket
            .put(key, Data::Bytes(body))
            .http_metadata(HttpMetadata {
                content_type: Some(content_type.to_string()),
                ..Default::default()
            })
            .execute()
            .await
            .map_err(store)?;
        Ok(())
    }

    async fn delete_all(&self, prefix: &str) -> std::result::Result<u64, StoreError> {
        let store = |e: worker::Error| StoreError(format!("RECORDINGS: {e}"));
        let bucket = self.env.bucket("RECORDINGS").map_err(store)?;
        let mut deleted = 0;
        loop {
            // Listing again after each deletion: the deleted keys are gone from the next page.
            let page = bucket
                .list()
                .prefix(prefix.to_string())
                .execute()
                .await
                .map_err(store)?;
            let keys: Vec<String> = page.objects().iter().map(|o| o.key()).collect();
            if keys.is_empty() {
                return Ok(deleted);
            }
            deleted += keys.len() as u64;
            bucket.delete_multiple(keys).await.map_err(store)?;
        }
    }
}

/// Calls the integration's `EVENT_LOG` object (`body`: a JSON `POST`, else a `GET`).
async fn event_log_call(
    env: &Env,
    integration_id: &str,
    path: &str,
    body: Option<String>,
) -> std::result::Result<String, StoreError> {
    let answer = async {
        let stub = env
            .durable_object("EVENT_LOG")?
            .id_from_name(&crate::keys::event_log_name(integration_id))?
            .get_stub()?;
        let url = format!("https://event-log{path}");
        let mut response = match body {
            Some(body) => {
                let mut init = RequestInit::new();
                init.with_method(Method::Post)
                    .with_body(Some(JsValue::from_str(&body)));
                stub.fetch_with_request(Request::new_with_init(&url, &init)?)
                    .await?
            }
            None => stub.fetch_with_str(&url).await?,
        };
        let text = response.text().await?;
        if response.status_code() != 200 {
            return Err(worker::Error::RustError(format!(
                "HTTP {}: {text}",
                response.status_code()
            )));
        }
        Ok(text)
    };
    answer
        .await
        .map_err(|e| StoreError(format!("EVENT_LOG: {e}")))
}

fn read_json<T: serde::de::DeserializeOwned>(text: &str) -> std::result::Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError(format!("EVENT_LOG answered: {e}")))
}

impl EventLog for Cloudflare {
    fn note(&self, integration_id: &str, entry: Entry) {
        self.notes
            .borrow_mut()
            .entry(integration_id.to_string())
            .or_default()
            .push(entry);
    }

    async fn events(
        &self,
        integration_id: &str,
        query: &Query,
    ) -> std::result::Result<Page, StoreError> {
        let body = serde_json::to_string(query).expect("a query serializes");
        read_json(&event_log_call(&self.env, integration_id, "/search", Some(body)).await?)
    }

    async fn event(
        &self,
        integration_id: &str,
        event_id: &str,
    ) -> std::result::Result<Option<Detail>, StoreError> {
        let id: String = url::form_urlencoded::byte_serialize(event_id.as_bytes()).collect();
        let path = format!("/event?id={id}");
        read_json(&event_log_call(&self.env, integration_id, &path, None).await?)
    }

    async fn erase(&self, integration_id: &str) -> std::result::Result<(), StoreError> {
        event_log_call(&self.env, integration_id, "/erase", Some(String::new()))
            .await
            .map(|_| ())
    }
}

impl Clock for Cloudflare {
    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }
}

impl Log for Cloudflare {
    fn log(&self, line: &str) {
        worker::console_log!("{}", crate::ports::escape_controls(line));
    }
}
