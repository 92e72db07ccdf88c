//! Integrations: one Aircall account tied to one destination, with its settings and state.

mod create;
mod model;
mod new;
mod repository;

pub use create::{create, CreateError, Created};
pub use model::{webhook_url, Destination, Integration, IntegrationView, SealedSecrets, Status};
pub use new::{is_event_name, FieldError, NewDestination, NewIntegration};
pub use repository::{is_integration_id, new_integration_id, Integrations};
