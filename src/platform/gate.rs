//! `ACCOUNT_GATE`: one Durable Object per Aircall account, holding its rate budget in
//! strongly consistent storage (KV cannot count).
//!
//! `POST /take?per_minute=N` answers `{"granted": true}` or `{"granted": false, "wait_ms": M}`.

use crate::budget::{RateBudget, Take};
use serde::{Deserialize, Serialize};
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

/// What `/take` answers.
#[derive(Serialize, Deserialize)]
pub struct Answer {
    pub granted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<u64>,
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
        if url.path() != "/take" {
            return Response::error("not found", 404);
        }
        let per_minute = url
            .query_pairs()
            .find(|(k, _)| k == "per_minute")
            .and_then(|(_, v)| v.parse::<u32>().ok())
            .unwrap_or(60);
        let now = js_sys::Date::now() as u64;
        let storage = self.state.storage();
        let mut budget = storage
            .get::<RateBudget>("budget")
            .await?
            .unwrap_or_else(|| RateBudget::new(per_minute, now));
        if budget.per_minute != per_minute {
            budget.set_rate(per_minute);
        }
        let answer = match budget.take(now) {
            Take::Granted => Answer {
                granted: true,
                wait_ms: None,
            },
            Take::Wait(ms) => Answer {
                granted: false,
                wait_ms: Some(ms),
            },
        };
        storage.put("budget", budget).await?;
        Response::from_json(&answer)
    }
}
