//! Filters: PieSync-style IF/THEN conditions on either app's fields; a contact is synced when
//! it passes all of its app's conditions.

use super::checks::{is_property_name, names_of, object, required, typed, Problems};
use super::fields;
use super::model::AircallContact;
use super::names;
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    pub const ALL: [Op; 5] = [
        Op::Equals,
        Op::NotEquals,
        Op::Contains,
        Op::IsSet,
        Op::IsNotSet,
    ];

    pub fn needs_value(self) -> bool {
        matches!(self, Op::Equals | Op::NotEquals | Op::Contains)
    }

    pub fn name(self) -> &'static str {
        match self {
            Op::Equals => "equals",
            Op::NotEquals => "not_equals",
            Op::Contains => "contains",
            Op::IsSet => "is_set",
            Op::IsNotSet => "is_not_set",
        }
    }
}

pub(super) fn parse_condition(
    value: &Value,
    path: &str,
    problems: &mut Problems,
) -> Option<Condition> {
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
