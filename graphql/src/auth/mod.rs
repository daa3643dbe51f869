//! Authentication: passwords, access tokens (JWT), rotating refresh tokens, API keys,
//! and resolving a request's credentials into a [`principal::Principal`].

pub mod api_keys;
pub mod password;
pub mod principal;
pub mod tokens;
