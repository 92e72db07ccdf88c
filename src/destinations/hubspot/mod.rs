//! The HubSpot destination: each finished call logged once as a call engagement (`calls`),
//! with its owner and contact. Contact sync with HubSpot (`crate::contact_sync`) uses the
//! same client.

mod ai;
mod calls;
mod cards;
mod client;
mod crm;

pub use calls::{engagement, record_of};
pub use client::{HubspotClient, HubspotError, SearchPage, BATCH_MAX, SEARCH_CAP};
pub use crm::{HubspotCrm, PAGE};

use super::{Field, FieldKind, Plugin, Ready, Target};
use crate::config::Config;
use crate::crm::{Crm, CrmError, Logged};
use crate::infra::InfraError;
use crate::ports::Platform;
use crate::problems::Problems;
use crate::retry::Outcome;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// How long the recording links given to HubSpot last (ten years): HubSpot keeps the URL on
/// the engagement and plays it from there.
pub const RECORDING_LINK_SECONDS: u64 = 10 * 365 * 86_400;

pub struct Hubspot;

/// Nothing to store: the access token is the sealed secret.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Settings {}

impl Plugin for Hubspot {
    type Settings = Settings;
    const TYPE: &'static str = "hubspot";
    const NAME: &'static str = "HubSpot";
    const FIELDS: &'static [Field] = &[Field {
        name: "access_token",
        label: "Access token",
        kind: FieldKind::Text,
        required: true,
        secret: true,
        help: "A private app's token (pat-...) or an OAuth access token.",
    }];
    /// The owners list (cached), a contact search, the engagement.
    const REQUESTS_PER_DELIVERY: u32 = 3;
    const READS_AI: bool = true;
    /// The engagement created if need be (3), read (1), a note and its association to the
    /// call (2), or the properties created (2, once) and set (1), or a task per action item.
    const REQUESTS_PER_AI_DELIVERY: u32 = 8;
    const CRM: bool = true;

    /// `{type: "hubspot", access_token}`: a private app's token (`pat-...`) or an OAuth
    /// access token, sent as a bearer token.
    fn parse(d: &Map<String, Value>, p: &mut Problems) -> Option<(Settings, Option<String>)> {
        // Required of a new HubSpot destination (`missing_secret`); left out of a change to
        // the current one, the current token stays.
        if matches!(d.get("access_token"), None | Some(Value::Null)) {
            return Some((Settings {}, None));
        }
        let access_token = p.token(d, "destination.", "access_token", 2000)?;
        Some((Settings {}, Some(access_token)))
    }

    fn recording_link_seconds(_config: &Config) -> u64 {
        RECORDING_LINK_SECONDS
    }

    fn state_prefixes(integration_id: &str) -> Vec<String> {
        // Which engagement logs each call, the owners read last, and the notes and tasks
        // made of AI data.
        vec![
            crate::keys::crm_calls_prefix(integration_id),
            crate::keys::crm_owners_key(integration_id),
            crate::keys::crm_ai_prefix(integration_id),
            crate::keys::crm_account_key(integration_id),
        ]
    }

    /// The call engagement's properties (the owner is found at delivery), or why nothing is.
    fn shown(_settings: &Settings, ready: &Ready) -> Value {
        match record_of(&ready.event, &ready.data) {
            Ok(Some(record)) => serde_json::json!({"call_engagement": engagement(&record, None)}),
            Ok(None) => serde_json::json!({"nothing": "not a finished call: HubSpot gets nothing"}),
            Err(e) => serde_json::json!({"nothing": e}),
        }
    }

    /// A finished call is logged (or its engagement updated); other events have nothing to
    /// do in HubSpot.
    async fn deliver<P: Platform>(
        p: &P,
        target: &Target<'_, Settings>,
        batch: &[Ready],
    ) -> Result<Vec<Outcome>, InfraError> {
        let hubspot = HubspotCrm::new(p, target.config, target.integration_id, target.secret);
        // AI data goes one event after the other: the first of a call not logged yet logs it,
        // and the others find its engagement instead of waiting for the first's claim.
        let client = HubspotClient::new(p, target.config, target.secret);
        let mut ai_outcomes = BTreeMap::new();
        for (index, ready) in batch.iter().enumerate() {
            if let Some(kind) = ai::kind_of(&ready.event) {
                let result = ai::deliver(
                    p,
                    target.integration_id,
                    &client,
                    kind,
                    ready.occurred_at,
                    &ready.data,
                )
                .await;
                ai_outcomes.insert(index, ai::outcome(result)?);
            }
        }
        let (hubspot, ai_outcomes) = (&hubspot, &ai_outcomes);
        let logs = batch.iter().enumerate().map(|(index, ready)| async move {
            if let Some(outcome) = ai_outcomes.get(&index) {
                return Ok(outcome.clone());
            }
            Ok(match hubspot.log_call(&ready.event, &ready.data).await {
                Ok(Logged::Created(id)) | Ok(Logged::Updated(id)) => {
                    p.log(&format!("{} logged as HubSpot call {id}", ready.event));
                    Outcome::Delivered
                }
                Ok(Logged::NotACall) => Outcome::Delivered,
                Ok(Logged::Busy) => Outcome::Wait {
                    reason: "another delivery of this call to create its HubSpot engagement"
                        .into(),
                    seconds: 65,
                },
                Err(CrmError::Infra(e)) => return Err(e),
                Err(e) => Outcome::of(&e),
            })
        });
        futures_util::future::join_all(logs).await.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::consumer::Job;
    use crate::consumer::{handle_message, Ack};
    use crate::delivery::{Delivery, Payload};
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
        let destination = crate::testing::destination(serde_json::json!({"type": "hubspot", "access_token": "pat-na1-x"}));
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
