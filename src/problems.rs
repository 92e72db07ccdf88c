//! Checking what an admin sends: every problem is collected with its field's path
//! (`destination.url`), so that all of them are fixed in one go and nothing is changed.

use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Collects every problem of a body, so the admin fixes them all in one go.
#[derive(Default)]
pub struct Problems(pub Vec<FieldError>);

impl Problems {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_string(),
            message: message.into(),
        });
    }

    /// A required string of at most `max` characters, trimmed.
    pub fn text(
        &mut self,
        obj: &Map<String, Value>,
        prefix: &str,
        key: &str,
        max: usize,
    ) -> Option<String> {
        let field = format!("{prefix}{key}");
        match obj.get(key) {
            None | Some(Value::Null) => self.add(&field, "is required"),
            Some(Value::String(s)) if s.trim().is_empty() => self.add(&field, "must not be empty"),
            Some(Value::String(s)) if s.chars().count() > max => {
                self.add(&field, format!("must be at most {max} characters"))
            }
            Some(Value::String(s)) => return Some(s.trim().to_string()),
            Some(_) => self.add(&field, "must be a string"),
        }
        None
    }

    /// An object field; reports fields it does not know so typos are not silently ignored.
    pub fn object<'a>(
        &mut self,
        value: Option<&'a Value>,
        field: &str,
        known: &[&str],
    ) -> Option<&'a Map<String, Value>> {
        match value {
            Some(Value::Object(obj)) => {
                for key in obj.keys().filter(|k| !known.contains(&k.as_str())) {
                    let name = if field.is_empty() {
                        key.clone()
                    } else {
                        format!("{field}.{key}")
                    };
                    self.add(&name, "is not a known field");
                }
                Some(obj)
            }
            None | Some(Value::Null) => {
                self.add(field, "is required");
                None
            }
            Some(_) => {
                self.add(
                    if field.is_empty() { "body" } else { field },
                    "must be an object",
                );
                None
            }
        }
    }
}
