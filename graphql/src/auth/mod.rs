//! Authentication: passwords, and (with the API issue) tokens and API keys.

pub mod password;
