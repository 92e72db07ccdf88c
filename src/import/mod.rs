//! Call import: which calls are imported (the rules) and what is delivered for each
//! (the normalized call record). Polling, cursors and windows build on these.

mod record;
mod rules;
mod window;

pub use record::{BusinessStatus, CallRecord};
pub use rules::{ImportRules, SkipReason};
pub use window::{plan, Cursor, Plan, Window, RESULT_CAP};
