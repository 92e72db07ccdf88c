//! What an admin asks the log: the search (`?q=&event=&call_id=&phone=&before=&limit=`), and
//! the rows a page answers.

use super::entry::{phone_digits, Status, Subjects};
use serde::{Deserialize, Serialize};

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 100;

/// A search of the log; every criterion given must match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Query {
    /// Free text: an event name (or its start), a call, contact or message id, or (4 digits
    /// or more) part of a phone number.
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub event: Option<String>,
    #[serde(default)]
    pub call_id: Option<i64>,
    /// Digits only.
    #[serde(default)]
    pub phone: Option<String>,
    /// The cursor of the page before (its `next`).
    #[serde(default)]
    pub before: Option<String>,
    pub limit: usize,
}

impl Query {
    /// Reads the query string; each bad parameter is a `(name, problem)`.
    pub fn parse(
        param: impl Fn(&str) -> Option<String>,
    ) -> Result<Query, Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        let text = |name: &str| {
            param(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let q = text("q");
        if q.as_ref().is_some_and(|q| q.chars().count() > 100) {
            problems.push(("q", "must be at most 100 characters".to_string()));
        }
        let event = text("event");
        if let Some(event) = &event {
            let shaped = event.len() <= 100
                && event
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
            if !shaped {
                problems.push((
                    "event",
                    "must be an event name such as call.ended".to_string(),
                ));
            }
        }
        let call_id = match text("call_id") {
            None => None,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    problems.push(("call_id", "must be a positive whole number".to_string()));
                    None
                }
            },
        };
        let phone = match text("phone") {
            None => None,
            Some(v) => {
                let digits = phone_digits(&v);
                let only_phone_chars = v
                    .chars()
                    .all(|c| c.is_ascii_digit() || " +-().".contains(c));
                if !only_phone_chars || !(6..=15).contains(&digits.len()) {
                    problems.push((
                        "phone",
                        "must be a phone number (6 to 15 digits)".to_string(),
                    ));
                    None
                } else {
                    Some(digits)
                }
            }
        };
        let before = text("before");
        if let Some(b) = &before {
            let shaped = b.split_once(':').is_some_and(|(at, id)| {
                at.len() == 13
                    && at.bytes().all(|c| c.is_ascii_digit())
                    && id.starts_with("msg_")
                    && id.len() <= 80
                    && id.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
            });
            if !shaped {
                problems.push(("before", "must be the `next` cursor of a page".to_string()));
            }
        }
        let limit = match text("limit") {
            None => DEFAULT_LIMIT,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    problems.push((
                        "limit",
                        format!("must be a whole number from 1 to {MAX_LIMIT}"),
                    ));
                    DEFAULT_LIMIT
                }
            },
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Query {
            q,
            event,
            call_id,
            phone,
            before,
            limit,
        })
    }

    /// Whether the event (`id`, name, what it is about) meets every criterion.
    pub fn matches(&self, id: &str, event: &str, s: &Subjects) -> bool {
        self.event.as_ref().is_none_or(|e| e == event)
            && self.call_id.is_none_or(|c| s.call_id == Some(c))
            && self.phone.as_ref().is_none_or(|p| s.phones.contains(p))
            && self.q.as_ref().is_none_or(|q| free_text(q, id, event, s))
    }
}

fn free_text(q: &str, id: &str, event: &str, s: &Subjects) -> bool {
    let q = q.to_ascii_lowercase();
    if event.starts_with(&q) || id == q {
        return true;
    }
    if let Ok(n) = q.parse::<i64>() {
        if [s.call_id, s.contact_id, s.message_id].contains(&Some(n)) {
            return true;
        }
    }
    let digits = phone_digits(&q);
    let phone_like = q
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    phone_like && digits.len() >= 4 && s.phones.iter().any(|p| p.contains(&digits))
}

/// An event as a page lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub id: String,
    /// UNIX ms at which the connector received it.
    pub received_at: u64,
    pub event: String,
    /// UNIX seconds at which Aircall emitted it.
    pub occurred_at: Option<i64>,
    #[serde(flatten)]
    pub subjects: Subjects,
    /// What happened last.
    pub status: Status,
    pub reason: Option<String>,
    pub destination: Option<String>,
    /// When that was (UNIX ms).
    pub updated_at: u64,
    /// Delivery attempts and waits so far.
    pub attempts: u32,
}

/// A page of events, newest first; `next` gives the following one (`before=`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Page {
    pub events: Vec<Summary>,
    pub next: Option<String>,
}
