//! Reading an admin's `contact_sync` JSON: each value as its type, unknown keys reported, every
//! problem named by its path (`contact_sync.mappings[1].hubspot`).

use super::fields::Field;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub(super) type Problems = Vec<(String, String)>;

/// A field's value read as `T`, or a problem at `path`.
pub(super) fn typed<T: DeserializeOwned>(
    value: &Value,
    path: &str,
    problems: &mut Problems,
) -> Option<T> {
    serde_json::from_value(value.clone())
        .map_err(|e| problems.push((path.to_string(), e.to_string())))
        .ok()
}

/// The object at `path`, with every key not in `known` reported.
pub(super) fn object<'v>(
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
pub(super) fn required<T: DeserializeOwned>(
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

/// The elements of the list at `key`, each parsed by `parse` with its path.
pub(super) fn list<T>(
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

pub(super) fn names_of(fields: &[Field]) -> String {
    fields.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
}

/// "Aircall emails (e-mail list)".
pub(super) fn describe(app: &str, field: &Field) -> String {
    format!("{app} {} ({})", field.name, field.type_name())
}

/// HubSpot internal property names are lower case letters, digits and underscores; filters may
/// name custom properties too (a "sync to Aircall" checkbox is a common filter).
pub(super) fn is_property_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}
