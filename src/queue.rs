//! Queue messages: one envelope for every kind. A message is its feature's own type (a
//! delivery, a call to import, a contact sync step...) with two fields added in front:
//! `kind`, which names the type, and `v`, the envelope's version. The consumer
//! (`crate::consumer`) reads the kind and hands the message to its feature; features send
//! their messages through here and know nothing of one another.
//!
//! Messages outlive deployments: what a version wrote must still be read after a change.
//! `tests/fixtures/queue/` keeps a sample of each kind as written before; a test reads them.

use crate::ports::{QueueError, QueueName, Queues, MAX_BATCH};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The envelope's version written now. Version 0 (no `v`) is read the same way.
pub const VERSION: u32 = 1;

/// A type sent on a queue.
pub trait Message: Serialize + DeserializeOwned {
    /// Names the type on the queue; never changed once used.
    const KIND: &'static str;
    /// The queue it goes on.
    const QUEUE: QueueName;
}

/// The envelope's own fields.
#[derive(Debug, Deserialize)]
pub struct Envelope {
    pub kind: String,
    #[serde(default)]
    pub v: u32,
}

/// The message as its queue carries it: `{"kind": ..., "v": ..., ...its fields}`.
pub fn encode<M: Message>(message: &M) -> String {
    let body = serde_json::to_string(message).expect("queue messages serialize");
    let fields = body
        .strip_prefix('{')
        .expect("queue messages are JSON objects");
    let separator = if fields == "}" { "" } else { "," };
    format!(
        "{{\"kind\":\"{}\",\"v\":{VERSION}{separator}{fields}",
        M::KIND
    )
}

/// The envelope of a message, to choose its type.
pub fn envelope(text: &str) -> Result<Envelope, serde_json::Error> {
    serde_json::from_str(text)
}

/// The message's own fields (the envelope's are ignored).
pub fn decode<M: Message>(text: &str) -> Result<M, serde_json::Error> {
    serde_json::from_str(text)
}

/// Sends one message, visible to the consumer after `delay_seconds`.
pub async fn send<P: Queues, M: Message>(
    p: &P,
    message: &M,
    delay_seconds: u32,
) -> Result<(), QueueError> {
    p.send(M::QUEUE, &encode(message), delay_seconds).await
}

/// Sends messages of one type, [`MAX_BATCH`] to a request.
pub async fn send_all<P: Queues, M: Message>(p: &P, messages: &[M]) -> Result<(), QueueError> {
    let texts: Vec<String> = messages.iter().map(encode).collect();
    for chunk in texts.chunks(MAX_BATCH) {
        p.send_batch(M::QUEUE, chunk).await?;
    }
    Ok(())
}
