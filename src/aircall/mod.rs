//! Aircall: the API client and the webhook payloads it sends us.

mod client;
mod webhook;

pub use client::{AircallClient, AircallError, Credentials, RegisteredWebhook};
pub use webhook::{WebhookEvent, WebhookProblem};
