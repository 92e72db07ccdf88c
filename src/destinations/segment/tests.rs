//! Test code only: declared under `#[cfg(test)]` in mod.rs.
//! The Segment destination end to end through the queue consumer: batching, regions,
//! outages, minimal calls read from Aircall, the write key refused.

use super::*;
use crate::consumer::Job;
use crate::consumer::{handle_batch, Ack};
use crate::delivery::{DeadLetter, Delivery, Payload};
use crate::integration::{Integration, NewIntegration};
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
        destination: Some(crate::testing::destination(serde_json::json!({"type": "segment", "write_key": "wk_good", "region": "eu"}))),
        events: None,
        import: Default::default(),
        numbers,
        contact_sync: None,
        insight_cards: None,
    };
    let created = run(crate::lifecycle::create(p, &config(), new)).unwrap();
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
            "https://aircall.test/v1/calls/1?fetch_contact=true" => {
                json!({"id": 1, "started_at": 5, "number": {"id": 789}, "user": {"id": 4}})
            }
            "https://aircall.test/v1/calls/2?fetch_contact=true" => {
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
    // 60 per minute, 54 for bulk work (a tenth is kept for insight cards), two of them spent
    // creating the integration: the 53rd read waits.
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
    assert_eq!(reads, 52);
    let sent = p.take_sent();
    assert_eq!(sent.len(), 8);
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
    assert_eq!(sizes, vec![30, 22]);
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

#[test]
fn the_default_has_the_seed_s_26_distinct_events_with_current_user_names_and_the_ai_events() {
    let mut names = DEFAULT_EVENTS.to_vec();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 31);
    for kind in crate::aircall::AiKind::ALL {
        assert!(names.contains(&kind.event()), "{}", kind.event());
    }
    assert!(names.iter().all(|n| crate::integration::is_event_name(n)));
    let users: Vec<_> = names.iter().filter(|n| n.starts_with("user.")).collect();
    assert_eq!(users.len(), 6);
    assert!(users.iter().all(|n| n.ends_with(".v2")), "{users:?}");
}

#[test]
fn a_900_kb_event_reaches_segment_under_32_kb_and_an_untrimmable_one_is_dead_lettered() {
    let p = MemoryPlatform::default();
    let i = segment_integration(&p, None);
    p.respond(|_| Ok(answer(200, &[], r#"{"success":true}"#)));
    // Complete calls, so that none is read from Aircall.
    let mut big = super::mapping::tests::call_of_900_kb();
    for field in ["number", "contact", "recording"] {
        big.insert(field.into(), Value::Null);
    }
    // Its user id alone is over 32 KB: no field removal can save it.
    let hopeless = json!({"id": 2, "user": {"id": "7".repeat(40_000)}, "number": null, "contact": null, "recording": null});
    let messages = vec![delivery(&i, 1, Value::Object(big)), delivery(&i, 2, hopeless)];
    let acks = run(handle_batch(&p, &config(), QueueName::Jobs, &messages));
    assert_eq!(acks, vec![Ack::Done; 2]);
    let batches = sent_batches(&p);
    assert_eq!(batches.len(), 1);
    let batch = batches[0]["batch"].as_array().unwrap();
    assert_eq!(batch.len(), 1, "only the one that fits is sent");
    assert!(serde_json::to_vec(&batch[0]).unwrap().len() <= MAX_MESSAGE_BYTES);
    assert_eq!(batch[0]["properties"]["trimmed_fields"][0], "comments");
    let sent = p.take_sent();
    let [(QueueName::DeadLetters, letter, _)] = sent.as_slice() else {
        panic!("the hopeless one is dead-lettered: {sent:?}")
    };
    let Job::Failed(DeadLetter { reason, .. }) = Job::from_message(letter).unwrap() else {
        panic!()
    };
    assert!(reason.contains("over Segment's 32000 bytes"), "{reason}");
}

/// A transcript of about 1.2 MB: its parts take several `/v1/batch` requests.
fn long_transcript() -> String {
    let utterances: Vec<Value> = (0..6_000)
        .map(|n| json!({"start_time": n, "end_time": n, "participant_type": "external",
            "phone_number": "+33612345678", "text": format!("line {n} {}", "w".repeat(160))}))
        .collect();
    json!({"transcription": {"id": 5, "call_id": 812, "type": "call",
        "content": {"language": "en", "utterances": utterances}}})
    .to_string()
}

fn ai_delivery(integration: &Integration) -> String {
    Job::Deliver(Delivery {
        id: format!("msg_{:032}", 77),
        integration_id: integration.id.clone(),
        event: "transcription.created".into(),
        occurred_at: 1_700_000_000,
        payload: Payload::Inline {
            data: json!({"id": 1, "call_id": 812}).as_object().unwrap().clone(),
        },
        attempt: 1,
    })
    .to_message()
}

#[test]
fn a_transcript_too_large_for_one_request_is_delivered_only_when_every_request_is() {
    let p = MemoryPlatform::default();
    let i = segment_integration(&p, None);
    let transcript = long_transcript();
    let batches = std::rc::Rc::new(std::cell::Cell::new(0));
    let seen = batches.clone();
    p.respond(move |request| {
        if request.url.ends_with("/transcription") {
            return Ok(answer(200, &[], Box::leak(transcript.clone().into_boxed_str())));
        }
        seen.set(seen.get() + 1);
        // Segment fails the second request of the parts.
        Ok(match seen.get() {
            2 => answer(503, &[], ""),
            _ => answer(200, &[], r#"{"success":true}"#),
        })
    });
    run(handle_batch(&p, &config(), QueueName::Jobs, &[ai_delivery(&i)]));
    assert!(batches.get() >= 3, "{} requests of parts, each under 500 KB", batches.get());
    let sent = sent_batches(&p);
    let parts: Vec<&Value> = sent.iter().flat_map(|b| b["batch"].as_array().unwrap()).collect();
    let count = parts[0]["properties"]["parts"].as_u64().unwrap() as usize;
    assert_eq!(parts.len(), count, "every part sent once");
    for request in p.requests.borrow().iter().filter(|r| r.url.ends_with("/v1/batch")) {
        assert!(request.body.len() <= MAX_REQUEST_BYTES, "{}", request.body.len());
    }
    // One of its requests failed: the whole delivery is retried (Segment drops the parts it
    // already has by their messageIds).
    let (queue, message, _) = p.take_sent().remove(0);
    assert_eq!(queue, QueueName::Jobs);
    let Job::Deliver(next) = Job::from_message(&message).unwrap() else {
        panic!()
    };
    assert_eq!(next.attempt, 2);
}
