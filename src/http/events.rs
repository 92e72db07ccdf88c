//! The event log's admin routes: search, one event whole, and "send again".

use super::{ApiError, Request, Response};
use crate::delivery::{Delivery, Payload};
use crate::event_log::{event_id_of, resend_id, Query};
use crate::integration::{Integrations, Status};
use crate::ports::{Platform, StoreError};
use crate::problems::FieldError;
use serde_json::{json, Value};

/// `GET /api/integrations/{id}/events?q=&event=&call_id=&phone=&before=&limit=`
pub async fn list<P: Platform>(p: &P, id: &str, request: &Request) -> Result<Response, ApiError> {
    let query =
        Query::parse(|name| request.query(name).map(str::to_string)).map_err(|problems| {
            let fields = problems
                .into_iter()
                .map(|(field, message)| FieldError {
                    field: field.to_string(),
                    message,
                })
                .collect();
            ApiError::Invalid(fields)
        })?;
    known(p, id).await?;
    let page = p.events(id, &query).await?;
    Ok(Response::json(200, &json!(page)))
}

/// `GET /api/integrations/{id}/events/{event_id}`
pub async fn one<P: Platform>(p: &P, id: &str, event_id: &str) -> Result<Response, ApiError> {
    known(p, id).await?;
    let detail = find(p, id, event_id).await?;
    Ok(Response::json(200, &json!(detail)))
}

/// `POST /api/integrations/{id}/events/{event_id}/redeliver`: the payload as received goes
/// through the delivery pipeline again, under a delivery id of its own (`{event_id}r{n}`):
/// receivers and Segment drop an id they have seen, and an admin sending it again means it.
pub async fn redeliver<P: Platform>(p: &P, id: &str, event_id: &str) -> Result<Response, ApiError> {
    let integration = known(p, id).await?;
    if integration.status != Status::Active {
        return Err(ApiError::Conflict(
            "the integration is inactive: activate it to send events again",
        ));
    }
    let detail = find(p, id, event_id).await?;
    let data = match detail.received {
        Some(kept) if !kept.truncated => match kept.payload {
            Value::Object(data) => data,
            _ => return Err(ApiError::Conflict("the event's payload was not kept")),
        },
        Some(_) => {
            return Err(ApiError::Conflict(
                "the event's payload was larger than the log keeps: it cannot be sent again",
            ))
        }
        None => return Err(ApiError::Conflict("the event's payload was not kept")),
    };
    // The n-th resend: one more than those in its history.
    let resends = detail
        .history
        .iter()
        .filter_map(|s| s.delivery_id.as_deref())
        .filter(|d| *d != event_id && event_id_of(d) == event_id)
        .filter_map(|d| d[event_id.len() + 1..].parse::<u32>().ok())
        .max()
        .unwrap_or(0);
    let delivery = Delivery {
        id: resend_id(event_id, resends + 1),
        integration_id: id.to_string(),
        event: detail.summary.event,
        occurred_at: detail
            .summary
            .occurred_at
            .unwrap_or((detail.summary.received_at / 1000) as i64),
        payload: Payload::Inline { data },
        attempt: 1,
    };
    crate::queue::send(p, &delivery, 0)
        .await
        .map_err(|e| StoreError(e.to_string()))?;
    Ok(Response::json(
        202,
        &json!({"status": "queued", "event_id": event_id, "delivery_id": delivery.id}),
    ))
}

async fn known<P: Platform>(p: &P, id: &str) -> Result<crate::integration::Integration, ApiError> {
    Integrations::new(p)
        .get(id)
        .await?
        .ok_or(ApiError::NotFound("no integration has this id"))
}

async fn find<P: Platform>(
    p: &P,
    id: &str,
    event_id: &str,
) -> Result<crate::event_log::Detail, ApiError> {
    const NONE: &str = "no event of the last 7 days has this id";
    let shaped = event_id.strip_prefix("msg_").is_some_and(|h| {
        !h.is_empty() && h.len() <= 64 && h.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    if !shaped {
        return Err(ApiError::NotFound(NONE));
    }
    p.event(id, event_id).await?.ok_or(ApiError::NotFound(NONE))
}

#[cfg(test)]
mod tests;
