//! Integrations: one Aircall account tied to one destination, with its settings and state:
//! the record (`model`), where it is kept (`repository`), how an admin's request is checked
//! (`new`), and its deactivation. What changes it over its life is `crate::lifecycle`.

mod deactivation;
mod fields;
mod model;
mod new;
mod repository;

pub use crate::problems::FieldError;
pub use deactivation::{checked, count_dropped, deactivate, dropped, on_aircall_error};
pub use fields::{
    ai_events_problem, insight_cards_problems, is_event_name, merge_import, users_source_problem,
    CONTACT_SYNC_NEEDS_A_CRM, MAX_EVENTS, MAX_NUMBERS,
};
pub use model::{
    webhook_url, Actor, Cause, Change, Deactivation, Integration, IntegrationView, LifecycleEvent,
    SealedSecrets, Status,
};
pub use new::{IntegrationPatch, NewIntegration};
pub use repository::{is_integration_id, new_integration_id, Integrations};
