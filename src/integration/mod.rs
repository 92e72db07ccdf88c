//! Integrations: one Aircall account tied to one destination, with its settings and state.

mod create;
mod lifecycle;
mod model;
mod new;
mod repository;

pub use create::{create, create_as, CreateError, Created};
pub use lifecycle::{
    activate, count_dropped, credentials, credentials_rejected, deactivate, delete, dropped,
    purge_keys, purge_step, update, Activated, Deleted, LifecycleError, PurgeJob, Updated,
    KV_DELETES_PER_STEP,
};
pub use model::{
    webhook_url, Actor, Cause, Change, Deactivation, Destination, Integration, IntegrationView,
    LifecycleEvent, SealedSecrets, Status,
};
pub use new::{is_event_name, FieldError, IntegrationPatch, NewDestination, NewIntegration};
pub use repository::{is_integration_id, new_integration_id, Integrations};
