//! API keys: `smk_<id>_<secret>`. The id (a UUID in hex) finds the row; only the
//! secret's SHA-256 is stored and compared in constant time. Shown once, at creation.

use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const PREFIX: &str = "smk";

/// A key as presented.
#[derive(Debug, PartialEq, Eq)]
pub struct PresentedKey {
    pub id: Uuid,
    pub secret: String,
}

/// Formats a new key.
pub fn format(id: Uuid, secret: &str) -> String {
    format!("{PREFIX}_{}_{secret}", id.simple())
}

/// Parses `smk_<32 hex>_<secret>`; `None` for anything else.
pub fn parse(key: &str) -> Option<PresentedKey> {
    let rest = key.strip_prefix(PREFIX)?.strip_prefix('_')?;
    let (id, secret) = rest.split_once('_')?;
    if id.len() != 32 || secret.len() < 32 || secret.len() > 128 {
        return None;
    }
    Some(PresentedKey {
        id: Uuid::try_parse(id).ok()?,
        secret: secret.to_owned(),
    })
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Constant-time comparison of a presented secret with a stored hash.
pub fn secret_matches(secret: &str, stored_hash: &str) -> bool {
    let presented = hash_secret(secret);
    presented.len() == stored_hash.len()
        && presented
            .bytes()
            .zip(stored_hash.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects() {
        let id = Uuid::new_v4();
        let secret = super::super::tokens::random_secret();
        let key = format(id, &secret);
        let parsed = parse(&key).unwrap();
        assert_eq!(parsed.id, id);
        assert!(secret_matches(&parsed.secret, &hash_secret(&secret)));
        assert!(!secret_matches("other", &hash_secret(&secret)));
        for bad in [
            "",
            "smk_",
            "smk_abc_def",
            "xyz_0123_x",
            &key.replace("smk_", "smr_"),
            &format!("smk_{}_short", id.simple()),
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
