//! A call as Aircall's API answers it (`GET /v1/calls`, `/v1/calls/:id`).
//! Every field Aircall may leave out or null is optional: calls change after they end.
//! `user`, `number` and `contact` may also be empty objects (Aircall's own sample payloads):
//! read as absent.

use serde::{Deserialize, Deserializer, Serialize};

/// `{}` (or null, or absent) is no value; anything else must parse as `T`.
fn empty_as_none<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    match Option::<serde_json::Value>::deserialize(deserializer)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Object(o)) if o.is_empty() => Ok(None),
        Some(value) => serde_json::from_value(value)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

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
    /// A voicemail's audio (then `recording` is null); its link may last only 10 minutes.
    #[serde(default)]
    pub voicemail: Option<String>,
    /// Absent on an inbound call nobody answered.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub user: Option<CallUser>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub number: Option<CallNumber>,
    #[serde(default, deserialize_with = "empty_as_none")]
    /// The same contact as `GET /v1/contacts/:id` answers (absent or null for an unknown
    /// caller; its details only when read with `fetch_contact=true`).
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_real_shapes_empty_objects_as_absent() {
        let call: Call = serde_json::from_value(json!({
            "id": 1, "started_at": 1_700_000_000, "raw_digits": "+44 330 818 6690",
            "user": {}, "contact": {}, "number": {}
        }))
        .unwrap();
        assert_eq!((call.user, call.contact, call.number), (None, None, None));
        let missed: Call =
            serde_json::from_value(json!({"id": 2, "started_at": 1_700_000_000})).unwrap();
        assert_eq!((missed.user, missed.contact), (None, None));
        // A broken object is an error, not a silently absent field.
        let broken = json!({"id": 3, "started_at": 1, "user": {"id": "x"}});
        assert!(serde_json::from_value::<Call>(broken).is_err());
    }
}
