//! The Segment destination: Aircall events as Segment `track` (and `identify`) calls,
//! batched through `/v1/batch` within Segment's limits, in the integration's region.

mod ai;
mod batch;
mod mapping;

pub use batch::{pack, request, Batch, Region, MAX_MESSAGES, MAX_MESSAGE_BYTES, MAX_REQUEST_BYTES};
pub use mapping::{identity, messages, traits, trim, Identity, TooLarge};
#[cfg(test)]
pub(crate) use mapping::tests as mapping_tests;

use super::{Field, FieldKind, Plugin, Ready, Target};
use crate::infra::InfraError;
use crate::ports::{FetchError, HttpResponse, Platform};
use crate::problems::Problems;
use crate::retry::{classify, Outcome};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub struct Segment;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub region: Region,
}

impl Segment {
    /// The messages of one delivery: AI data as its tracks (a long transcript in parts),
    /// anything else mapped.
    fn messages(ready: &Ready) -> Vec<Map<String, Value>> {
        match ai::is_ai_event(&ready.event) {
            true => ai::tracks(&ready.id, &ready.event, ready.occurred_at, &ready.data, MAX_MESSAGE_BYTES),
            false => mapping::messages(&ready.id, &ready.event, ready.occurred_at, &ready.data),
        }
    }
}

impl Plugin for Segment {
    type Settings = Settings;
    const TYPE: &'static str = "segment";
    const NAME: &'static str = "Segment";
    const FIELDS: &'static [Field] = &[
        Field {
            name: "write_key",
            label: "Write key",
            kind: FieldKind::Text,
            required: true,
            secret: true,
            help: "The write key of a Segment HTTP API source.",
        },
        Field {
            name: "region",
            label: "Region",
            kind: FieldKind::Choice {
                choices: &[("us", "United States"), ("eu", "Europe (Dublin)")],
            },
            required: true,
            secret: false,
            help: "The region of the Segment workspace: an EU workspace's events sent to the US are accepted and lost.",
        },
    ];
    const DEFAULT_EVENTS: Option<&'static [&'static str]> = Some(&DEFAULT_EVENTS);
    const READS_CALLS: bool = true;
    const READS_AI: bool = true;
    const BATCHES: bool = true;

    /// `{type: "segment", write_key, region: "us" | "eu"}`. The region is required: an EU
    /// workspace's events posted to the US host are accepted and lost.
    fn parse(d: &Map<String, Value>, p: &mut Problems) -> Option<(Settings, Option<String>)> {
        // Required of a new Segment destination (`missing_secret`); left out of a change to
        // the current one, the current key stays.
        let write_key = match d.get("write_key") {
            None | Some(Value::Null) => Some(None),
            Some(_) => p.token(d, "destination.", "write_key", 200).map(Some),
        };
        let region = match d.get("region") {
            Some(Value::String(r)) if r == "us" => Some(Region::Us),
            Some(Value::String(r)) if r == "eu" => Some(Region::Eu),
            None | Some(Value::Null) => {
                p.add(
                    "destination.region",
                    "is required: \"us\" or \"eu\", the region of the Segment workspace",
                );
                None
            }
            Some(_) => {
                p.add("destination.region", "must be \"us\" or \"eu\"");
                None
            }
        };
        Some((Settings { region: region? }, write_key?))
    }

    /// Its messages in the `/v1/batch` body (the write key goes in a header, never shown).
    fn shown(_settings: &Settings, ready: &Ready) -> Value {
        serde_json::json!({"batch": Self::messages(ready)})
    }

    /// Maps each event to its messages (trimmed to Segment's 32 KB), and sends them all in as
    /// few `/v1/batch` requests as Segment's limits allow (usually one).
    async fn deliver<P: Platform>(
        p: &P,
        target: &Target<'_, Settings>,
        batch: &[Ready],
    ) -> Result<Vec<Outcome>, InfraError> {
        let mut messages: Vec<(usize, Vec<Map<String, Value>>)> = Vec::new();
        let mut outcomes = vec![Outcome::Delivered; batch.len()];
        'deliveries: for (index, ready) in batch.iter().enumerate() {
            let mut mapped = Self::messages(ready);
            for message in &mut mapped {
                match mapping::trim(message, MAX_MESSAGE_BYTES) {
                    Ok(removed) if removed.is_empty() => {}
                    Ok(removed) => p.log(&format!(
                        "delivery {}: over Segment's 32 KB, removed {}",
                        ready.id,
                        removed.join(", ")
                    )),
                    // Segment would answer 200 and drop it: say so instead.
                    Err(too_large) => {
                        outcomes[index] = Outcome::Failed {
                            reason: too_large.to_string(),
                        };
                        continue 'deliveries;
                    }
                }
            }
            messages.push((index, mapped));
        }
        let config = target.config;
        let base = match target.settings.region {
            Region::Us => &config.segment_us_base,
            Region::Eu => &config.segment_eu_base,
        };
        for request in pack(messages) {
            let count = request.messages.len();
            let http = batch::request(
                base,
                target.secret,
                request.messages,
                p.now_seconds(),
                config.delivery_timeout_ms,
            );
            let result = p.fetch(http).await;
            let outcome = outcome(&result, p.now_seconds());
            p.log(&format!(
                "Segment batch of {count} message(s) for integration {}: {outcome:?}",
                target.integration_id
            ));
            // A delivery too large for one request (a long transcript's parts) is delivered
            // when all its requests are: any other outcome of one of them stands.
            for index in request.deliveries {
                if outcomes[index] == Outcome::Delivered {
                    outcomes[index] = outcome.clone();
                }
            }
        }
        Ok(outcomes)
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


/// The default selection of a Segment integration: the 26 events of Aircall's own Segment
/// source (seed 003), its six user events under their current `.v2` names, and the five
/// events of Aircall's AI data (delivered with their content, see `ai.rs`). Aircall is
/// retiring the v1 names (`/v1/users` was sunset on 2026-09-30), so a webhook registered with
/// them would go quiet. Any other Aircall event name, v1 ones included, can be chosen too.
pub const DEFAULT_EVENTS: [&str; 31] = [
    "number.created",
    "number.opened",
    "number.closed",
    "number.deleted",
    "contact.created",
    "contact.updated",
    "contact.deleted",
    "user.created.v2",
    "user.opened.v2",
    "user.connected.v2",
    "user.closed.v2",
    "user.disconnected.v2",
    "user.deleted.v2",
    "call.created",
    "call.answered",
    "call.hungup",
    "call.ended",
    "call.assigned",
    "call.archived",
    "call.tagged",
    "call.untagged",
    "call.commented",
    "call.transferred",
    "call.ringing_on_agent",
    "call.agent_declined",
    "call.voicemail_left",
    "transcription.created",
    "summary.created",
    "topics.created",
    "sentiment.created",
    "action_item.created",
];

#[cfg(test)]
mod tests;
