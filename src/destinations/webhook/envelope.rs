//! What a receiver gets: the Standard Webhooks envelope and headers, signed.

use crate::crypto::{sign, SigningSecret};
use crate::ports::HttpRequest;
use serde::Serialize;
use serde_json::{Map, Value};

/// What the receiver gets: `{type, timestamp, data}`, the Standard Webhooks envelope.
pub fn delivery_body(event: &str, occurred_at: i64, data: &Map<String, Value>) -> Vec<u8> {
    #[derive(Serialize)]
    struct Envelope<'a> {
        r#type: &'a str,
        timestamp: String,
        data: &'a Map<String, Value>,
    }
    let envelope = Envelope {
        r#type: event,
        timestamp: crate::time::rfc3339(occurred_at),
        data,
    };
    serde_json::to_vec(&envelope).expect("serializes")
}

/// One attempt: the same `webhook-id` every time, this attempt's timestamp and signature.
pub fn signed_request(
    url: &str,
    secret: &SigningSecret,
    webhook_id: &str,
    now_seconds: u64,
    body: Vec<u8>,
    timeout_ms: u32,
) -> HttpRequest {
    let signature = sign(secret, webhook_id, now_seconds, &body);
    let mut request = HttpRequest::new("POST", url)
        .header("content-type", "application/json")
        .header(
            "user-agent",
            concat!("aircall-connector/", env!("CARGO_PKG_VERSION")),
        )
        .header("webhook-id", webhook_id)
        .header("webhook-timestamp", now_seconds.to_string())
        .header("webhook-signature", signature);
    request.body = body;
    request.timeout_ms = timeout_ms;
    request
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn envelope_has_type_timestamp_and_data() {
        let data = json!({"id": 812}).as_object().unwrap().clone();
        let body = delivery_body("call.ended", 1_700_000_000, &data);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"type":"call.ended","timestamp":"2023-11-14T22:13:20Z","data":{"id":812}}"#
        );
    }

    #[test]
    fn request_carries_the_standard_webhooks_headers() {
        let secret = SigningSecret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let body = br#"{"email":"test@example.com","username":"test_user"}"#.to_vec();
        let request = signed_request(
            "https://r.example",
            &secret,
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1_649_367_553,
            body,
            15_000,
        );
        let header = |name: &str| {
            request
                .headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(
            header("webhook-id"),
            Some("msg_27UH4WbU6Z5A5EzD8u03UvzRbpk")
        );
        assert_eq!(header("webhook-timestamp"), Some("1649367553"));
        assert_eq!(
            header("webhook-signature"),
            Some("v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=")
        );
        assert_eq!(request.method, "POST");
    }
}
