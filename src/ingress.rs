//! Webhook ingress: check what Aircall posted, and queue it for delivery.

use crate::aircall::{WebhookEvent, WebhookProblem};
use crate::config::Config;
use crate::crypto::{secrets_match, SealError};
use crate::delivery::{Delivery, Job, Payload, MAX_INLINE_PAYLOAD};
use crate::integration::{Integration, Integrations};
use crate::ports::{Platform, QueueError, QueueName, StoreError};
use thiserror::Error;

/// Aircall's payloads are small; anything larger is not from Aircall.
pub const MAX_WEBHOOK_BYTES: usize = 1024 * 1024;

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
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Seal(#[from] SealError),
}

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
    if !integration.wants(&event.event) {
        return Ok(Accepted::Ignored {
            reason: "the integration does not forward this event",
        });
    }

    // serde_json's maps are sorted, so this text is the same whenever Aircall resends the event.
    let data_json = serde_json::to_string(&event.data).expect("JSON values serialize");
    let id = Delivery::id_for(&integration.id, &event.event, event.timestamp, &data_json);
    let payload = if data_json.len() > MAX_INLINE_PAYLOAD {
        let key = Delivery::payload_key(&id);
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
    let message = Job::Deliver(delivery).to_message();
    p.send(QueueName::Jobs, &message, 0).await?;
    Ok(Accepted::Queued { delivery_id: id })
}
