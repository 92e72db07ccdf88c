//! `ACCOUNT_GATE`: one Durable Object per Aircall account, holding its rate budget in
//! strongly consistent storage (KV cannot count).
//!
//! `/take?requests=N&window_ms=W` takes a request's token: `{"granted": true}` or `{"granted": false,
//! "wait_ms": M}`. `/block?until_ms=` holds the account's requests until Aircall's reset.
//! `/lease?integration=&holder=&ttl=` and `/release?...` hold and free the
//! one-sync-at-a-time lease of each of the account's integrations.
//! `/count?key=&add=` keeps a counter, `/claim?key=&until_ms=` grants a key once (OAuth
//! states) and `/clear?key=` forgets a key. Objects are named by account, or for these by
//! what they serve (`integration:{id}`, `oauth`).

use crate::budget::{lease_key, Claims, Lease, Rate, RateBudget, Take};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

/// What `/take` answers.
#[derive(Serialize, Deserialize)]
pub struct Answer {
    pub granted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<u64>,
    /// What `/count` answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

#[durable_object]
pub struct AccountGate {
    state: State,
}

impl DurableObject for AccountGate {
    fn new(state: State, _env: Env) -> Self {
        Self { state }
    }

    async fn fetch(&self, request: Request) -> Result<Response> {
        let url = request.url()?;
        let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
        let now = js_sys::Date::now() as u64;
        let storage = self.state.storage();
        let answer = match url.path() {
            "/take" => {
                let number = |name: &str, default: u64| {
                    query
                        .get(name)
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(default)
                };
                let rate = Rate {
                    requests: number("requests", 60) as u32,
                    window_ms: number("window_ms", 61_000),
                };
                let mut budget = storage
                    .get::<RateBudget>("budget")
                    .await?
                    .unwrap_or_else(|| RateBudget::new(rate));
                if budget.rate != rate {
                    budget.set_rate(rate);
                }
                let taken = budget.take(now);
                storage.put("budget", budget).await?;
                match taken {
                    Take::Granted => Answer {
                        granted: true,
                        wait_ms: None,
                        count: None,
                    },
                    Take::Wait(ms) => Answer {
                        granted: false,
                        wait_ms: Some(ms),
                        count: None,
                    },
                }
            }
            "/block" => {
                let until = query
                    .get("until_ms")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(now + 60_000);
                let mut budget = storage
                    .get::<RateBudget>("budget")
                    .await?
                    .unwrap_or_else(|| RateBudget::new(Rate::per_minute(60)));
                budget.block_until(until);
                storage.put("budget", budget).await?;
                Answer {
                    granted: true,
                    wait_ms: None,
                    count: None,
                }
            }
            "/lease" | "/release" => {
                let (Some(integration), Some(holder)) =
                    (query.get("integration"), query.get("holder"))
                else {
                    return Response::error("integration and holder are required", 400);
                };
                let key = lease_key(integration);
                let current = storage.get::<Lease>(&key).await?;
                if url.path() == "/release" {
                    if current.is_some_and(|l| &l.holder == holder) {
                        storage.delete(&key).await?;
                    }
                    Answer {
                        granted: true,
                        wait_ms: None,
                        count: None,
                    }
                } else if Lease::grantable(current.as_ref(), holder, now) {
                    let ttl: u64 = query.get("ttl").and_then(|v| v.parse().ok()).unwrap_or(900);
                    storage
                        .put(
                            &key,
                            Lease {
                                holder: holder.clone(),
                                until_ms: now + ttl * 1000,
                            },
                        )
                        .await?;
                    Answer {
                        granted: true,
                        wait_ms: None,
                        count: None,
                    }
                } else {
                    Answer {
                        granted: false,
                        wait_ms: None,
                        count: None,
                    }
                }
            }
            "/count" => {
                let Some(key) = query.get("key") else {
                    return Response::error("key is required", 400);
                };
                let add: u64 = query.get("add").and_then(|v| v.parse().ok()).unwrap_or(0);
                let key = format!("count:{key}");
                let mut value = storage.get::<u64>(&key).await?.unwrap_or(0);
                if add > 0 {
                    value += add;
                    storage.put(&key, value).await?;
                }
                Answer {
                    granted: true,
                    wait_ms: None,
                    count: Some(value),
                }
            }
            "/claim" => {
                let Some(key) = query.get("key") else {
                    return Response::error("key is required", 400);
                };
                let until = query
                    .get("until_ms")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(now + 600_000);
                let mut claims = storage.get::<Claims>("claims").await?.unwrap_or_default();
                let granted = claims.claim(key, until, now);
                storage.put("claims", claims).await?;
                Answer {
                    granted,
                    wait_ms: None,
                    count: None,
                }
            }
            "/clear" => {
                let Some(key) = query.get("key") else {
                    return Response::error("key is required", 400);
                };
                // A lease is stored under its own key; counters under `count:`.
                storage.delete(key).await?;
                storage.delete(&format!("count:{key}")).await?;
                Answer {
                    granted: true,
                    wait_ms: None,
                    count: None,
                }
            }
            _ => return Response::error("not found", 404),
        };
        Response::from_json(&answer)
    }
}
