//! Relay connections: `first`/`after`, at most 100 per page, opaque cursors.

use base64::Engine as _;

use crate::error::ApiError;

/// Largest page.
pub const MAX_PAGE: usize = 100;
/// Page size when `first` is not given.
pub const DEFAULT_PAGE: usize = 20;

/// Validates `first`.
pub fn page_size(first: Option<i32>) -> Result<usize, ApiError> {
    match first {
        None => Ok(DEFAULT_PAGE),
        Some(n) if n < 0 => Err(ApiError::bad_input("first must not be negative")),
        Some(n) if n as usize > MAX_PAGE => Err(ApiError::bad_input(format!(
            "first must be at most {MAX_PAGE}"
        ))),
        Some(n) => Ok(n as usize),
    }
}

/// An opaque cursor for a sort key.
pub fn encode(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("c1:{key}"))
}

/// The sort key of a cursor.
pub fn decode(cursor: &str) -> Result<String, ApiError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("c1:").map(str::to_owned))
        .ok_or_else(|| ApiError::bad_input("invalid cursor"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_pages_are_capped() {
        assert_eq!(decode(&encode("abc")).unwrap(), "abc");
        assert!(decode("!!").is_err());
        assert!(decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("x")).is_err());
        assert_eq!(page_size(None).unwrap(), 20);
        assert_eq!(page_size(Some(100)).unwrap(), 100);
        assert!(page_size(Some(101)).is_err());
        assert!(page_size(Some(-1)).is_err());
    }
}
