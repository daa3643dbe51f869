//! Secrets at rest (shared by the API, which seals, and the workers and watchers, which
//! open): trigger secrets (webhook URLs and signing secrets, bot tokens, SMTP
//! passwords) and private networks' RPC URLs are sealed with AES-256-GCM before they
//! are stored, and never returned by the API in clear.

use aes_gcm::aead::{Aead, KeyInit, OsRng};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use serde_json::Value;

/// Marks a sealed value.
const SEALED: &str = "enc:v1:";
/// What the API shows instead of a secret.
pub const HIDDEN: &str = "********";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the secrets key must be 32 bytes (base64), got {0}")]
    BadKey(usize),
    #[error("a sealed secret could not be opened (wrong SECRETS_KEY?)")]
    Open,
}

/// Seals and opens secrets with one key.
#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer")
    }
}

impl Sealer {
    pub fn new(key: &[u8]) -> Result<Self, SecretError> {
        if key.len() != 32 {
            return Err(SecretError::BadKey(key.len()));
        }
        Ok(Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key)),
        })
    }

    /// A fresh random key, base64.
    pub fn generate_key() -> String {
        base64::engine::general_purpose::STANDARD.encode(Aes256Gcm::generate_key(OsRng))
    }

    pub fn seal(&self, plain: &str) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(&nonce, plain.as_bytes())
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut bytes = nonce.to_vec();
        bytes.extend(ciphertext);
        format!(
            "{SEALED}{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        )
    }

    pub fn open(&self, sealed: &str) -> Result<String, SecretError> {
        let Some(b64) = sealed.strip_prefix(SEALED) else {
            return Ok(sealed.to_owned());
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| SecretError::Open)?;
        if bytes.len() < 12 {
            return Err(SecretError::Open);
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| SecretError::Open)?;
        String::from_utf8(plain).map_err(|_| SecretError::Open)
    }

    /// Seals every plain secret (`{"type": "Plain", "value": ...}`) in a config JSON.
    pub fn seal_config(&self, value: &mut Value) {
        walk_secrets(value, &mut |v| {
            if !v.starts_with(SEALED) {
                *v = self.seal(v);
            }
        });
    }

    /// Opens every sealed secret in a config JSON (for the workers that deliver).
    pub fn open_config(&self, value: &mut Value) -> Result<(), SecretError> {
        let mut result = Ok(());
        walk_secrets(value, &mut |v| match self.open(v) {
            Ok(plain) => *v = plain,
            Err(e) => result = Err(e),
        });
        result
    }
}

/// Hides every secret value of a config JSON (for API output).
pub fn hide(value: &mut Value) {
    walk_secrets(value, &mut |v| *v = HIDDEN.to_owned());
}

/// Calls `f` on the value of every OZ plain secret object.
fn walk_secrets(value: &mut Value, f: &mut dyn FnMut(&mut String)) {
    match value {
        Value::Object(map) => {
            let plain = map.len() == 2
                && map
                    .get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case("plain"));
            if plain {
                if let Some(Value::String(v)) = map.get_mut("value") {
                    f(v);
                }
                return;
            }
            for v in map.values_mut() {
                walk_secrets(v, f);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| walk_secrets(v, f)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_hide() {
        let key = base64::engine::general_purpose::STANDARD
            .decode(Sealer::generate_key())
            .unwrap();
        let sealer = Sealer::new(&key).unwrap();
        let mut config = serde_json::json!({"url": {"type": "plain", "value": "https://hooks.example/T0/B0/secret"},
                                            "method": "POST"});
        sealer.seal_config(&mut config);
        let stored = config.to_string();
        assert!(!stored.contains("hooks.example"), "{stored}");
        let mut hidden = config.clone();
        hide(&mut hidden);
        assert_eq!(hidden["url"]["value"], HIDDEN);
        sealer.open_config(&mut config).unwrap();
        assert_eq!(config["url"]["value"], "https://hooks.example/T0/B0/secret");
        let other = Sealer::new(&[7u8; 32]).unwrap();
        assert!(other.open(&sealer.seal("x")).is_err());
        assert!(Sealer::new(&[1u8; 16]).is_err());
    }
}
