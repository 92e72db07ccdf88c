//! CRMs: what a CRM destination does beyond delivering events (HubSpot is the first).
//! The contact sync engine (`crate::contact_sync`) and the import's `users_from` work on any
//! [`Crm`]; a CRM destination implements it in its own folder. The links the sync keeps
//! between Aircall's contacts and a CRM's are in `links`.
#![allow(async_fn_in_trait)] // single-threaded runtime: no Send bounds wanted

pub mod caller;
pub mod cards;
pub mod last_call;
pub(crate) mod links;

use crate::contacts::CrmProperties;
use crate::infra::InfraError;
use crate::retry::{Disposition, Failure};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A CRM, as contact sync and call logging use it.
pub trait Crm {
    /// Logs the call of `event` once per Aircall call id: a retry, the import of a call a
    /// webhook already logged, or a later change updates the same record.
    async fn log_call(&self, event: &str, data: &Map<String, Value>) -> Result<Logged, CrmError>;

    /// The users who can own records (their e-mails are matched to Aircall users').
    async fn owners(&self) -> Result<Vec<Owner>, CrmError>;

    /// The next contacts modified since `cursor`, oldest first, with these properties; moves
    /// the cursor past them. Answers them and whether more may follow.
    async fn changed_contacts(
        &self,
        cursor: &mut ChangeCursor,
        properties: &[String],
    ) -> Result<(Vec<CrmRecord>, bool), CrmError>;

    /// The contacts with these e-mails: lower-cased e-mail -> id.
    async fn ids_by_email(&self, emails: &[String]) -> Result<BTreeMap<String, String>, CrmError>;

    /// The contacts with these phone numbers (E.164): the number -> id. A CRM that keeps
    /// numbers as typed must still find them.
    async fn ids_by_phone(&self, numbers: &[String]) -> Result<BTreeMap<String, String>, CrmError>;

    /// Writes these properties on these contacts.
    async fn update_contacts(&self, updates: &[(String, CrmProperties)]) -> Result<(), CrmError>;

    /// Creates contacts; answers each one's new id, in order (`None`: not created).
    async fn create_contacts(
        &self,
        contacts: &[CrmProperties],
    ) -> Result<Vec<Option<String>>, CrmError>;
}

/// What logging a call came to.
#[derive(Debug, PartialEq)]
pub enum Logged {
    Created(String),
    Updated(String),
    /// Not a finished call (`call.created`, `call.ringing_on_agent`...): nothing to log yet.
    NotACall,
    /// Another delivery of the same call is creating its record right now.
    Busy,
}

/// Where the reading of a CRM's changes stands: contacts modified after `modified_ms` are
/// still to read, and those modified at exactly that time except `ids_at` (a contact edited
/// since has a later time, so it is read again); while more contacts share that time than a
/// filter holds, every id up to `id_after` is read too. (Stored under HubSpot's names.)
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChangeCursor {
    #[serde(rename = "hubspot_modified_ms")]
    pub modified_ms: u64,
    #[serde(rename = "hubspot_ids_at_cursor")]
    pub ids_at: Vec<String>,
    #[serde(default, rename = "hubspot_id_after")]
    pub id_after: Option<String>,
}

/// A CRM's failure: its own answer (or its rate budget's), with what that means for another
/// try; or the connector's own storage failing on the way.
#[derive(Debug, thiserror::Error)]
pub enum CrmError {
    #[error("{message}")]
    Remote {
        message: String,
        disposition: Disposition,
    },
    #[error(transparent)]
    Infra(#[from] InfraError),
}

crate::infra::carries_infra!(CrmError);

impl Failure for CrmError {
    fn disposition(&self) -> Disposition {
        match self {
            CrmError::Remote { disposition, .. } => *disposition,
            CrmError::Infra(e) => e.disposition(),
        }
    }
}

/// A CRM user who can own records; Aircall users are matched to them by e-mail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Owner {
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
    /// Names, as HubSpot's owners list gives them (for insight cards).
    #[serde(default, rename = "firstName", skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, rename = "lastName", skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
}

/// A CRM record: its id and its properties as strings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrmRecord {
    pub id: String,
    #[serde(default, deserialize_with = "properties")]
    pub properties: BTreeMap<String, String>,
}

/// Unset properties (`null`) are left out.
fn properties<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let raw: BTreeMap<String, Option<Value>> = Deserialize::deserialize(d)?;
    Ok(raw
        .into_iter()
        .filter_map(|(k, v)| match v? {
            Value::String(s) => Some((k, s)),
            Value::Null => None,
            other => Some((k, other.to_string())),
        })
        .collect())
}
