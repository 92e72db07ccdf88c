//! The integration's `contact_sync` settings: direction, PieSync-style filters, custom field
//! mappings and phone normalisation, checked when an admin saves them so that a sync never
//! starts on a mapping that cannot work.

use super::checks::{list, object, required, typed, Problems};
use super::fields::{self, Kind};
use super::filters::{aircall_values, parse_condition, App, Condition, Op};
use super::mapping::{check_conflicts, in_force, parse_mapping, Direction, Mapping};
use super::model::{AircallContact, CrmProperties};
use super::names;
use super::phone::{self, PhoneSettings};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactSync {
    pub direction: Direction,
    #[serde(default)]
    pub filters: Vec<Condition>,
    /// Custom mappings, on top of the default mapping of standard fields.
    #[serde(default)]
    pub mappings: Vec<Mapping>,
    #[serde(default)]
    pub phone: PhoneSettings,
}

fn parse_phone(value: &Value, problems: &mut Problems) -> Option<PhoneSettings> {
    let path = "contact_sync.phone";
    let object = object(value, path, &["normalize", "default_country"], problems)?;
    let mut settings = PhoneSettings::default();
    if let Some(v) = object.get("normalize") {
        settings.normalize = typed(v, &format!("{path}.normalize"), problems)?;
    }
    if let Some(v) = object.get("default_country") {
        let country_path = format!("{path}.default_country");
        let country: String = typed(v, &country_path, problems)?;
        let country = country.trim().to_ascii_uppercase();
        if phone::region(&country).is_none() {
            let e = phone::PhoneError::UnknownCountry(country);
            problems.push((country_path, e.to_string()));
            return None;
        }
        settings.default_country = country;
    }
    Some(settings)
}

impl ContactSync {
    /// Validates an admin's JSON, reporting every problem as (field path, message).
    ///
    /// For the admin API: checking a default country starts libphonenumber (milliseconds of
    /// CPU once per isolate). Settings stored after this check are read back with serde.
    pub fn parse(value: &Value) -> Result<ContactSync, Vec<(String, String)>> {
        let mut problems = Problems::new();
        let known = ["direction", "filters", "mappings", "phone"];
        let Some(object) = object(value, "contact_sync", &known, &mut problems) else {
            return Err(problems);
        };
        let direction: Option<Direction> =
            required(object, "contact_sync", "direction", &mut problems);
        let filters = list(object, "filters", &mut problems, parse_condition);
        let mappings = list(object, "mappings", &mut problems, parse_mapping);
        let phone = match object.get("phone") {
            None | Some(Value::Null) => Some(PhoneSettings::default()),
            Some(v) => parse_phone(v, &mut problems),
        };
        check_conflicts(&mappings, &mut problems);
        match (direction, phone) {
            (Some(direction), Some(phone)) if problems.is_empty() => Ok(ContactSync {
                direction,
                filters,
                mappings,
                phone,
            }),
            _ => Err(problems),
        }
    }

    /// Every mapping in force: the default mapping of standard fields (less the defaults a
    /// custom mapping replaces), then the custom ones.
    pub fn mappings(&self) -> Vec<Mapping> {
        in_force(&self.mappings)
            .into_iter()
            .map(|(_, m)| m)
            .collect()
    }

    /// HubSpot properties to ask for when reading contacts: the mapped ones, the filters', and
    /// those matching and change detection need.
    pub fn crm_properties(&self) -> Vec<String> {
        let mut names: BTreeSet<String> = self.mappings().into_iter().map(|m| m.crm).collect();
        let filtered = self.filters.iter().filter(|c| c.app == App::Crm);
        names.extend(filtered.map(|c| c.field.clone()));
        for name in ["email", "phone", "mobilephone", "lastmodifieddate"] {
            names.insert(name.into());
        }
        names.into_iter().collect()
    }

    /// Whether an Aircall contact passes the Aircall conditions (all of them; none: passes).
    pub fn passes_aircall(&self, c: &AircallContact) -> bool {
        self.passes(App::Aircall, |field| aircall_values(c, field))
    }

    /// Whether HubSpot properties pass the HubSpot conditions (all of them; none: passes).
    pub fn passes_crm(&self, p: &CrmProperties) -> bool {
        self.passes(App::Crm, |field| {
            p.get(field)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .map(str::to_string)
                .into_iter()
                .collect()
        })
    }

    fn passes(&self, app: App, values: impl Fn(&str) -> Vec<String>) -> bool {
        let conditions = self.filters.iter().filter(|c| c.app == app);
        conditions.into_iter().all(|c| {
            let is_phone = match app {
                App::Aircall => c.field == "phone_numbers",
                App::Crm => fields::hubspot(&c.field).is_some_and(|f| f.kind == Kind::Phone),
            };
            let wanted = c.value.as_deref().unwrap_or("");
            let equal = |v: &String| {
                if is_phone {
                    phone::same_number(v, wanted, &self.phone)
                } else {
                    names::squeeze(v).to_lowercase() == names::squeeze(wanted).to_lowercase()
                }
            };
            let values = values(&c.field);
            match c.op {
                Op::IsSet => !values.is_empty(),
                Op::IsNotSet => values.is_empty(),
                Op::Equals => values.iter().any(equal),
                Op::NotEquals => !values.iter().any(equal),
                Op::Contains => {
                    let wanted = wanted.to_lowercase();
                    values.iter().any(|v| v.to_lowercase().contains(&wanted))
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::mapping::default_mappings;

    #[test]
    fn defaults_name_known_fields() {
        for m in default_mappings() {
            assert!(
                fields::aircall(&m.aircall).is_some() && fields::hubspot(&m.crm).is_some(),
                "{m:?}"
            );
        }
    }
    use crate::contacts::Labeled;
    use serde_json::json;

    fn problems(value: Value) -> Vec<(String, String)> {
        ContactSync::parse(&value).expect_err("refused")
    }

    fn one_problem(value: Value) -> (String, String) {
        let mut all = problems(value);
        assert_eq!(all.len(), 1, "{all:?}");
        all.remove(0)
    }

    fn with_mappings(mappings: Value) -> Value {
        json!({"direction": "both", "mappings": mappings})
    }

    #[test]
    fn reads_a_full_setting_and_fills_the_defaults() {
        let sync = ContactSync::parse(&json!({
            "direction": "both",
            "filters": [{"app": "hubspot", "field": "lifecyclestage", "op": "equals",
                         "value": "customer"},
                        {"app": "aircall", "field": "phone_numbers", "op": "is_set"}],
            "mappings": [{"aircall": "information", "hubspot": "jobtitle", "direction": "both"}],
            "phone": {"default_country": "fr"}
        }))
        .unwrap();
        assert_eq!(sync.direction, Direction::Both);
        assert_eq!(sync.filters.len(), 2);
        assert_eq!(sync.filters[1].value, None);
        assert_eq!(
            sync.phone,
            PhoneSettings {
                normalize: true,
                default_country: "FR".into()
            }
        );
        let minimal = ContactSync::parse(&json!({"direction": "to_aircall"})).unwrap();
        assert_eq!(minimal.phone, PhoneSettings::default());
        assert!(minimal.filters.is_empty() && minimal.mappings.is_empty());
        // What parse accepts also round-trips through serde, for storing.
        let stored: ContactSync =
            serde_json::from_value(serde_json::to_value(&sync).unwrap()).unwrap();
        assert_eq!(stored, sync);
    }

    #[test]
    fn refuses_unknown_fields_apps_ops_and_directions() {
        let all = problems(json!({
            "direction": "sideways", "colour": "red",
            "filters": [{"app": "salesforce", "field": "x", "op": "equals", "value": "1"},
                        {"app": "aircall", "field": "first_name", "op": "starts_with",
                         "value": "J"}]
        }));
        let paths: Vec<&str> = all.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "contact_sync.colour",
                "contact_sync.direction",
                "contact_sync.filters[0].app",
                "contact_sync.filters[1].op"
            ]
        );
        assert_eq!(
            all[0].1,
            "unknown field; expected direction, filters, mappings, phone"
        );
        assert!(
            all[1].1.contains("unknown variant `sideways`"),
            "{}",
            all[1].1
        );
        assert!(
            all[2].1.contains("expected `aircall` or `hubspot`"),
            "{}",
            all[2].1
        );
        assert!(all[3].1.contains("`is_not_set`"), "{}", all[3].1);
        assert_eq!(
            one_problem(json!({})),
            ("contact_sync.direction".into(), "is required".into())
        );
        assert_eq!(
            one_problem(json!([])),
            ("contact_sync".into(), "must be an object".into())
        );
        assert_eq!(
            one_problem(json!({"direction": "both", "filters": {}})),
            ("contact_sync.filters".into(), "must be a list".into())
        );
    }

    #[test]
    fn checks_filter_fields_and_values() {
        let filter = |f: Value| one_problem(json!({"direction": "both", "filters": [f]}));
        let (path, message) =
            filter(json!({"app": "aircall", "field": "lifecyclestage", "op": "is_set"}));
        assert_eq!(path, "contact_sync.filters[0].field");
        assert!(message.starts_with("unknown Aircall field \"lifecyclestage\"; Aircall has"));
        let (path, message) =
            filter(json!({"app": "hubspot", "field": "Life Cycle", "op": "is_set"}));
        assert_eq!(path, "contact_sync.filters[0].field");
        assert!(message.contains("not a HubSpot property name"));
        assert_eq!(
            filter(json!({"app": "hubspot", "field": "company", "op": "contains"})),
            (
                "contact_sync.filters[0].value".into(),
                "contains needs a value".into()
            )
        );
        assert_eq!(
            filter(json!({"app": "hubspot", "field": "phone", "op": "is_set", "value": "x"})),
            (
                "contact_sync.filters[0].value".into(),
                "is_set takes no value".into()
            )
        );
        assert_eq!(
            filter(json!({"app": "hubspot", "field": "phone", "op": "is_set", "extra": 1})),
            (
                "contact_sync.filters[0].extra".into(),
                "unknown field; expected app, field, op, value".into()
            )
        );
        // A HubSpot custom property is a fine filter.
        let custom = json!({"app": "hubspot", "field": "sync_to_aircall", "op": "equals",
                            "value": "true"});
        assert!(ContactSync::parse(&json!({"direction": "both", "filters": [custom]})).is_ok());
    }

    #[test]
    fn refuses_unknown_standard_fields_in_mappings() {
        let all = problems(with_mappings(json!([
            {"aircall": "job_title", "hubspot": "jobtitle", "direction": "both"},
            {"aircall": "information", "hubspot": "favourite_colour", "direction": "both"},
            {"aircall": "information", "direction": "both"}
        ])));
        assert_eq!(all.len(), 3, "{all:?}");
        assert_eq!(all[0].0, "contact_sync.mappings[0].aircall");
        assert!(all[0]
            .1
            .starts_with("unknown Aircall field \"job_title\"; Aircall has no custom"));
        assert_eq!(all[1].0, "contact_sync.mappings[1].hubspot");
        assert!(all[1]
            .1
            .starts_with("unknown HubSpot standard field \"favourite_colour\""));
        assert_eq!(
            all[2],
            (
                "contact_sync.mappings[2].hubspot".into(),
                "is required".into()
            )
        );
    }

    #[test]
    fn refuses_incompatible_types() {
        let (path, message) = one_problem(with_mappings(json!([
            {"aircall": "information", "hubspot": "jobtitle", "direction": "both"},
            {"aircall": "emails", "hubspot": "phone", "direction": "both"}
        ])));
        assert_eq!(path, "contact_sync.mappings[1]");
        assert_eq!(
            message,
            "Aircall emails (e-mail list) cannot be mapped to HubSpot phone (phone number)"
        );
    }

    #[test]
    fn refuses_a_direction_the_types_do_not_allow_and_says_which_is_possible() {
        let (path, message) = one_problem(with_mappings(json!([
            {"aircall": "information", "hubspot": "lifecyclestage", "direction": "both"}
        ])));
        assert_eq!(path, "contact_sync.mappings[0].direction");
        assert_eq!(
            message,
            "Aircall information (text) and HubSpot lifecyclestage (enumeration) can only be \
             mapped in direction to_aircall (only a text field takes another type)"
        );
        let (_, message) = one_problem(with_mappings(json!([
            {"aircall": "emails", "hubspot": "website", "direction": "to_aircall"}
        ])));
        assert!(
            message.contains("can only be mapped in direction to_hubspot"),
            "{message}"
        );
        let (_, message) = one_problem(with_mappings(json!([
            {"aircall": "information", "hubspot": "createdate", "direction": "to_hubspot"}
        ])));
        assert!(message.ends_with("direction to_aircall (HubSpot computes createdate itself)"));
        // The allowed direction is accepted.
        let ok = with_mappings(json!([
            {"aircall": "information", "hubspot": "lifecyclestage", "direction": "to_aircall"},
            {"aircall": "full_name", "hubspot": "jobtitle", "direction": "to_hubspot"}
        ]));
        assert!(ContactSync::parse(&ok).is_ok());
    }

    #[test]
    fn refuses_a_hubspot_field_mapped_twice_towards_the_same_side() {
        let (path, message) = one_problem(with_mappings(json!([
            {"aircall": "information", "hubspot": "jobtitle", "direction": "to_hubspot"},
            {"aircall": "description", "hubspot": "jobtitle", "direction": "both"}
        ])));
        assert_eq!(path, "contact_sync.mappings[1]");
        assert_eq!(
            message,
            "HubSpot jobtitle is already mapped towards HubSpot by contact_sync.mappings[0]"
        );
        // One each way is fine: information feeds jobtitle, jobtitle does not come back.
        let ok = with_mappings(json!([
            {"aircall": "information", "hubspot": "jobtitle", "direction": "to_hubspot"},
            {"aircall": "description", "hubspot": "jobtitle", "direction": "to_aircall"}
        ]));
        assert!(ContactSync::parse(&ok).is_ok());
    }

    #[test]
    fn refuses_two_hubspot_fields_writing_one_aircall_field() {
        let all = problems(with_mappings(json!([
            {"aircall": "full_name", "hubspot": "salutation", "direction": "both"}
        ])));
        assert_eq!(all.len(), 2, "first and last name: {all:?}");
        let (path, message) = &all[0];
        assert_eq!(path, "contact_sync.mappings[0]");
        assert_eq!(
            message,
            "Aircall first_name is already written from HubSpot firstname by the default \
             mapping; use direction to_hubspot for one of them"
        );
    }

    #[test]
    fn a_custom_mapping_replaces_the_default_it_overlaps() {
        let sync = ContactSync::parse(&with_mappings(json!([
            {"aircall": "information", "hubspot": "message", "direction": "both"},
            {"aircall": "company_name", "hubspot": "industry", "direction": "to_hubspot"},
            {"aircall": "phone_numbers", "hubspot": "fax", "direction": "both"}
        ])))
        .unwrap();
        let pairs: Vec<(String, String)> = sync
            .mappings()
            .into_iter()
            .map(|m| (m.aircall, m.crm))
            .collect();
        let pair = |a: &str, h: &str| (a.to_string(), h.to_string());
        assert_eq!(
            pairs,
            [
                pair("first_name", "firstname"),
                pair("last_name", "lastname"),
                pair("emails", "email"),
                pair("phone_numbers", "phone"),
                pair("phone_numbers", "mobilephone"),
                pair("information", "message"),
                pair("company_name", "industry"),
                pair("phone_numbers", "fax"),
            ]
        );
    }

    #[test]
    fn refuses_an_unknown_default_country() {
        assert_eq!(
            one_problem(json!({"direction": "both", "phone": {"default_country": "XX"}})),
            (
                "contact_sync.phone.default_country".into(),
                "\"XX\" is not a known country (an ISO 3166 alpha-2 code such as US, FR or GB)"
                    .into()
            )
        );
        let (path, _) = one_problem(json!({"direction": "both", "phone": {"normalize": "no"}}));
        assert_eq!(path, "contact_sync.phone.normalize");
        let off = json!({"direction": "both", "phone": {"normalize": false}});
        assert!(!ContactSync::parse(&off).unwrap().phone.normalize);
    }

    #[test]
    fn asks_hubspot_for_what_it_needs() {
        let sync = ContactSync::parse(&json!({
            "direction": "both",
            "filters": [{"app": "hubspot", "field": "hs_lead_status", "op": "is_set"}],
            "mappings": [{"aircall": "information", "hubspot": "jobtitle", "direction": "both"}]
        }))
        .unwrap();
        assert_eq!(
            sync.crm_properties(),
            [
                "company",
                "email",
                "firstname",
                "hs_lead_status",
                "jobtitle",
                "lastmodifieddate",
                "lastname",
                "message",
                "mobilephone",
                "phone"
            ]
        );
    }

    fn filtered(filters: Value) -> ContactSync {
        ContactSync::parse(&json!({"direction": "both", "filters": filters})).unwrap()
    }

    #[test]
    fn hubspot_filters_are_anded_case_insensitive_and_ignore_aircall_ones() {
        let sync = filtered(json!([
            {"app": "hubspot", "field": "lifecyclestage", "op": "equals", "value": "Customer"},
            {"app": "hubspot", "field": "company", "op": "contains", "value": "acme"},
            {"app": "aircall", "field": "first_name", "op": "is_set"}
        ]));
        let props = |pairs: &[(&str, &str)]| -> CrmProperties {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(sync.passes_crm(&props(&[
            ("lifecyclestage", "customer"),
            ("company", "ACME Corp")
        ])));
        assert!(!sync.passes_crm(&props(&[("lifecyclestage", "lead"), ("company", "ACME")])));
        assert!(!sync.passes_crm(&props(&[("lifecyclestage", "customer")])));
        let none = filtered(json!([]));
        assert!(none.passes_crm(&props(&[])));
        assert!(none.passes_aircall(&AircallContact::default()));

        let set = filtered(json!([
            {"app": "hubspot", "field": "phone", "op": "is_set"},
            {"app": "hubspot", "field": "hs_lead_status", "op": "is_not_set"},
            {"app": "hubspot", "field": "country", "op": "not_equals", "value": "France"}
        ]));
        assert!(set.passes_crm(&props(&[("phone", "555"), ("hs_lead_status", "")])));
        assert!(!set.passes_crm(&props(&[("phone", "  ")])));
        assert!(!set.passes_crm(&props(&[("phone", "5"), ("hs_lead_status", "NEW")])));
        assert!(!set.passes_crm(&props(&[("phone", "5"), ("country", "france")])));
    }

    #[test]
    fn aircall_filters_look_into_lists_and_compare_phones_normalised() {
        let sync = filtered(json!([
            {"app": "aircall", "field": "phone_numbers", "op": "equals",
             "value": "(415) 555-2671"},
            {"app": "aircall", "field": "emails", "op": "contains", "value": "@ACME.com"},
            {"app": "aircall", "field": "full_name", "op": "equals", "value": "jean dupont"},
            {"app": "hubspot", "field": "phone", "op": "is_set"}
        ]));
        let contact = AircallContact {
            first_name: Some("Jean".into()),
            last_name: Some(" Dupont".into()),
            phone_numbers: vec![
                Labeled::new("Home", "+33612345678"),
                Labeled::new("Work", "+14155552671"),
            ],
            emails: vec![
                Labeled::new("", "x@gmail.com"),
                Labeled::new("", "jean@acme.com"),
            ],
            ..Default::default()
        };
        assert!(sync.passes_aircall(&contact));
        let mut other = contact.clone();
        other.phone_numbers.pop();
        assert!(!sync.passes_aircall(&other));
        let mut other = contact.clone();
        other.emails.pop();
        assert!(!sync.passes_aircall(&other));
    }
}
