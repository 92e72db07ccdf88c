//! Delivering a queue batch's Segment deliveries of one integration: each completed from
//! Aircall when its payload is minimal, filtered by number, mapped, trimmed, and all of them
//! sent in as few `/v1/batch` requests as Segment's limits allow (usually one).

use super::batch::{self, Region, MAX_MESSAGE_BYTES};
use super::mapping;
use crate::aircall::{AircallClient, AircallError};
use crate::config::Config;
use crate::consumer::{give_up, load_payload, settle};
use crate::delivery::Delivery;
use crate::infra::InfraError;
use crate::integration::{Destination, Integration};
use crate::ports::{FetchError, HttpResponse, Platform};
use crate::retry::{classify, Outcome};
use serde_json::{Map, Value};

/// What reading a minimal call from Aircall came to.
enum Read {
    Call(Map<String, Value>),
    /// The account's rate budget is spent: wait this long; not a failed attempt.
    Wait(u32),
    /// Worth another attempt (Aircall down).
    Retry(String),
    /// Reading will not help (no such call, credentials refused): deliver what we have.
    Skip(String),
}

async fn read_call<P: Platform>(
    p: &P,
    config: &Config,
    integration: &Integration,
    call_id: i64,
) -> Read {
    let credentials = match integration.credentials(&config.sealer) {
        Ok(c) => c,
        Err(e) => return Read::Skip(format!("the Aircall credentials cannot be read: {e}")),
    };
    let client = AircallClient::new(p, config, &credentials);
    match client.get_call(call_id).await {
        Ok(call) => match serde_json::to_value(call) {
            Ok(Value::Object(call)) => Read::Call(call),
            _ => Read::Skip("the call does not serialize".into()),
        },
        Err(AircallError::RateLimited {
            retry_after_seconds,
        }) => Read::Wait(retry_after_seconds.clamp(1, 3600) as u32),
        Err(e @ (AircallError::Rejected { .. } | AircallError::Failed { status: 404, .. })) => {
            Read::Skip(e.to_string())
        }
        Err(e) => Read::Retry(e.to_string()),
    }
}

/// Segment's answer. A refused write key and a refused body are permanent and say so;
/// the rest is read like any destination's (429 with Retry-After, 5xx, timeouts: retry).
pub fn outcome(result: &Result<HttpResponse, FetchError>, now_seconds: u64) -> Outcome {
    if let Ok(response) = result {
        let said: String = String::from_utf8_lossy(&response.body)
            .chars()
            .take(200)
            .collect();
        match response.status {
            401 | 403 => {
                return Outcome::Failed {
                    reason: format!(
                        "Segment refused the write key (HTTP {}): check destination.write_key and region. {}",
                        response.status,
                        said.trim()
                    )
                    .trim_end()
                    .to_string(),
                }
            }
            400 | 413 => {
                return Outcome::Failed {
                    reason: format!(
                        "Segment refused the batch (HTTP {}): {}",
                        response.status,
                        said.trim()
                    ),
                }
            }
            _ => {}
        }
    }
    classify(result, now_seconds)
}

/// Delivers `deliveries` (all of `integration`, a Segment destination).
pub(crate) async fn deliver_all<P: Platform>(
    p: &P,
    config: &Config,
    integration: &Integration,
    deliveries: Vec<Delivery>,
) -> Result<(), InfraError> {
    let Some(Destination::Segment { region }) = &integration.destination else {
        unreachable!("only Segment deliveries come here")
    };
    let slot = Integration::slot(&integration.id, "destination_secret");
    let write_key = match config
        .sealer
        .open(&integration.sealed.destination_secret, &slot)
    {
        Ok(key) => key,
        Err(e) => {
            for delivery in deliveries {
                let reason = format!("the Segment write key cannot be read: {e}");
                give_up(p, delivery, reason).await?;
            }
            return Ok(());
        }
    };

    let mut ready: Vec<Delivery> = Vec::new();
    let mut messages: Vec<(usize, Vec<Map<String, Value>>)> = Vec::new();
    for delivery in deliveries {
        let Some(mut data) = load_payload(p, &delivery).await? else {
            let reason = "the event's payload expired before it could be delivered".into();
            give_up(p, delivery, reason).await?;
            continue;
        };
        if let Some(call_id) = crate::selection::needs_enrichment(&delivery.event, &data) {
            match read_call(p, config, integration, call_id).await {
                Read::Call(call) => crate::selection::enrich(&mut data, call),
                Read::Wait(seconds) => {
                    let reason = format!("Aircall's rate budget, to read call {call_id}");
                    settle(p, config, delivery, Outcome::Wait { reason, seconds }).await?;
                    continue;
                }
                Read::Retry(reason) if !config.retry.gives_up_after(delivery.attempt) => {
                    let reason = format!("call {call_id} could not be read: {reason}");
                    let retry = Outcome::Retry {
                        reason,
                        retry_after: None,
                    };
                    settle(p, config, delivery, retry).await?;
                    continue;
                }
                Read::Retry(why) | Read::Skip(why) => p.log(&format!(
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
                settle(p, config, delivery, Outcome::Delivered).await?;
                continue;
            }
        }
        let mut mapped =
            mapping::messages(&delivery.id, &delivery.event, delivery.occurred_at, &data);
        for message in &mut mapped {
            let removed = mapping::trim(message, MAX_MESSAGE_BYTES);
            if !removed.is_empty() {
                p.log(&format!(
                    "delivery {}: over Segment's 32 KB, removed {}",
                    delivery.id,
                    removed.join(", ")
                ));
            }
        }
        messages.push((ready.len(), mapped));
        ready.push(delivery);
    }

    let base = match region {
        Region::Us => &config.segment_us_base,
        Region::Eu => &config.segment_eu_base,
    };
    let mut ready: Vec<Option<Delivery>> = ready.into_iter().map(Some).collect();
    for batch in batch::pack(messages) {
        let count = batch.messages.len();
        let request = batch::request(
            base,
            &write_key,
            batch.messages,
            p.now_seconds(),
            config.delivery_timeout_ms,
        );
        let result = p.fetch(request).await;
        let outcome = outcome(&result, p.now_seconds());
        p.log(&format!(
            "Segment batch of {count} message(s) for integration {}: {outcome:?}",
            integration.id
        ));
        for index in batch.deliveries {
            let delivery = ready[index].take().expect("each delivery is in one batch");
            settle(p, config, delivery, outcome.clone()).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::Job;
    use crate::consumer::{handle_batch, Ack};
    use crate::delivery::{DeadLetter, Payload};
    use crate::integration::{NewDestination, NewIntegration};
    use crate::ports::QueueName;
    use crate::selection::NumberRef;
    use crate::testing::{answer, config, run, MemoryPlatform};
    use serde_json::json;

    /// A Segment integration created through the real `create`, Aircall answered here.
    fn segment_integration(p: &MemoryPlatform, numbers: Option<Vec<NumberRef>>) -> Integration {
        p.respond(|request| match (request.method, request.url.as_str()) {
            ("GET", "https://aircall.test/v1/ping") => Ok(answer(200, &[], "{}")),
            ("POST", "https://aircall.test/v1/webhooks") => Ok(answer(
                201,
                &[],
                r#"{"webhook":{"webhook_id":"wh-1","token":"t"}}"#,
            )),
            _ => Ok(answer(404, &[], "")),
        });
        let new = NewIntegration {
            name: "Segment".into(),
            credentials: crate::aircall::Credentials::Basic {
                api_id: "id".into(),
                api_token: "token".into(),
            },
            destination: Some(NewDestination::Segment {
                write_key: "wk_good".into(),
                region: Region::Eu,
            }),
            events: None,
            import: Default::default(),
            numbers,
            contact_sync: None,
        };
        let created = run(crate::integration::create(p, &config(), new)).unwrap();
        assert!(
            created.destination_secret.is_none(),
            "a write key is never shown"
        );
        p.requests.borrow_mut().clear();
        created.integration
    }

    fn delivery(integration: &Integration, n: i64, data: Value) -> String {
        let data = data.as_object().unwrap().clone();
        Job::Deliver(Delivery {
            id: format!("msg_{n:032}"),
            integration_id: integration.id.clone(),
            event: "call.ended".into(),
            occurred_at: 1_700_000_000 + n,
            payload: Payload::Inline { data },
            attempt: 1,
        })
        .to_message()
    }

    fn full_call(id: i64, number: i64) -> Value {
        json!({"id": id, "user": {"id": 4}, "number": {"id": number}, "contact": null, "recording": null})
    }

    fn sent_batches(p: &MemoryPlatform) -> Vec<Value> {
        p.requests
            .borrow()
            .iter()
            .filter(|r| r.url.ends_with("/v1/batch"))
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    }

    #[test]
    fn a_queue_batch_of_one_integration_goes_in_one_request_to_its_region() {
        let p = MemoryPlatform::default();
        let i = segment_integration(&p, None);
        p.respond(|_| Ok(answer(200, &[], r#"{"success":true}"#)));
        let messages: Vec<String> = (1..=8).map(|n| delivery(&i, n, full_call(n, 1))).collect();
        let acks = run(handle_batch(&p, &config(), QueueName::Jobs, &messages));
        assert_eq!(acks, vec![Ack::Done; 8]);
        let requests = p.requests.borrow();
        assert_eq!(requests.len(), 1);
        assert_eq!(
            requests[0].url,
            "https://events.eu1.segmentapis.com/v1/batch"
        );
        drop(requests);
        let batch = &sent_batches(&p)[0]["batch"];
        assert_eq!(batch.as_array().unwrap().len(), 8);
        assert_eq!(batch[0]["messageId"], format!("msg_{:032}-track", 1));
        assert_eq!(batch[0]["userId"], "4");
        assert!(p.take_sent().is_empty(), "nothing re-queued");
    }

    #[test]
    fn a_refused_write_key_dead_letters_every_delivery_with_the_reason() {
        let p = MemoryPlatform::default();
        let i = segment_integration(&p, None);
        p.respond(|_| Ok(answer(401, &[], r#"{"error":"invalid write key"}"#)));
        let messages: Vec<String> = (1..=2).map(|n| delivery(&i, n, full_call(n, 1))).collect();
        run(handle_batch(&p, &config(), QueueName::Jobs, &messages));
        let sent = p.take_sent();
        assert_eq!(sent.len(), 2);
        for (queue, message, _) in sent {
            assert_eq!(queue, QueueName::DeadLetters);
            let Job::Failed(DeadLetter { reason, .. }) = Job::from_message(&message).unwrap()
            else {
                panic!()
            };
            assert!(
                reason.contains("Segment refused the write key (HTTP 401)"),
                "{reason}"
            );
        }
    }

    /// Delivers one event into a Segment outage of `outage_seconds` with the default retry
    /// schedule, the clock jumping to each re-queued attempt: answers when it arrived (in
    /// seconds after the first try) and after how many attempts, or `None` if it was given up.
    fn through_an_outage(outage_seconds: u64) -> Option<(u64, u32)> {
        let p = MemoryPlatform::default();
        let start_ms = 1_700_000_000_000;
        p.now_ms.set(start_ms);
        let i = segment_integration(&p, None);
        let up_at = start_ms + outage_seconds * 1000;
        let mut message = delivery(&i, 1, full_call(1, 1));
        loop {
            let up = p.now_ms.get() >= up_at;
            p.respond(move |_| match up {
                true => Ok(answer(200, &[], r#"{"success":true}"#)),
                false => Ok(answer(503, &[], r#"{"message":"unavailable"}"#)),
            });
            let acks = run(handle_batch(
                &p,
                &config(),
                QueueName::Jobs,
                &[message.clone()],
            ));
            assert_eq!(acks, vec![Ack::Done]);
            let sent = p.take_sent();
            if up {
                assert!(sent.is_empty(), "delivered: {sent:?}");
                let Job::Deliver(last) = Job::from_message(&message).unwrap() else {
                    unreachable!()
                };
                return Some(((p.now_ms.get() - start_ms) / 1000, last.attempt));
            }
            let [(queue, next, delay)] = sent.as_slice() else {
                panic!("one message back on a queue: {sent:?}")
            };
            if *queue == QueueName::DeadLetters {
                return None;
            }
            p.now_ms.set(p.now_ms.get() + u64::from(*delay) * 1000);
            message = next.clone();
        }
    }

    #[test]
    fn an_outage_of_minutes_or_hours_loses_nothing_on_the_default_schedule() {
        // Default schedule: 10 attempts, 5 s * 4^(n-1) +-20% apart, at most 12 h. Each bound
        // is the first attempt after the outage at its latest jitter.
        assert_eq!(config().retry, crate::retry::RetryPolicy::default());
        for (outage, within) in [(3 * 60, 9 * 60), (30 * 60, 9_000), (20 * 3600, 34 * 3600)] {
            let (arrived, attempt) = through_an_outage(outage)
                .unwrap_or_else(|| panic!("a {outage} s outage lost the event"));
            assert!(
                (outage..=within).contains(&arrived),
                "a {outage} s outage: arrived after {arrived} s, attempt {attempt}"
            );
        }
        // Past the schedule's ~31 hours it lands in the dead letters, never silently lost.
        assert_eq!(through_an_outage(40 * 3600), None);
    }

    #[test]
    fn an_outage_retries_each_delivery_with_back_off() {
        let p = MemoryPlatform::default();
        let i = segment_integration(&p, None);
        p.respond(|_| Ok(answer(503, &[], "")));
        run(handle_batch(
            &p,
            &config(),
            QueueName::Jobs,
            &[delivery(&i, 1, full_call(1, 1))],
        ));
        let (queue, message, delay) = p.take_sent().remove(0);
        assert_eq!(queue, QueueName::Jobs);
        assert!((4..=6).contains(&delay), "{delay}");
        let Job::Deliver(next) = Job::from_message(&message).unwrap() else {
            panic!()
        };
        assert_eq!(next.attempt, 2);
    }

    #[test]
    fn a_minimal_call_is_read_from_aircall_then_filtered_by_number() {
        let p = MemoryPlatform::default();
        let i = segment_integration(&p, Some(vec![NumberRef::Id(789)]));
        p.respond(|request| {
            let call = match request.url.as_str() {
                "https://aircall.test/v1/calls/1" => {
                    json!({"id": 1, "started_at": 5, "number": {"id": 789}, "user": {"id": 4}})
                }
                "https://aircall.test/v1/calls/2" => {
                    json!({"id": 2, "started_at": 5, "number": {"id": 790}})
                }
                _ => return Ok(answer(200, &[], "{}")),
            };
            Ok(answer(200, &[], &json!({ "call": call }).to_string()))
        });
        let messages = vec![
            delivery(&i, 1, json!({"id": 1})),
            delivery(&i, 2, json!({"id": 2})),
        ];
        run(handle_batch(&p, &config(), QueueName::Jobs, &messages));
        let batches = sent_batches(&p);
        assert_eq!(batches.len(), 1);
        let batch = batches[0]["batch"].as_array().unwrap();
        assert_eq!(batch.len(), 1, "call 2 is about another number");
        assert_eq!(batch[0]["properties"]["number"]["id"], 789);
        assert_eq!(batch[0]["userId"], "4");
        assert_eq!(batch[0]["properties"]["contact"], Value::Null);
    }

    #[test]
    fn a_spent_rate_budget_makes_deliveries_wait_without_counting_an_attempt() {
        let p = MemoryPlatform::default();
        let i = segment_integration(&p, None);
        p.respond(|request| {
            if request.url.contains("/v1/calls/") {
                Ok(answer(200, &[], r#"{"call":{"id":1,"started_at":5}}"#))
            } else {
                Ok(answer(200, &[], "{}"))
            }
        });
        // 60 per minute, two of them spent creating the integration: the 59th read waits.
        // Two queue batches of 30 (one invocation takes at most 47 reads).
        for part in [1..=30, 31..=60] {
            let messages: Vec<String> = part.map(|n| delivery(&i, n, json!({"id": n}))).collect();
            run(handle_batch(&p, &config(), QueueName::Jobs, &messages));
        }
        let reads = p
            .requests
            .borrow()
            .iter()
            .filter(|r| r.url.contains("/v1/calls/"))
            .count();
        assert_eq!(reads, 58);
        let sent = p.take_sent();
        assert_eq!(sent.len(), 2);
        let (_, message, delay) = &sent[0];
        assert!(*delay >= 1);
        let Job::Deliver(waiting) = Job::from_message(message).unwrap() else {
            panic!()
        };
        assert_eq!(waiting.attempt, 1);
        let sizes: Vec<usize> = sent_batches(&p)
            .iter()
            .map(|b| b["batch"].as_array().unwrap().len())
            .collect();
        assert_eq!(sizes, vec![30, 28]);
    }

    #[test]
    fn a_refused_write_key_is_permanent_and_says_so() {
        let Outcome::Failed { reason } = outcome(&Ok(answer(401, &[], "")), 0) else {
            panic!()
        };
        assert!(
            reason.starts_with("Segment refused the write key (HTTP 401)"),
            "{reason}"
        );
        assert!(matches!(
            outcome(&Ok(answer(429, &[("retry-after", "7")], "")), 0),
            Outcome::Retry {
                retry_after: Some(7),
                ..
            }
        ));
        assert!(matches!(
            outcome(&Ok(answer(400, &[], "too big")), 0),
            Outcome::Failed { .. }
        ));
        assert_eq!(outcome(&Ok(answer(200, &[], "{}")), 0), Outcome::Delivered);
    }
}
