//! Validation problems: where (file and JSON path) and why. Validation collects every
//! problem rather than stopping at the first, so a user fixes a file in one pass.

use std::fmt;

use serde::de::DeserializeOwned;

/// One thing wrong with a configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file, relative to the configuration directory (empty for API input).
    pub file: String,
    /// JSON path of the offending value, `$` for the whole document.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.file.is_empty() {
            write!(f, "{}: {}", self.path, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.path, self.message)
        }
    }
}

/// Collects problems under a JSON path prefix.
#[derive(Debug, Default)]
pub struct Problems {
    file: String,
    items: Vec<Problem>,
}

impl Problems {
    pub fn new(file: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            items: Vec::new(),
        }
    }

    /// Records a problem at `path` (a JSON path starting with `$`).
    pub fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.items.push(Problem {
            file: self.file.clone(),
            path: path.into(),
            message: message.into(),
        });
    }

    pub fn extend(&mut self, other: impl IntoIterator<Item = Problem>) {
        self.items.extend(other);
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn into_vec(self) -> Vec<Problem> {
        self.items
    }

    /// The JSON paths of the problems so far.
    pub fn iter_paths(&self) -> impl Iterator<Item = &str> {
        self.items.iter().map(|p| p.path.as_str())
    }

    pub fn file(&self) -> &str {
        &self.file
    }
}

/// Parses JSON into `T`, turning a serde error into a problem at the JSON path where
/// it happened (unknown fields, missing fields, wrong types, bad enum values).
pub fn parse_json<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, Problem> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| Problem {
        file: file.to_owned(),
        path: json_path(&e.path().to_string()),
        message: serde_message(e.inner()),
    })
}

/// Same as [`parse_json`] for an already-parsed JSON value.
pub fn from_value<T: DeserializeOwned>(file: &str, value: serde_json::Value) -> Result<T, Problem> {
    serde_path_to_error::deserialize(value).map_err(
        |e: serde_path_to_error::Error<serde_json::Error>| Problem {
            file: file.to_owned(),
            path: json_path(&e.path().to_string()),
            message: serde_message(e.inner()),
        },
    )
}

/// `a.b[0]` (serde_path_to_error's form, `.` for the root) as `$.a.b[0]`.
fn json_path(path: &str) -> String {
    if path == "." || path.is_empty() {
        "$".to_owned()
    } else {
        format!("$.{path}")
    }
}

/// serde_json's message without its " at line 3 column 7" suffix when the path says
/// where already; syntax errors keep the position since there is no path.
fn serde_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    if e.is_syntax() || e.is_eof() {
        return format!("invalid JSON: {text}");
    }
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        items: Vec<Item>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        weight: u8,
    }

    #[test]
    fn serde_errors_carry_their_json_path() {
        let p = parse_json::<Doc>("f.json", r#"{"items": [{"weight": 1}, {"weight": 300}]}"#)
            .unwrap_err();
        assert_eq!(p.path, "$.items[1].weight");
        assert!(p.message.contains("invalid value"), "{}", p.message);
        let p = parse_json::<Doc>("f.json", r#"{"items": [], "extra": 1}"#).unwrap_err();
        assert!(p.message.contains("unknown field `extra`"), "{}", p.message);
        let p = parse_json::<Doc>("f.json", r#"{"items": [}"#).unwrap_err();
        assert!(p.message.starts_with("invalid JSON"), "{}", p.message);
        assert!(p.message.contains("line 1 column 12"), "{}", p.message);
        assert_eq!(p.to_string(), format!("f.json: {}: {}", p.path, p.message));
    }
}
