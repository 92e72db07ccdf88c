//! The account's Aircall numbers, for the dashboard's number picker: read page by page
//! through the account's rate budget (the same budget imports and contact sync draw on), and
//! kept in KV a few minutes, so opening the form again costs Aircall nothing.

use crate::aircall::{AircallClient, AircallError, AircallNumber};
use crate::config::Config;
use crate::infra::{carries_infra, InfraError};
use crate::integration::{Cause, Integrations, Status};
use crate::keys;
use crate::ports::{Platform, StoreError};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// How long a read list is answered again without asking Aircall.
pub const CACHE_SECONDS: u64 = 300;

/// Pages read at most, 50 numbers each: each costs two subrequests (its place in the budget
/// and the request), so a read stays well inside the free plan's 50 per invocation.
pub const MAX_PAGES: u32 = 10;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountNumbers {
    pub numbers: Vec<AircallNumber>,
    /// The account has more numbers than [`MAX_PAGES`] pages hold: the rest are not listed
    /// (they can still be typed by phone number).
    pub truncated: bool,
    /// UNIX seconds at which Aircall was read.
    pub read_at: u64,
    /// Aircall requests this answer cost: 0 when it came from the cache.
    #[serde(default)]
    pub aircall_requests: u32,
}

#[derive(Debug, Error)]
pub enum NumbersError {
    #[error("no integration has this id")]
    UnknownIntegration,
    /// Nothing is asked of Aircall with credentials it already refused.
    #[error(
        "Aircall rejected this integration's credentials: give new ones (PATCH), then activate it"
    )]
    CredentialsRejected,
    #[error(transparent)]
    Aircall(AircallError),
    #[error(transparent)]
    Infra(InfraError),
}

carries_infra!(NumbersError);

/// The numbers of the integration's Aircall account: from the cache when read less than
/// [`CACHE_SECONDS`] ago (unless `refresh`), else from Aircall. A refusal goes through
/// `integration::on_aircall_error`, as every Aircall error of an integration does.
pub async fn account_numbers<P: Platform>(
    p: &P,
    config: &Config,
    id: &str,
    refresh: bool,
) -> Result<AccountNumbers, NumbersError> {
    let integration = Integrations::new(p)
        .get(id)
        .await?
        .ok_or(NumbersError::UnknownIntegration)?;
    let key = keys::aircall_numbers_key(id);
    if !refresh {
        // A cached value that does not read (written by hand) is read again from Aircall.
        let cached = p.get(&key).await?;
        if let Some(cached) = cached.and_then(|c| serde_json::from_str(&c).ok()) {
            return Ok(cached);
        }
    }
    let refused = integration
        .deactivation
        .as_ref()
        .is_some_and(|d| d.cause == Cause::CredentialsRejected);
    if integration.status == Status::Inactive && refused {
        return Err(NumbersError::CredentialsRejected);
    }
    let credentials = integration.credentials(&config.sealer)?;
    let client = AircallClient::new(p, config, &credentials);
    let mut read = AccountNumbers {
        numbers: Vec::new(),
        truncated: false,
        read_at: p.now_seconds(),
        aircall_requests: 0,
    };
    for page in 1..=MAX_PAGES {
        let answer = match client.list_numbers(page).await {
            Ok(answer) => answer,
            Err(error) => {
                crate::integration::on_aircall_error(p, config, &integration, &error).await;
                return Err(NumbersError::Aircall(error));
            }
        };
        read.aircall_requests += 1;
        let empty = answer.numbers.is_empty();
        read.numbers.extend(answer.numbers);
        // Aircall's `total` is the other sign of the end (its webhooks list gives no link).
        let done = !answer.more || empty || read.numbers.len() as u64 >= answer.total;
        if done {
            break;
        }
        read.truncated = page == MAX_PAGES;
    }
    let stored = AccountNumbers {
        aircall_requests: 0,
        ..read.clone()
    };
    let text = serde_json::to_string(&stored).expect("serializes");
    if let Err(StoreError(e)) = p.put(&key, &text, Some(CACHE_SECONDS)).await {
        // The numbers were read: answering them beats failing for a cache.
        p.log(&format!(
            "integration {id}: the numbers could not be cached: {e}"
        ));
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Store;
    use crate::testing::{answer, config, integration, run, MemoryPlatform};
    use serde_json::json;

    /// Aircall's `GET /v1/numbers` over `count` numbers, paged as Aircall pages.
    fn serve_numbers(p: &MemoryPlatform, count: i64) {
        p.respond(move |request| {
            let url = url::Url::parse(&request.url).unwrap();
            assert_eq!(url.path(), "/v1/numbers");
            let q = |n: &str| url.query_pairs().find(|(k, _)| k == n).unwrap().1.to_string();
            let (page, per_page): (i64, i64) = (q("page").parse().unwrap(), q("per_page").parse().unwrap());
            let first = (page - 1) * per_page + 1;
            let last = (page * per_page).min(count);
            let numbers: Vec<_> = (first..=last)
                .map(|i| json!({"id": i, "name": format!("Line {i}"), "digits": format!("+33 1 76 36 {i:04}"),
                                "country": "FR", "time_zone": "Europe/Paris", "is_ivr": false}))
                .collect();
            let next = (last < count).then(|| format!("https://api.aircall.io/v1/numbers?page={}", page + 1));
            let body = json!({"numbers": numbers, "meta": {"count": numbers.len(), "total": count,
                "current_page": page, "per_page": per_page, "next_page_link": next}});
            Ok(answer(200, &[], &body.to_string()))
        });
    }

    #[test]
    fn reads_every_page_once_then_answers_from_the_cache_until_it_expires() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        serve_numbers(&p, 120);
        let read = run(account_numbers(&p, &config(), &i.id, false)).unwrap();
        assert_eq!(read.numbers.len(), 120);
        assert_eq!(
            read.numbers[119].digits.as_deref(),
            Some("+33 1 76 36 0120")
        );
        assert_eq!((read.aircall_requests, read.truncated), (3, false));
        assert_eq!(p.requests.borrow().len(), 3);

        let again = run(account_numbers(&p, &config(), &i.id, false)).unwrap();
        assert_eq!(
            (again.numbers, again.aircall_requests),
            (read.numbers.clone(), 0)
        );
        assert_eq!(p.requests.borrow().len(), 3, "the cache answered");

        let refreshed = run(account_numbers(&p, &config(), &i.id, true)).unwrap();
        assert_eq!(refreshed.aircall_requests, 3);
        p.now_ms.set(p.now_ms.get() + (CACHE_SECONDS + 1) * 1000);
        run(account_numbers(&p, &config(), &i.id, false)).unwrap();
        assert_eq!(p.requests.borrow().len(), 9, "read again once expired");
    }

    #[test]
    fn an_account_past_the_pages_read_is_listed_in_part_and_says_so() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        serve_numbers(&p, 50 * MAX_PAGES as i64 + 1);
        let read = run(account_numbers(&p, &config(), &i.id, false)).unwrap();
        assert_eq!(read.numbers.len(), 50 * MAX_PAGES as usize);
        assert!(read.truncated);
        assert_eq!(read.aircall_requests, MAX_PAGES);
    }

    #[test]
    fn a_401_deactivates_the_integration_and_later_reads_ask_aircall_nothing() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        p.respond(|_| Ok(answer(401, &[], r#"{"error":"Unauthorized"}"#)));
        let refused = run(account_numbers(&p, &config(), &i.id, false));
        assert!(
            matches!(
                refused,
                Err(NumbersError::Aircall(AircallError::Rejected {
                    status: 401,
                    ..
                }))
            ),
            "{refused:?}"
        );
        let stored = run(Integrations::new(&p).get(&i.id)).unwrap().unwrap();
        assert_eq!(stored.status, Status::Inactive);
        assert_eq!(
            stored.deactivation.unwrap().cause,
            Cause::CredentialsRejected
        );
        assert_eq!(run(p.get(&keys::aircall_numbers_key(&i.id))).unwrap(), None);

        let asked = p.requests.borrow().len();
        let again = run(account_numbers(&p, &config(), &i.id, true));
        assert!(
            matches!(again, Err(NumbersError::CredentialsRejected)),
            "{again:?}"
        );
        assert_eq!(p.requests.borrow().len(), asked);
    }

    #[test]
    fn aircalls_429_holds_the_account_and_leaves_the_integration_active() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        p.respond(|_| Ok(answer(429, &[("x-aircallapi-reset", "30")], "{}")));
        let limited = run(account_numbers(&p, &config(), &i.id, false));
        assert!(
            matches!(
                limited,
                Err(NumbersError::Aircall(AircallError::RateLimited {
                    retry_after_seconds: 30
                }))
            ),
            "{limited:?}"
        );
        serve_numbers(&p, 3);
        let held = run(account_numbers(&p, &config(), &i.id, false));
        assert!(matches!(
            held,
            Err(NumbersError::Aircall(AircallError::RateLimited { .. }))
        ));
        assert_eq!(
            p.requests.borrow().len(),
            1,
            "nothing went out before the reset"
        );
        let stored = run(Integrations::new(&p).get(&i.id)).unwrap().unwrap();
        assert_eq!(stored.status, Status::Active);
        assert!(matches!(
            run(account_numbers(&p, &config(), "int_unknown", false)),
            Err(NumbersError::UnknownIntegration)
        ));
    }
}
