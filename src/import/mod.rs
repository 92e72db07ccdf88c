//! Call import: which calls are imported (the rules) and what is delivered for each
//! (the normalized call record). Polling, cursors and windows build on these.

mod call;
mod recheck;
mod record;
mod rules;
mod run;
mod window;

pub use call::{import_call, recording_key, recording_path, CallJob, CallOutcome, Origin};
pub use record::{BusinessStatus, CallRecord};
pub use rules::{ImportRules, SkipReason, UsersFrom};
pub use run::{
    recent_runs, schedule_all, sync, ImportError, RunReport, RunStatus, SyncAnswer, SyncJob,
    SyncState, Trigger, IMPORTED_EVENT, PAGES_PER_STEP,
};
pub use window::{plan, Cursor, Plan, Window, RESULT_CAP};
