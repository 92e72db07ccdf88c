//! The queue consumer: deliveries on `JOBS`, dead letters on `JOBS_DLQ`.

use crate::config::Config;
use crate::crypto::{SealError, SigningSecret};
use crate::delivery::{
    classify, delivery_body, signed_request, DeadLetter, DeadLetters, Delivery, Job, Outcome,
    Payload,
};
use crate::integration::{Destination, Integration, Integrations};
use crate::ports::{Platform, QueueError, QueueName, StoreError};
use serde_json::{Map, Value};
use thiserror::Error;

/// What to do with a message once it has been handled.
#[derive(Debug, PartialEq, Eq)]
pub enum Ack {
    /// Done with it (delivered, re-queued for later, or dead-lettered).
    Done,
    /// Our own storage or queue failed: let the platform redeliver the message.
    Redeliver,
}

#[derive(Debug, Error)]
enum JobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

pub async fn handle_message<P: Platform>(
    p: &P,
    config: &Config,
    queue: QueueName,
    message: &str,
) -> Ack {
    let job: Job = match serde_json::from_str(message) {
        Ok(job) => job,
        Err(e) => {
            // Redelivering cannot make it readable; say so and move on.
            p.log(&format!("dropped an unreadable {queue:?} message: {e}"));
            return Ack::Done;
        }
    };
    let result = match (queue, job) {
        (QueueName::Jobs, Job::Deliver(delivery)) => deliver(p, config, delivery).await,
        (_, Job::Failed(letter)) => record_dead_letter(p, letter).await,
        // The platform moves a message here when the consumer failed on it too often.
        (QueueName::DeadLetters, Job::Deliver(delivery)) => {
            let letter = DeadLetter {
                reason: "the connector could not process this delivery (storage or queue errors)"
                    .into(),
                attempts: delivery.attempt,
                failed_at: p.now_seconds(),
                delivery,
            };
            record_dead_letter(p, letter).await
        }
    };
    match result {
        Ok(()) => Ack::Done,
        Err(e) => {
            p.log(&format!("will retry a {queue:?} message: {e}"));
            Ack::Redeliver
        }
    }
}

async fn record_dead_letter<P: Platform>(p: &P, letter: DeadLetter) -> Result<(), JobError> {
    DeadLetters::new(p).record(&letter).await?;
    p.log(&format!(
        "delivery {} of integration {} failed for good after {} attempt(s): {}",
        letter.delivery.id, letter.delivery.integration_id, letter.attempts, letter.reason
    ));
    Ok(())
}

async fn deliver<P: Platform>(p: &P, config: &Config, delivery: Delivery) -> Result<(), JobError> {
    let Some(integration) = Integrations::new(p).get(&delivery.integration_id).await? else {
        p.log(&format!(
            "dropped delivery {}: integration {} no longer exists",
            delivery.id, delivery.integration_id
        ));
        return Ok(());
    };
    let data: Map<String, Value> = match &delivery.payload {
        Payload::Inline { data } => data.clone(),
        Payload::Stored { key } => match p.get(key).await? {
            Some(text) => serde_json::from_str(&text)
                .map_err(|e| StoreError(format!("payload {key}: {e}")))?,
            None => {
                return give_up(
                    p,
                    delivery,
                    "the event's payload expired before it could be delivered".into(),
                )
                .await
            }
        },
    };
    let outcome = match send_to_webhook(p, config, &integration, &delivery, &data).await {
        Ok(outcome) => outcome,
        Err(e) => Outcome::Failed {
            reason: format!("the destination secret cannot be read: {e}"),
        },
    };
    match outcome {
        Outcome::Delivered => {
            if let Payload::Stored { key } = &delivery.payload {
                p.delete(key).await?;
            }
            p.log(&format!(
                "delivered {} ({}) to integration {} on attempt {}",
                delivery.id, delivery.event, integration.id, delivery.attempt
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
            p.send(QueueName::Jobs, &Job::Deliver(next).to_message(), delay)
                .await?;
            Ok(())
        }
        Outcome::Retry { reason, .. } | Outcome::Failed { reason } => {
            give_up(p, delivery, reason).await
        }
    }
}

async fn send_to_webhook<P: Platform>(
    p: &P,
    config: &Config,
    integration: &Integration,
    delivery: &Delivery,
    data: &Map<String, Value>,
) -> Result<Outcome, SealError> {
    let Destination::Webhook { url } = &integration.destination;
    let slot = Integration::slot(&integration.id, "destination_secret");
    let secret = SigningSecret::parse(
        &config
            .sealer
            .open(&integration.sealed.destination_secret, &slot)?,
    )
    .map_err(|_| SealError::CannotOpen)?;
    let body = delivery_body(&delivery.event, delivery.occurred_at, data);
    let now = p.now_seconds();
    let request = signed_request(
        url,
        &secret,
        &delivery.id,
        now,
        body,
        config.delivery_timeout_ms,
    );
    Ok(classify(&p.fetch(request).await, p.now_seconds()))
}

/// Hands the delivery to the dead-letter queue, whose consumer records it for the admin.
async fn give_up<P: Platform>(p: &P, delivery: Delivery, reason: String) -> Result<(), JobError> {
    let letter = DeadLetter {
        attempts: delivery.attempt,
        failed_at: p.now_seconds(),
        reason,
        delivery,
    };
    p.send(QueueName::DeadLetters, &Job::Failed(letter).to_message(), 0)
        .await?;
    Ok(())
}

/// A number in [0, 1) to spread retries.
fn jitter() -> f64 {
    let bytes = crate::crypto::random_bytes::<4>();
    u32::from_le_bytes(bytes) as f64 / (u32::MAX as f64 + 1.0)
}
