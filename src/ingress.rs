//! Webhook ingress: check what Aircall posted, and queue it for delivery.

use crate::aircall::{WebhookEvent, WebhookProblem};
use crate::cards::CardJob;
use crate::config::Config;
use crate::crypto::secrets_match;
use crate::delivery::{Delivery, Payload, MAX_INLINE_PAYLOAD};
use crate::import::CallJob;
use crate::integration::{self, Actor, Cause, Integration, Integrations, Status};
use crate::ports::Platform;
use thiserror::Error;

/// The event after which a call's data is complete (sent some 20-30 s after hang-up).
const CALL_ENDED: &str = "call.ended";

/// Aircall's payloads are small; anything larger is not from Aircall.
pub const MAX_WEBHOOK_BYTES: usize = 1024 * 1024;

/// Sent by Aircall when the app is uninstalled from the account.
pub const INTEGRATION_DELETED: &str = "integration.deleted";

/// How long a large payload waits in KV for its delivery (and its possible dead letter).
const STORED_PAYLOAD_SECONDS: u64 = crate::delivery::KEEP_SECONDS;

#[derive(Debug, Error)]
pub enum IngressError {
    #[error("no integration has this id")]
    UnknownIntegration,
    #[error("the body is larger than {MAX_WEBHOOK_BYTES} bytes")]
    TooLarge,
    #[error(transparent)]
    Malformed(#[from] WebhookProblem),
    #[error("the webhook token does not match this integration")]
    WrongToken,
    #[error(transparent)]
    Infra(#[from] crate::infra::InfraError),
}

crate::infra::carries_infra!(IngressError);

#[derive(Debug, PartialEq)]
pub enum Accepted {
    Queued {
        delivery_id: String,
    },
    /// Acknowledged (so Aircall does not retry) but not forwarded.
    Ignored {
        reason: &'static str,
    },
}

pub async fn receive<P: Platform>(
    p: &P,
    config: &Config,
    integration_id: &str,
    body: &[u8],
) -> Result<Accepted, IngressError> {
    Ok(receive_with_card(p, config, integration_id, body).await?.0)
}

/// As [`receive`], and the insight card the event asks for, to be made once Aircall has its
/// answer (`crate::cards`).
pub async fn receive_with_card<P: Platform>(
    p: &P,
    config: &Config,
    integration_id: &str,
    body: &[u8],
) -> Result<(Accepted, Option<CardJob>), IngressError> {
    let integration = Integrations::new(p)
        .get(integration_id)
        .await?
        .ok_or(IngressError::UnknownIntegration)?;
    if body.len() > MAX_WEBHOOK_BYTES {
        return Err(IngressError::TooLarge);
    }
    let event = WebhookEvent::parse(body)?;
    let expected = config.sealer.open(
        &integration.sealed.webhook_token,
        &Integration::slot(&integration.id, "webhook_token"),
    )?;
    if !secrets_match(&event.token, &expected) {
        return Err(IngressError::WrongToken);
    }
    // Aircall says the app was uninstalled from the account (OAuth webhooks only).
    if event.event == INTEGRATION_DELETED {
        let reason =
            "Aircall sent integration.deleted: the app was uninstalled from the Aircall account";
        integration::deactivate(
            p,
            &integration.id,
            Actor::System,
            Cause::IntegrationDeleted,
            reason,
        )
        .await?;
        let reason = "integration.deleted: the integration is now inactive";
        return Ok((ignored(p, &integration, event, reason), None));
    }
    // Still answered 2xx, so Aircall does not disable the webhook; counted, not forwarded.
    if integration.status != Status::Active {
        if let Err(e) = integration::count_dropped(p, &integration.id).await {
            p.log(&format!(
                "could not count a dropped event of {}: {e}",
                integration.id
            ));
        }
        let reason = "the integration is inactive: nothing is forwarded";
        return Ok((ignored(p, &integration, event, reason), None));
    }
    // A call that ended is imported right away, as the next poll would: once, either way.
    let import: Option<CallJob> = (event.event == CALL_ENDED)
        .then(|| CallJob::from_webhook(&integration.id, &event.data, p.now_seconds() as i64))
        .flatten();
    // Events about other numbers than the chosen ones; a call payload without its number
    // is checked again once the consumer has read the call.
    let other_number = integration.numbers.as_ref().is_some_and(|numbers| {
        crate::selection::about_numbers(numbers, &event.event, &event.data) == Some(false)
    });
    let card = CardJob::from_webhook(&integration, &event, p.now_seconds() as i64)
        .filter(|_| !other_number);
    let chosen = crate::selection::forwards(integration.events.as_deref(), &event.event);
    if !chosen || other_number {
        if let Some(import) = import {
            crate::queue::send(p, &import, 0).await?;
        }
        let reason = if other_number {
            "the event is about none of the integration's numbers"
        } else {
            "the integration does not forward this event"
        };
        return Ok((ignored(p, &integration, event, reason), card));
    }

    // serde_json's maps are sorted, so this text is the same whenever Aircall resends the event.
    let data_json = serde_json::to_string(&event.data).expect("JSON values serialize");
    let id = Delivery::id_for(&integration.id, &event.event, event.timestamp, &data_json);
    let payload = if data_json.len() > MAX_INLINE_PAYLOAD {
        let key = Delivery::payload_key(&integration.id, &id);
        p.put(&key, &data_json, Some(STORED_PAYLOAD_SECONDS))
            .await?;
        Payload::Stored { key }
    } else {
        Payload::Inline { data: event.data }
    };
    let delivery = Delivery {
        id: id.clone(),
        integration_id: integration.id,
        event: event.event,
        occurred_at: event.timestamp.unwrap_or(p.now_seconds() as i64),
        payload,
        attempt: 1,
    };
    crate::queue::send(p, &delivery, 0).await?;
    if let Some(import) = import {
        crate::queue::send(p, &import, 0).await?;
    }
    Ok((Accepted::Queued { delivery_id: id }, card))
}

/// Acknowledges an event not forwarded, noting it in the integration's event log (written
/// after the answer, never delaying it); not while the integration is being deleted, which
/// erases its log.
fn ignored<P: Platform>(
    p: &P,
    integration: &Integration,
    event: WebhookEvent,
    reason: &'static str,
) -> Accepted {
    let deleting = integration.deactivation.as_ref().map(|d| d.cause) == Some(Cause::Deleting);
    if deleting {
        return Accepted::Ignored { reason };
    }
    let integration_id = integration.id.as_str();
    let data_json = serde_json::to_string(&event.data).expect("JSON values serialize");
    let id = Delivery::id_for(integration_id, &event.event, event.timestamp, &data_json);
    let entry = crate::event_log::Entry {
        event_id: id,
        at_ms: p.now_ms(),
        event: event.event,
        occurred_at: event.timestamp,
        status: crate::event_log::Status::Filtered,
        reason: Some(reason.to_string()),
        attempt: 0,
        delivery_id: None,
        destination: None,
        received: Some(event.data),
        sent: None,
    };
    p.note(integration_id, entry);
    Accepted::Ignored { reason }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::Job;
    use crate::delivery::Payload;
    use crate::ports::QueueName;
    use crate::testing::{config, integration, run, MemoryPlatform};

    fn body(event: &str, token: &str, data: &str) -> Vec<u8> {
        format!(r#"{{"resource":"call","event":"{event}","timestamp":1700000000,"token":"{token}","data":{data}}}"#)
            .into_bytes()
    }

    #[test]
    fn queues_a_valid_event_once_with_a_stable_id() {
        let p = MemoryPlatform::default();
        let (i, _, token) = integration(&p, None);
        let first = run(receive(
            &p,
            &config(),
            &i.id,
            &body("call.ended", &token, r#"{"id":1}"#),
        ))
        .unwrap();
        let again = run(receive(
            &p,
            &config(),
            &i.id,
            &body("call.ended", &token, r#"{"id":1}"#),
        ))
        .unwrap();
        assert_eq!(first, again);
        let sent = p.take_sent();
        // Each time: the event's delivery, and the ended call's import (done once, later),
        // each on its queue (deliveries are light, imports heavy: their batch sizes differ).
        assert_eq!(sent.len(), 4);
        let queues: Vec<QueueName> = sent.iter().map(|(queue, _, _)| *queue).collect();
        let (jobs, work) = (QueueName::Jobs, QueueName::Work);
        assert_eq!(queues, vec![jobs, work, jobs, work]);
        let Job::Import(import) = Job::from_message(&sent[1].1).unwrap() else {
            panic!("{}", sent[1].1)
        };
        assert_eq!(
            (import.call_id, import.origin),
            (1, crate::import::Origin::Webhook)
        );
        let Job::Deliver(delivery) = Job::from_message(&sent[0].1).unwrap() else {
            panic!()
        };
        assert_eq!(
            (
                delivery.event.as_str(),
                delivery.attempt,
                delivery.occurred_at
            ),
            ("call.ended", 1, 1_700_000_000)
        );
        assert!(matches!(delivery.payload, Payload::Inline { .. }));
    }

    #[test]
    fn refuses_without_queueing() {
        let p = MemoryPlatform::default();
        let (i, _, token) = integration(&p, Some(vec!["call.ended"]));
        let c = config();
        let unknown = run(receive(
            &p,
            &c,
            "int_0123456789abcdef0123",
            &body("call.ended", &token, "{}"),
        ));
        assert!(matches!(unknown, Err(IngressError::UnknownIntegration)));
        let wrong = run(receive(&p, &c, &i.id, &body("call.ended", "nope", "{}")));
        assert!(matches!(wrong, Err(IngressError::WrongToken)));
        let malformed = run(receive(&p, &c, &i.id, b"{"));
        assert!(matches!(malformed, Err(IngressError::Malformed(_))));
        let huge = vec![b' '; MAX_WEBHOOK_BYTES + 1];
        assert!(matches!(
            run(receive(&p, &c, &i.id, &huge)),
            Err(IngressError::TooLarge)
        ));
        let ignored = run(receive(&p, &c, &i.id, &body("call.created", &token, "{}"))).unwrap();
        assert!(matches!(ignored, Accepted::Ignored { .. }));
        assert!(p.take_sent().is_empty());
    }

    #[test]
    fn an_inactive_integration_acknowledges_counts_and_forwards_nothing() {
        let p = MemoryPlatform::default();
        let (i, _, token) = integration(&p, None);
        let c = config();
        run(crate::integration::deactivate(
            &p,
            &i.id,
            Actor::Admin,
            Cause::Admin,
            "pause",
        ))
        .unwrap();
        for n in 1..=2 {
            let answer = run(receive(
                &p,
                &c,
                &i.id,
                &body("call.ended", &token, &format!("{{\"id\":{n}}}")),
            ));
            assert!(matches!(answer, Ok(Accepted::Ignored { .. })), "{answer:?}");
        }
        let wrong = run(receive(&p, &c, &i.id, &body("call.ended", "nope", "{}")));
        assert!(
            matches!(wrong, Err(IngressError::WrongToken)),
            "still checked, not counted"
        );
        assert!(p.take_sent().is_empty());
        assert_eq!(run(crate::integration::dropped(&p, &i.id)).unwrap(), 2);
    }

    #[test]
    fn what_is_not_forwarded_is_noted_in_the_log_except_while_deleting() {
        use crate::ports::EventLog;
        let p = MemoryPlatform::default();
        let (i, _, token) = integration(&p, Some(vec!["call.ended"]));
        let c = config();
        run(receive(
            &p,
            &c,
            &i.id,
            &body("call.created", &token, r#"{"id":7}"#),
        ))
        .unwrap();
        let query = crate::event_log::Query {
            limit: 10,
            ..Default::default()
        };
        let page = run(p.events(&i.id, &query)).unwrap();
        assert_eq!(page.events.len(), 1);
        assert_eq!(page.events[0].status, crate::event_log::Status::Filtered);
        assert_eq!(page.events[0].subjects.call_id, Some(7));

        let mut deleting = run(Integrations::new(&p).get(&i.id)).unwrap().unwrap();
        deleting.status = Status::Inactive;
        deleting.deactivation = Some(crate::integration::Deactivation {
            by: Actor::Admin,
            cause: Cause::Deleting,
            reason: "being deleted".into(),
            at: 0,
        });
        run(Integrations::new(&p).save(&deleting)).unwrap();
        let answer = run(receive(
            &p,
            &c,
            &i.id,
            &body("call.ended", &token, r#"{"id":8}"#),
        ));
        assert!(matches!(answer, Ok(Accepted::Ignored { .. })));
        assert_eq!(
            run(p.events(&i.id, &query)).unwrap().events.len(),
            1,
            "nothing more"
        );
    }

    #[test]
    fn integration_deleted_deactivates_by_the_system() {
        let p = MemoryPlatform::default();
        let (i, _, token) = integration(&p, None);
        let answer = run(receive(
            &p,
            &config(),
            &i.id,
            &body("integration.deleted", &token, "{}"),
        ));
        assert!(matches!(answer, Ok(Accepted::Ignored { .. })));
        let stored = run(Integrations::new(&p).get(&i.id)).unwrap().unwrap();
        assert_eq!(stored.status, Status::Inactive);
        let d = stored.deactivation.unwrap();
        assert_eq!((d.by, d.cause), (Actor::System, Cause::IntegrationDeleted));
        assert!(p.take_sent().is_empty());
    }

    #[test]
    fn keeps_large_payloads_in_kv() {
        let p = MemoryPlatform::default();
        let (i, _, token) = integration(&p, None);
        let data = format!(r#"{{"id":2,"pad":"{}"}}"#, "x".repeat(MAX_INLINE_PAYLOAD));
        run(receive(
            &p,
            &config(),
            &i.id,
            &body("call.ended", &token, &data),
        ))
        .unwrap();
        let (_, message, _) = p.take_sent().remove(0);
        assert!(message.len() < 1024, "the message carries a reference only");
        let Job::Deliver(delivery) = Job::from_message(&message).unwrap() else {
            panic!()
        };
        let Payload::Stored { key } = delivery.payload else {
            panic!("stored")
        };
        assert!(key.starts_with(&format!("payload:{}:", i.id)), "{key}");
        assert!(p.kv.borrow()[&key].contains(r#""pad""#));
    }
}
