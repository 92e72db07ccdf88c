//! Aircall: the API client and the webhook payloads it sends us.

mod ai;
mod call;
mod client;
pub(crate) mod events;
mod number;
pub(crate) mod oauth;
mod webhook;
mod window;

pub use ai::AiKind;
pub use call::{Call, CallNumber, CallUser, Comment, Tag};
pub use client::{
    AircallClient, AircallError, CallPage, ContactPage, ContactSearch, Credentials,
    RegisteredWebhook, MAX_PER_PAGE,
};
pub use number::{AircallNumber, NumberPage};
pub use webhook::{resource, WebhookEvent, WebhookProblem};
pub use window::Window;
