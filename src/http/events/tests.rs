//! The event log through the real paths: a webhook received, its delivery handled by the
//! consumer, then the admin API's search, detail and "send again".

use crate::consumer::handle_batch;
use crate::event_log::Status;
use crate::http::{handle, Request};
use crate::ports::QueueName;
use crate::testing::{answer, config, integration, run, MemoryPlatform};
use serde_json::{json, Value};

const ADMIN: &str = "Bearer test-admin-token-0123456789";

fn api(p: &MemoryPlatform, method: &str, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
    let mut request = Request::get(path, query).with_header("authorization", ADMIN);
    request.method = method.into();
    let response = run(handle(p, &Ok(config()), request));
    (
        response.status,
        serde_json::from_slice(&response.body).unwrap(),
    )
}

fn webhook(p: &MemoryPlatform, id: &str, event: &str, data: Value) -> Value {
    let body = json!({"resource": "call", "event": event, "timestamp": 1_763_980_000,
                      "token": "aircall-token-1", "data": data});
    let mut request = Request::get(&format!("/webhooks/aircall/{id}"), &[]);
    request.method = "POST".into();
    request.body = body.to_string().into_bytes();
    let response = run(handle(p, &Ok(config()), request));
    assert_eq!(response.status, 202);
    serde_json::from_slice(&response.body).unwrap()
}

/// Handles what is queued, as the consumer would, until nothing is left.
fn pump(p: &MemoryPlatform) {
    for _ in 0..50 {
        let sent = p.take_sent();
        if sent.is_empty() {
            return;
        }
        for queue in [QueueName::Jobs, QueueName::Work, QueueName::DeadLetters] {
            let messages: Vec<String> = sent
                .iter()
                .filter(|(q, _, _)| *q == queue)
                .map(|(_, m, _)| m.clone())
                .collect();
            if !messages.is_empty() {
                run(handle_batch(p, &config(), queue, &messages));
            }
        }
    }
    panic!("the queues never emptied");
}

fn call(id: i64, phone: &str) -> Value {
    json!({"id": id, "raw_digits": phone, "number": {"id": 789, "digits": "+33 1 76 36 06 95"},
           "direction": "inbound", "ended_at": 1_763_980_100})
}

#[test]
fn delivered_filtered_and_failed_events_are_listed_with_their_status_and_found() {
    let p = MemoryPlatform::default();
    let (i, _, _) = integration(&p, Some(vec!["call.ended", "call.tagged"]));
    p.respond(|r| match r.body.windows(4).any(|w| w == b"4040") {
        true => Ok(answer(410, &[], "gone")),
        false => Ok(answer(200, &[], "")),
    });
    let delivered = webhook(&p, &i.id, "call.ended", call(812, "+33 6 12 34 56 78"));
    let filtered = webhook(&p, &i.id, "call.created", call(813, "+1 415 555 0100"));
    assert_eq!(filtered["status"], "ignored");
    webhook(&p, &i.id, "call.tagged", call(4040, "+44 330 818 6690"));
    pump(&p);

    let path = format!("/api/integrations/{}/events", i.id);
    let (status, page) = api(&p, "GET", &path, &[]);
    assert_eq!(status, 200, "{page}");
    let rows: Vec<(String, String, i64)> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap().to_string(),
                e["status"].as_str().unwrap().to_string(),
                e["call_id"].as_i64().unwrap(),
            )
        })
        .collect();
    // Ingress writes the filtered one after answering; the others come with their delivery.
    assert!(
        rows.contains(&("call.ended".into(), "delivered".into(), 812)),
        "{rows:?}"
    );
    assert!(
        rows.contains(&("call.created".into(), "filtered".into(), 813)),
        "{rows:?}"
    );
    assert!(
        rows.contains(&("call.tagged".into(), "failed".into(), 4040)),
        "{rows:?}"
    );
    let created = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["call_id"] == 813)
        .unwrap();
    assert_eq!(
        created["reason"],
        "the integration does not forward this event"
    );

    let (_, by_call) = api(&p, "GET", &path, &[("call_id", "812")]);
    assert_eq!(by_call["events"].as_array().unwrap().len(), 1);
    assert_eq!(by_call["events"][0]["id"], delivered["delivery_id"]);
    let (_, by_phone) = api(&p, "GET", &path, &[("phone", "+1 (415) 555-0100")]);
    assert_eq!(by_phone["events"][0]["call_id"], 813);
    let (_, by_name) = api(&p, "GET", &path, &[("event", "call.tagged")]);
    assert_eq!(by_name["events"][0]["status"], "failed");

    let (status, bad) = api(&p, "GET", &path, &[("call_id", "x"), ("limit", "0")]);
    assert_eq!(status, 400);
    let fields: Vec<&str> = bad["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["call_id", "limit"]);
}

#[test]
fn an_event_shows_both_payloads_without_secrets_and_is_sent_again_under_its_own_id() {
    let p = MemoryPlatform::default();
    let (i, secret, _) = integration(&p, None);
    p.respond(|_| Ok(answer(200, &[], "")));
    let queued = webhook(&p, &i.id, "call.ended", call(812, "+33 6 12 34 56 78"));
    pump(&p);
    let event_id = queued["delivery_id"].as_str().unwrap();
    let path = format!("/api/integrations/{}/events/{event_id}", i.id);
    let (status, detail) = api(&p, "GET", &path, &[]);
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["received"]["payload"]["id"], 812);
    assert_eq!(detail["sent"]["payload"]["body"]["type"], "call.ended");
    assert_eq!(detail["sent"]["payload"]["headers"]["webhook-id"], event_id);
    let text = detail.to_string();
    assert!(!text.contains(&secret) && !text.contains("aircall-token-1") && !text.contains("v1,"));
    assert_eq!(detail["history"].as_array().unwrap().len(), 1);

    let (status, again) = api(&p, "POST", &format!("{path}/redeliver"), &[]);
    assert_eq!(status, 202, "{again}");
    let resend = again["delivery_id"].as_str().unwrap().to_string();
    assert_eq!(resend, format!("{event_id}r1"));
    p.requests.borrow_mut().clear();
    pump(&p);
    let requests = p.requests.borrow();
    let webhook_id = requests[0]
        .headers
        .iter()
        .find(|(n, _)| n == "webhook-id")
        .unwrap();
    assert_eq!(webhook_id.1, resend);
    drop(requests);
    let (_, detail) = api(&p, "GET", &path, &[]);
    let history = detail["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        (
            history[1]["status"].as_str(),
            history[1]["delivery_id"].as_str()
        ),
        (Some("delivered"), Some(resend.as_str()))
    );
    // A second resend gets the next id.
    let (_, again) = api(&p, "POST", &format!("{path}/redeliver"), &[]);
    pump(&p);
    assert_eq!(again["delivery_id"], format!("{event_id}r2"));

    let (status, _) = api(
        &p,
        "GET",
        &format!("/api/integrations/{}/events/msg_nothere", i.id),
        &[],
    );
    assert_eq!(status, 404);
}

#[test]
fn a_log_that_cannot_be_written_loses_no_delivery() {
    let p = MemoryPlatform::default();
    let (i, _, _) = integration(&p, None);
    p.respond(|_| Ok(answer(200, &[], "")));
    p.requests.borrow_mut().clear();
    p.event_log_down.set(true);
    webhook(&p, &i.id, "call.ended", call(812, "+33 6 12 34 56 78"));
    pump(&p);
    let delivered = p
        .requests
        .borrow()
        .iter()
        .filter(|r| r.url == "https://receiver.test/hook")
        .count();
    assert_eq!(delivered, 1);
    p.event_log_down.set(false);
    let (_, page) = api(
        &p,
        "GET",
        &format!("/api/integrations/{}/events", i.id),
        &[],
    );
    assert!(page["events"].as_array().unwrap().is_empty());
}

#[test]
fn waits_and_retries_are_steps_of_one_event() {
    let p = MemoryPlatform::default();
    let (i, _, _) = integration(&p, None);
    p.respond(|_| Ok(answer(503, &[], "")));
    let queued = webhook(&p, &i.id, "call.ended", call(812, "+33 6 12 34 56 78"));
    let messages: Vec<String> = p.take_sent().into_iter().map(|(_, m, _)| m).collect();
    run(handle_batch(&p, &config(), QueueName::Jobs, &messages[..1]));
    let event_id = queued["delivery_id"].as_str().unwrap();
    let (_, detail) = api(
        &p,
        "GET",
        &format!("/api/integrations/{}/events/{event_id}", i.id),
        &[],
    );
    assert_eq!(detail["status"], json!(Status::Retrying));
    assert_eq!(
        detail["history"][0]["reason"],
        "the destination answered HTTP 503"
    );
}
