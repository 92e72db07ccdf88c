//! A message read from a queue, whichever its kind: one variant per feature's message type.

use crate::contact_sync::{ContactJob, PassJob};
use crate::delivery::{DeadLetter, Delivery};
use crate::import::{CallJob, SyncJob};
use crate::lifecycle::PurgeJob;
use crate::queue::{self, Message};

/// A message read from a queue: one variant per kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    /// Send one event to the integration's destination.
    Deliver(Delivery),
    /// A delivery that will not succeed, on its way to the dead-letter list.
    Failed(DeadLetter),
    /// Start or continue an import run of one integration.
    Sync(SyncJob),
    /// Archive one imported call's recording and deliver its record.
    Import(Box<CallJob>),
    /// Carry on deleting an integration whose state was too large for one request.
    Purge(PurgeJob),
    /// One step of a contact sync pass.
    ContactPass(PassJob),
    /// One CRM contact to bring to Aircall.
    Contact(Box<ContactJob>),
}

impl Job {
    /// Reads a message of any kind this version knows.
    pub fn from_message(text: &str) -> Result<Job, serde_json::Error> {
        let kind = queue::envelope(text)?.kind;
        Ok(match kind.as_str() {
            <Delivery as Message>::KIND => Job::Deliver(queue::decode(text)?),
            <DeadLetter as Message>::KIND => Job::Failed(queue::decode(text)?),
            <SyncJob as Message>::KIND => Job::Sync(queue::decode(text)?),
            <CallJob as Message>::KIND => Job::Import(Box::new(queue::decode(text)?)),
            <PurgeJob as Message>::KIND => Job::Purge(queue::decode(text)?),
            <PassJob as Message>::KIND => Job::ContactPass(queue::decode(text)?),
            <ContactJob as Message>::KIND => Job::Contact(Box::new(queue::decode(text)?)),
            other => {
                return Err(serde::de::Error::custom(format!(
                    "no message kind {other:?}"
                )))
            }
        })
    }

    pub fn to_message(&self) -> String {
        match self {
            Job::Deliver(m) => queue::encode(m),
            Job::Failed(m) => queue::encode(m),
            Job::Sync(m) => queue::encode(m),
            Job::Import(m) => queue::encode(m.as_ref()),
            Job::Purge(m) => queue::encode(m),
            Job::ContactPass(m) => queue::encode(m),
            Job::Contact(m) => queue::encode(m.as_ref()),
        }
    }
}
