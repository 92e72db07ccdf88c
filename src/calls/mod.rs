//! What a call is to the connector, as pure rules: which calls an integration imports (its
//! import rules) and the normalized record delivered for each. The import (`crate::import`)
//! and the destinations build on these.

mod record;
mod rules;

pub use record::{BusinessStatus, CallRecord, IMPORTED_EVENT};
pub use rules::{ImportRules, SkipReason, UsersFrom};
