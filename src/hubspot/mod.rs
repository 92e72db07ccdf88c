//! The HubSpot destination: calls logged as engagements (`calls`), and the I/O of the
//! two-way contact sync (`sync`); the sync's pure rules live in `crate::contacts`.

mod calls;
mod client;
#[cfg(test)]
mod cursor_tests;
pub mod links;
mod sync;

pub use calls::{engagement, log_call, owners, record_of, CallLogError, Logged};
pub use client::{HubspotClient, HubspotError, Owner, Record, SearchPage, BATCH_MAX, SEARCH_CAP};
pub use sync::{
    abandon_pass, pass_step, pull_contact, remove_created, start_passes,
    status as contact_sync_status, ContactJob, PassJob, Pulled, Pushed, Side, SyncError,
};

use crate::config::Config;
use crate::infra::InfraError;
use crate::integration::Integration;
use crate::ports::Platform;
use crate::retry::Outcome;
use serde_json::{Map, Value};

/// How long the recording links given to HubSpot last (ten years): HubSpot keeps the URL on
/// the engagement and plays it from there.
pub const RECORDING_LINK_SECONDS: u64 = 10 * 365 * 86_400;

/// The integration's HubSpot access token, unsealed.
pub fn token(
    config: &Config,
    integration: &Integration,
) -> Result<String, crate::crypto::SealError> {
    let slot = Integration::slot(&integration.id, "destination_secret");
    config
        .sealer
        .open(&integration.sealed.destination_secret, &slot)
}

/// Delivers one event to a HubSpot integration: a finished call is logged (or its
/// engagement updated); other events have nothing to do in HubSpot.
pub async fn deliver<P: Platform>(
    p: &P,
    config: &Config,
    integration: &Integration,
    event: &str,
    data: &Map<String, Value>,
) -> Result<Outcome, InfraError> {
    let token = match token(config, integration) {
        Ok(token) => token,
        Err(e) => {
            return Ok(Outcome::Failed {
                reason: format!("the HubSpot access token cannot be read: {e}"),
            })
        }
    };
    if event.starts_with("contact.") {
        return Ok(
            match sync::on_contact_event(p, config, integration, event, data).await {
                Ok(pushed) => {
                    if let Some(pushed) = pushed {
                        p.log(&format!("{event} synced to HubSpot: {pushed:?}"));
                    }
                    Outcome::Delivered
                }
                Err(SyncError::Infra(e)) => return Err(e),
                Err(e) => Outcome::of(&e),
            },
        );
    }
    let hubspot = HubspotClient::new(p, config, &token);
    let logged = log_call(p, integration, &hubspot, event, data).await;
    Ok(match logged {
        Ok(Logged::Created(id)) | Ok(Logged::Updated(id)) => {
            p.log(&format!("{event} logged as HubSpot call {id}"));
            Outcome::Delivered
        }
        Ok(Logged::NotACall) => Outcome::Delivered,
        Ok(Logged::Busy) => Outcome::Wait {
            reason: "another delivery of this call to create its HubSpot engagement".into(),
            seconds: 65,
        },
        Err(CallLogError::Infra(e)) => return Err(e),
        Err(CallLogError::Hubspot(e)) => Outcome::of(&e),
    })
}

/// The integration's import rules in force: with `users_from: hubspot_owners`, `users` are
/// the HubSpot owners' e-mails (read at most once an hour).
pub async fn import_rules<P: Platform>(
    p: &P,
    config: &Config,
    integration: &Integration,
) -> Result<crate::calls::ImportRules, CallLogError> {
    let rules = &integration.import;
    if rules.users_from != crate::calls::UsersFrom::HubspotOwners {
        return Ok(rules.clone());
    }
    let token = token(config, integration).map_err(|e| {
        CallLogError::Hubspot(HubspotError::Rejected {
            status: 0,
            message: format!("the access token cannot be read: {e}"),
        })
    })?;
    let hubspot = HubspotClient::new(p, config, &token);
    let owners = owners(p, integration, &hubspot).await?;
    Ok(rules.with_users(owners.into_iter().filter_map(|o| o.email).collect()))
}

#[cfg(test)]
mod tests {
    use crate::consumer::Job;
    use crate::consumer::{handle_message, Ack};
    use crate::delivery::{Delivery, Payload};
    use crate::integration::NewDestination;
    use crate::ports::QueueName;
    use crate::testing::{answer, config, integration_to, run, MemoryPlatform};
    use serde_json::json;

    /// A finished call's `call.ended`, delivered for the `attempt`-th time.
    fn call_ended(integration_id: &str, attempt: u32) -> String {
        let data = json!({"id": 812, "direction": "inbound", "status": "done",
                          "started_at": 1_700_000_000, "ended_at": 1_700_000_060, "duration": 60,
                          "raw_digits": "+33612345678",
                          "user": {"id": 1, "name": "Ann", "email": "ann@example.com"}});
        Job::Deliver(Delivery {
            id: "msg_hubspot".into(),
            integration_id: integration_id.into(),
            event: "call.ended".into(),
            occurred_at: 1_700_000_060,
            payload: Payload::Inline {
                data: data.as_object().unwrap().clone(),
            },
            attempt,
        })
        .to_message()
    }

    /// Delivers once and returns what went back on a queue: (queue, attempt, delay).
    fn deliver(
        p: &MemoryPlatform,
        integration_id: &str,
        attempt: u32,
    ) -> Vec<(QueueName, u32, u32)> {
        let message = call_ended(integration_id, attempt);
        assert_eq!(
            run(handle_message(p, &config(), QueueName::Jobs, &message)),
            Ack::Done
        );
        p.take_sent()
            .into_iter()
            .map(
                |(queue, message, delay)| match Job::from_message(&message).unwrap() {
                    Job::Deliver(next) => (queue, next.attempt, delay),
                    Job::Failed(letter) => (queue, letter.attempts, delay),
                    other => panic!("unexpected {other:?}"),
                },
            )
            .collect()
    }

    #[test]
    fn a_rate_limit_is_waited_out_and_never_spends_an_attempt_while_errors_do() {
        let p = MemoryPlatform::default();
        p.now_ms.set(1_700_000_100_000);
        let destination = NewDestination::Hubspot {
            access_token: "pat-na1-x".into(),
        };
        let (i, _) = integration_to(&p, destination, None);
        let last = config().retry.max_attempts;

        // HubSpot's ten-secondly limit (spent by another app on the account), on the last
        // attempt: the delivery waits the policy's 10 s and keeps its attempt number.
        p.respond(|_| {
            Ok(answer(
                429,
                &[],
                r#"{"status":"error","errorType":"RATE_LIMIT","policyName":"TEN_SECONDLY_ROLLING"}"#,
            ))
        });
        let sent = deliver(&p, &i.id, last);
        assert_eq!(sent.len(), 1, "{sent:?}");
        let (queue, attempt, delay) = sent[0];
        assert_eq!((queue, attempt), (QueueName::Jobs, last));
        assert!((10..=15).contains(&delay), "waits the 10 s window: {delay}");
        assert_eq!(p.requests.borrow().len(), 1, "one request met the 429");

        // Within the window, the budget holds the next try back without asking HubSpot.
        p.requests.borrow_mut().clear();
        p.now_ms.set(p.now_ms.get() + 4_000);
        let sent = deliver(&p, &i.id, last);
        assert_eq!(sent[0].1, last);
        assert!(
            (6..=11).contains(&sent[0].2),
            "the rest of the window: {:?}",
            sent[0]
        );
        assert!(p.requests.borrow().is_empty(), "no request while blocked");

        // An outage is a failed attempt: retried with back-off, then given up.
        p.now_ms.set(p.now_ms.get() + 11_000);
        p.respond(|_| Ok(answer(503, &[], r#"{"message":"down for maintenance"}"#)));
        let sent = deliver(&p, &i.id, 1);
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!((sent[0].0, sent[0].1), (QueueName::Jobs, 2));
        assert!((4..=6).contains(&sent[0].2), "5 s +-20%: {}", sent[0].2);
        assert_eq!(
            deliver(&p, &i.id, last),
            vec![(QueueName::DeadLetters, last, 0)]
        );
    }
}
