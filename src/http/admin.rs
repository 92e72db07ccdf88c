//! The admin API under `/api/`, behind the `ADMIN_TOKEN` bearer.

use super::{ApiError, Request, Response};
use crate::ai;
use crate::config::Config;
use crate::crypto::secrets_match;
use crate::delivery::{DeadLetters, Delivery};
use crate::import::{self, RunStatus, SyncAnswer, Trigger};
use crate::integration::{
    self, Actor, Cause, IntegrationPatch, Integrations, NewIntegration, Status,
};
use crate::ports::{Platform, StoreError};
use serde_json::json;

/// Wrong admin tokens a client may try in a minute before it is slowed down.
pub const WRONG_TOKENS_PER_MINUTE: u32 = 30;

/// Whether the request carries the admin token (`Authorization: Bearer`, the scheme in any
/// case). A client that keeps trying wrong ones is answered `429` past
/// [`WRONG_TOKENS_PER_MINUTE`], and each is logged (never the token).
pub async fn authorize<P: Platform>(
    p: &P,
    config: &Config,
    request: &Request,
) -> Result<(), ApiError> {
    let token = request.header("authorization").and_then(|h| {
        let (scheme, token) = h.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then_some(token)
    });
    let Some(token) = token else {
        return Err(ApiError::Unauthorized);
    };
    check_token(p, config, request, token).await
}

/// Whether `token` is the admin token; see [`authorize`] for the slowing of wrong ones.
pub async fn check_token<P: Platform>(
    p: &P,
    config: &Config,
    request: &Request,
    token: &str,
) -> Result<(), ApiError> {
    if secrets_match(token.trim(), &config.admin_token) {
        return Ok(());
    }
    // Counted per client in ACCOUNT_GATE (strongly consistent), like a rate budget.
    let client = request.header("cf-connecting-ip").unwrap_or("unknown");
    let rate = crate::budget::Rate::per_minute(WRONG_TOKENS_PER_MINUTE);
    p.log(&format!("a wrong admin token from {client}"));
    match p.take(&format!("admin-auth:{client}"), rate).await? {
        crate::budget::Take::Granted => Err(ApiError::Unauthorized),
        crate::budget::Take::Wait(ms) => Err(ApiError::TooManyAttempts {
            retry_after_seconds: ms.div_ceil(1000),
        }),
    }
}

pub async fn route<P: Platform>(
    p: &P,
    config: &Config,
    method: &str,
    path: &[&str],
    request: &Request,
) -> Result<Response, ApiError> {
    match (method, path) {
        // What the dashboard builds its destination forms from.
        ("GET", ["destinations"]) => Ok(Response::json(
            200,
            &json!({ "destinations": crate::destinations::catalogue() }),
        )),
        // What the dashboard builds its event checklist from.
        ("GET", ["events"]) => Ok(Response::json(
            200,
            &crate::destinations::events_catalogue(),
        )),
        // What the contact sync form is built from, and its check before saving.
        ("GET", ["contact-sync"]) => Ok(Response::json(200, &crate::contacts::form_catalogue())),
        ("POST", ["contact-sync", "check"]) => check_contact_sync(request),
        ("POST", ["integrations"]) => create(p, config, request).await,
        ("GET", ["integrations"]) => list(p, config, request).await,
        ("GET", ["integrations", id]) => {
            let integration = Integrations::new(p)
                .get(id)
                .await?
                .ok_or(ApiError::NotFound("no integration has this id"))?;
            let mut view = integration.view(&config.public_base_url);
            if integration.status == Status::Inactive {
                view.dropped_while_inactive = Some(integration::dropped(p, id).await?);
            }
            let mut view = json!(view);
            view["ai"] = ai::availability::view_with(
                ai::availability::get(p, id).await?,
                ai::last::get(p, id).await?,
            );
            if integration.insight_cards.is_some() {
                view["insight_cards_stats"] = crate::cards::stats(p, id).await?;
            }
            Ok(Response::json(200, &view))
        }
        ("PATCH", ["integrations", id]) => update(p, config, id, request).await,
        ("DELETE", ["integrations", id]) => delete(p, config, id).await,
        ("POST", ["integrations", id, "deactivate"]) => deactivate(p, config, id, request).await,
        ("POST", ["integrations", id, "activate"]) => activate(p, config, id).await,
        ("GET", ["integrations", id, "deliveries"]) => failed_deliveries(p, id, request).await,
        ("POST", ["integrations", id, "deliveries", delivery_id, "retry"]) => {
            retry_delivery(p, id, delivery_id).await
        }
        ("GET", ["integrations", id, "events"]) => super::events::list(p, id, request).await,
        ("GET", ["integrations", id, "events", event_id]) => {
            super::events::one(p, id, event_id).await
        }
        ("POST", ["integrations", id, "events", event_id, "redeliver"]) => {
            super::events::redeliver(p, id, event_id).await
        }
        ("POST", ["integrations", id, "sync"]) => sync_now(p, config, id).await,
        // The account's Aircall numbers, for the number picker.
        ("GET", ["integrations", id, "numbers"]) => {
            let refresh = request.query("refresh") == Some("true");
            let numbers = crate::numbers::account_numbers(p, config, id, refresh).await?;
            Ok(Response::json(200, &json!(numbers)))
        }
        ("GET", ["integrations", id, "runs"]) => {
            if Integrations::new(p).get(id).await?.is_none() {
                return Err(ApiError::NotFound("no integration has this id"));
            }
            Ok(Response::json(
                200,
                &json!({
                    "runs": import::recent_runs(p, id, 20).await?,
                    "aircall_requests_per_minute": config.aircall_requests_per_minute,
                }),
            ))
        }
        ("GET", ["integrations", id, "contacts"]) => {
            if Integrations::new(p).get(id).await?.is_none() {
                return Err(ApiError::NotFound("no integration has this id"));
            }
            let status = crate::contact_sync::status(p, id).await?;
            Ok(Response::json(200, &status))
        }
        ("POST", ["integrations", id, "contacts", "sync"]) => sync_contacts_now(p, id).await,
        (
            _,
            ["destinations"]
            | ["events"]
            | ["contact-sync"]
            | ["contact-sync", "check"]
            | ["integrations"]
            | ["integrations", _]
            | ["integrations", _, "deliveries" | "sync" | "runs" | "activate" | "deactivate" | "numbers"]
            | ["integrations", _, "deliveries", _, "retry"]
            | ["integrations", _, "events"]
            | ["integrations", _, "events", _]
            | ["integrations", _, "events", _, "redeliver"]
            | ["integrations", _, "contacts"]
            | ["integrations", _, "contacts", "sync"],
        ) => Err(ApiError::MethodNotAllowed),
        _ => Err(ApiError::NotFound("no such route")),
    }
}

async fn create<P: Platform>(
    p: &P,
    config: &Config,
    request: &Request,
) -> Result<Response, ApiError> {
    let body = request.json_body()?;
    let new = NewIntegration::parse(&body).map_err(ApiError::Invalid)?;
    let created = crate::lifecycle::create(p, config, new).await?;
    let mut view = json!(created.integration.view(&config.public_base_url));
    if let Some(secret) = created.destination_secret {
        view["destination"]["secret"] = json!(secret);
        view["notice"] = json!(
            "Keep destination.secret now: it verifies our signatures and is never shown again."
        );
    }
    Ok(Response::json(201, &view))
}

async fn list<P: Platform>(
    p: &P,
    config: &Config,
    request: &Request,
) -> Result<Response, ApiError> {
    let status = match request.query("status") {
        None => None,
        Some("active") => Some(Status::Active),
        Some("inactive") => Some(Status::Inactive),
        Some(_) => {
            return Err(ApiError::BadRequest(
                "status must be \"active\" or \"inactive\"".into(),
            ))
        }
    };
    let summary = match request.query("summary") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::BadRequest("summary must be true or false".into())),
    };
    let mut views = Vec::new();
    for i in Integrations::new(p).all().await? {
        if status.is_some_and(|s| i.status != s) {
            continue;
        }
        let mut view = json!(i.view(&config.public_base_url));
        if summary {
            view["summary"] = health(p, &i.id).await?;
        }
        views.push(view);
    }
    Ok(Response::json(200, &json!({ "integrations": views })))
}

/// What the dashboard's table shows of an integration's health: its newest import run (counts
/// only) and how many deliveries failed for good. A few KV reads per integration.
async fn health<P: Platform>(p: &P, id: &str) -> Result<serde_json::Value, ApiError> {
    let last_run = import::recent_runs(p, id, 1).await?.into_iter().next();
    Ok(json!({
        "last_run": last_run.map(|r| json!({
            "run_id": r.run_id,
            "status": r.status,
            "started_at": r.started_at,
            "finished_at": r.finished_at,
            "imported": r.imported,
            "skipped": r.skipped,
            "pending": r.pending,
            "error": r.error,
        })),
        "failed_deliveries": DeadLetters::new(p).count(id).await?,
    }))
}

/// Runs an import now. A short one finishes here (200); a longer one goes on in the queue
/// (202, its report so far), to be followed in `/runs`.
async fn sync_now<P: Platform>(p: &P, config: &Config, id: &str) -> Result<Response, ApiError> {
    match import::sync(p, config, id, Trigger::Admin, None).await? {
        SyncAnswer::Busy => Err(ApiError::Conflict(
            "a sync of this integration is already running",
        )),
        SyncAnswer::Inactive => Err(ApiError::Conflict(
            "the integration is inactive: activate it first",
        )),
        SyncAnswer::Report(report) => {
            let report = report.with_outcomes(p, id).await?;
            let status = if report.status == RunStatus::Running {
                202
            } else {
                200
            };
            Ok(Response::json(status, &json!(report)))
        }
    }
}

/// `POST /api/contact-sync/check`: a `contact_sync` object checked as a save would check it,
/// saving nothing: `200` with the mappings it puts in force (the defaults it keeps, then its
/// own), or the same `400` a save answers, each problem under its field.
fn check_contact_sync(request: &Request) -> Result<Response, ApiError> {
    let body = request.json_body()?;
    let sync = crate::contacts::ContactSync::parse(&body).map_err(|found| {
        // Listed as a save lists them: the first 50, then one saying there are more.
        let mut problems = crate::problems::Problems::default();
        for (field, message) in found {
            problems.add(&field, message);
        }
        ApiError::Invalid(problems.0)
    })?;
    Ok(Response::json(
        200,
        &json!({"contact_sync": sync, "mappings_in_force": sync.mappings()}),
    ))
}

/// Starts the contact sync passes now instead of at the next cron tick.
async fn sync_contacts_now<P: Platform>(p: &P, id: &str) -> Result<Response, ApiError> {
    let Some(integration) = Integrations::new(p).get(id).await? else {
        return Err(ApiError::NotFound("no integration has this id"));
    };
    if integration.status != Status::Active {
        return Err(ApiError::Conflict(
            "the integration is inactive: activate it first",
        ));
    }
    if integration.contact_sync.is_none() {
        return Err(ApiError::Conflict(
            "contact sync is off: set contact_sync with PATCH first",
        ));
    }
    let started = crate::contact_sync::start_passes(p, id)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(Response::json(202, &json!(started)))
}

async fn failed_deliveries<P: Platform>(
    p: &P,
    id: &str,
    request: &Request,
) -> Result<Response, ApiError> {
    if Integrations::new(p).get(id).await?.is_none() {
        return Err(ApiError::NotFound("no integration has this id"));
    }
    match request.query("status") {
        Some("failed") => {}
        _ => {
            return Err(ApiError::BadRequest(
                "ask for ?status=failed (only failed deliveries are kept)".into(),
            ))
        }
    }
    let letters: Vec<_> = DeadLetters::new(p)
        .list(id)
        .await?
        .iter()
        .map(|l| l.view())
        .collect();
    Ok(Response::json(200, &json!({ "deliveries": letters })))
}

/// `PATCH /api/integrations/{id}`: the fields given, checked as on creation; new credentials
/// are verified with Aircall first. Any error changes nothing.
async fn update<P: Platform>(
    p: &P,
    config: &Config,
    id: &str,
    request: &Request,
) -> Result<Response, ApiError> {
    if Integrations::new(p).get(id).await?.is_none() {
        return Err(ApiError::NotFound("no integration has this id"));
    }
    let body = request.json_body()?;
    let patch = IntegrationPatch::parse(&body).map_err(ApiError::Invalid)?;
    let updated = crate::lifecycle::update(p, config, id, patch).await?;
    let mut view = json!(updated.integration.view(&config.public_base_url));
    if let Some(secret) = updated.destination_secret {
        view["destination"]["secret"] = json!(secret);
        view["notice"] = json!(
            "Keep destination.secret now: it verifies our signatures and is never shown again."
        );
    }
    Ok(Response::json(200, &view))
}

/// `POST /api/integrations/{id}/deactivate`, with an optional `{"reason": "..."}`.
async fn deactivate<P: Platform>(
    p: &P,
    config: &Config,
    id: &str,
    request: &Request,
) -> Result<Response, ApiError> {
    let reason = deactivation_reason(request)?;
    let reason = reason
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "deactivated by an admin".to_string());
    let (integration, changed) =
        integration::deactivate(p, id, Actor::Admin, Cause::Admin, &reason)
            .await?
            .ok_or(ApiError::NotFound("no integration has this id"))?;
    let mut view = json!(integration.view(&config.public_base_url));
    view["notice"] = json!(if changed {
        "Inactive: every setting is kept; webhooks are acknowledged but not forwarded (they are \
         counted), and imports stop. Calls made while inactive will not be imported after \
         reactivation."
    } else {
        "The integration was already inactive; nothing changed."
    });
    Ok(Response::json(200, &view))
}

/// The optional `{"reason": "..."}` of a deactivation.
fn deactivation_reason(request: &Request) -> Result<Option<String>, ApiError> {
    if request.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let invalid = || {
        ApiError::Invalid(vec![integration::FieldError {
            field: "reason".into(),
            message: "the body may only carry \"reason\", a string of at most 500 characters"
                .into(),
        }])
    };
    let serde_json::Value::Object(body) = request.json_body()? else {
        return Err(invalid());
    };
    match body.get("reason") {
        _ if body.keys().any(|k| k != "reason") => Err(invalid()),
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(r)) if r.chars().count() <= 500 => {
            Ok(Some(r.trim().to_string()))
        }
        _ => Err(invalid()),
    }
}

/// `POST /api/integrations/{id}/activate`: verifies the credentials, then logs again from now.
async fn activate<P: Platform>(p: &P, config: &Config, id: &str) -> Result<Response, ApiError> {
    let activated = crate::lifecycle::activate(p, config, id).await?;
    let mut view = json!(activated.integration.view(&config.public_base_url));
    view["notice"] = json!(match (activated.already_active, activated.imports_from) {
        (true, _) => "The integration was already active; nothing changed.".to_string(),
        (false, Some(from)) => format!(
            "Active again from {}. Calls made while the integration was inactive are not \
             imported retroactively, and the {} webhook event(s) received meanwhile were not \
             forwarded.",
            crate::time::rfc3339(from as i64),
            activated.dropped
        ),
        (false, None) => "Active. The first import brings the calls of the last window_days, \
                          as for a new integration."
            .to_string(),
    });
    if !activated.already_active {
        view["dropped_while_inactive"] = json!(activated.dropped);
    }
    Ok(Response::json(200, &view))
}

/// `DELETE /api/integrations/{id}`: everything goes. A second DELETE answers 404.
async fn delete<P: Platform>(p: &P, config: &Config, id: &str) -> Result<Response, ApiError> {
    let deleted = crate::lifecycle::delete(p, config, id).await?;
    let status = if deleted.finished { 200 } else { 202 };
    Ok(Response::json(
        status,
        &json!({
            "id": id,
            "status": if deleted.finished { "deleted" } else { "deleting" },
            "removed": {
                "aircall_webhook": deleted.aircall_webhook,
                "kv_keys": deleted.kv_keys,
                "recordings": deleted.recordings,
                "synced_contacts": deleted.synced_contacts,
            },
            "notice": if deleted.finished {
                "Deleted: settings, secrets, cursor, run reports, failed deliveries, archived \
                 recordings and contact links are gone, and its Aircall webhook and the Aircall \
                 contacts it created with them. Deliveries already queued are dropped."
            } else {
                "Deleting: the rest of its stored keys are removed in the background."
            },
        }),
    ))
}

/// Sends a dead-lettered delivery again, from its first attempt; its record goes (a new
/// failure records it again, with the new reason).
async fn retry_delivery<P: Platform>(
    p: &P,
    id: &str,
    delivery_id: &str,
) -> Result<Response, ApiError> {
    if Integrations::new(p).get(id).await?.is_none() {
        return Err(ApiError::NotFound("no integration has this id"));
    }
    let shaped = delivery_id.strip_prefix("msg_").is_some_and(|h| {
        !h.is_empty() && h.len() <= 64 && h.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    if !shaped {
        return Err(ApiError::NotFound("no failed delivery has this id"));
    }
    let letters = DeadLetters::new(p);
    let letter = letters
        .get(id, delivery_id)
        .await?
        .ok_or(ApiError::NotFound("no failed delivery has this id"))?;
    let delivery = Delivery {
        attempt: 1,
        ..letter.delivery
    };
    crate::queue::send(p, &delivery, 0)
        .await
        .map_err(|e| StoreError(e.to_string()))?;
    letters.delete(id, delivery_id).await?;
    Ok(Response::json(
        202,
        &json!({"status": "queued", "delivery_id": delivery_id}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::{DeadLetter, Payload};
    use crate::ports::Clock;
    use crate::testing::{aircall_calls, config, integration, run, FakeCalls, MemoryPlatform};
    use serde_json::Value;

    fn answer(p: &MemoryPlatform, path: &[&str], query: &[(&str, &str)]) -> (u16, Value) {
        let request = Request::get(&format!("/api/{}", path.join("/")), query);
        let r = run(route(p, &config(), "GET", path, &request)).unwrap();
        (r.status, serde_json::from_slice(&r.body).unwrap())
    }

    #[test]
    fn the_summary_gives_each_integration_its_last_run_and_failed_deliveries() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        let (quiet, _, _) = integration(&p, None);
        let now = p.now_seconds() as i64;
        let calls = FakeCalls::default();
        calls.add(vec![
            json!({"id": 1, "started_at": now - 60, "recording": "https://r.test/1.mp3",
                   "user": {"id": 1, "email": "agent@example.com"}}),
            json!({"id": 2, "started_at": now - 30, "recording": null,
                   "user": {"id": 1, "email": "agent@example.com"}}),
        ]);
        aircall_calls(&p, calls);
        run(import::sync(&p, &config(), &i.id, Trigger::Admin, None)).unwrap();
        let letter = DeadLetter {
            delivery: Delivery {
                id: "msg_1".into(),
                integration_id: i.id.clone(),
                event: "call.ended".into(),
                occurred_at: now,
                payload: Payload::Inline {
                    data: Default::default(),
                },
                attempt: 10,
            },
            reason: "HTTP 500".into(),
            attempts: 10,
            failed_at: now as u64,
        };
        run(DeadLetters::new(&p).record(&letter)).unwrap();

        let (status, plain) = answer(&p, &["integrations"], &[]);
        assert_eq!(status, 200);
        assert!(
            plain["integrations"][0].get("summary").is_none(),
            "only when asked"
        );

        let (_, listed) = answer(&p, &["integrations"], &[("summary", "true")]);
        let of = |id: &str| {
            listed["integrations"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["id"] == id)
                .unwrap()["summary"]
                .clone()
        };
        let summary = of(&i.id);
        assert_eq!(summary["failed_deliveries"], 1);
        let last = &summary["last_run"];
        assert_eq!(
            (last["skipped"].as_u64(), last["pending"].as_u64()),
            (Some(1), Some(1))
        );
        assert_eq!(last["status"], "done");
        assert_eq!(
            of(&quiet.id),
            json!({"last_run": null, "failed_deliveries": 0})
        );

        let (_, runs) = answer(&p, &["integrations", &i.id, "runs"], &[]);
        assert_eq!(runs["aircall_requests_per_minute"], 60);
        assert_eq!(runs["runs"][0]["run_id"], last["run_id"]);
    }

    #[test]
    fn the_catalogue_lists_each_destination_with_its_secret_fields_and_only_answers_get() {
        let p = MemoryPlatform::default();
        let (status, answer) = answer(&p, &["destinations"], &[]);
        assert_eq!(status, 200);
        let secrets: Vec<(String, Vec<String>)> = answer["destinations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                let secret = d["fields"].as_array().unwrap().iter();
                let secret = secret.filter(|f| f["secret"] == true);
                let names = secret.map(|f| f["name"].as_str().unwrap().to_string());
                (d["type"].as_str().unwrap().to_string(), names.collect())
            })
            .collect();
        let expected = [
            ("webhook", "secret"),
            ("segment", "write_key"),
            ("hubspot", "access_token"),
        ];
        let expected: Vec<(String, Vec<String>)> = expected
            .iter()
            .map(|(t, f)| (t.to_string(), vec![f.to_string()]))
            .collect();
        assert_eq!(secrets, expected);
        assert_eq!(answer["destinations"][2]["name"], "HubSpot");
        assert_eq!(answer["destinations"][2]["crm"], true);

        let request = Request::get("/api/destinations", &[]);
        let post = run(route(&p, &config(), "POST", &["destinations"], &request));
        assert!(matches!(post, Err(ApiError::MethodNotAllowed)));
        // No bearer, no catalogue (http::route authorizes every /api/ route first).
        assert!(matches!(
            run(authorize(&p, &config(), &request)),
            Err(ApiError::Unauthorized)
        ));
    }

    #[test]
    fn the_bearer_scheme_is_read_in_any_case_and_wrong_tokens_are_slowed_down() {
        let p = MemoryPlatform::default();
        let c = config();
        let with = |value: &str| {
            Request::get("/api/integrations", &[])
                .with_header("authorization", value)
                .with_header("cf-connecting-ip", "203.0.113.7")
        };
        for scheme in ["Bearer", "bearer", "BEARER"] {
            let request = with(&format!("{scheme} {}", c.admin_token));
            assert!(run(authorize(&p, &c, &request)).is_ok(), "{scheme}");
        }
        for _ in 0..WRONG_TOKENS_PER_MINUTE {
            let wrong = run(authorize(&p, &c, &with("Bearer guess")));
            assert!(matches!(wrong, Err(ApiError::Unauthorized)));
        }
        let slowed = run(authorize(&p, &c, &with("Bearer guess")));
        assert!(
            matches!(slowed, Err(ApiError::TooManyAttempts { retry_after_seconds }) if retry_after_seconds > 0),
            "{slowed:?}"
        );
        // The right token still passes; the attempts are logged without the token.
        assert!(run(authorize(
            &p,
            &c,
            &with(&format!("Bearer {}", c.admin_token))
        ))
        .is_ok());
        let logs = p.logs.borrow();
        assert!(logs
            .iter()
            .any(|l| l.contains("wrong admin token from 203.0.113.7")));
        assert!(logs.iter().all(|l| !l.contains("guess")));
    }
}
