//! The integration's `contact_sync` settings: direction, PieSync-style filters, custom field
//! mappings and phone normalisation, checked when an admin saves them so that a sync never
//! starts on a mapping that cannot work.

use super::fields::{self, Field, Kind};
use super::model::{AircallContact, CrmProperties};
use super::names;
use super::phone::{self, PhoneSettings};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Named for HubSpot, the first CRM, in the API.
    #[serde(rename = "to_hubspot")]
    ToCrm,
    ToAircall,
    Both,
}

impl Direction {
    pub fn to_crm(self) -> bool {
        self != Direction::ToAircall
    }

    pub fn to_aircall(self) -> bool {
        self != Direction::ToCrm
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum App {
    Aircall,
    /// The CRM; named `hubspot` in the API (its first CRM).
    #[serde(rename = "hubspot")]
    Crm,
}

/// A filter condition: IF `field` of the contact in `app` satisfies `op` THEN it is synced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub app: App,
    pub field: String,
    pub op: Op,
    #[serde(default)]
    pub value: Option<String>,
}

/// Text comparisons ignore case; a list field (e-mails, phone numbers) matches when any of its
/// values does, and phone numbers compare by their normalised form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Equals,
    NotEquals,
    Contains,
    IsSet,
    IsNotSet,
}

impl Op {
    fn needs_value(self) -> bool {
        matches!(self, Op::Equals | Op::NotEquals | Op::Contains)
    }

    fn name(self) -> &'static str {
        match self {
            Op::Equals => "equals",
            Op::NotEquals => "not_equals",
            Op::Contains => "contains",
            Op::IsSet => "is_set",
            Op::IsNotSet => "is_not_set",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    pub aircall: String,
    /// The CRM's field; named `hubspot` in the API (its first CRM).
    #[serde(rename = "hubspot")]
    pub crm: String,
    pub direction: Direction,
}

/// The default mapping, all both ways. Aircall's `description` goes with HubSpot's `message`
/// (a free-text note about the person, like Aircall's description); `information` is left for
/// a custom mapping (e.g. lifecycle stage or job title). Phone numbers go to two HubSpot
/// fields, the number's Aircall label deciding which (see `phone_label`).
pub fn default_mappings() -> Vec<Mapping> {
    [
        ("first_name", "firstname"),
        ("last_name", "lastname"),
        ("company_name", "company"),
        ("description", "message"),
        ("emails", "email"),
        ("phone_numbers", "phone"),
        ("phone_numbers", "mobilephone"),
    ]
    .into_iter()
    .map(|(aircall, hubspot)| Mapping {
        aircall: aircall.into(),
        crm: hubspot.into(),
        direction: Direction::Both,
    })
    .collect()
}

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

type Problems = Vec<(String, String)>;

/// A field's value read as `T`, or a problem at `path`.
fn typed<T: DeserializeOwned>(value: &Value, path: &str, problems: &mut Problems) -> Option<T> {
    serde_json::from_value(value.clone())
        .map_err(|e| problems.push((path.to_string(), e.to_string())))
        .ok()
}

/// The object at `path`, with every key not in `known` reported.
fn object<'v>(
    value: &'v Value,
    path: &str,
    known: &[&str],
    problems: &mut Problems,
) -> Option<&'v Map<String, Value>> {
    let Some(object) = value.as_object() else {
        problems.push((path.to_string(), "must be an object".into()));
        return None;
    };
    for key in object.keys().filter(|k| !known.contains(&k.as_str())) {
        let expected = known.join(", ");
        problems.push((
            format!("{path}.{key}"),
            format!("unknown field; expected {expected}"),
        ));
    }
    Some(object)
}

/// A required field of `object`, read as `T`.
fn required<T: DeserializeOwned>(
    object: &Map<String, Value>,
    path: &str,
    key: &str,
    problems: &mut Problems,
) -> Option<T> {
    let path = format!("{path}.{key}");
    match object.get(key) {
        Some(value) => typed(value, &path, problems),
        None => {
            problems.push((path, "is required".into()));
            None
        }
    }
}

fn names_of(fields: &[Field]) -> String {
    fields.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
}

/// "Aircall emails (e-mail list)".
fn describe(app: &str, field: &Field) -> String {
    format!("{app} {} ({})", field.name, field.type_name())
}

/// HubSpot internal property names are lower case letters, digits and underscores; filters may
/// name custom properties too (a "sync to Aircall" checkbox is a common filter).
fn is_property_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn parse_condition(value: &Value, path: &str, problems: &mut Problems) -> Option<Condition> {
    let object = object(value, path, &["app", "field", "op", "value"], problems)?;
    let app: Option<App> = required(object, path, "app", problems);
    let field: Option<String> = required(object, path, "field", problems);
    let op: Option<Op> = required(object, path, "op", problems);
    let value: Option<Option<String>> = match object.get("value") {
        None | Some(Value::Null) => Some(None),
        Some(v) => typed(v, &format!("{path}.value"), problems).map(Some),
    };
    let field_path = format!("{path}.field");
    match (app, field.as_deref()) {
        (Some(App::Aircall), Some(name)) if fields::aircall(name).is_none() => problems.push((
            field_path,
            format!(
                "unknown Aircall field \"{name}\"; Aircall has {}",
                names_of(fields::AIRCALL)
            ),
        )),
        (Some(App::Crm), Some(name)) if !is_property_name(name) => problems.push((
            field_path,
            format!(
                "\"{name}\" is not a HubSpot property name (internal names are lower case, \
                 like lifecyclestage)"
            ),
        )),
        _ => {}
    }
    if let (Some(op), Some(value)) = (op, &value) {
        let value_path = format!("{path}.value");
        if op.needs_value() && value.is_none() {
            problems.push((value_path, format!("{} needs a value", op.name())));
        } else if !op.needs_value() && value.is_some() {
            problems.push((value_path, format!("{} takes no value", op.name())));
        }
    }
    Some(Condition {
        app: app?,
        field: field?,
        op: op?,
        value: value?,
    })
}

fn parse_mapping(value: &Value, path: &str, problems: &mut Problems) -> Option<Mapping> {
    let object = object(value, path, &["aircall", "hubspot", "direction"], problems)?;
    let aircall: Option<String> = required(object, path, "aircall", problems);
    let hubspot: Option<String> = required(object, path, "hubspot", problems);
    let direction: Option<Direction> = required(object, path, "direction", problems);
    let a = aircall.as_deref().and_then(|name| {
        let field = fields::aircall(name);
        if field.is_none() {
            problems.push((
                format!("{path}.aircall"),
                format!(
                    "unknown Aircall field \"{name}\"; Aircall has no custom fields, only {}",
                    names_of(fields::AIRCALL)
                ),
            ));
        }
        field
    });
    let h = hubspot.as_deref().and_then(|name| {
        let field = fields::hubspot(name);
        if field.is_none() {
            problems.push((
                format!("{path}.hubspot"),
                format!(
                    "unknown HubSpot standard field \"{name}\"; mappable fields are {}",
                    names_of(fields::HUBSPOT)
                ),
            ));
        }
        field
    });
    let (a, h, direction) = (a?, h?, direction?);
    let (to_hubspot, to_aircall) = fields::allowed(a, h);
    let pair = format!("{} and {}", describe("Aircall", a), describe("HubSpot", h));
    if !to_hubspot && !to_aircall {
        let message = format!(
            "{} cannot be mapped to {}",
            describe("Aircall", a),
            describe("HubSpot", h)
        );
        problems.push((path.to_string(), message));
        return None;
    }
    let possible = if to_hubspot {
        "to_hubspot"
    } else {
        "to_aircall"
    };
    let why = if h.read_only {
        format!("HubSpot computes {} itself", h.name)
    } else {
        "only a text field takes another type".to_string()
    };
    if (direction.to_crm() && !to_hubspot) || (direction.to_aircall() && !to_aircall) {
        problems.push((
            format!("{path}.direction"),
            format!("{pair} can only be mapped in direction {possible} ({why})"),
        ));
        return None;
    }
    Some(Mapping {
        aircall: a.name.into(),
        crm: h.name.into(),
        direction,
    })
}

/// The mappings in force, each with the settings path it came from (None: a default). A custom
/// mapping naming the HubSpot field, or the single-valued Aircall field, of a default mapping
/// replaces that default: it is how an admin changes where a standard field goes.
fn in_force(custom: &[Mapping]) -> Vec<(Option<usize>, Mapping)> {
    let replaced = |d: &Mapping| {
        custom.iter().any(|m| {
            m.crm == d.crm
                || (m.aircall == d.aircall && fields::aircall(&d.aircall).is_some_and(|f| !f.list))
        })
    };
    let defaults = default_mappings().into_iter().filter(|d| !replaced(d));
    defaults
        .map(|d| (None, d))
        .chain(
            custom
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, m)| (Some(i), m)),
        )
        .collect()
}

/// The Aircall fields a mapping writes (full_name writes both names; lists take several).
fn aircall_targets(aircall: &str) -> Vec<&str> {
    match aircall {
        "full_name" => vec!["first_name", "last_name"],
        "emails" | "phone_numbers" => vec![],
        other => vec![other],
    }
}

/// Two mappings writing the same field would overwrite each other on every pass.
fn check_conflicts(custom: &[Mapping], problems: &mut Problems) {
    let all = in_force(custom);
    let source = |i: Option<usize>| match i {
        Some(i) => format!("contact_sync.mappings[{i}]"),
        None => "the default mapping".to_string(),
    };
    for (n, (index, m)) in all.iter().enumerate() {
        let Some(i) = index else { continue };
        let path = format!("contact_sync.mappings[{i}]");
        for (other_index, other) in &all[..n] {
            let towards_hubspot = m.direction.to_crm() && other.direction.to_crm();
            let towards_aircall = m.direction.to_aircall() && other.direction.to_aircall();
            if m.crm == other.crm && (towards_hubspot || towards_aircall) {
                let side = if towards_hubspot {
                    "HubSpot"
                } else {
                    "Aircall"
                };
                problems.push((
                    path.clone(),
                    format!(
                        "HubSpot {} is already mapped towards {side} by {}",
                        m.crm,
                        source(*other_index)
                    ),
                ));
                continue;
            }
            if !towards_aircall {
                continue;
            }
            let mine = aircall_targets(&m.aircall);
            if let Some(field) = aircall_targets(&other.aircall)
                .into_iter()
                .find(|f| mine.contains(f))
            {
                problems.push((
                    path.clone(),
                    format!(
                        "Aircall {field} is already written from HubSpot {} by {}; use \
                         direction to_hubspot for one of them",
                        other.crm,
                        source(*other_index)
                    ),
                ));
            }
        }
    }
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

/// The elements of the list at `key`, each parsed by `parse` with its path.
fn list<T>(
    object: &Map<String, Value>,
    key: &str,
    problems: &mut Problems,
    parse: impl Fn(&Value, &str, &mut Problems) -> Option<T>,
) -> Vec<T> {
    let path = format!("contact_sync.{key}");
    match object.get(key) {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| parse(item, &format!("{path}[{i}]"), problems))
            .collect(),
        Some(_) => {
            problems.push((path, "must be a list".into()));
            vec![]
        }
    }
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

/// The non-empty values of an Aircall field (several for a list).
pub(crate) fn aircall_values(c: &AircallContact, field: &str) -> Vec<String> {
    let text = |v: &Option<String>| v.as_deref().unwrap_or("").trim().to_string();
    let values = match field {
        "first_name" => vec![text(&c.first_name)],
        "last_name" => vec![text(&c.last_name)],
        "full_name" => vec![names::join(
            c.first_name.as_deref().unwrap_or(""),
            c.last_name.as_deref().unwrap_or(""),
        )],
        "company_name" => vec![text(&c.company_name)],
        "description" => vec![text(&c.description)],
        "information" => vec![text(&c.information)],
        "emails" => c
            .emails
            .iter()
            .map(|e| e.value.trim().to_string())
            .collect(),
        "phone_numbers" => c
            .phone_numbers
            .iter()
            .map(|n| n.value.trim().to_string())
            .collect(),
        _ => vec![],
    };
    values.into_iter().filter(|v| !v.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
