//! An integration's life: creation, reactivation, settings changes and deletion
//! (deactivation belongs to the integration itself: `integration::deactivate`). Every change
//! is recorded in its history.

mod activate;
mod create;
mod delete;
mod update;
mod webhook;

pub use activate::{activate, Activated};
pub use create::{create, create_as, CreateError, Created};
pub use delete::{
    delete, purge_keys, purge_step, state_prefixes, Deleted, PurgeJob, KV_DELETES_PER_STEP,
};
pub use update::{update, Updated};

use crate::aircall::AircallError;
use crate::config::Config;
use crate::integration::{FieldError, Integration, Integrations};
use crate::ports::Store;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum LifecycleError {
    #[error("no integration has this id")]
    NotFound,
    /// The change cannot be made in the integration's present state.
    #[error("{0}")]
    Refused(String),
    /// Reactivation re-verified the credentials and Aircall still rejects them.
    #[error(
        "Aircall still rejects the credentials (HTTP {status}), so the integration stays inactive \
         ({cause}). Find the cause, give working credentials with PATCH /api/integrations/{{id}} \
         ({{\"aircall\": {{...}}}}), then activate again."
    )]
    StillRejected { status: u16, cause: String },
    #[error("some fields are invalid")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Aircall(#[from] AircallError),
    #[error(transparent)]
    Infra(#[from] crate::infra::InfraError),
}

crate::infra::carries_infra!(LifecycleError);

async fn load<S: Store>(p: &S, id: &str) -> Result<Integration, LifecycleError> {
    Integrations::new(p)
        .get(id)
        .await?
        .ok_or(LifecycleError::NotFound)
}

fn seal(config: &Config, id: &str, field: &str, value: &str) -> String {
    config.sealer.seal(value, &Integration::slot(id, field))
}

#[cfg(test)]
pub(crate) mod fixtures {
    use crate::integration::{Integration, Integrations};
    use crate::testing::{answer, run, MemoryPlatform};
    use std::cell::Cell;
    use std::rc::Rc;

    /// Aircall as the scripted account: `good` says whether the credentials work.
    pub fn aircall(p: &MemoryPlatform, good: Rc<Cell<bool>>) {
        p.respond(move |r| {
            if !good.get() && !r.url.ends_with("/oauth/token") {
                return Ok(answer(
                    401,
                    &[],
                    r#"{"troubleshoot":"Check your API ID and API token"}"#,
                ));
            }
            Ok(match (r.method, r.url.as_str()) {
                ("GET", "https://aircall.test/v1/ping") => answer(200, &[], r#"{"ping":"pong"}"#),
                ("GET", "https://aircall.test/v1/webhooks/wh-1") => answer(200, &[], "{}"),
                ("POST", "https://aircall.test/v1/webhooks") => answer(
                    201,
                    &[],
                    r#"{"webhook":{"webhook_id":"wh-2","token":"token-2"}}"#,
                ),
                ("DELETE", _) => answer(204, &[], ""),
                _ => answer(404, &[], "{}"),
            })
        });
    }

    pub fn stored(p: &MemoryPlatform, id: &str) -> Integration {
        run(Integrations::new(p).get(id)).unwrap().unwrap()
    }
}
