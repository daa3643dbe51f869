//! SEP-48 contract specs (`ScSpecEntry` arrays, in stellar-xdr's serde form in monitor
//! files, or XDR from a contract's `contractspecv0` section): what the engine needs is
//! the names of each function's inputs.

use std::collections::HashMap;

use stellar_xdr::ScSpecEntry;

/// A contract's interface, as far as naming arguments goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContractSpec {
    /// Function name → input names, in order.
    functions: HashMap<String, Vec<String>>,
}

impl ContractSpec {
    /// Parses a monitor's `contract_spec` (a JSON array of `ScSpecEntry`).
    pub fn from_json(spec: &serde_json::Value) -> Result<Self, String> {
        if !spec.is_array() {
            return Err("a Stellar contract_spec must be an array of SEP-48 spec entries".to_owned());
        }
        let entries: Vec<ScSpecEntry> = serde_json::from_value(spec.clone())
            .map_err(|e| format!("invalid SEP-48 contract spec: {e}"))?;
        Ok(Self::from_entries(&entries))
    }

    pub fn from_entries(entries: &[ScSpecEntry]) -> Self {
        let functions = entries
            .iter()
            .filter_map(|e| match e {
                ScSpecEntry::FunctionV0(f) => Some((
                    f.name.0.to_utf8_string_lossy(),
                    f.inputs.iter().map(|i| i.name.to_utf8_string_lossy()).collect(),
                )),
                _ => None,
            })
            .collect();
        Self { functions }
    }

    /// Input names of `function`, if the spec declares it.
    pub fn inputs(&self, function: &str) -> Option<&[String]> {
        self.functions.get(function).map(Vec::as_slice)
    }

    pub fn is_empty(&self) -> bool {
        self.functions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_serde_form() {
        let spec = serde_json::json!([{"function_v0": {"doc": "", "name": "swap",
            "inputs": [{"doc": "", "name": "user", "type_": "address"},
                       {"doc": "", "name": "amounts", "type_": {"map": {"key_type": "string", "value_type": "u128"}}}],
            "outputs": ["u128"]}}]);
        let parsed = ContractSpec::from_json(&spec).unwrap();
        assert_eq!(parsed.inputs("swap").unwrap(), ["user", "amounts"]);
        assert!(parsed.inputs("other").is_none());
        let err = ContractSpec::from_json(&serde_json::json!([{"function_v9": {}}])).unwrap_err();
        assert!(err.contains("invalid SEP-48"), "{err}");
        assert!(ContractSpec::from_json(&serde_json::json!({})).is_err());
    }
}
