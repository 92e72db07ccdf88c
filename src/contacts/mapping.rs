//! Field mappings between Aircall and the CRM: the default ones, custom ones checked for
//! type and direction, and which are in force.

use super::checks::{describe, names_of, object, required, Problems};
use super::fields;
use serde::{Deserialize, Serialize};
use serde_json::Value;

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

/// What the types allow between an Aircall field and a CRM field: the directions, and why
/// not both (the words a refused mapping is answered with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pair {
    pub to_crm: bool,
    pub to_aircall: bool,
    pub why: Option<String>,
}

pub(crate) fn pair(a: &fields::Field, h: &fields::Field) -> Pair {
    let (to_crm, to_aircall) = fields::allowed(a, h);
    let (aircall, hubspot) = (describe("Aircall", a), describe("HubSpot", h));
    let why = match (to_crm, to_aircall) {
        (true, true) => None,
        (false, false) => Some(format!("{aircall} cannot be mapped to {hubspot}")),
        (to_crm, _) => {
            let possible = if to_crm { "to_hubspot" } else { "to_aircall" };
            let reason = if h.read_only {
                format!("HubSpot computes {} itself", h.name)
            } else {
                "only a text field takes another type".to_string()
            };
            Some(format!(
                "{aircall} and {hubspot} can only be mapped in direction {possible} ({reason})"
            ))
        }
    };
    Pair {
        to_crm,
        to_aircall,
        why,
    }
}

pub(super) fn parse_mapping(value: &Value, path: &str, problems: &mut Problems) -> Option<Mapping> {
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
    let pair = pair(a, h);
    if !pair.to_crm && !pair.to_aircall {
        problems.push((path.to_string(), pair.why.unwrap_or_default()));
        return None;
    }
    if (direction.to_crm() && !pair.to_crm) || (direction.to_aircall() && !pair.to_aircall) {
        problems.push((format!("{path}.direction"), pair.why.unwrap_or_default()));
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
pub(super) fn in_force(custom: &[Mapping]) -> Vec<(Option<usize>, Mapping)> {
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
pub(super) fn aircall_targets(aircall: &str) -> Vec<&str> {
    match aircall {
        "full_name" => vec!["first_name", "last_name"],
        "emails" | "phone_numbers" => vec![],
        other => vec![other],
    }
}

/// Two mappings writing the same field would overwrite each other on every pass.
pub(super) fn check_conflicts(custom: &[Mapping], problems: &mut Problems) {
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
