//! What a CRM tells about a caller while the phone rings (insight cards): the contact found by
//! the caller's number (with the date of its last activity), and its open deals. A CRM
//! destination implements [`CallerLookup`] in its own folder, one request per method.
#![allow(async_fn_in_trait)] // single-threaded runtime: no Send bounds wanted

use super::CrmError;

/// The CRM contact behind a number, with what the card shows of it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Caller {
    pub id: String,
    pub name: Option<String>,
    pub company: Option<String>,
    /// The contact's page in the CRM.
    pub link: Option<String>,
    /// The owner's name (or e-mail) when the CRM names one.
    pub owner: Option<String>,
    /// As the CRM labels it ("Customer", "Lead"...).
    pub lifecycle_stage: Option<String>,
    /// Its phone numbers as the CRM keeps them (typed: `(415) 555-0100`).
    pub numbers: Vec<String>,
    /// When the CRM says something (a call, a note, a task...) was last logged on it, UNIX
    /// seconds.
    pub last_activity_at: Option<i64>,
}

impl Caller {
    /// Whether one of its numbers, however typed, is `e164`: its digits, less a national
    /// trunk prefix (`0`), end the E.164 digits (`(415) 555-0100`, `06 12 34 56 78`). Cheap,
    /// without the phone library: it tells a cached match whose number has since changed.
    pub fn has_number(&self, e164: &str) -> bool {
        let wanted = crate::selection::digits(e164);
        self.numbers.iter().any(|typed| {
            let digits = crate::selection::digits(typed);
            let national = digits.trim_start_matches('0');
            national.len() >= 6 && wanted.ends_with(national)
        })
    }
}

/// The contact's open deals: how many, and the largest.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OpenDeals {
    pub count: u64,
    pub largest: Option<Deal>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Deal {
    pub name: Option<String>,
    /// As the CRM keeps it (a decimal number in text).
    pub amount: Option<String>,
    pub stage: Option<String>,
}

/// A call logged on the contact, as a card shows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Activity {
    /// UNIX seconds.
    pub at: Option<i64>,
    pub outcome: Option<String>,
    pub title: Option<String>,
    /// Aircall AI's summary of that call, when it was logged with one.
    pub summary: Option<String>,
}

/// A CRM, as insight cards read it. Each method is one request to the CRM.
pub trait CallerLookup {
    /// The contact with this id (a cached match); `None` when it is gone.
    async fn caller_by_id(&self, id: &str) -> Result<Option<Caller>, CrmError>;
    /// The contact whose phone or mobile phone is `e164`, however it was typed.
    async fn caller_by_phone(&self, e164: &str) -> Result<Option<Caller>, CrmError>;
    async fn open_deals(&self, contact_id: &str) -> Result<OpenDeals, CrmError>;
}
