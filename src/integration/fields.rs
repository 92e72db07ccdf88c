//! Each field of an integration as an admin gives it (`POST` and `PATCH` alike), checked on
//! its own: every problem named by its path, nothing read past a documented limit.

use crate::aircall::Credentials;
use crate::calls::ImportRules;
use crate::contacts::ContactSync;
use crate::crm::cards::InsightCards;
use crate::destinations::NewDestination;
use crate::problems::{FieldError, Problems};
use crate::selection::NumberRef;
use serde_json::{Map, Value};

pub const CONTACT_SYNC_NEEDS_A_CRM: &str = "contact sync needs a HubSpot destination";

pub const MAX_EVENTS: usize = 100;

/// `rules` with the fields of `changes` laid over it, checked.
pub fn merge_import(
    rules: &ImportRules,
    changes: &Map<String, Value>,
) -> Result<ImportRules, Vec<FieldError>> {
    let mut merged = match serde_json::to_value(rules).expect("rules serialize") {
        Value::Object(map) => map,
        _ => unreachable!("rules are an object"),
    };
    merged.extend(changes.clone());
    let mut p = Problems::default();
    let rules = parse_import(&mut p, Some(&Value::Object(merged)));
    if p.0.is_empty() {
        Ok(rules)
    } else {
        Err(p.0)
    }
}

/// `{api_id, api_token}` (HTTP Basic) or `{access_token}` (a bearer API key or OAuth token).
pub(super) fn parse_credentials(p: &mut Problems, value: Option<&Value>) -> Option<Credentials> {
    let a = p.object(value, "aircall", &["api_id", "api_token", "access_token"])?;
    if a.contains_key("access_token") {
        if a.contains_key("api_id") || a.contains_key("api_token") {
            p.add(
                "aircall",
                "give either api_id and api_token, or access_token, not both",
            );
            return None;
        }
        return Some(Credentials::Bearer {
            access_token: p.token(a, "aircall.", "access_token", 2000)?,
            refresh_token: None,
        });
    }
    let api_id = p.text(a, "aircall.", "api_id", 200);
    let api_token = p.token(a, "aircall.", "api_token", 500);
    Some(Credentials::Basic {
        api_id: api_id?,
        api_token: api_token?,
    })
}

/// `destination`: an object whose `type` names a registered destination; a new one (`new`)
/// with its secret.
pub(super) fn parse_destination(
    p: &mut Problems,
    value: Option<&Value>,
    new: bool,
) -> Option<NewDestination> {
    let fields = match value {
        Some(Value::Object(fields)) => fields,
        None | Some(Value::Null) => {
            p.add("destination", "is required");
            return None;
        }
        Some(_) => {
            p.add("destination", "must be an object");
            return None;
        }
    };
    match new {
        true => crate::destinations::parse_new(fields, p),
        false => crate::destinations::parse(fields, p),
    }
}

pub const MAX_NUMBERS: usize = 100;

/// Aircall number ids (integers) or phone numbers (strings, kept as `+` and digits).
pub(super) fn parse_numbers(p: &mut Problems, value: Option<&Value>) -> Option<Vec<NumberRef>> {
    let list = match value {
        None | Some(Value::Null) => return None,
        Some(Value::Array(list)) => list,
        Some(_) => {
            p.add(
                "numbers",
                "must be a list of Aircall number ids or phone numbers, or null for every number",
            );
            return None;
        }
    };
    if list.is_empty() {
        p.add(
            "numbers",
            "must name at least one number (leave it out for every number)",
        );
    }
    // Past the limit nothing more is read: a huge list costs neither CPU nor a huge answer.
    if list.len() > MAX_NUMBERS {
        p.add(
            "numbers",
            format!("must name at most {MAX_NUMBERS} numbers"),
        );
        return None;
    }
    let mut numbers = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let parsed = match item {
            Value::Number(n) => n.as_i64().filter(|id| *id > 0).map(NumberRef::Id),
            Value::String(s) => {
                let digits = crate::selection::digits(s);
                let shaped = s
                    .trim()
                    .chars()
                    .all(|c| c.is_ascii_digit() || " +-().".contains(c));
                (shaped && (6..=15).contains(&digits.len())).then(|| {
                    NumberRef::Digits(if s.trim().starts_with('+') {
                        format!("+{digits}")
                    } else {
                        digits
                    })
                })
            }
            _ => None,
        };
        match parsed {
            Some(number) if !numbers.contains(&number) => numbers.push(number),
            Some(_) => {}
            None => p.add(
                &format!("numbers[{i}]"),
                "must be an Aircall number id (a positive integer) or a phone number such as \"+33 1 76 36 06 95\"",
            ),
        }
    }
    Some(numbers)
}

/// `contact_sync`: null (off) or the settings, every problem named by field.
pub(super) fn parse_contact_sync(p: &mut Problems, value: Option<&Value>) -> Option<ContactSync> {
    let value = value.filter(|v| !v.is_null())?;
    match ContactSync::parse(value) {
        Ok(sync) => Some(sync),
        Err(problems) => {
            for (field, message) in problems {
                p.add(&field, message);
            }
            None
        }
    }
}

/// `insight_cards`: null (off) or the settings, every problem named by field.
pub(super) fn parse_insight_cards(p: &mut Problems, value: Option<&Value>) -> Option<InsightCards> {
    let value = value.filter(|v| !v.is_null())?;
    match InsightCards::parse(value) {
        Ok(cards) => Some(cards),
        Err(problems) => {
            for (field, message) in problems {
                p.add(&field, message);
            }
            None
        }
    }
}

/// Insight cards are read from a CRM, and made on `call.created`, which Aircall must send.
pub fn insight_cards_problems(
    cards: Option<&InsightCards>,
    crm: bool,
    events: Option<&[String]>,
) -> Vec<FieldError> {
    let mut problems = Vec::new();
    let Some(cards) = cards else {
        return problems;
    };
    if !crm {
        problems.push(FieldError {
            field: "insight_cards".into(),
            message: "needs a CRM destination (HubSpot): the cards are read from it".into(),
        });
    }
    if cards.enabled && events.is_some_and(|e| !e.iter().any(|e| e == "call.created")) {
        problems.push(FieldError {
            field: "insight_cards.enabled".into(),
            message: "needs \"call.created\" among the integration's events: Aircall sends it when a call starts".into(),
        });
    }
    problems
}

/// A CRM gets AI data on the call's engagement, which the call's own event (`call.ended`)
/// logs: without it every AI event would also read its call, more than the one Aircall
/// request an AI event may cost.
pub fn ai_events_problem(crm: bool, events: Option<&[String]>) -> Option<FieldError> {
    use crate::selection::forwards;
    let ai = crate::aircall::AiKind::ALL
        .iter()
        .any(|kind| forwards(events, kind.event()));
    (crm && ai && !forwards(events, "call.ended")).then(|| FieldError {
        field: "events".into(),
        message: "AI events need \"call.ended\" too: the CRM gets the AI data on the call's engagement, which call.ended logs".into(),
    })
}

/// Users taken from HubSpot's owners need a HubSpot destination to read them from.
pub fn users_source_problem(rules: &ImportRules, crm: bool) -> Option<FieldError> {
    (rules.users_from == crate::calls::UsersFrom::HubspotOwners && !crm).then(|| FieldError {
        field: "import.users_from".into(),
        message: "\"hubspot_owners\" needs a HubSpot destination to read the owners from".into(),
    })
}

/// The import rules: every field optional, defaults from the product documents.
pub(super) fn parse_import(p: &mut Problems, value: Option<&Value>) -> ImportRules {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return ImportRules::default();
    };
    match serde_json::from_value::<ImportRules>(value.clone()) {
        Ok(rules) => {
            for (field, message) in rules.problems() {
                p.add(&format!("import.{field}"), message);
            }
            rules
        }
        Err(e) => {
            p.add("import", e.to_string());
            ImportRules::default()
        }
    }
}

/// `None`/absent: the destination's default selection. A list names the events to forward;
/// names Aircall may add later are accepted as long as they look like event names. As in
/// Aircall's Segment source, an entry emptied or set to null (`null`, `"null"`, `""`) turns
/// that event off.
pub(super) fn parse_events(p: &mut Problems, value: Option<&Value>) -> Option<Vec<String>> {
    let list = match value {
        None | Some(Value::Null) => return None,
        Some(Value::Array(list)) => list,
        Some(_) => {
            p.add(
                "events",
                "must be a list of event names, or null for every event",
            );
            return None;
        }
    };
    if list.len() > MAX_EVENTS {
        p.add("events", format!("must name at most {MAX_EVENTS} events"));
        return None;
    }
    let mut events: Vec<String> = Vec::new();
    for (i, item) in list.iter().enumerate() {
        match item.as_str() {
            None if item.is_null() => {}
            Some(off) if off.trim().is_empty() || off.trim() == "null" => {}
            Some(name) if is_event_name(name) => {
                if !events.iter().any(|e| e == name) {
                    events.push(name.to_string());
                }
            }
            _ => p.add(
                &format!("events[{i}]"),
                "must be an event name such as \"call.ended\"",
            ),
        }
    }
    if events.is_empty() && list.len() <= MAX_EVENTS && p.0.iter().all(|e| e.field != "events") {
        p.add(
            "events",
            "must name at least one event (leave it out for the default selection)",
        );
    }
    Some(events)
}

/// `call.ended`, `user.created.v2`: lower-case words joined by dots.
pub fn is_event_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    name.len() <= 64
        && parts.len() >= 2
        && parts.iter().all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}
