//! The queue consumer: reads each message's kind (`crate::queue`) and hands it to its
//! feature; deliveries on `JOBS`, heavy work on `WORK`, dead letters on `JOBS_DLQ`.

use crate::config::Config;
use crate::delivery::subrequests::{self, Cost};
use crate::delivery::{DeadLetter, DeadLetters, Delivery, Payload};
use crate::import::{self, CallJob, ImportError, SyncAnswer, SyncJob};
use crate::infra::InfraError;
use crate::integration::{Integration, Integrations};
use crate::ports::{Platform, QueueName};
use std::collections::BTreeMap;

mod job;

pub use job::Job;

/// What to do with a message once it has been handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// Done with it (delivered, re-queued for later, or dead-lettered).
    Done,
    /// Our own storage or queue failed: let the platform redeliver the message.
    Redeliver,
}

pub async fn handle_message<P: Platform>(
    p: &P,
    config: &Config,
    queue: QueueName,
    message: &str,
) -> Ack {
    let job = match Job::from_message(message) {
        Ok(job) => job,
        Err(e) => {
            // Redelivering cannot make it readable; say so and move on.
            p.log(&format!("dropped an unreadable {queue:?} message: {e}"));
            return Ack::Done;
        }
    };
    let result = match (queue, job) {
        (_, Job::Failed(letter)) => record_dead_letter(p, letter).await,
        // The platform moves a message to the dead-letter queue when the consumer failed on
        // it too often (storage or queue errors).
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
        (QueueName::DeadLetters, Job::Import(job)) => {
            p.log(&format!(
                "call {} of integration {} could not be imported (storage or queue errors); the next look at it retries",
                job.call_id, job.integration_id
            ));
            Ok(())
        }
        (QueueName::DeadLetters, Job::Purge(job)) => {
            p.log(&format!(
                "a deletion step of integration {} failed repeatedly; DELETE it again to finish",
                job.integration_id
            ));
            Ok(())
        }
        (QueueName::DeadLetters, Job::ContactPass(job)) => {
            p.log(&format!(
                "a contact sync step of integration {} failed repeatedly; the next pass resumes from its cursor",
                job.integration_id
            ));
            Ok(())
        }
        (QueueName::DeadLetters, Job::Contact(job)) => {
            p.log(&format!(
                "HubSpot contact {} of integration {} could not be synced (storage or queue errors); its next change retries",
                job.crm.id, job.integration_id
            ));
            Ok(())
        }
        (QueueName::DeadLetters, Job::Sync(job)) => {
            p.log(&format!(
                "an import step of integration {} failed repeatedly; the next scheduled run resumes from its cursor",
                job.integration_id
            ));
            Ok(())
        }
        // JOBS or WORK: either runs any job (one sent before the queues split may sit on JOBS).
        (_, Job::Deliver(delivery)) => {
            let id = delivery.integration_id.clone();
            match Integrations::new(p).get(&id).await {
                Ok(integration) => {
                    deliver(p, config, &id, integration.as_ref(), vec![delivery]).await
                }
                Err(e) => Err(e.into()),
            }
        }
        (_, Job::Sync(job)) => import_step(p, config, job).await,
        (_, Job::Import(job)) => import_one(p, config, *job).await,
        (_, Job::Purge(job)) => match crate::lifecycle::purge_step(p, config, &job).await {
            Err(crate::lifecycle::LifecycleError::Infra(e)) => Err(e),
            _ => Ok(()),
        },
        (_, Job::ContactPass(job)) => crate::contact_sync::run_pass(p, config, job).await,
        (_, Job::Contact(job)) => crate::contact_sync::run_contact(p, config, *job).await,
    };
    match result {
        Ok(()) => Ack::Done,
        Err(e) => {
            p.log(&format!("will retry a {queue:?} message: {e}"));
            Ack::Redeliver
        }
    }
}

/// A queue batch. Deliveries are grouped per integration and each group delivered together
/// (a batching destination such as Segment sends a group in one request); every other
/// message is handled on its own. All run side by side. What would take the invocation past
/// its subrequest budget goes back on the queue for another one.
pub async fn handle_batch<P: Platform>(
    p: &P,
    config: &Config,
    queue: QueueName,
    messages: &[String],
) -> Vec<Ack> {
    let jobs: Vec<Option<Job>> = messages.iter().map(|m| Job::from_message(m).ok()).collect();
    // The integrations deliveries and imported calls belong to, read once each: they price them.
    let mut integrations: BTreeMap<String, Option<Integration>> = BTreeMap::new();
    if queue != QueueName::DeadLetters {
        for job in jobs.iter().flatten() {
            let id = match job {
                Job::Deliver(delivery) => &delivery.integration_id,
                Job::Import(call) => &call.integration_id,
                _ => continue,
            };
            if integrations.contains_key(id) {
                continue;
            }
            match Integrations::new(p).get(id).await {
                Ok(integration) => {
                    integrations.insert(id.clone(), integration);
                }
                Err(e) => {
                    p.log(&format!("will retry a batch: integration {id}: {e}"));
                    return vec![Ack::Redeliver; messages.len()];
                }
            }
        }
    }
    let destination_of = |id: &str| {
        integrations
            .get(id)
            .and_then(|i| i.as_ref())
            .and_then(|i| i.destination.as_ref())
    };
    let group_of = |id: &str| integrations.keys().position(|k| k == id).unwrap_or(0);
    let costs: Vec<Cost> = jobs
        .iter()
        .zip(messages)
        .map(|(job, message)| match (queue, job) {
            (QueueName::DeadLetters, _) | (_, None) | (_, Some(Job::Failed(_))) => Cost::Fixed(0),
            (_, Some(Job::Deliver(d))) => match destination_of(&d.integration_id) {
                None => Cost::Fixed(0),
                Some(destination) => {
                    let reads_call = destination.reads_calls()
                        && match &d.payload {
                            Payload::Inline { data } => {
                                crate::selection::needs_enrichment(&d.event, data).is_some()
                            }
                            Payload::Stored { .. } => true,
                        };
                    // An AI event's content is read first: one request more.
                    let reads_ai = destination.reads_ai()
                        && crate::aircall::AiKind::announced_by(&d.event).is_some();
                    match destination.batches() {
                        true => Cost::Batched {
                            group: group_of(&d.integration_id),
                            bytes: message.len(),
                            reads_call: reads_call || reads_ai,
                        },
                        false => {
                            let requests = match reads_ai {
                                true => destination.requests_per_ai_delivery(),
                                false => destination.requests_per_delivery(),
                            };
                            Cost::Fixed(
                                requests
                                    + u32::from(reads_call)
                                    + u32::from(reads_ai)
                                    // A CRM's call not logged yet is read too.
                                    + u32::from(reads_ai && destination.is_crm()),
                            )
                        }
                    }
                }
            },
            // The call, the recording's probe and download (twice when a link had expired),
            // one spare, and with `import.ai` its transcript's read.
            (_, Some(Job::Import(call))) => Cost::Fixed(
                6 + u32::from(
                    integrations
                        .get(&call.integration_id)
                        .and_then(|i| i.as_ref())
                        .is_some_and(crate::import::reads_transcript),
                ),
            ),
            (_, Some(Job::Sync(_))) => Cost::Fixed(10),
            // A page of Aircall contacts, then the CRM's batch read, search, update, create.
            (_, Some(Job::ContactPass(_))) => Cost::Fixed(8),
            // The linked contact, searches by e-mail and phone, the write.
            (_, Some(Job::Contact(_))) => Cost::Fixed(4),
            // Up to 800 KV deletions: it runs alone, within the 1,000 KV operations.
            (_, Some(Job::Purge(_))) => Cost::Fixed(subrequests::BUDGET),
        })
        .collect();
    // The event log of each integration with deliveries is written once after the batch: a
    // request each.
    let log_writes = jobs
        .iter()
        .flatten()
        .filter_map(|job| match job {
            Job::Deliver(delivery) => Some(delivery.integration_id.as_str()),
            _ => None,
        })
        .collect::<std::collections::BTreeSet<_>>()
        .len() as u32;
    let now = subrequests::plan(&costs, subrequests::BUDGET.saturating_sub(log_writes));

    let mut acks = vec![Ack::Done; messages.len()];
    let later: Vec<usize> = (0..messages.len()).filter(|i| !now[*i]).collect();
    if !later.is_empty() {
        let texts: Vec<String> = later.iter().map(|i| messages[*i].clone()).collect();
        for chunk in texts.chunks(crate::ports::MAX_BATCH) {
            if let Err(e) = p.send_batch(queue, chunk).await {
                p.log(&format!("could not put messages back on the queue: {e}"));
                for i in &later {
                    acks[*i] = Ack::Redeliver;
                }
                break;
            }
        }
        p.log(&format!(
            "{} message(s) of this batch left for another invocation (subrequest budget)",
            later.len()
        ));
    }

    let mut groups: BTreeMap<String, Vec<(usize, Delivery)>> = BTreeMap::new();
    let mut singles: Vec<usize> = Vec::new();
    for index in (0..messages.len()).filter(|i| now[*i]) {
        match &jobs[index] {
            Some(Job::Deliver(d)) if queue != QueueName::DeadLetters => groups
                .entry(d.integration_id.clone())
                .or_default()
                .push((index, d.clone())),
            _ => singles.push(index),
        }
    }
    let singles = futures_util::future::join_all(singles.into_iter().map(|index| async move {
        let ack = handle_message(p, config, queue, &messages[index]).await;
        vec![(index, ack)]
    }));
    let integrations = &integrations;
    let groups = futures_util::future::join_all(groups.into_iter().map(
        |(integration_id, group)| async move {
            let (indexes, deliveries): (Vec<usize>, Vec<Delivery>) = group.into_iter().unzip();
            let integration = integrations.get(&integration_id).and_then(|i| i.as_ref());
            let ack = match deliver(p, config, &integration_id, integration, deliveries).await {
                Ok(()) => Ack::Done,
                Err(e) => {
                    p.log(&format!("will retry deliveries of {integration_id}: {e}"));
                    Ack::Redeliver
                }
            };
            indexes.into_iter().map(|i| (i, ack)).collect::<Vec<_>>()
        },
    ));
    let (singles, groups) = futures_util::future::join(singles, groups).await;
    for (index, ack) in singles.into_iter().chain(groups).flatten() {
        acks[index] = ack;
    }
    acks
}

/// Deliveries of one integration, or their drop when it no longer exists.
async fn deliver<P: Platform>(
    p: &P,
    config: &Config,
    integration_id: &str,
    integration: Option<&Integration>,
    deliveries: Vec<Delivery>,
) -> Result<(), InfraError> {
    let Some(integration) = integration else {
        for delivery in deliveries {
            p.log(&format!(
                "dropped delivery {}: integration {integration_id} no longer exists",
                delivery.id
            ));
        }
        return Ok(());
    };
    crate::delivery::deliver(p, config, integration, deliveries).await
}

async fn import_step<P: Platform>(p: &P, config: &Config, job: SyncJob) -> Result<(), InfraError> {
    if job.trigger == import::Trigger::Schedule && job.state.is_none() {
        // The same tick runs the contact sync passes, where the integration has them.
        if let Err(e) = crate::contact_sync::start_passes(p, &job.integration_id).await {
            p.log(&format!(
                "contact sync of integration {} not started: {e}",
                job.integration_id
            ));
        }
    }
    match import::sync(p, config, &job.integration_id, job.trigger, job.state).await {
        Ok(SyncAnswer::Report(report)) => p.log(&format!(
            "import run {} of integration {}: {:?}, {} seen, {} imported, {} skipped",
            report.run_id,
            job.integration_id,
            report.status,
            report.seen,
            report.imported,
            report.skipped
        )),
        Ok(answer) => p.log(&format!(
            "import of integration {}: {answer:?}",
            job.integration_id
        )),
        Err(ImportError::Infra(e)) => return Err(e),
        Err(e) => p.log(&format!(
            "import of integration {} not run: {e}",
            job.integration_id
        )),
    }
    Ok(())
}

async fn import_one<P: Platform>(p: &P, config: &Config, job: CallJob) -> Result<(), InfraError> {
    match import::import_call(p, config, job).await {
        Ok(()) => Ok(()),
        Err(ImportError::Infra(e)) => Err(e),
        Err(e) => {
            p.log(&format!("a call import failed: {e}"));
            Ok(())
        }
    }
}

async fn record_dead_letter<P: Platform>(p: &P, letter: DeadLetter) -> Result<(), InfraError> {
    DeadLetters::new(p).record(&letter).await?;
    p.log(&format!(
        "delivery {} of integration {} failed for good after {} attempt(s): {}",
        letter.delivery.id, letter.delivery.integration_id, letter.attempts, letter.reason
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::Job;
    use crate::delivery::{DeadLetters, Payload};
    use crate::ports::{FetchError, Store};
    use crate::testing::{answer, config, integration, run, MemoryPlatform};
    use serde_json::json;

    /// Messages already on a queue when a new version is deployed must still be read: each
    /// sample was written by an earlier version, one per kind.
    #[test]
    fn every_kind_written_before_is_still_read() {
        let mut kinds = std::collections::BTreeSet::new();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/queue");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let job = Job::from_message(&text)
                .unwrap_or_else(|e| panic!("{} is no longer read: {e}", path.display()));
            kinds.insert(crate::queue::envelope(&text).unwrap().kind);
            // What this version writes reads back the same.
            assert_eq!(Job::from_message(&job.to_message()).unwrap(), job);
        }
        let every_kind = [
            "contact",
            "contact_pass",
            "deliver",
            "failed",
            "import",
            "purge",
            "sync",
        ];
        assert_eq!(kinds.into_iter().collect::<Vec<_>>(), every_kind);
    }

    fn delivery(integration_id: &str, attempt: u32) -> Delivery {
        Delivery {
            id: "msg_0123".into(),
            integration_id: integration_id.into(),
            event: "call.ended".into(),
            occurred_at: 1_700_000_000,
            payload: Payload::Inline {
                data: json!({"id": 812}).as_object().unwrap().clone(),
            },
            attempt,
        }
    }

    fn handle(p: &MemoryPlatform, queue: QueueName, job: Job) -> Ack {
        run(handle_message(p, &config(), queue, &job.to_message()))
    }

    #[test]
    fn delivers_signed_and_sends_nothing_more() {
        let p = MemoryPlatform::default();
        let (i, secret, _) = integration(&p, None);
        assert_eq!(
            handle(&p, QueueName::Jobs, Job::Deliver(delivery(&i.id, 1))),
            Ack::Done
        );
        let requests = p.requests.borrow();
        let request = &requests[0];
        assert_eq!(request.url, "https://receiver.test/hook");
        let header = |n: &str| {
            request
                .headers
                .iter()
                .find(|(k, _)| k == n)
                .unwrap()
                .1
                .clone()
        };
        let timestamp: u64 = header("webhook-timestamp").parse().unwrap();
        let secret = crate::crypto::SigningSecret::parse(&secret).unwrap();
        assert_eq!(
            header("webhook-signature"),
            crate::crypto::sign(&secret, "msg_0123", timestamp, &request.body)
        );
        assert!(p.take_sent().is_empty());
    }

    #[test]
    fn a_retryable_failure_is_requeued_with_back_off_and_retry_after() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        p.respond(|_| Ok(answer(503, &[], "")));
        handle(&p, QueueName::Jobs, Job::Deliver(delivery(&i.id, 2)));
        let (queue, message, delay) = p.take_sent().remove(0);
        assert_eq!(queue, QueueName::Jobs);
        assert!((16..=24).contains(&delay), "{delay}"); // 5 * 4 +-20%
        let Job::Deliver(next) = Job::from_message(&message).unwrap() else {
            panic!()
        };
        assert_eq!((next.attempt, next.id.as_str()), (3, "msg_0123"));

        p.respond(|_| Ok(answer(429, &[("retry-after", "600")], "")));
        handle(&p, QueueName::Jobs, Job::Deliver(delivery(&i.id, 1)));
        assert_eq!(p.take_sent()[0].2, 600);
    }

    #[test]
    fn gives_up_after_the_last_attempt_or_on_a_permanent_refusal() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        p.respond(|_| Err(FetchError::Timeout(15_000)));
        handle(
            &p,
            QueueName::Jobs,
            Job::Deliver(delivery(&i.id, config().retry.max_attempts)),
        );
        p.respond(|_| Ok(answer(404, &[], "no such hook")));
        handle(&p, QueueName::Jobs, Job::Deliver(delivery(&i.id, 1)));
        let sent = p.take_sent();
        let reasons: Vec<_> = sent
            .iter()
            .map(|(queue, message, _)| {
                assert_eq!(*queue, QueueName::DeadLetters);
                let Job::Failed(letter) = Job::from_message(message).unwrap() else {
                    panic!()
                };
                (letter.attempts, letter.reason)
            })
            .collect();
        assert_eq!(
            reasons,
            vec![
                (10, "no answer within 15000 ms".to_string()),
                (
                    1,
                    "the destination answered HTTP 404: no such hook".to_string()
                )
            ]
        );
        // The dead-letter consumer records them for the admin.
        for (_, message, _) in sent {
            assert_eq!(
                run(handle_message(
                    &p,
                    &config(),
                    QueueName::DeadLetters,
                    &message
                )),
                Ack::Done
            );
        }
        assert_eq!(
            run(DeadLetters::new(&p).list(&i.id)).unwrap().len(),
            1,
            "same delivery id: one record"
        );
    }

    #[test]
    fn what_exceeds_the_subrequest_budget_goes_back_on_the_queue() {
        let p = MemoryPlatform::default();
        let (mut i, _, _) = integration(&p, None);
        // Inactive: each job ends at once, so what the queue gets is what was put back.
        i.status = crate::integration::Status::Inactive;
        run(Integrations::new(&p).save(&i)).unwrap();
        let job = |n: i64| {
            Job::Import(Box::new(CallJob {
                integration_id: i.id.clone(),
                call_id: n,
                call: None,
                read_at: 0,
                origin: crate::import::Origin::Poll,
                run_id: None,
                attempt: 1,
            }))
            .to_message()
        };
        let messages: Vec<String> = (1..=10).map(job).collect();
        let acks = run(handle_batch(&p, &config(), QueueName::Jobs, &messages));
        assert_eq!(acks, vec![Ack::Done; 10]);
        // 8 imports of 6 subrequests fit in 48; the last two wait, not counted as retries.
        let sent = p.take_sent();
        assert_eq!(sent.len(), 2);
        assert_eq!((sent[0].1.as_str(), sent[0].2), (messages[8].as_str(), 0));

        // With `import.ai`, each also reads its transcript: 6 of 7 fit, four wait.
        i.import.ai = "when_available".into();
        run(Integrations::new(&p).save(&i)).unwrap();
        let acks = run(handle_batch(&p, &config(), QueueName::Jobs, &messages));
        assert_eq!(acks, vec![Ack::Done; 10]);
        let sent = p.take_sent();
        assert_eq!(sent.len(), 4);
        assert_eq!((sent[0].1.as_str(), sent[0].2), (messages[6].as_str(), 0));
    }

    #[test]
    fn each_integrations_event_log_write_is_counted_in_the_budget() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        let messages: Vec<String> = (0..48)
            .map(|n| {
                let d = Delivery {
                    id: format!("msg_{n:032x}"),
                    ..delivery(&i.id, 1)
                };
                Job::Deliver(d).to_message()
            })
            .collect();
        p.requests.borrow_mut().clear();
        run(handle_batch(&p, &config(), QueueName::Jobs, &messages));
        // 47 deliveries and the log's write make 48; the last delivery waits.
        assert_eq!(p.requests.borrow().len(), 47);
        let sent = p.take_sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].1, messages[47]);
        run(p.flush_log());
        assert_eq!(
            p.event_logs.borrow()[&i.id]
                .0
                .borrow()
                .keys()
                .filter(|k| k.starts_with("id:"))
                .count(),
            47
        );
    }

    #[test]
    fn a_store_failure_is_redelivered_by_the_platform_then_delivered_once() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        p.failing_store_calls.set(1);
        let message = Job::Deliver(delivery(&i.id, 1));
        assert_eq!(handle(&p, QueueName::Jobs, message.clone()), Ack::Redeliver);
        assert!(
            p.requests.borrow().is_empty(),
            "nothing sent without the integration"
        );
        assert_eq!(handle(&p, QueueName::Jobs, message), Ack::Done);
        assert_eq!(p.requests.borrow().len(), 1);
        assert!(p.take_sent().is_empty());
    }

    #[test]
    fn a_retry_the_queue_refuses_is_redelivered_not_lost() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        p.respond(|_| Ok(answer(503, &[], "")));
        p.failing_queue_sends.set(1);
        let message = Job::Deliver(delivery(&i.id, 1));
        assert_eq!(handle(&p, QueueName::Jobs, message.clone()), Ack::Redeliver);
        assert!(p.take_sent().is_empty(), "the retry could not be queued");
        // Redelivered, the same attempt queues its retry this time.
        assert_eq!(handle(&p, QueueName::Jobs, message), Ack::Done);
        let Job::Deliver(next) = Job::from_message(&p.take_sent()[0].1).unwrap() else {
            panic!("a retry")
        };
        assert_eq!(next.attempt, 2);
    }

    #[test]
    fn a_payload_that_expired_in_kv_ends_as_a_dead_letter_saying_so() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        let key = Delivery::payload_key(&i.id, "msg_0123");
        let kept = crate::delivery::KEEP_SECONDS;
        run(p.put(&key, r#"{"id": 812}"#, Some(kept))).unwrap();
        let stored = Delivery {
            payload: Payload::Stored { key },
            ..delivery(&i.id, 1)
        };
        p.now_ms.set(p.now_ms.get() + kept * 1000);
        assert_eq!(handle(&p, QueueName::Jobs, Job::Deliver(stored)), Ack::Done);
        assert!(p.requests.borrow().is_empty());
        let Job::Failed(letter) = Job::from_message(&p.take_sent()[0].1).unwrap() else {
            panic!("a dead letter")
        };
        assert!(letter.reason.contains("expired"), "{}", letter.reason);
    }

    #[test]
    fn what_the_platform_dead_letters_is_recorded_too() {
        let p = MemoryPlatform::default();
        let (i, _, _) = integration(&p, None);
        handle(&p, QueueName::DeadLetters, Job::Deliver(delivery(&i.id, 4)));
        let letters = run(DeadLetters::new(&p).list(&i.id)).unwrap();
        assert_eq!(letters[0].attempts, 4);
        assert!(letters[0].reason.contains("could not process"));
    }

    #[test]
    fn drops_deliveries_of_deleted_integrations_and_unreadable_messages() {
        let p = MemoryPlatform::default();
        let job = Job::Deliver(delivery("int_0123456789abcdef0123", 1));
        assert_eq!(handle(&p, QueueName::Jobs, job), Ack::Done);
        assert_eq!(
            run(handle_message(&p, &config(), QueueName::Jobs, "not json")),
            Ack::Done
        );
        assert!(p.requests.borrow().is_empty() && p.take_sent().is_empty());
        assert_eq!(p.logs.borrow().len(), 2);
    }
}
