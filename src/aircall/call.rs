//! A call as Aircall's API answers it (`GET /v1/calls`, `/v1/calls/:id`).
//! Every field Aircall may leave out or null is optional: calls change after they end.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    pub id: i64,
    #[serde(default)]
    pub direct_link: Option<String>,
    /// UNIX seconds; `from`/`to` filters apply to it.
    pub started_at: i64,
    #[serde(default)]
    pub answered_at: Option<i64>,
    #[serde(default)]
    pub ended_at: Option<i64>,
    #[serde(default)]
    pub duration: Option<i64>,
    /// `initial`, `answered` or `done`.
    #[serde(default)]
    pub status: Option<String>,
    /// `inbound` or `outbound`.
    #[serde(default)]
    pub direction: Option<String>,
    #[serde(default)]
    pub missed_call_reason: Option<String>,
    /// The external number, international format, or "anonymous".
    #[serde(default)]
    pub raw_digits: Option<String>,
    /// A link that expires (an hour, by the reference): re-read the call before downloading.
    #[serde(default)]
    pub recording: Option<String>,
    #[serde(default)]
    pub voicemail: Option<String>,
    #[serde(default)]
    pub user: Option<CallUser>,
    #[serde(default)]
    pub number: Option<CallNumber>,
    #[serde(default)]
    /// The same contact as `GET /v1/contacts/:id` answers (null when unknown).
    pub contact: Option<crate::contacts::AircallContact>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub comments: Vec<Comment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallUser {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallNumber {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub digits: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tag {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    pub id: i64,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub posted_at: Option<i64>,
}
