//! The payload Aircall posts: `{resource, event, timestamp, token, data}`.

use serde_json::{Map, Value};
use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum WebhookProblem {
    #[error("the body is not valid JSON: {0}")]
    NotJson(String),
    #[error("the body must be a JSON object")]
    NotAnObject,
    #[error("\"{0}\" is missing or has the wrong type ({1})")]
    BadField(&'static str, &'static str),
}

#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    /// e.g. `call.ended`; names we do not know pass through.
    pub event: String,
    pub token: String,
    /// UNIX seconds at which Aircall emitted the event.
    pub timestamp: Option<i64>,
    pub data: Map<String, Value>,
}

impl WebhookEvent {
    pub fn parse(body: &[u8]) -> Result<Self, WebhookProblem> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| WebhookProblem::NotJson(e.to_string()))?;
        let Value::Object(mut obj) = value else {
            return Err(WebhookProblem::NotAnObject);
        };
        let event = match obj.remove("event") {
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 100 => s,
            _ => return Err(WebhookProblem::BadField("event", "a non-empty string")),
        };
        let token = match obj.remove("token") {
            Some(Value::String(s)) if !s.is_empty() => s,
            _ => return Err(WebhookProblem::BadField("token", "a non-empty string")),
        };
        let data = match obj.remove("data") {
            Some(Value::Object(data)) => data,
            _ => return Err(WebhookProblem::BadField("data", "an object")),
        };
        let timestamp = match obj.remove("timestamp") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            Some(_) => return Err(WebhookProblem::BadField("timestamp", "UNIX seconds")),
        };
        Ok(Self {
            event,
            token,
            timestamp,
            data,
        })
    }

    /// The id of the resource the event is about (`data.id`), when there is one.
    pub fn resource_id(&self) -> Option<String> {
        match self.data.get("id")? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

/// `call` for `call.ended`, `user` for `user.created.v2`.
pub fn resource(event: &str) -> &str {
    event.split('.').next().unwrap_or(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_real_shaped_payload() {
        let body = br#"{"resource":"call","event":"call.ended","timestamp":1700000000,
            "token":"45XXYYZZa08","data":{"id":812, "direct_link":"https://api.aircall.io/v1/calls/812"}}"#;
        let event = WebhookEvent::parse(body).unwrap();
        assert_eq!(event.event, "call.ended");
        assert_eq!(event.token, "45XXYYZZa08");
        assert_eq!(event.timestamp, Some(1_700_000_000));
        assert_eq!(event.resource_id().as_deref(), Some("812"));
    }

    #[test]
    fn names_what_is_wrong() {
        assert!(matches!(
            WebhookEvent::parse(b"{nope"),
            Err(WebhookProblem::NotJson(_))
        ));
        assert_eq!(
            WebhookEvent::parse(b"[1]"),
            Err(WebhookProblem::NotAnObject)
        );
        assert_eq!(
            WebhookEvent::parse(br#"{"token":"t","data":{}}"#),
            Err(WebhookProblem::BadField("event", "a non-empty string"))
        );
        assert_eq!(
            WebhookEvent::parse(br#"{"event":"call.ended","data":{}}"#),
            Err(WebhookProblem::BadField("token", "a non-empty string"))
        );
        assert_eq!(
            WebhookEvent::parse(br#"{"event":"call.ended","token":"t","data":"x"}"#),
            Err(WebhookProblem::BadField("data", "an object"))
        );
        assert_eq!(
            WebhookEvent::parse(
                br#"{"event":"call.ended","token":"t","data":{},"timestamp":"soon"}"#
            ),
            Err(WebhookProblem::BadField("timestamp", "UNIX seconds"))
        );
    }
}
