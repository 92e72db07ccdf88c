//! The signed-webhook destination (Standard Webhooks): each event `POST`ed to the
//! integration's URL, signed with its `whsec_` secret, one request per delivery.

mod envelope;

pub use envelope::{delivery_body, signed_request};

use super::{Field, FieldKind, Plugin, Ready, Target};
use crate::crypto::SigningSecret;
use crate::infra::InfraError;
use crate::ports::Platform;
use crate::problems::Problems;
use crate::retry::{classify, Outcome};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub struct Webhook;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub url: String,
}

impl Plugin for Webhook {
    type Settings = Settings;
    const TYPE: &'static str = "webhook";
    const NAME: &'static str = "Signed webhook";
    const FIELDS: &'static [Field] = &[
        Field {
            name: "url",
            label: "URL",
            kind: FieldKind::Url,
            required: true,
            secret: false,
            help: "Where each event is POSTed (http or https).",
        },
        Field {
            name: "secret",
            label: "Signing secret",
            kind: FieldKind::Text,
            required: false,
            secret: true,
            help: "whsec_... (Standard Webhooks). Left empty, one is made and shown once.",
        },
    ];
    const SHOWS_SECRET: bool = true;
    const READS_AI: bool = true;

    fn parse(d: &Map<String, Value>, p: &mut Problems) -> Option<(Settings, Option<String>)> {
        let url = p
            .text(d, "destination.", "url", 2048)
            .and_then(|url| match url::Url::parse(&url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(url),
                _ => {
                    p.add("destination.url", "must be an absolute http(s) URL");
                    None
                }
            });
        let secret = match d.get("secret") {
            None | Some(Value::Null) => Some(None),
            Some(Value::String(s)) => match SigningSecret::parse(s) {
                Ok(secret) => Some(Some(secret.expose())),
                Err(e) => {
                    p.add("destination.secret", e.to_string());
                    None
                }
            },
            Some(_) => {
                p.add("destination.secret", "must be a string");
                None
            }
        };
        Some((Settings { url: url? }, secret?))
    }

    fn generate_secret() -> Option<String> {
        Some(SigningSecret::generate().expose())
    }

    /// The request without its per-attempt headers (`webhook-timestamp`, and the signature,
    /// which is never shown).
    fn shown(settings: &Settings, ready: &Ready) -> Value {
        serde_json::json!({
            "url": settings.url,
            "headers": {"content-type": "application/json", "webhook-id": ready.id},
            "body": {
                "type": ready.event,
                "timestamp": crate::time::rfc3339(ready.occurred_at),
                "data": ready.data,
            },
        })
    }

    async fn deliver<P: Platform>(
        p: &P,
        target: &Target<'_, Settings>,
        batch: &[Ready],
    ) -> Result<Vec<Outcome>, InfraError> {
        let Ok(secret) = SigningSecret::parse(target.secret) else {
            let reason = "the destination secret cannot be read: not a whsec_ secret";
            return Ok(vec![Outcome::Failed { reason: reason.into() }; batch.len()]);
        };
        let attempts = batch.iter().map(|ready| async {
            let body = delivery_body(&ready.event, ready.occurred_at, &ready.data);
            let request = signed_request(
                &target.settings.url,
                &secret,
                &ready.id,
                p.now_seconds(),
                body,
                target.config.delivery_timeout_ms,
            );
            classify(&p.fetch(request).await, p.now_seconds())
        });
        Ok(futures_util::future::join_all(attempts).await)
    }
}
