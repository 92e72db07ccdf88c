//! Checking what an admin sends: every problem is collected with its field's path
//! (`destination.url`), so that all of them are fixed in one go and nothing is changed.

use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Problems listed for one body at most; past them one last entry says there are more, so a
/// huge wrong body gets a short answer.
pub const MAX_PROBLEMS: usize = 50;

/// Collects every problem of a body (up to [`MAX_PROBLEMS`]), so the admin fixes them all in
/// one go.
#[derive(Default)]
pub struct Problems(pub Vec<FieldError>);

impl Problems {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        let (field, message) = match self.0.len() {
            n if n < MAX_PROBLEMS => (field.to_string(), message.into()),
            MAX_PROBLEMS => (
                "body".to_string(),
                format!("has more problems than the {MAX_PROBLEMS} listed: fix these first"),
            ),
            _ => return,
        };
        self.0.push(FieldError { field, message });
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

    /// A credential sent in an HTTP header: a required string of at most `max` characters
    /// and only printable ASCII. A header cannot carry anything else, and the runtime's
    /// warning about such a header prints its whole value in the log. The value is never
    /// echoed in the problem.
    pub fn token(
        &mut self,
        obj: &Map<String, Value>,
        prefix: &str,
        key: &str,
        max: usize,
    ) -> Option<String> {
        let value = self.text(obj, prefix, key, max)?;
        if value.bytes().all(|b| b.is_ascii_graphic()) {
            return Some(value);
        }
        self.add(
            &format!("{prefix}{key}"),
            "must be printable ASCII without spaces (letters, digits, punctuation): \
             check it was copied whole and without accents or invisible characters",
        );
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
