//! A typed client for the parts of Aircall's public API the connector uses.

use super::{AiKind, AircallNumber, Call, NumberPage, Window};
use crate::budget::Take;
use crate::config::Config;
use crate::contacts::{DetailChange, DetailList, Labeled};
use crate::ports::{Clock, Fetch, FetchError, Gate, HttpRequest, HttpResponse, Log, Store};
use crate::retry::{Disposition, Failure};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Credentials {
    /// API ID + API token, sent as HTTP Basic.
    Basic { api_id: String, api_token: String },
    /// An OAuth access token (or a bearer API key), sent as `Authorization: Bearer`.
    /// Aircall's tokens do not expire; a refresh token, if one is ever given, is kept.
    Bearer {
        access_token: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refresh_token: Option<String>,
    },
}

impl Credentials {
    fn authorization(&self) -> String {
        match self {
            Credentials::Basic { api_id, api_token } => {
                format!("Basic {}", STANDARD.encode(format!("{api_id}:{api_token}")))
            }
            Credentials::Bearer { access_token, .. } => format!("Bearer {access_token}"),
        }
    }

    /// A stable, non-secret name for the Aircall account these credentials open. A bearer
    /// token says nothing about its company (Aircall documents no company id), so its
    /// account is a hash of the token: its budget is not shared with the company's API keys.
    pub fn account_key(&self) -> String {
        match self {
            Credentials::Basic { api_id, .. } => {
                crate::crypto::sha256_hex(api_id.as_bytes())[..24].to_string()
            }
            Credentials::Bearer { access_token, .. } => {
                let hash = crate::crypto::sha256_hex(format!("bearer\n{access_token}").as_bytes());
                format!("b{}", &hash[..23])
            }
        }
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum AircallError {
    /// 401: the credentials no longer open the account. 403: they do, but not this: the key's
    /// user lost a right, or the company's plan lacks the feature (AI data). Only `/v1/ping`
    /// tells the two 403s apart (see `integration::on_aircall_error`).
    #[error("{}", refusal(*status, message))]
    Rejected { status: u16, message: String },
    /// Our share of the account's budget is spent, or Aircall answered 429.
    #[error("Aircall's rate limit for this account is reached; retry in {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },
    #[error("the account's rate budget cannot be read: {0}")]
    Budget(String),
    #[error("Aircall is unreachable: {0}")]
    Unreachable(String),
    #[error("Aircall answered HTTP {status}: {message}")]
    Failed { status: u16, message: String },
}

fn refusal(status: u16, message: &str) -> String {
    match status {
        401 => format!("Aircall rejected the credentials (HTTP 401: {message})"),
        _ => format!("Aircall refused the request (HTTP {status}: {message})"),
    }
}

impl Failure for AircallError {
    fn disposition(&self) -> Disposition {
        match self {
            // Our share of the budget is spent, or Aircall said 429: wait for the reset.
            AircallError::RateLimited {
                retry_after_seconds,
            } => Disposition::wait(*retry_after_seconds),
            AircallError::Rejected { .. } => Disposition::Permanent,
            // A 4xx other than these will be answered the same way again (404: no such call).
            AircallError::Failed { status, .. }
                if (400..500).contains(status) && !matches!(status, 408 | 429) =>
            {
                Disposition::Permanent
            }
            AircallError::Budget(_)
            | AircallError::Unreachable(_)
            | AircallError::Failed { .. } => Disposition::Transient,
        }
    }
}

/// One page of `GET /v1/calls`.
#[derive(Debug, Clone, PartialEq)]
pub struct CallPage {
    pub calls: Vec<Call>,
    /// Calls matching the query in all (`meta.total`).
    pub total: u64,
}

/// One page of `GET /v1/contacts`.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactPage<T> {
    pub contacts: Vec<T>,
    /// Contacts matching the query in all (`meta.total`).
    pub total: u64,
}

/// What `GET /v1/contacts/search` looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactSearch {
    Email,
    PhoneNumber,
}

/// Aircall clamps larger pages to 50 without saying so.
pub const MAX_PER_PAGE: u32 = 50;

#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredWebhook {
    pub webhook_id: String,
    pub token: String,
}

/// How long a card's post may take: past this the phone has rung long enough.
const CARD_TIMEOUT_MS: u32 = 4_000;

/// Every request first takes a token from the account's budget, which the account's
/// other integrations (and the customer's other tools) share with us.
pub struct AircallClient<'a, P> {
    platform: &'a P,
    base: &'a str,
    credentials: &'a Credentials,
    per_minute: u32,
    priority: crate::budget::Priority,
}

impl<'a, P: Fetch + Gate + Clock + Store + Log> AircallClient<'a, P> {
    /// A client of the deployment's Aircall (`AIRCALL_API_BASE`), within the account's budget.
    pub fn new(platform: &'a P, config: &'a Config, credentials: &'a Credentials) -> Self {
        Self::at(
            platform,
            &config.aircall_api_base,
            credentials,
            config.aircall_requests_per_minute,
        )
    }

    /// A client of the Aircall at `base`, `per_minute` requests a minute for the account.
    pub fn at(
        platform: &'a P,
        base: &'a str,
        credentials: &'a Credentials,
        per_minute: u32,
    ) -> Self {
        Self {
            platform,
            base,
            credentials,
            per_minute,
            priority: crate::budget::Priority::Bulk,
        }
    }

    /// The same client for live work (insight cards): it may use the share of the account's
    /// budget that bulk work leaves free.
    pub fn live(mut self) -> Self {
        self.priority = crate::budget::Priority::Live;
        self
    }

    /// `POST /v1/calls/{id}/insight_cards`: shows `contents` (title and shortText blocks) in
    /// the agent's phone app during the call.
    pub async fn insight_card(&self, call_id: i64, contents: &[Value]) -> Result<(), AircallError> {
        let url = format!("{}/v1/calls/{call_id}/insight_cards", self.base);
        let mut request = HttpRequest::new("POST", url).json(&json!({ "contents": contents }));
        // The card is worth something only while the phone rings.
        request.timeout_ms = CARD_TIMEOUT_MS;
        self.send(request).await.map(|_| ())
    }

    /// `GET /v1/ping`: the cheapest proof that the credentials work.
    pub async fn ping(&self) -> Result<(), AircallError> {
        self.send(HttpRequest::new("GET", format!("{}/v1/ping", self.base)))
            .await
            .map(|_| ())
    }

    /// `POST /v1/webhooks`: asks Aircall to post `events` (all of them when `None`) to `url`.
    pub async fn create_webhook(
        &self,
        custom_name: &str,
        url: &str,
        events: Option<&[String]>,
    ) -> Result<RegisteredWebhook, AircallError> {
        let mut body = json!({ "custom_name": custom_name, "url": url });
        if let Some(events) = events {
            body["events"] = json!(events);
        }
        let request = HttpRequest::new("POST", format!("{}/v1/webhooks", self.base)).json(&body);
        let answer: Value = serde_json::from_slice(&self.send(request).await?.body)
            .map_err(|_| self.unexpected("the webhook answer is not JSON"))?;
        let webhook = &answer["webhook"];
        let webhook_id = match &webhook["webhook_id"] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return Err(self.unexpected("the webhook answer has no webhook_id")),
        };
        let token = webhook["token"]
            .as_str()
            .ok_or_else(|| self.unexpected("the webhook answer has no token"))?
            .to_string();
        Ok(RegisteredWebhook { webhook_id, token })
    }

    /// `GET /v1/contacts`, most recently updated first (Aircall has no `updated_at` filter:
    /// the caller stops when it reaches what it saw before), those created in `window` only
    /// when one is given.
    pub async fn list_contacts<T: DeserializeOwned>(
        &self,
        page: u32,
        window: Option<Window>,
    ) -> Result<ContactPage<T>, AircallError> {
        let mut url = format!(
            "{}/v1/contacts?order=desc&order_by=updated_at&page={page}&per_page={MAX_PER_PAGE}",
            self.base
        );
        if let Some(w) = window {
            url.push_str(&format!("&from={}&to={}", w.from, w.to));
        }
        #[derive(Deserialize)]
        struct Meta {
            total: u64,
        }
        #[derive(Deserialize)]
        struct Answer<T> {
            contacts: Vec<T>,
            meta: Meta,
        }
        let answer: Answer<T> = serde_json::from_slice(
            &self.send(HttpRequest::new("GET", url)).await?.body,
        )
        .map_err(|e| self.unexpected(&format!("the contacts answer is not as documented: {e}")))?;
        Ok(ContactPage {
            contacts: answer.contacts,
            total: answer.meta.total,
        })
    }

    /// `GET /v1/contacts/search` by e-mail or by phone number.
    pub async fn search_contacts<T: DeserializeOwned>(
        &self,
        field: ContactSearch,
        value: &str,
    ) -> Result<Vec<T>, AircallError> {
        let name = match field {
            ContactSearch::Email => "email",
            ContactSearch::PhoneNumber => "phone_number",
        };
        let value: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
        let url = format!("{}/v1/contacts/search?{name}={value}", self.base);
        self.contacts(HttpRequest::new("GET", url)).await
    }

    /// `GET /v1/contacts/{id}`; `None` when Aircall no longer has it.
    pub async fn get_contact<T: DeserializeOwned>(
        &self,
        id: i64,
    ) -> Result<Option<T>, AircallError> {
        let request = HttpRequest::new("GET", format!("{}/v1/contacts/{id}", self.base));
        match self.send(request).await {
            Ok(response) => self.contact(&response).map(Some),
            Err(AircallError::Failed { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /v1/contacts` (create, `id` None) or `POST /v1/contacts/{id}` (update).
    pub async fn save_contact<T: DeserializeOwned>(
        &self,
        id: Option<i64>,
        body: &Value,
    ) -> Result<T, AircallError> {
        let url = match id {
            Some(id) => format!("{}/v1/contacts/{id}", self.base),
            None => format!("{}/v1/contacts", self.base),
        };
        let response = self.send(HttpRequest::new("POST", url).json(body)).await?;
        self.contact(&response)
    }

    /// One change to a contact's phone numbers or e-mails, which the plain update ignores:
    /// `POST /v1/contacts/{id}/{phone|email}_details` adds an entry (at the end), `PUT` and
    /// `DELETE .../{detail_id}` replace or remove one. Any 2xx will do: the answer's shape is
    /// not documented. An entry already gone counts as deleted.
    pub async fn change_contact_detail(
        &self,
        contact_id: i64,
        change: &DetailChange,
    ) -> Result<(), AircallError> {
        let list = |l: &DetailList| match l {
            DetailList::PhoneNumbers => "phone_details",
            DetailList::Emails => "email_details",
        };
        let base = format!("{}/v1/contacts/{contact_id}", self.base);
        let entry = |e: &Labeled| json!({"label": e.label, "value": e.value});
        let request = match change {
            DetailChange::Add(l, e) => {
                HttpRequest::new("POST", format!("{base}/{}", list(l))).json(&entry(e))
            }
            DetailChange::Replace(l, id, e) => {
                HttpRequest::new("PUT", format!("{base}/{}/{id}", list(l))).json(&entry(e))
            }
            DetailChange::Delete(l, id) => {
                HttpRequest::new("DELETE", format!("{base}/{}/{id}", list(l)))
            }
        };
        let deleting = matches!(change, DetailChange::Delete(..));
        match self.send(request).await {
            Err(AircallError::Failed { status: 404, .. }) if deleting => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// `DELETE /v1/contacts/{id}`; one already gone counts as deleted.
    pub async fn delete_contact(&self, id: i64) -> Result<(), AircallError> {
        let request = HttpRequest::new("DELETE", format!("{}/v1/contacts/{id}", self.base));
        match self.send(request).await {
            Err(AircallError::Failed { status: 404, .. }) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    async fn contacts<T: DeserializeOwned>(
        &self,
        request: HttpRequest,
    ) -> Result<Vec<T>, AircallError> {
        #[derive(Deserialize)]
        struct Answer<T> {
            contacts: Vec<T>,
        }
        let answer: Answer<T> =
            serde_json::from_slice(&self.send(request).await?.body).map_err(|e| {
                self.unexpected(&format!("the contacts answer is not as documented: {e}"))
            })?;
        Ok(answer.contacts)
    }

    fn contact<T: DeserializeOwned>(&self, response: &HttpResponse) -> Result<T, AircallError> {
        #[derive(Deserialize)]
        struct Answer<T> {
            contact: T,
        }
        serde_json::from_slice::<Answer<T>>(&response.body)
            .map(|a| a.contact)
            .map_err(|e| self.unexpected(&format!("the contact answer is not as documented: {e}")))
    }

    /// `GET /v1/calls`: calls with `from < started_at <= to`, oldest or newest first.
    pub async fn list_calls(
        &self,
        from: i64,
        to: i64,
        newest_first: bool,
        page: u32,
    ) -> Result<CallPage, AircallError> {
        let order = if newest_first { "desc" } else { "asc" };
        let url = format!(
            "{}/v1/calls?from={from}&to={to}&order={order}&page={page}&per_page={MAX_PER_PAGE}&fetch_contact=true",
            self.base
        );
        #[derive(Deserialize)]
        struct Meta {
            total: u64,
        }
        #[derive(Deserialize)]
        struct Answer {
            calls: Vec<Call>,
            meta: Meta,
        }
        let answer: Answer = serde_json::from_slice(
            &self.send(HttpRequest::new("GET", url)).await?.body,
        )
        .map_err(|e| self.unexpected(&format!("the calls answer is not as documented: {e}")))?;
        Ok(CallPage {
            calls: answer.calls,
            total: answer.meta.total,
        })
    }

    /// `GET /v1/numbers`: one page of the account's numbers, 50 at a time.
    pub async fn list_numbers(&self, page: u32) -> Result<NumberPage, AircallError> {
        let url = format!(
            "{}/v1/numbers?page={page}&per_page={MAX_PER_PAGE}",
            self.base
        );
        #[derive(Deserialize)]
        struct Meta {
            total: u64,
            #[serde(default)]
            next_page_link: Option<String>,
        }
        #[derive(Deserialize)]
        struct Answer {
            numbers: Vec<AircallNumber>,
            meta: Meta,
        }
        let answer: Answer = serde_json::from_slice(
            &self.send(HttpRequest::new("GET", url)).await?.body,
        )
        .map_err(|e| self.unexpected(&format!("the numbers answer is not as documented: {e}")))?;
        Ok(NumberPage {
            numbers: answer.numbers,
            total: answer.meta.total,
            more: answer.meta.next_page_link.is_some(),
        })
    }

    /// `GET /v1/calls/{id}`: a fresh copy, with recording links that have not expired yet.
    /// Calls are read with `fetch_contact=true` (here and in the list): without it Aircall
    /// leaves out the contact's details.
    pub async fn get_call(&self, id: i64) -> Result<Call, AircallError> {
        #[derive(Deserialize)]
        struct Answer {
            call: Call,
        }
        let request = HttpRequest::new(
            "GET",
            format!("{}/v1/calls/{id}?fetch_contact=true", self.base),
        );
        let answer: Answer = serde_json::from_slice(&self.send(request).await?.body)
            .map_err(|e| self.unexpected(&format!("the call answer is not as documented: {e}")))?;
        Ok(answer.call)
    }

    /// `GET /v1/calls/{id}/{transcription|summary|...}`: the call's AI data of this kind, the
    /// answer's object as Aircall gives it (`{"summary": {...}}`). A company without the AI
    /// package gets 403 (`Rejected`), a call without this data 404 (`Failed`).
    pub async fn get_ai(
        &self,
        call_id: i64,
        kind: AiKind,
    ) -> Result<serde_json::Map<String, Value>, AircallError> {
        let url = format!("{}/v1/calls/{call_id}/{}", self.base, kind.path());
        let response = self.send(HttpRequest::new("GET", url)).await?;
        match serde_json::from_slice(&response.body) {
            Ok(Value::Object(answer)) => Ok(answer),
            _ => Err(self.unexpected(&format!("the {} answer is not an object", kind.path()))),
        }
    }

    /// `GET /v1/webhooks/{id}`: whether the webhook exists on the account these credentials
    /// open (Aircall answers 404 for another account's webhook, or one it removed).
    pub async fn webhook_exists(&self, webhook_id: &str) -> Result<bool, AircallError> {
        let request = HttpRequest::new("GET", format!("{}/v1/webhooks/{webhook_id}", self.base));
        match self.send(request).await {
            Ok(_) => Ok(true),
            Err(AircallError::Failed { status: 404, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `DELETE /v1/webhooks/{id}`; a webhook already gone counts as deleted.
    pub async fn delete_webhook(&self, webhook_id: &str) -> Result<(), AircallError> {
        let request = HttpRequest::new("DELETE", format!("{}/v1/webhooks/{webhook_id}", self.base));
        match self.send(request).await {
            Err(AircallError::Failed { status: 404, .. }) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, AircallError> {
        let account = self.credentials.account_key();
        let rate = crate::budget::Rate::aircall(self.per_minute, self.priority);
        match self.platform.take(&account, rate).await {
            Ok(Take::Granted) => {}
            Ok(Take::Wait(ms)) => {
                return Err(AircallError::RateLimited {
                    retry_after_seconds: ms.div_ceil(1000),
                })
            }
            Err(e) => return Err(AircallError::Budget(e.to_string())),
        }
        let request = request.header("authorization", self.credentials.authorization());
        let response = self.platform.fetch(request).await.map_err(|e| match e {
            FetchError::Timeout(_) | FetchError::Network(_) => {
                AircallError::Unreachable(e.to_string())
            }
        })?;
        // Over the limit, or told no request remains: the whole account waits for the reset.
        let spent = response
            .header("x-aircallapi-remaining")
            .is_some_and(|r| r.trim() == "0");
        if response.status == 429 || spent {
            let now_ms = self.platform.now_ms();
            let until_ms = reset_at_ms(response.header("x-aircallapi-reset"), now_ms);
            self.platform
                .block(&account, until_ms)
                .await
                .map_err(|e| AircallError::Budget(e.to_string()))?;
            if response.status == 429 {
                let retry_after_seconds = until_ms.saturating_sub(now_ms).div_ceil(1000).max(1);
                return Err(AircallError::RateLimited {
                    retry_after_seconds,
                });
            }
        }
        match response.status {
            200..=299 => Ok(response),
            401 | 403 => Err(AircallError::Rejected {
                status: response.status,
                message: error_message(&response.body),
            }),
            status => Err(AircallError::Failed {
                status,
                message: error_message(&response.body),
            }),
        }
    }

    fn unexpected(&self, message: &str) -> AircallError {
        AircallError::Failed {
            status: 200,
            message: message.to_string(),
        }
    }
}

/// When `X-AircallApi-Reset` says the limit resets. Its unit is undocumented: UNIX
/// milliseconds or seconds told apart by magnitude, or else seconds from now; a minute from
/// now when it is missing or unreadable.
fn reset_at_ms(header: Option<&str>, now_ms: u64) -> u64 {
    match header.and_then(|v| v.trim().parse::<u64>().ok()) {
        Some(v) if v >= 100_000_000_000 => v,
        Some(v) if v >= 1_000_000_000 => v * 1000,
        Some(v) => now_ms + v * 1000,
        None => now_ms + 60_000,
    }
    .clamp(now_ms, now_ms + 3_600_000)
}

/// Aircall's error bodies carry `message` (sometimes `error`); keep it short.
fn error_message(body: &[u8]) -> String {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let text = parsed
        .as_ref()
        .and_then(|v| {
            v["message"]
                .as_str()
                .or(v["error"].as_str())
                .or(v["troubleshoot"].as_str())
        })
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    text.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{answer, run, MemoryPlatform};

    fn client<'a>(
        p: &'a MemoryPlatform,
        credentials: &'a Credentials,
    ) -> AircallClient<'a, MemoryPlatform> {
        AircallClient::at(p, "https://aircall.test", credentials, 60)
    }

    #[test]
    fn reads_the_reset_in_any_unit() {
        let now = 1_700_000_000_000;
        assert_eq!(reset_at_ms(Some("1700000030"), now), now + 30_000);
        assert_eq!(reset_at_ms(Some("1700000030000"), now), now + 30_000);
        assert_eq!(reset_at_ms(Some("12"), now), now + 12_000);
        assert_eq!(reset_at_ms(None, now), now + 60_000);
        assert_eq!(
            reset_at_ms(Some("1600000000"), now),
            now,
            "a reset in the past means now"
        );
    }

    #[test]
    fn after_a_429_no_request_of_the_account_goes_out_before_the_reset() {
        let p = MemoryPlatform::default();
        let now_s = p.now_seconds();
        let reset = (now_s + 40).to_string();
        p.respond(move |_| {
            Ok(answer(
                429,
                &[
                    ("x-aircallapi-reset", reset.as_str()),
                    ("x-aircallapi-remaining", "0"),
                ],
                "",
            ))
        });
        let credentials = Credentials::Basic {
            api_id: "a".into(),
            api_token: "t".into(),
        };
        let aircall = client(&p, &credentials);
        assert_eq!(
            run(aircall.ping()),
            Err(AircallError::RateLimited {
                retry_after_seconds: 40
            })
        );
        p.respond(|_| Ok(answer(200, &[], r#"{"ping":"pong"}"#)));
        assert_eq!(
            run(aircall.ping()),
            Err(AircallError::RateLimited {
                retry_after_seconds: 40
            })
        );
        assert_eq!(p.requests.borrow().len(), 1, "the second ping never left");
        p.now_ms.set(p.now_ms.get() + 41_000);
        assert_eq!(run(aircall.ping()), Ok(()));
    }

    #[test]
    fn a_spent_remaining_count_holds_the_next_requests() {
        let p = MemoryPlatform::default();
        p.respond(|_| {
            Ok(answer(
                200,
                &[
                    ("x-aircallapi-remaining", "0"),
                    ("x-aircallapi-reset", "20"),
                ],
                "{}",
            ))
        });
        let credentials = Credentials::Basic {
            api_id: "a".into(),
            api_token: "t".into(),
        };
        let aircall = client(&p, &credentials);
        assert_eq!(run(aircall.ping()), Ok(()), "this answer itself is good");
        assert_eq!(
            run(aircall.ping()),
            Err(AircallError::RateLimited {
                retry_after_seconds: 20
            })
        );
    }
}
