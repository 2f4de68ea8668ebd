//! Typed access to loosely-typed JSON objects (Segment messages, Shopify webhooks) with
//! errors that name the field path and say what was found instead.
//!
//! Also owns the wording of JSON syntax errors (with their column), shared by every JSON
//! format.

use crate::rejection::{FieldError, join_path};
use crate::timestamp::excerpt;
use cartback_core::Currency;
use serde_json::{Map, Value};

/// A JSON object together with its path in the document, e.g. `batch[3].properties`.
#[derive(Clone, Copy)]
pub(crate) struct Object<'a> {
    pub(crate) map: &'a Map<String, Value>,
    pub(crate) path: &'a str,
}

impl<'a> Object<'a> {
    pub(crate) fn new(map: &'a Map<String, Value>, path: &'a str) -> Self {
        Object { map, path }
    }

    pub(crate) fn field(&self, key: &str) -> String {
        join_path(self.path, key)
    }

    fn wrong_type(&self, key: &str, expected: &str, found: &Value) -> FieldError {
        FieldError::new(
            self.field(key),
            format!("expected {expected}, got {}", describe(found)),
        )
    }

    /// The value under `key`, treating JSON `null` as absent.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// A string value; empty strings count as absent.
    pub(crate) fn str(&self, key: &str) -> Result<Option<&'a str>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.wrong_type(key, "a string", other)),
        }
    }

    /// An identifier given as a string or an integer (Shopify and many Segment sources
    /// send numeric ids). Empty strings count as absent; length is checked.
    pub(crate) fn id(&self, key: &str) -> Result<Option<String>, FieldError> {
        let text = match self.get(key) {
            None => return Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
            Some(other) => return Err(self.wrong_type(key, "a string or integer id", other)),
        };
        crate::validate::id(text)
            .map(Some)
            .map_err(|m| FieldError::new(self.field(key), m))
    }

    /// Bounded text (name, category, …); empty strings count as absent.
    pub(crate) fn text(&self, key: &str) -> Result<Option<String>, FieldError> {
        match self.str(key)? {
            None => Ok(None),
            Some(s) => crate::validate::text(s.to_string())
                .map(Some)
                .map_err(|m| FieldError::new(self.field(key), m)),
        }
    }

    pub(crate) fn object(&self, key: &str) -> Result<Option<&'a Map<String, Value>>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(other) => Err(self.wrong_type(key, "an object", other)),
        }
    }

    pub(crate) fn array(&self, key: &str) -> Result<Option<&'a Vec<Value>>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(other) => Err(self.wrong_type(key, "an array", other)),
        }
    }

    /// A whole number (integral floats such as `2.0` are accepted).
    pub(crate) fn integer(&self, key: &str) -> Result<Option<i64>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                if let Some(i) = n.as_i64() {
                    return Ok(Some(i));
                }
                if n.is_u64() {
                    return Ok(Some(i64::MAX));
                }
                match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
                    _ => Err(self.wrong_type(key, "a whole number", &Value::Number(n.clone()))),
                }
            }
            Some(Value::String(s)) => s
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| self.wrong_type(key, "a whole number", &Value::String(s.clone()))),
            Some(other) => Err(self.wrong_type(key, "a whole number", other)),
        }
    }

    /// A money amount in MAJOR units (`19.99` or `"19.99"`), converted exactly into minor
    /// units of `currency` and range-checked.
    pub(crate) fn major_amount(
        &self,
        key: &str,
        currency: Currency,
    ) -> Result<Option<i64>, FieldError> {
        let converted = match self.get(key) {
            None => return Ok(None),
            Some(Value::Number(n)) => match n.as_f64() {
                Some(f) => currency.from_major_f64(f),
                None => {
                    return Err(self.wrong_type(
                        key,
                        "a decimal amount",
                        &Value::Number(n.clone()),
                    ));
                }
            },
            Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
            Some(Value::String(s)) => currency.parse_major(s),
            Some(other) => {
                return Err(self.wrong_type(key, "a decimal amount such as 19.99", other));
            }
        };
        converted
            .map_err(|e| e.to_string())
            .and_then(crate::validate::amount)
            .map(Some)
            .map_err(|m| FieldError::new(self.field(key), m))
    }
}

/// A short description of a JSON value for "expected X, got Y" messages.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("the string \"{}\"", excerpt(s)),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// Words for a serde_json error: syntax errors say "malformed JSON at column N"; data
/// errors keep their message without serde_json's position suffix.
pub(crate) fn error_message(err: &serde_json::Error) -> String {
    let text = err.to_string();
    let bare = match text.rfind(" at line ") {
        Some(cut) => &text[..cut],
        None => text.as_str(),
    };
    if err.is_syntax() || err.is_eof() {
        format!("malformed JSON at column {}: {bare}", err.column())
    } else {
        bare.to_string()
    }
}

/// Parses one JSON document, rejecting syntax errors with their column.
pub(crate) fn parse_document(text: &str) -> Result<Value, FieldError> {
    serde_json::from_str(text).map_err(|e| FieldError::whole(error_message(&e)))
}

/// Turns a typed-decoding error into a field error: the path names the field, and
/// "missing field" / "unknown field" messages name the field itself rather than its parent.
pub(crate) fn typed_error(err: serde_path_to_error::Error<serde_json::Error>) -> FieldError {
    let inner = err.inner();
    let message = error_message(inner);
    if inner.is_syntax() || inner.is_eof() {
        return FieldError::whole(message);
    }
    let path = err.path().to_string();
    let parent = if path == "." { String::new() } else { path };
    let quoted = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_once('`'))
            .map(|(name, rest)| (name.to_string(), rest.to_string()))
    };
    if let Some((name, _)) = quoted("missing field `") {
        return FieldError::new(join_path(&parent, &name), "is required");
    }
    if let Some((name, rest)) = quoted("unknown field `") {
        let expected = rest.trim_start_matches(", ");
        // serde_path_to_error already puts the unknown key at the end of the path.
        let field = if parent == name || parent.ends_with(&format!(".{name}")) {
            parent
        } else {
            join_path(&parent, &name)
        };
        return FieldError::new(field, format!("unknown field (a typo? {expected})"));
    }
    if parent.is_empty() {
        FieldError::whole(message)
    } else {
        FieldError::new(parent, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_field_and_what_was_found() {
        let value: Value = serde_json::json!({"a": 5, "b": "x", "c": 1.5, "d": "", "p": "19.99"});
        let map = value.as_object().unwrap();
        let obj = Object::new(map, "properties");
        let err = obj.str("a").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("properties.a"));
        assert_eq!(err.message, "expected a string, got 5");
        assert_eq!(obj.id("a").unwrap().as_deref(), Some("5"));
        assert_eq!(obj.str("d").unwrap(), None);
        assert!(
            obj.integer("c")
                .unwrap_err()
                .message
                .contains("whole number")
        );
        assert_eq!(obj.major_amount("p", Currency::USD).unwrap(), Some(1_999));
        assert_eq!(obj.major_amount("c", Currency::USD).unwrap(), Some(150));
        assert!(obj.major_amount("b", Currency::USD).is_err());
    }

    #[test]
    fn syntax_errors_carry_the_column() {
        let err = parse_document("{\"a\": tru}").unwrap_err();
        assert!(
            err.message.starts_with("malformed JSON at column"),
            "{}",
            err.message
        );
        assert_eq!(err.field, None);
    }
}
