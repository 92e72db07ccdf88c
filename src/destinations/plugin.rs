//! The shape every destination has: what it stores, how an admin gives it, what it costs and
//! how it delivers. Each destination's folder implements [`Plugin`]; `mod.rs` registers it.
#![allow(async_fn_in_trait)] // single-threaded runtime: no Send bounds wanted

use crate::config::Config;
use crate::infra::InfraError;
use crate::ports::Platform;
use crate::problems::Problems;
use crate::retry::Outcome;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

/// A destination.
pub trait Plugin {
    /// What the integration stores of it (never a secret).
    type Settings: Serialize + DeserializeOwned + Clone + PartialEq + std::fmt::Debug;

    /// Its `type` in the API and in storage; never changed once used.
    const TYPE: &'static str;
    /// Its name for people.
    const NAME: &'static str;
    /// The fields of `destination` besides `type`, as the admin gives them.
    const FIELDS: &'static [Field];
    /// Events forwarded when the integration names none (`None`: every event).
    const DEFAULT_EVENTS: Option<&'static [&'static str]> = None;
    /// A call event's minimal payload is completed from Aircall before delivery (and its
    /// number filter applied then): the destination needs the call's user, number, contact.
    const READS_CALLS: bool = false;
    /// An Aircall AI event (`summary.created`, ...) is delivered with its content, read from
    /// Aircall first (one request), as `call.summary`, ...; otherwise it goes as Aircall sent it.
    const READS_AI: bool = false;
    /// Deliveries of one integration go out together (one request carries a queue batch's);
    /// otherwise each costs [`Plugin::REQUESTS_PER_DELIVERY`].
    const BATCHES: bool = false;
    /// Outside requests one delivery makes at most.
    const REQUESTS_PER_DELIVERY: u32 = 1;
    /// Outside requests the delivery of one AI event's data makes at most (besides its
    /// Aircall read), when it [reads AI data](Plugin::READS_AI).
    const REQUESTS_PER_AI_DELIVERY: u32 = Self::REQUESTS_PER_DELIVERY;
    /// A CRM: it logs calls, and contact sync and `users_from` can use it.
    const CRM: bool = false;
    /// Its secret is one the connector makes and shows once (a signing secret); otherwise the
    /// admin's own (a write key, a token), never shown.
    const SHOWS_SECRET: bool = false;

    /// Checks `destination` (its fields already known to be this type's); every problem goes
    /// to `problems` under `destination.{field}`. Answers the settings and the secret given.
    fn parse(
        fields: &Map<String, Value>,
        problems: &mut Problems,
    ) -> Option<(Self::Settings, Option<String>)>;

    /// A secret for it when none is given (`None`: one must be given).
    fn generate_secret() -> Option<String> {
        None
    }

    /// How long links to archived recordings given to it last.
    fn recording_link_seconds(config: &Config) -> u64 {
        config.recording_link_seconds
    }

    /// KV prefixes of what it keeps for an integration, removed with the integration.
    fn state_prefixes(_integration_id: &str) -> Vec<String> {
        Vec::new()
    }

    /// What it sends for `ready`, as the event log shows it: never a secret (no signature,
    /// write key or token). By default the event name and data it was handed.
    fn shown(_settings: &Self::Settings, ready: &Ready) -> Value {
        serde_json::json!({"event": ready.event, "data": ready.data})
    }

    /// Delivers `batch`, answering one outcome per delivery, in order. `Err` only when the
    /// connector's own storage failed (the queue message is then redelivered).
    async fn deliver<P: Platform>(
        p: &P,
        target: &Target<'_, Self::Settings>,
        batch: &[Ready],
    ) -> Result<Vec<Outcome>, InfraError>;
}

/// What a destination delivers to: one integration's.
pub struct Target<'a, S> {
    pub integration_id: &'a str,
    pub settings: &'a S,
    /// Its secret, unsealed (a signing secret, a write key, an access token).
    pub secret: &'a str,
    pub config: &'a Config,
}

/// One event ready to go: its payload loaded (and completed, for destinations that read
/// calls).
#[derive(Debug, Clone, PartialEq)]
pub struct Ready {
    /// Stable across retries: the idempotency key (`webhook-id`, `messageId`).
    pub id: String,
    pub event: String,
    /// UNIX seconds at which Aircall emitted the event.
    pub occurred_at: i64,
    pub data: Map<String, Value>,
}

/// A field of a destination as the admin fills it in (the catalogue, `GET /api/destinations`).
#[derive(Debug, Serialize)]
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    /// Written, never shown again.
    pub secret: bool,
    pub help: &'static str,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    Url,
    /// One of these `(value, label)` pairs.
    Choice {
        choices: &'static [(&'static str, &'static str)],
    },
}
