//! What every delivery goes through, whatever its destination: its payload loaded, a
//! contact event handed to contact sync, an AI event's content read from Aircall for the
//! destinations that read AI data, a minimal call completed from Aircall for the
//! destinations that read calls (and their number filter applied then), the destination's
//! own delivery, and each outcome settled: done, retried with back-off, waited out, or given
//! up to the dead-letter list.

use super::journal::Seen;
use super::{DeadLetter, Delivery, Payload};
use crate::ai::AiError;
use crate::aircall::{AiKind, AircallClient};
use crate::config::Config;
use crate::destinations::Ready;
use crate::infra::InfraError;
use crate::integration::Integration;
use crate::ports::{Platform, StoreError};
use crate::retry::{jitter, spread, Disposition, Failure, Outcome};
use serde_json::{Map, Value};

/// Delivers `deliveries`, all of one integration, together (a batching destination sends
/// them in one request).
pub async fn deliver<P: Platform>(
    p: &P,
    config: &Config,
    integration: &Integration,
    deliveries: Vec<Delivery>,
) -> Result<(), InfraError> {
    let Some(destination) = &integration.destination else {
        for delivery in deliveries {
            let reason = "the integration has no destination".into();
            settle(p, config, delivery, Outcome::Failed { reason }).await?;
        }
        return Ok(());
    };
    let secret = match integration.destination_secret(&config.sealer) {
        Ok(secret) => secret,
        Err(e) => {
            for delivery in deliveries {
                let reason = format!("the destination's secret cannot be read: {e}");
                settle(p, config, delivery, Outcome::Failed { reason }).await?;
            }
            return Ok(());
        }
    };
    let mut waiting: Vec<Delivery> = Vec::new();
    let mut ready: Vec<Ready> = Vec::new();
    let mut calls_read = crate::ai::CallsRead::default();
    for delivery in deliveries {
        let Some(mut data) = load_payload(p, &delivery).await? else {
            let reason = "the event's payload expired before it could be delivered".into();
            settle(p, config, delivery, Outcome::Failed { reason }).await?;
            continue;
        };
        if delivery.event.starts_with("contact.") && integration.contact_sync.is_some() {
            let outcome = to_contact_sync(p, config, integration, &delivery.event, &data).await?;
            settle(p, config, delivery, outcome).await?;
            continue;
        }
        if let Some(kind) = AiKind::announced_by(&delivery.event).filter(|_| destination.reads_ai())
        {
            let link_seconds = destination.recording_link_seconds(config);
            let read = crate::ai::prepare(
                p,
                config,
                integration,
                kind,
                &data,
                delivery.occurred_at,
                link_seconds,
                destination.is_crm(),
                &mut calls_read,
            )
            .await;
            match read {
                Ok(prepared) => {
                    ready.push(Ready {
                        // The destination sees the content's id (the same data is one id
                        // whatever event brought it); the delivery keeps its own for the
                        // event log, retries and dead letters.
                        id: crate::ai::id::delivered_id(&delivery.id, &prepared.content_id),
                        event: kind.delivered_event().into(),
                        occurred_at: delivery.occurred_at,
                        data: prepared.data,
                    });
                    waiting.push(delivery);
                }
                Err(AiError::Infra(e)) => return Err(e),
                // Acknowledged, not retried: the company has no AI package, an imported
                // call has no data of this kind, or the call is about another number.
                Err(
                    e @ (AiError::Unavailable(_)
                    | AiError::NoneForImport { .. }
                    | AiError::NotAboutNumbers { .. }),
                ) => {
                    p.log(&format!(
                        "delivery {} ({}) not sent: {e}",
                        delivery.id, delivery.event
                    ));
                    let seen = Seen {
                        filtered: Some(e.to_string()),
                        ..Seen::default()
                    };
                    settle_seen(p, config, delivery, Outcome::Delivered, seen).await?;
                }
                Err(e) => settle(p, config, delivery, Outcome::of(&e)).await?,
            }
            continue;
        }
        if destination.reads_calls() {
            if let Some(call_id) = crate::selection::needs_enrichment(&delivery.event, &data) {
                match read_call(p, config, integration, call_id).await {
                    Ok(call) => crate::selection::enrich(&mut data, call),
                    Err((why, Disposition::Wait(seconds))) => {
                        let reason = format!("Aircall's rate budget, to read call {call_id} ({why})");
                        settle(p, config, delivery, Outcome::Wait { reason, seconds }).await?;
                        continue;
                    }
                    Err((why, Disposition::Transient))
                        if !config.retry.gives_up_after(delivery.attempt) =>
                    {
                        let reason = format!("call {call_id} could not be read: {why}");
                        let retry = Outcome::Retry {
                            reason,
                            retry_after: None,
                        };
                        settle(p, config, delivery, retry).await?;
                        continue;
                    }
                    Err((why, _)) => p.log(&format!(
                        "delivery {} goes as Aircall sent it: call {call_id} could not be read ({why})",
                        delivery.id
                    )),
                }
            }
            if let Some(numbers) = &integration.numbers {
                if crate::selection::about_numbers(numbers, &delivery.event, &data) != Some(true) {
                    p.log(&format!(
                        "delivery {} ({}) is about none of the integration's numbers: not sent",
                        delivery.id, delivery.event
                    ));
                    let seen = Seen {
                        filtered: Some(
                            "the event is about none of the integration's numbers".into(),
                        ),
                        ..Seen::default()
                    };
                    settle_seen(p, config, delivery, Outcome::Delivered, seen).await?;
                    continue;
                }
            }
        }
        ready.push(Ready {
            id: delivery.id.clone(),
            event: delivery.event.clone(),
            occurred_at: delivery.occurred_at,
            data,
        });
        waiting.push(delivery);
    }
    if ready.is_empty() {
        return Ok(());
    }
    let outcomes = destination
        .deliver(p, config, &integration.id, &secret, &ready)
        .await?;
    for ((delivery, outcome), ready) in waiting.into_iter().zip(outcomes).zip(&ready) {
        if outcome == Outcome::Delivered && AiKind::announced_by(&delivery.event).is_some() {
            // AI data: shown as the last AI event delivered.
            crate::ai::delivered(p, &integration.id, &ready.event, &ready.data).await;
        }
        let seen = Seen {
            data: Some(&ready.data),
            sent: Some(destination.shown(ready)),
            filtered: None,
            destination: Some(destination.kind()),
        };
        settle_seen(p, config, delivery, outcome, seen).await?;
    }
    Ok(())
}

/// A contact event of an integration with contact sync: the sync brings it to the CRM.
async fn to_contact_sync<P: Platform>(
    p: &P,
    config: &Config,
    integration: &Integration,
    event: &str,
    data: &Map<String, Value>,
) -> Result<Outcome, InfraError> {
    use crate::contact_sync::SyncError;
    Ok(
        match crate::contact_sync::on_contact_event(p, config, integration, event, data).await {
            Ok(pushed) => {
                if let Some(pushed) = pushed {
                    p.log(&format!("{event} synced to the CRM: {pushed:?}"));
                }
                Outcome::Delivered
            }
            Err(SyncError::Infra(e)) => return Err(e),
            Err(e) => Outcome::of(&e),
        },
    )
}

/// The call a minimal payload is about, as Aircall's API shows it; or why not, and what
/// that means for another try.
async fn read_call<P: Platform>(
    p: &P,
    config: &Config,
    integration: &Integration,
    call_id: i64,
) -> Result<Map<String, Value>, (String, Disposition)> {
    let credentials = integration.credentials(&config.sealer).map_err(|e| {
        let why = format!("the Aircall credentials cannot be read: {e}");
        (why, Disposition::Permanent)
    })?;
    let client = AircallClient::new(p, config, &credentials);
    let call = client
        .get_call(call_id)
        .await
        .map_err(|e| (e.to_string(), e.disposition()))?;
    match serde_json::to_value(call) {
        Ok(Value::Object(call)) => Ok(call),
        _ => Err(("the call does not serialize".into(), Disposition::Permanent)),
    }
}

/// The event's data, from the message or from KV (`None`: it expired there).
pub async fn load_payload<P: Platform>(
    p: &P,
    delivery: &Delivery,
) -> Result<Option<Map<String, Value>>, InfraError> {
    match &delivery.payload {
        Payload::Inline { data } => Ok(Some(data.clone())),
        Payload::Stored { key } => match p.get(key).await? {
            Some(text) => Ok(Some(
                serde_json::from_str(&text)
                    .map_err(|e| StoreError(format!("payload {key}: {e}")))?,
            )),
            None => Ok(None),
        },
    }
}

/// Acts on an attempt's outcome: done (its stored payload deleted), re-queued with
/// back-off, or handed to the dead-letter queue after the last attempt.
pub async fn settle<P: Platform>(
    p: &P,
    config: &Config,
    delivery: Delivery,
    outcome: Outcome,
) -> Result<(), InfraError> {
    settle_seen(p, config, delivery, outcome, Seen::default()).await
}

/// [`settle`], with what the event log notes of it besides (every outcome is noted here).
async fn settle_seen<P: Platform>(
    p: &P,
    config: &Config,
    delivery: Delivery,
    outcome: Outcome,
    seen: Seen<'_>,
) -> Result<(), InfraError> {
    let outcome = match outcome {
        Outcome::Retry { reason, .. } if config.retry.gives_up_after(delivery.attempt) => {
            Outcome::Failed { reason }
        }
        outcome => outcome,
    };
    super::journal::note(p, &delivery, &outcome, seen);
    match outcome {
        Outcome::Delivered => {
            if let Payload::Stored { key } = &delivery.payload {
                p.delete(key).await?;
            }
            p.log(&format!(
                "delivered {} ({}) to integration {} on attempt {}",
                delivery.id, delivery.event, delivery.integration_id, delivery.attempt
            ));
            Ok(())
        }
        Outcome::Retry {
            reason,
            retry_after,
        } if !config.retry.gives_up_after(delivery.attempt) => {
            let delay = config
                .retry
                .delay_after(delivery.attempt, retry_after, jitter());
            p.log(&format!(
                "attempt {} of {} failed ({reason}); next in {delay} s",
                delivery.attempt, delivery.id
            ));
            let next = Delivery {
                attempt: delivery.attempt + 1,
                ..delivery
            };
            crate::queue::send(p, &next, delay).await?;
            Ok(())
        }
        Outcome::Wait { reason, seconds } => {
            // Spread the waiting ones over a few seconds, not all back at once.
            let delay = spread(seconds);
            p.log(&format!(
                "delivery {} waits {delay} s for {reason}",
                delivery.id
            ));
            crate::queue::send(p, &delivery, delay).await?;
            Ok(())
        }
        Outcome::Retry { reason, .. } | Outcome::Failed { reason } => {
            give_up(p, delivery, reason).await
        }
    }
}

/// Hands the delivery to the dead-letter queue, whose consumer records it for the admin.
pub async fn give_up<P: Platform>(
    p: &P,
    delivery: Delivery,
    reason: String,
) -> Result<(), InfraError> {
    let letter = DeadLetter {
        attempts: delivery.attempt,
        failed_at: p.now_seconds(),
        reason,
        delivery,
    };
    crate::queue::send(p, &letter, 0).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{answer, config, integration, run, MemoryPlatform};
    use serde_json::json;

    fn ai_event(id: &str, event: &str, call_id: i64) -> Delivery {
        Delivery {
            id: id.into(),
            integration_id: String::new(),
            event: event.into(),
            occurred_at: 1_700_000_000,
            payload: Payload::Inline {
                data: json!({"id": 1, "call_id": call_id})
                    .as_object()
                    .unwrap()
                    .clone(),
            },
            attempt: 1,
        }
    }

    #[test]
    fn an_ai_event_reaches_the_webhook_with_its_content_under_its_own_id() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        p.requests.borrow_mut().clear();
        p.respond(|request| match request.url.as_str() {
            "https://aircall.test/v1/calls/812/summary" => Ok(answer(
                200,
                &[],
                r#"{"summary":{"id":7,"call_id":812,"content":"Refund promised."}}"#,
            )),
            _ => Ok(answer(200, &[], "")),
        });
        let mut delivery = ai_event("msg_ai", "summary.created", 812);
        delivery.integration_id = i.id.clone();
        run(deliver(&p, &config(), &i, vec![delivery])).unwrap();
        let requests = p.requests.borrow();
        assert_eq!(requests.len(), 2, "one Aircall read, one delivery");
        let sent = &requests[1];
        assert_eq!(sent.url, "https://receiver.test/hook");
        let header = |name: &str| {
            sent.headers
                .iter()
                .find(|(n, _)| n == name)
                .unwrap()
                .1
                .clone()
        };
        // The content's id, not the delivery's: the same summary brought by another event
        // (an import, a replay) is the same webhook-id.
        let content = json!({"call_id": 812, "summary": {"id": 7, "call_id": 812, "content": "Refund promised."}});
        let expected =
            crate::ai::id::content_id(&i.id, 812, AiKind::Summary, content.as_object().unwrap());
        assert_eq!(header("webhook-id"), expected);
        let body: Value = serde_json::from_slice(&sent.body).unwrap();
        assert_eq!(body["type"], "call.summary");
        assert_eq!(
            body["data"],
            json!({"call_id": 812, "summary": {"id": 7, "call_id": 812, "content": "Refund promised."}})
        );
    }

    #[test]
    fn ai_events_of_a_company_without_the_package_are_acknowledged_after_one_read() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        p.requests.borrow_mut().clear();
        p.respond(|_| {
            Ok(answer(
                403,
                &[],
                r#"{"message":"company is not active/verified"}"#,
            ))
        });
        let batch = (0..6)
            .map(|n| ai_event(&format!("msg_{n}"), "transcription.created", 900 + n))
            .collect();
        run(deliver(&p, &config(), &i, batch)).unwrap();
        assert_eq!(
            p.requests.borrow().len(),
            1,
            "one AI read, nothing delivered"
        );
        assert!(p.sent.borrow().is_empty(), "nothing retried nor given up");
    }
}
