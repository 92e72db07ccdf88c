//! Integrations: one Aircall account tied to one destination, with its settings and state.

mod create;
mod deactivation;
mod lifecycle;
mod model;
mod new;
mod repository;

pub use crate::problems::FieldError;
pub use create::{create, create_as, CreateError, Created};
pub use deactivation::{checked, count_dropped, deactivate, dropped, on_aircall_error};
pub use lifecycle::{
    activate, credentials, delete, purge_keys, purge_step, update, Activated, Deleted,
    LifecycleError, PurgeJob, Updated, KV_DELETES_PER_STEP,
};
pub use model::{
    webhook_url, Actor, Cause, Change, Deactivation, Integration, IntegrationView, LifecycleEvent,
    SealedSecrets, Status,
};
pub use new::{is_event_name, IntegrationPatch, NewIntegration};
pub use repository::{is_integration_id, new_integration_id, Integrations};
