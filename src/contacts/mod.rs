//! Two-way contact sync between Aircall and a CRM (HubSpot first), the pure part: settings and
//! their validation, the standard fields and their mapping, names, phone numbers, translation
//! and fingerprints. No I/O: the jobs that read and write contacts use these.

mod catalogue;
mod checks;
pub(crate) mod details;
pub(crate) mod fields;
mod filters;
mod mapping;
pub(crate) mod model;
pub(crate) mod names;
pub(crate) mod phone;
pub(crate) mod settings;
pub(crate) mod translate;

mod cpu;

pub use catalogue::catalogue as form_catalogue;
pub use details::{DetailChange, DetailList};
pub use filters::{App, Condition, Op};
pub use mapping::{Direction, Mapping};
pub use model::{AircallContact, CrmProperties, Labeled};
pub use names::{join, split, update_from_full};
pub use phone::{same_number, to_e164, typed_forms, PhoneError, PhoneSettings, TYPED_FORMS_MAX};
pub use settings::ContactSync;
pub use translate::{fingerprint_aircall, fingerprint_crm, to_aircall, to_crm, ToAircall};
