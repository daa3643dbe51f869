//! Monitors, as OZ Monitor's `monitors/*.json` describe them.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::problem::Problems;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Monitor {
    pub name: String,
    /// Network slugs.
    pub networks: Vec<String>,
    pub paused: bool,
    pub addresses: Vec<AddressWithSpec>,
    pub match_conditions: MatchConditions,
    pub trigger_conditions: Vec<TriggerCondition>,
    /// Trigger keys.
    pub triggers: Vec<String>,
    /// Chain-specific settings, kept as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_configurations: Option<Vec<serde_json::Value>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressWithSpec {
    pub address: String,
    /// EVM: a JSON ABI array. Stellar: an array of SEP-48 `ScSpecEntry` (stellar-xdr's
    /// serde form).
    /// Shared with every monitor holding an identical spec.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::intern::shared_json"
    )]
    pub contract_spec: Option<std::sync::Arc<serde_json::Value>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchConditions {
    pub functions: Vec<FunctionCondition>,
    pub events: Vec<EventCondition>,
    pub transactions: Vec<TransactionCondition>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionCondition {
    pub signature: String,
    #[serde(default)]
    pub expression: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventCondition {
    pub signature: String,
    #[serde(default)]
    pub expression: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransactionCondition {
    pub status: TransactionStatus,
    #[serde(default)]
    pub expression: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TransactionStatus {
    Any,
    Success,
    Failure,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerCondition {
    /// Where the script lives (OZ config directories); empty when it is inline.
    #[serde(default)]
    pub script_path: String,
    /// Ours, not OZ's: the script itself. The platform stores scripts inline (import
    /// reads `script_path` into it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    pub language: ScriptLanguage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Vec<String>>,
    pub timeout_ms: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ScriptLanguage {
    Python,
    JavaScript,
    Bash,
    /// Ours: Lua 5.4 in the embedded sandbox ([`crate::sandbox`]); the only language a
    /// shared platform runs for tenants.
    Lua,
}

impl ScriptLanguage {
    /// Whether scripts in this language run as host processes.
    pub fn is_host(self) -> bool {
        !matches!(self, ScriptLanguage::Lua)
    }
}

/// Finds a script referenced by a config. OZ writes paths relative to its working
/// directory (`./config/filters/x.sh`, the parent of the config directory); absolute
/// paths and paths relative to the config directory itself work too.
pub fn resolve_script(config_dir: &Path, script_path: &str) -> Option<PathBuf> {
    let path = Path::new(script_path);
    let mut candidates = Vec::new();
    if path.is_absolute() {
        candidates.push(path.to_path_buf());
    } else {
        if let Some(parent) = config_dir.parent() {
            candidates.push(parent.join(path));
        }
        candidates.push(config_dir.join(path));
        let stripped = path
            .strip_prefix("./config")
            .or_else(|_| path.strip_prefix("config"));
        if let Ok(rest) = stripped {
            candidates.push(config_dir.join(rest));
        }
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// Normalizes a signature for comparison: whitespace removed, case folded (OZ's rule).
pub fn normalize_signature(signature: &str) -> String {
    signature
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether a signature has the `name(...)` shape every chain needs.
pub fn has_parameter_group(signature: &str) -> bool {
    let s = signature.trim();
    match (s.find('('), s.ends_with(')')) {
        (Some(open), true) => open > 0,
        _ => false,
    }
}

impl Monitor {
    /// Checks that do not depend on the chain: names, references' shape, scripts.
    /// `config_dir` (when loading a directory) is where script paths are resolved.
    pub fn validate_common(&self, config_dir: Option<&Path>, problems: &mut Problems) {
        if self.name.trim().is_empty() {
            problems.add("$.name", "name must not be empty");
        } else if self.name.chars().count() > 200 {
            problems.add("$.name", "name must be at most 200 characters");
        }
        if self.networks.is_empty() {
            problems.add("$.networks", "at least one network is required");
        }
        for (i, slug) in self.networks.iter().enumerate() {
            if !super::network::valid_slug(slug) {
                problems.add(
                    format!("$.networks[{i}]"),
                    format!("{slug:?} is not a network slug"),
                );
            }
        }
        for (i, c) in self.match_conditions.functions.iter().enumerate() {
            if !has_parameter_group(&c.signature) {
                problems.add(
                    format!("$.match_conditions.functions[{i}].signature"),
                    format!("signature {:?} must be name(...)", c.signature),
                );
            }
        }
        for (i, c) in self.match_conditions.events.iter().enumerate() {
            if !has_parameter_group(&c.signature) {
                problems.add(
                    format!("$.match_conditions.events[{i}].signature"),
                    format!("signature {:?} must be name(...)", c.signature),
                );
            }
        }
        for (i, c) in self.trigger_conditions.iter().enumerate() {
            if c.timeout_ms == 0 {
                problems.add(
                    format!("$.trigger_conditions[{i}].timeout_ms"),
                    "timeout_ms must be greater than 0",
                );
            }
            if let Some(dir) = config_dir
                && c.script.is_none()
                && resolve_script(dir, &c.script_path).is_none()
            {
                problems.add(
                    format!("$.trigger_conditions[{i}].script_path"),
                    format!("script file {:?} does not exist", c.script_path),
                );
            }
        }
        for (i, key) in self.triggers.iter().enumerate() {
            if key.trim().is_empty() {
                problems.add(format!("$.triggers[{i}]"), "trigger key must not be empty");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_normalize_and_need_a_group() {
        assert_eq!(
            normalize_signature("Transfer(address, address,\tuint256)"),
            "transfer(address,address,uint256)"
        );
        assert!(has_parameter_group("increment()"));
        assert!(!has_parameter_group("Deposit"));
        assert!(!has_parameter_group("(address)"));
    }
}
