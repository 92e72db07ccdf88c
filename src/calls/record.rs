//! The normalized call record delivered for each imported call: the fields Salescaling's
//! import documents (seed 001), plus tags and comments.

use crate::aircall::Call;
use serde::Serialize;

/// "answered / missed / voicemail / failed": Aircall has no such field, so it is derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BusinessStatus {
    Answered,
    Missed,
    Voicemail,
    Failed,
}

impl BusinessStatus {
    /// Answered when someone picked up; voicemail when one was left; an outbound call that
    /// never connected (no answer, no reason, no time on the line) failed; anything else
    /// unanswered was missed.
    pub fn of(call: &Call) -> Self {
        let outbound = call.direction.as_deref() == Some("outbound");
        if call.answered_at.is_some() {
            BusinessStatus::Answered
        } else if call.voicemail.is_some() {
            BusinessStatus::Voicemail
        } else if outbound && call.missed_call_reason.is_none() && call.duration.unwrap_or(0) == 0 {
            BusinessStatus::Failed
        } else {
            BusinessStatus::Missed
        }
    }
}

/// The event name of an imported call's delivery.
pub const IMPORTED_EVENT: &str = "call.imported";

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct CallRecord {
    pub id: i64,
    pub direction: Option<String>,
    pub status: BusinessStatus,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub duration_seconds: i64,
    /// Our archived copy (a signed, expiring link), filled in once archived.
    pub recording_url: Option<String>,
    /// The archived copy of its Aircall AI transcript (a signed, expiring link), when an
    /// import read it (`import.ai`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript_url: Option<String>,
    pub user: Option<Person>,
    pub contact: Option<Person>,
    /// The Aircall number used.
    pub internal_number: Option<String>,
    /// The other party's number.
    pub external_number: Option<String>,
    pub tags: Vec<String>,
    pub comments: Vec<String>,
    pub aircall_link: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Person {
    /// Aircall's id of the user or contact (destinations key their profiles on it).
    pub id: Option<i64>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl CallRecord {
    pub fn of(call: &Call) -> Self {
        let contact = call.contact.as_ref().map(|c| {
            let name = [c.first_name.as_deref(), c.last_name.as_deref()]
                .into_iter()
                .flatten()
                .filter(|s| !s.trim().is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            Person {
                id: c.id,
                name: (!name.is_empty()).then_some(name),
                email: None,
                phone: c
                    .phone_numbers
                    .first()
                    .map(|p| p.value.clone())
                    .or_else(|| external(call)),
            }
        });
        CallRecord {
            id: call.id,
            direction: call.direction.clone(),
            status: BusinessStatus::of(call),
            started_at: crate::time::rfc3339(call.started_at),
            ended_at: call.ended_at.map(crate::time::rfc3339),
            duration_seconds: call
                .duration
                .or_else(|| call.ended_at.map(|end| end - call.started_at))
                .unwrap_or(0)
                .max(0),
            recording_url: None,
            transcript_url: None,
            user: call.user.as_ref().map(|u| Person {
                id: Some(u.id),
                name: u.name.clone(),
                email: u.email.clone(),
                phone: None,
            }),
            contact,
            internal_number: call.number.as_ref().and_then(|n| n.digits.clone()),
            external_number: external(call),
            tags: call.tags.iter().map(|t| t.name.clone()).collect(),
            comments: call
                .comments
                .iter()
                .filter_map(|c| c.content.clone())
                .collect(),
            aircall_link: call.direct_link.clone(),
        }
    }
}

/// The other party's number; Aircall writes "anonymous" for hidden ones.
fn external(call: &Call) -> Option<String> {
    call.raw_digits
        .clone()
        .filter(|d| !d.trim().is_empty() && d != "anonymous")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub fn call(overrides: serde_json::Value) -> Call {
        let mut base = json!({
            "id": 812, "direct_link": "https://api.aircall.io/v1/calls/812",
            "started_at": 1_700_000_000, "answered_at": 1_700_000_006, "ended_at": 1_700_000_186,
            "duration": 186, "status": "done", "direction": "inbound", "missed_call_reason": null,
            "raw_digits": "+33 6 12 34 56 78", "recording": "https://r.example/812.mp3", "voicemail": null,
            "user": {"id": 456, "name": "Madeline Agent", "email": "madeline@example.com"},
            "number": {"id": 789, "name": "Sales FR", "digits": "+33 1 76 36 06 95"},
            "contact": {"id": 321, "first_name": "Jean", "last_name": "Dupont", "phone_numbers": [{"label": "work", "value": "+33612345678"}]},
            "tags": [{"id": 1, "name": "Lead"}], "comments": [{"id": 2, "content": "Call back Monday"}]
        });
        for (k, v) in overrides.as_object().unwrap() {
            base[k] = v.clone();
        }
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn derives_the_business_status() {
        assert_eq!(
            BusinessStatus::of(&call(json!({}))),
            BusinessStatus::Answered
        );
        let unanswered = json!({"answered_at": null});
        let voicemail = json!({"answered_at": null, "voicemail": "https://v.example/1.mp3"});
        assert_eq!(
            BusinessStatus::of(&call(voicemail)),
            BusinessStatus::Voicemail
        );
        assert_eq!(
            BusinessStatus::of(&call(unanswered.clone())),
            BusinessStatus::Missed
        );
        let reason = json!({"answered_at": null, "missed_call_reason": "no_available_agent"});
        assert_eq!(BusinessStatus::of(&call(reason)), BusinessStatus::Missed);
        let rang_out = json!({"answered_at": null, "direction": "outbound", "duration": 25});
        assert_eq!(BusinessStatus::of(&call(rang_out)), BusinessStatus::Missed);
        let never = json!({"answered_at": null, "direction": "outbound", "duration": 0});
        assert_eq!(BusinessStatus::of(&call(never)), BusinessStatus::Failed);
    }

    #[test]
    fn normalizes_the_seed_fields() {
        let record = CallRecord::of(&call(json!({})));
        let value = serde_json::to_value(&record).unwrap();
        assert_eq!(
            value,
            json!({
                "id": 812, "direction": "inbound", "status": "answered",
                "started_at": "2023-11-14T22:13:20Z", "ended_at": "2023-11-14T22:16:26Z",
                "duration_seconds": 186, "recording_url": null,
                "user": {"id": 456, "name": "Madeline Agent", "email": "madeline@example.com", "phone": null},
                "contact": {"id": 321, "name": "Jean Dupont", "email": null, "phone": "+33612345678"},
                "internal_number": "+33 1 76 36 06 95", "external_number": "+33 6 12 34 56 78",
                "tags": ["Lead"], "comments": ["Call back Monday"],
                "aircall_link": "https://api.aircall.io/v1/calls/812"
            })
        );
    }

    #[test]
    fn copes_with_sparse_calls() {
        let sparse: Call = serde_json::from_value(
            json!({"id": 1, "started_at": 1_700_000_000, "raw_digits": "anonymous"}),
        )
        .unwrap();
        let record = CallRecord::of(&sparse);
        assert_eq!(
            (record.duration_seconds, record.external_number, record.user),
            (0, None, None)
        );
        assert_eq!(record.status, BusinessStatus::Missed);
    }
}
