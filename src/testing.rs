//! An in-memory platform for native tests: KV, queues, gate and clock in plain maps, and
//! outgoing HTTP answered by a closure.

use crate::budget::{RateBudget, Take};
use crate::config::Config;
use crate::ports::{
    Clock, Fetch, FetchError, Gate, HttpRequest, HttpResponse, KeyPage, Log, QueueError, QueueName,
    Queues, Store, StoreError,
};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};

type Responder = Box<dyn Fn(&HttpRequest) -> Result<HttpResponse, FetchError>>;

pub struct MemoryPlatform {
    pub kv: RefCell<BTreeMap<String, String>>,
    pub sent: RefCell<Vec<(QueueName, String, u32)>>,
    pub requests: RefCell<Vec<HttpRequest>>,
    pub logs: RefCell<Vec<String>>,
    pub now_ms: Cell<u64>,
    budgets: RefCell<HashMap<String, RateBudget>>,
    responder: RefCell<Responder>,
}

impl Default for MemoryPlatform {
    fn default() -> Self {
        Self {
            kv: RefCell::default(),
            sent: RefCell::default(),
            requests: RefCell::default(),
            logs: RefCell::default(),
            now_ms: Cell::new(1_763_980_000_000),
            budgets: RefCell::default(),
            responder: RefCell::new(Box::new(|_| Ok(answer(200, &[], "")))),
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
        Ok(self.kv.borrow().get(key).cloned())
    }
    async fn put(&self, key: &str, value: &str, _ttl: Option<u64>) -> Result<(), StoreError> {
        self.kv
            .borrow_mut()
            .insert(key.to_string(), value.to_string());
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.kv.borrow_mut().remove(key);
        Ok(())
    }
    async fn list(&self, prefix: &str, _cursor: Option<String>) -> Result<KeyPage, StoreError> {
        let keys = self
            .kv
            .borrow()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect();
        Ok(KeyPage { keys, cursor: None })
    }
}

impl Fetch for MemoryPlatform {
    async fn fetch(&self, request: HttpRequest) -> Result<HttpResponse, FetchError> {
        let result = (self.responder.borrow())(&request);
        self.requests.borrow_mut().push(request);
        result
    }
}

impl Queues for MemoryPlatform {
    async fn send(
        &self,
        queue: QueueName,
        message: &str,
        delay_seconds: u32,
    ) -> Result<(), QueueError> {
        self.sent
            .borrow_mut()
            .push((queue, message.to_string(), delay_seconds));
        Ok(())
    }
}

impl Gate for MemoryPlatform {
    async fn take(&self, account: &str, per_minute: u32) -> Result<Take, StoreError> {
        let now = self.now_ms();
        let mut budgets = self.budgets.borrow_mut();
        let budget = budgets
            .entry(account.to_string())
            .or_insert_with(|| RateBudget::new(per_minute, now));
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
        self.logs.borrow_mut().push(line.to_string());
    }
}

/// Creates an integration through the real `create`, with Aircall answered here.
/// Returns it with its destination secret and Aircall's webhook token.
pub fn integration(
    p: &MemoryPlatform,
    events: Option<Vec<&str>>,
) -> (crate::integration::Integration, String, String) {
    use crate::aircall::Credentials;
    use crate::integration::{NewDestination, NewIntegration};
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
        destination: NewDestination::Webhook {
            url: "https://receiver.test/hook".into(),
            secret: None,
        },
        events: events.map(|e| e.into_iter().map(str::to_string).collect()),
    };
    let created = run(crate::integration::create(p, &config(), new)).expect("created");
    p.requests.borrow_mut().clear();
    p.respond(|_| Ok(answer(200, &[], "")));
    (
        created.integration,
        created.destination_secret,
        "aircall-token-1".into(),
    )
}
