//! Call import: polling Aircall from a cursor, in windows under its 10,000-result cap, each
//! call brought by its own job (recording archived, record delivered), under the pure rules
//! of `crate::calls`.

mod call;
mod recheck;
mod report;
mod run;
mod users;
mod window;

pub use call::{
    import_call, reads_transcript, recording_key, recording_path, CallJob, CallOutcome, Origin,
};
pub use report::{recent_runs, RunReport, RunStatus, Trigger};
pub use run::{schedule_all, sync, SyncAnswer, SyncJob, SyncState, PAGES_PER_STEP};
pub use users::rules_in_force;
pub use window::{plan, Cursor, Plan, Window};

/// Why an import could not run (its calls' own failures are in its report).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("no integration has this id")]
    UnknownIntegration,
    #[error(transparent)]
    Infra(#[from] crate::infra::InfraError),
}

crate::infra::carries_infra!(ImportError);
