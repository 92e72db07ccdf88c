//! The two apps' contacts as the sync sees them.

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// A field Aircall may send as `null` (a label left empty, a contact without numbers) read as
/// its empty value, so that one such field does not make the whole contact unreadable.
fn null_as_empty<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// One of an Aircall contact's phone numbers or e-mails (`{id, label, value}` in the API). The
/// sync matches entries by value; the id, Aircall's, is what changing one entry needs
/// (`details`). Any other field is ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Labeled {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub label: String,
    #[serde(deserialize_with = "null_as_empty")]
    pub value: String,
}

impl Labeled {
    pub fn new(label: &str, value: &str) -> Labeled {
        Labeled {
            id: None,
            label: label.to_string(),
            value: value.to_string(),
        }
    }
}

/// An Aircall contact, with only the fields the sync reads or writes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AircallContact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub company_name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub information: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub phone_numbers: Vec<Labeled>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub emails: Vec<Labeled>,
}

/// A HubSpot contact's properties. HubSpot sends every property value as a string; a property
/// that is absent or empty is unset.
pub type CrmProperties = BTreeMap<String, String>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_aircall_contact_ignoring_extra_fields() {
        let c: AircallContact = serde_json::from_value(serde_json::json!({
            "id": 321, "direct_link": "https://api.aircall.io/v1/contacts/321",
            "first_name": "Jean", "last_name": null, "is_shared": true,
            "phone_numbers": [{"id": 1, "label": "Work", "value": "+33612345678"}],
            "emails": [{"id": 2, "value": "jean@example.com"}]
        }))
        .unwrap();
        assert_eq!(c.id, Some(321));
        assert_eq!(c.first_name.as_deref(), Some("Jean"));
        assert_eq!(c.last_name, None);
        let entry = |id, label: &str, value: &str| Labeled {
            id: Some(id),
            ..Labeled::new(label, value)
        };
        assert_eq!(c.phone_numbers, vec![entry(1, "Work", "+33612345678")]);
        assert_eq!(c.emails, vec![entry(2, "", "jean@example.com")]);
    }

    #[test]
    fn reads_nulls_as_empty() {
        let c: AircallContact = serde_json::from_value(serde_json::json!({
            "first_name": null, "emails": null,
            "phone_numbers": [{"id": 1, "label": null, "value": "+33612345678"}]
        }))
        .unwrap();
        assert_eq!(c.first_name, None);
        assert!(c.emails.is_empty());
        assert_eq!(c.phone_numbers[0].label, "");
        assert_eq!(c.phone_numbers[0].value, "+33612345678");
    }

    #[test]
    fn a_contact_to_write_has_no_id() {
        let c = AircallContact {
            first_name: Some("Ann".into()),
            ..Default::default()
        };
        let json = serde_json::to_value(&c).unwrap();
        assert!(json.get("id").is_none());
        assert_eq!(json["first_name"], "Ann");
    }
}
