//! A typed client for the parts of HubSpot's CRM API the connector uses. Every request takes
//! its place in the token's rate budget first (100 per 10 s by default, searches 5 per
//! second), kept in `ACCOUNT_GATE` so that every invocation shares it.

use crate::budget::{Priority, Rate, Take};
use crate::ports::{Clock, Fetch, FetchError, Gate, HttpRequest, HttpResponse};
use crate::crm::{CrmRecord, Owner};
use crate::retry::{Disposition, Failure};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum HubspotError {
    #[error("HubSpot refused the access token (HTTP {status}: {message})")]
    Rejected { status: u16, message: String },
    #[error("HubSpot's rate limit is reached; retry in {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },
    #[error("HubSpot's daily request limit is reached; retry in {retry_after_seconds} s")]
    DailyLimit { retry_after_seconds: u64 },
    #[error("HubSpot holds the record locked (HTTP 423: {0}); retry in {LOCKED_SECONDS} s")]
    Locked(String),
    #[error("the HubSpot rate budget cannot be read: {0}")]
    Budget(String),
    #[error("HubSpot is unreachable: {0}")]
    Unreachable(String),
    #[error("HubSpot answered HTTP {status}: {message}")]
    Failed { status: u16, message: String },
}

impl Failure for HubspotError {
    fn disposition(&self) -> Disposition {
        match self {
            // HubSpot's limit, or our share of it: a wait, not a failed attempt.
            HubspotError::RateLimited {
                retry_after_seconds,
            }
            | HubspotError::DailyLimit {
                retry_after_seconds,
            } => Disposition::wait(*retry_after_seconds),
            // A bulk operation holds the record for a moment: waited out, not an attempt.
            HubspotError::Locked(_) => Disposition::wait(LOCKED_SECONDS),
            HubspotError::Rejected { .. } => Disposition::Permanent,
            HubspotError::Failed { status, .. } if *status < 500 && *status != 408 => {
                Disposition::Permanent
            }
            _ => Disposition::Transient,
        }
    }
}

/// One page of a search.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    pub results: Vec<CrmRecord>,
    pub total: u64,
    /// Where the next page starts, if there is one.
    pub after: Option<String>,
}

/// What budget a request draws from: searches have a limit of their own as well.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Plain,
    Search,
}

/// HubSpot answers a search past this many results with 400: move the filter instead.
pub const SEARCH_CAP: u64 = 10_000;
/// Most inputs of one batch request.
pub const BATCH_MAX: usize = 100;
/// How long a `423 Locked` is waited out (HubSpot: "wait about 2 s and retry").
const LOCKED_SECONDS: u64 = 2;

/// Seconds until HubSpot's daily limit may have reset: it resets at midnight in the
/// account's time zone, which the connector does not know, so the next full or half hour
/// (time zones are offset by whole or half hours, nearly all): at most one request per half
/// hour meets the limit, instead of one every 10 s.
fn until_daily_reset(now_ms: u64) -> u64 {
    const HALF_HOUR: u64 = 1_800;
    let now = now_ms / 1000;
    (HALF_HOUR - now % HALF_HOUR).max(60)
}

pub struct HubspotClient<'a, P> {
    platform: &'a P,
    base: &'a str,
    token: &'a str,
    requests_per_10_seconds: u32,
    searches_per_second: u32,
    /// Bulk work leaves a share of each budget to live work (insight cards).
    priority: Priority,
    /// Overrides each request's timeout (live work cannot wait 15 s).
    timeout_ms: Option<u32>,
}

impl<'a, P: Fetch + Gate + Clock> HubspotClient<'a, P> {
    pub fn new(platform: &'a P, config: &'a crate::config::Config, token: &'a str) -> Self {
        Self {
            platform,
            base: &config.hubspot_api_base,
            token,
            requests_per_10_seconds: config.hubspot_requests_per_10_seconds,
            searches_per_second: config.hubspot_searches_per_second,
            priority: Priority::Bulk,
            timeout_ms: None,
        }
    }

    /// The client of live work: it may use the whole of each budget, the share bulk work
    /// leaves included.
    pub fn live(mut self) -> Self {
        self.priority = Priority::Live;
        self
    }

    /// Gives up on each request after `ms`.
    pub fn with_timeout(mut self, ms: u32) -> Self {
        self.timeout_ms = Some(ms);
        self
    }

    /// Every HubSpot owner (paged 100 at a time).
    pub async fn owners(&self) -> Result<Vec<Owner>, HubspotError> {
        #[derive(Deserialize)]
        struct Answer {
            results: Vec<Owner>,
            #[serde(default)]
            paging: Option<Paging>,
        }
        let mut owners = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut url = format!("{}/crm/v3/owners?limit=100", self.base);
            if let Some(after) = &after {
                url.push_str(&format!("&after={}", urlencoding(after)));
            }
            let answer: Answer = self.read(HttpRequest::new("GET", url), Kind::Plain).await?;
            owners.extend(answer.results);
            match answer.paging.and_then(|p| p.next) {
                Some(next) if owners.len() < 10_000 => after = Some(next.after),
                _ => return Ok(owners),
            }
        }
    }

    /// `GET {path}` (with its query), answered as JSON.
    pub async fn get(&self, path: &str) -> Result<Value, HubspotError> {
        let url = format!("{}{path}", self.base);
        self.read(HttpRequest::new("GET", url), Kind::Plain).await
    }

    /// `POST /crm/v3/objects/{object}/search`.
    pub async fn search(&self, object: &str, body: &Value) -> Result<SearchPage, HubspotError> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            total: u64,
            results: Vec<CrmRecord>,
            #[serde(default)]
            paging: Option<Paging>,
        }
        let url = format!("{}/crm/v3/objects/{object}/search", self.base);
        let answer: Answer = self
            .read(HttpRequest::new("POST", url).json(body), Kind::Search)
            .await?;
        Ok(SearchPage {
            results: answer.results,
            total: answer.total,
            after: answer.paging.and_then(|p| p.next).map(|n| n.after),
        })
    }

    /// Creates a record; `associations` in HubSpot's inline form.
    pub async fn create(
        &self,
        object: &str,
        properties: &BTreeMap<String, String>,
        associations: Value,
    ) -> Result<CrmRecord, HubspotError> {
        let url = format!("{}/crm/v3/objects/{object}", self.base);
        let body = json!({"properties": properties, "associations": associations});
        self.read(HttpRequest::new("POST", url).json(&body), Kind::Plain)
            .await
    }

    /// Changes the given properties of a record.
    pub async fn update(
        &self,
        object: &str,
        id: &str,
        properties: &BTreeMap<String, String>,
    ) -> Result<CrmRecord, HubspotError> {
        let url = format!("{}/crm/v3/objects/{object}/{id}", self.base);
        let body = json!({ "properties": properties });
        self.read(HttpRequest::new("PATCH", url).json(&body), Kind::Plain)
            .await
    }

    /// Any request to `path` (after the API base) with an optional JSON body: its answer as
    /// JSON (`null` when empty, e.g. a 204).
    pub async fn json(
        &self,
        method: &'static str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, HubspotError> {
        let mut request = HttpRequest::new(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = self.send(request, Kind::Plain).await?;
        if response.body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&response.body).map_err(|e| HubspotError::Failed {
            status: response.status,
            message: format!("the answer is not as documented: {e}"),
        })
    }

    /// `POST /crm/v3/objects/{object}/batch/{action}` with at most [`BATCH_MAX`] inputs;
    /// answers the records HubSpot returned (a 207 lists what failed in `errors`, which is
    /// turned into an error only when nothing succeeded).
    pub async fn batch(
        &self,
        object: &str,
        action: &str,
        body: &Value,
    ) -> Result<Vec<CrmRecord>, HubspotError> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            results: Vec<CrmRecord>,
        }
        let url = format!("{}/crm/v3/objects/{object}/batch/{action}", self.base);
        let answer: Answer = self
            .read(HttpRequest::new("POST", url).json(body), Kind::Plain)
            .await?;
        Ok(answer.results)
    }

    async fn read<T: serde::de::DeserializeOwned>(
        &self,
        request: HttpRequest,
        kind: Kind,
    ) -> Result<T, HubspotError> {
        let response = self.send(request, kind).await?;
        serde_json::from_slice(&response.body).map_err(|e| HubspotError::Failed {
            status: response.status,
            message: format!("the answer is not as documented: {e}"),
        })
    }

    async fn send(&self, request: HttpRequest, kind: Kind) -> Result<HttpResponse, HubspotError> {
        let rate = Rate::hubspot(self.requests_per_10_seconds, 10, self.priority);
        self.take(&self.budget_name(Kind::Plain), rate).await?;
        if kind == Kind::Search {
            let searches = Rate::hubspot(self.searches_per_second, 1, self.priority);
            self.take(&self.budget_name(Kind::Search), searches).await?;
        }
        let mut request = request.header("authorization", format!("Bearer {}", self.token));
        if let Some(ms) = self.timeout_ms {
            request.timeout_ms = ms;
        }
        let response = self
            .platform
            .fetch(request)
            .await
            .map_err(|e: FetchError| HubspotError::Unreachable(e.to_string()))?;
        match response.status {
            200..=299 => Ok(response),
            429 => {
                // The secondly search limit frees in a second, the ten-secondly one in ten,
                // the daily one at the account's midnight.
                let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
                if body["policyName"].as_str() == Some("DAILY") {
                    let seconds = until_daily_reset(self.platform.now_ms());
                    let until = self.platform.now_ms() + seconds * 1000;
                    self.platform
                        .block(&self.budget_name(Kind::Plain), until)
                        .await
                        .map_err(|e| HubspotError::Budget(e.to_string()))?;
                    return Err(HubspotError::DailyLimit {
                        retry_after_seconds: seconds,
                    });
                }
                let seconds = match response.header("retry-after").and_then(|v| v.parse().ok()) {
                    Some(s) => s,
                    None if body["policyName"].as_str() == Some("SECONDLY") => 1,
                    None => 10,
                };
                let limited = if body["policyName"].as_str() == Some("SECONDLY") {
                    self.budget_name(Kind::Search)
                } else {
                    self.budget_name(Kind::Plain)
                };
                let until = self.platform.now_ms() + seconds * 1000;
                self.platform
                    .block(&limited, until)
                    .await
                    .map_err(|e| HubspotError::Budget(e.to_string()))?;
                Err(HubspotError::RateLimited {
                    retry_after_seconds: seconds,
                })
            }
            423 => Err(HubspotError::Locked(error_message(&response.body))),
            401 | 403 => Err(HubspotError::Rejected {
                status: response.status,
                message: error_message(&response.body),
            }),
            status => Err(HubspotError::Failed {
                status,
                message: error_message(&response.body),
            }),
        }
    }

    async fn take(&self, name: &str, rate: Rate) -> Result<(), HubspotError> {
        match self.platform.take(name, rate).await {
            Ok(Take::Granted) => Ok(()),
            Ok(Take::Wait(ms)) => Err(HubspotError::RateLimited {
                retry_after_seconds: ms.div_ceil(1000).max(1),
            }),
            Err(e) => Err(HubspotError::Budget(e.to_string())),
        }
    }

    /// Budgets are per token (HubSpot counts per app and account), named by a hash of it.
    fn budget_name(&self, kind: Kind) -> String {
        let hash = &crate::crypto::sha256_hex(format!("hubspot\n{}", self.token).as_bytes())[..24];
        match kind {
            Kind::Plain => format!("hubspot:{hash}"),
            Kind::Search => format!("hubspot-search:{hash}"),
        }
    }
}

#[derive(Deserialize)]
struct Paging {
    next: Option<Next>,
}

#[derive(Deserialize)]
struct Next {
    after: String,
}

fn urlencoding(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// HubSpot's error bodies carry `message`; keep it short.
fn error_message(body: &[u8]) -> String {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let text = parsed
        .as_ref()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    text.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_is_waited_out_and_the_daily_limit_waits_for_a_reset() {
        assert_eq!(
            HubspotError::Locked("locked".into()).disposition(),
            Disposition::Wait(2)
        );
        // 7 minutes past a half hour: the next one is 23 minutes away.
        let at = 1_700_000_000_000 - (1_700_000_000 % 1_800) * 1000 + 7 * 60_000;
        assert_eq!(until_daily_reset(at), 23 * 60);
        assert_eq!(until_daily_reset(at + 22 * 60_000 + 30_000), 60, "never a busy loop");
        let daily = HubspotError::DailyLimit {
            retry_after_seconds: 1_380,
        };
        assert_eq!(daily.disposition(), Disposition::Wait(1_380));
    }

    #[test]
    fn live_searches_find_room_when_bulk_work_spent_its_share() {
        use crate::testing::{answer, config, run, MemoryPlatform};
        let p = MemoryPlatform::default();
        p.now_ms.set(1_772_618_400_000);
        p.respond(|_| Ok(answer(200, &[], r#"{"total":0,"results":[]}"#)));
        let config = config();
        assert_eq!(config.hubspot_searches_per_second, 5);
        let body = json!({"filterGroups": [], "limit": 1});
        let bulk = HubspotClient::new(&p, &config, "pat-na1-x");
        let mut granted = 0;
        while run(bulk.search("contacts", &body)).is_ok() {
            granted += 1;
        }
        assert_eq!(granted, 4, "contact sync and call logging stop short of the limit");
        let live = HubspotClient::new(&p, &config, "pat-na1-x").live();
        assert!(run(live.search("contacts", &body)).is_ok(), "a card's search");
        assert!(
            matches!(run(live.search("contacts", &body)), Err(HubspotError::RateLimited { .. })),
            "and no more than the limit"
        );
        assert_eq!(p.requests.borrow().len(), 5, "what waited never reached HubSpot");
    }
}
