//! Secret values: `{"type": "Plain" | "Environment" | "HashicorpCloudVault", "value": ...}`,
//! the type case-insensitive. Never printed by `Debug`.

use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, PartialEq, Eq)]
pub enum SecretValue {
    /// The secret itself.
    Plain(String),
    /// The name of an environment variable holding it.
    Environment(String),
    /// The name of a HashiCorp Cloud Vault secret holding it.
    HashicorpCloudVault(String),
}

impl SecretValue {
    /// The kind as OZ spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            SecretValue::Plain(_) => "Plain",
            SecretValue::Environment(_) => "Environment",
            SecretValue::HashicorpCloudVault(_) => "HashicorpCloudVault",
        }
    }

    /// The plain value, if this is a plain secret.
    pub fn plain(&self) -> Option<&str> {
        match self {
            SecretValue::Plain(v) => Some(v),
            _ => None,
        }
    }

    /// The stored text (the secret, or the name of where it lives).
    pub fn raw(&self) -> &str {
        match self {
            SecretValue::Plain(v)
            | SecretValue::Environment(v)
            | SecretValue::HashicorpCloudVault(v) => v,
        }
    }

    /// Resolves to a plain secret: environment variables from `env`; vault references
    /// cannot be resolved here.
    pub fn resolve(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<SecretValue, String> {
        match self {
            SecretValue::Plain(_) => Ok(self.clone()),
            SecretValue::Environment(name) => env(name)
                .map(SecretValue::Plain)
                .ok_or_else(|| format!("environment variable {name} is not set")),
            SecretValue::HashicorpCloudVault(name) => Err(format!(
                "HashiCorp Cloud Vault secret {name} cannot be resolved here; use a Plain value"
            )),
        }
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretValue::Plain(_) => f.write_str("SecretValue::Plain(<redacted>)"),
            SecretValue::Environment(n) => write!(f, "SecretValue::Environment({n})"),
            SecretValue::HashicorpCloudVault(n) => {
                write!(f, "SecretValue::HashicorpCloudVault({n})")
            }
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    #[serde(rename = "type")]
    kind: String,
    value: String,
}

impl<'de> Deserialize<'de> for SecretValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = Wire::deserialize(d)?;
        match wire.kind.to_ascii_lowercase().as_str() {
            "plain" => Ok(SecretValue::Plain(wire.value)),
            "environment" => Ok(SecretValue::Environment(wire.value)),
            "hashicorpcloudvault" => Ok(SecretValue::HashicorpCloudVault(wire.value)),
            _ => Err(D::Error::custom(format!(
                "unknown secret type `{}`, expected Plain, Environment or HashicorpCloudVault",
                wire.kind
            ))),
        }
    }
}

impl Serialize for SecretValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Wire {
            kind: self.kind().to_owned(),
            value: self.raw().to_owned(),
        }
        .serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_is_case_insensitive_and_debug_redacts() {
        for kind in ["plain", "Plain", "PLAIN"] {
            let s: SecretValue =
                serde_json::from_str(&format!(r#"{{"type": "{kind}", "value": "hunter2"}}"#))
                    .unwrap();
            assert_eq!(s.plain(), Some("hunter2"));
            assert!(!format!("{s:?}").contains("hunter2"));
        }
        let s: SecretValue =
            serde_json::from_str(r#"{"type": "environment", "value": "X"}"#).unwrap();
        assert_eq!(s.resolve(&|_| Some("v".into())).unwrap().plain(), Some("v"));
        assert!(s.resolve(&|_| None).unwrap_err().contains("not set"));
        let err =
            serde_json::from_str::<SecretValue>(r#"{"type": "aws", "value": "X"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown secret type"));
        assert_eq!(
            serde_json::to_string(&SecretValue::Plain("v".into())).unwrap(),
            r#"{"type":"Plain","value":"v"}"#
        );
    }
}
