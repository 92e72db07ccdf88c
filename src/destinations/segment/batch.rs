//! `POST /v1/batch` requests within Segment's limits. Segment answers 200 and drops what is
//! over them, so they are checked here, before sending.

use crate::ports::HttpRequest;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Segment's limit per message is 32 KB; a little under it, to be safe from rounding.
pub const MAX_MESSAGE_BYTES: usize = 32_000;
/// 500 KB per request; the envelope's bytes are counted too.
pub const MAX_REQUEST_BYTES: usize = 500_000;
/// At most 2,500 messages per request.
pub const MAX_MESSAGES: usize = 2_500;
/// `{"batch":[` ... `],"sentAt":"2025-01-01T00:00:00Z"}` and then some.
const ENVELOPE_BYTES: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Region {
    Us,
    Eu,
}

/// One request's worth: which deliveries (by index) it carries, and its messages.
#[derive(Debug, Default, PartialEq)]
pub struct Batch {
    pub deliveries: Vec<usize>,
    pub messages: Vec<Map<String, Value>>,
    bytes: usize,
}

/// Packs each delivery's messages (already trimmed under [`MAX_MESSAGE_BYTES`]) into as few
/// requests as the limits allow, in order. A delivery's messages never straddle two
/// requests, so each delivery succeeds or fails as one; except a delivery too large for any
/// one request (a long transcript's parts), which takes requests of its own, in order, and
/// is delivered when all of them are (its messages' ids are stable: a retry resends them
/// all and Segment drops the repeats).
pub fn pack(deliveries: Vec<(usize, Vec<Map<String, Value>>)>) -> Vec<Batch> {
    let mut batches: Vec<Batch> = Vec::new();
    for (index, messages) in deliveries {
        let sizes: Vec<usize> = messages.iter().map(super::mapping::size).collect();
        // Each message costs its bytes and a comma.
        let bytes: usize = sizes.iter().map(|s| s + 1).sum();
        let alone = messages.len() <= MAX_MESSAGES && ENVELOPE_BYTES + bytes <= MAX_REQUEST_BYTES;
        if !alone {
            for (message, size) in messages.into_iter().zip(sizes) {
                let fits = |b: &Batch| {
                    b.deliveries == [index]
                        && b.messages.len() < MAX_MESSAGES
                        && ENVELOPE_BYTES + b.bytes + size < MAX_REQUEST_BYTES
                };
                if !batches.last().is_some_and(fits) {
                    batches.push(Batch::default());
                }
                let batch = batches.last_mut().expect("one was just pushed");
                if batch.deliveries.is_empty() {
                    batch.deliveries.push(index);
                }
                batch.messages.push(message);
                batch.bytes += size + 1;
            }
            continue;
        }
        let fits = |b: &Batch| {
            b.messages.len() + messages.len() <= MAX_MESSAGES
                && ENVELOPE_BYTES + b.bytes + bytes <= MAX_REQUEST_BYTES
        };
        if !batches.last().is_some_and(fits) {
            batches.push(Batch::default());
        }
        let batch = batches.last_mut().expect("one was just pushed");
        batch.deliveries.push(index);
        batch.messages.extend(messages);
        batch.bytes += bytes;
    }
    batches
}

/// The request: HTTP Basic with the write key as user and an empty password.
pub fn request(
    base: &str,
    write_key: &str,
    messages: Vec<Map<String, Value>>,
    now_seconds: u64,
    timeout_ms: u32,
) -> HttpRequest {
    let body = serde_json::json!({
        "batch": messages,
        "sentAt": crate::time::rfc3339(now_seconds as i64),
    });
    let mut request = HttpRequest::new("POST", format!("{base}/v1/batch"))
        .header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("{write_key}:"))),
        )
        .header(
            "user-agent",
            concat!("aircall-connector/", env!("CARGO_PKG_VERSION")),
        )
        .json(&body);
    request.timeout_ms = timeout_ms;
    request
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(bytes: usize) -> Map<String, Value> {
        // {"p":"xxx"} is 8 bytes plus the padding
        json!({"p": "x".repeat(bytes - 8)})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn packs_by_bytes_and_keeps_a_deliverys_messages_together() {
        // 20 deliveries of two 15 KB messages: 30 KB each, 16 fit in 500 KB.
        let deliveries: Vec<_> = (0..20)
            .map(|i| (i, vec![message(15_000), message(15_000)]))
            .collect();
        let batches = pack(deliveries);
        assert_eq!(batches.len(), 2);
        assert_eq!(batches[0].deliveries, (0..16).collect::<Vec<_>>());
        assert_eq!(batches[0].messages.len(), 32);
        assert_eq!(batches[1].deliveries, (16..20).collect::<Vec<_>>());
        for batch in &batches {
            let body = request("https://s", "k", batch.messages.clone(), 0, 1).body;
            assert!(body.len() <= MAX_REQUEST_BYTES, "{}", body.len());
        }
    }

    #[test]
    fn a_delivery_too_large_for_one_request_takes_requests_of_its_own() {
        // A small delivery, then 40 parts of 30 KB (1.2 MB), then another small one.
        let deliveries = vec![
            (0, vec![message(100)]),
            (1, (0..40).map(|_| message(30_000)).collect()),
            (2, vec![message(100)]),
        ];
        let batches = pack(deliveries);
        let carried: Vec<Vec<usize>> = batches.iter().map(|b| b.deliveries.clone()).collect();
        // The parts start a request of their own; what follows may share their last one.
        assert_eq!(carried, vec![vec![0], vec![1], vec![1], vec![1, 2]]);
        let sent: usize = batches.iter().map(|b| b.messages.len()).sum();
        assert_eq!(sent, 42, "every message sent once");
        for batch in &batches {
            let body = request("https://s", "k", batch.messages.clone(), 0, 1).body;
            assert!(body.len() <= MAX_REQUEST_BYTES, "{}", body.len());
        }
    }

    #[test]
    fn packs_by_count() {
        let deliveries: Vec<_> = (0..6_000).map(|i| (i, vec![message(20)])).collect();
        let batches = pack(deliveries);
        let counts: Vec<usize> = batches.iter().map(|b| b.messages.len()).collect();
        assert_eq!(counts, vec![2_500, 2_500, 1_000]);
    }

    #[test]
    fn authenticates_with_the_write_key_as_basic_user() {
        let r = request(
            "https://api.segment.io",
            "wk_123",
            vec![message(20)],
            0,
            15_000,
        );
        assert_eq!(r.url, "https://api.segment.io/v1/batch");
        let auth = &r
            .headers
            .iter()
            .find(|(n, _)| n == "authorization")
            .unwrap()
            .1;
        assert_eq!(auth, &format!("Basic {}", STANDARD.encode("wk_123:")));
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["batch"].as_array().unwrap().len(), 1);
        assert_eq!(body["sentAt"], "1970-01-01T00:00:00Z");
    }
}
