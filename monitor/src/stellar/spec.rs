//! SEP-48 contract specs (`ScSpecEntry` arrays, in stellar-xdr's serde form in monitor
//! files, or XDR from a contract's `contractspecv0` section): what the engine needs is
//! the names of each function's inputs.

use std::collections::HashMap;

use stellar_xdr::{ScSpecEntry, ScSpecTypeDef};

/// A contract's interface, as far as naming arguments and typing signatures go.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContractSpec {
    /// Function name → input names, in order.
    functions: HashMap<String, Vec<String>>,
    /// Function name → input kinds (`Address`, `Map<String,String>`...), in order.
    kinds: HashMap<String, Vec<String>>,
}

/// The kind name of a spec type, as signatures spell it.
pub fn type_name(t: &ScSpecTypeDef) -> String {
    match t {
        ScSpecTypeDef::Option(o) => format!("Option<{}>", type_name(&o.value_type)),
        ScSpecTypeDef::Result(r) => format!(
            "Result<{},{}>",
            type_name(&r.ok_type),
            type_name(&r.error_type)
        ),
        ScSpecTypeDef::Vec(v) => format!("Vec<{}>", type_name(&v.element_type)),
        ScSpecTypeDef::Map(m) => format!(
            "Map<{},{}>",
            type_name(&m.key_type),
            type_name(&m.value_type)
        ),
        ScSpecTypeDef::Tuple(t) => {
            let inner: Vec<String> = t.value_types.iter().map(type_name).collect();
            format!("Tuple<{}>", inner.join(","))
        }
        ScSpecTypeDef::BytesN(b) => format!("BytesN<{}>", b.n),
        ScSpecTypeDef::Udt(u) => u.name.to_utf8_string_lossy(),
        ScSpecTypeDef::Val => "Val".into(),
        ScSpecTypeDef::Bool => "Bool".into(),
        ScSpecTypeDef::Void => "Void".into(),
        ScSpecTypeDef::Error => "Error".into(),
        ScSpecTypeDef::U32 => "U32".into(),
        ScSpecTypeDef::I32 => "I32".into(),
        ScSpecTypeDef::U64 => "U64".into(),
        ScSpecTypeDef::I64 => "I64".into(),
        ScSpecTypeDef::Timepoint => "Timepoint".into(),
        ScSpecTypeDef::Duration => "Duration".into(),
        ScSpecTypeDef::U128 => "U128".into(),
        ScSpecTypeDef::I128 => "I128".into(),
        ScSpecTypeDef::U256 => "U256".into(),
        ScSpecTypeDef::I256 => "I256".into(),
        ScSpecTypeDef::Bytes => "Bytes".into(),
        ScSpecTypeDef::String => "String".into(),
        ScSpecTypeDef::Symbol => "Symbol".into(),
        ScSpecTypeDef::Address => "Address".into(),
        ScSpecTypeDef::MuxedAddress => "MuxedAddress".into(),
    }
}

impl ContractSpec {
    /// Parses a monitor's `contract_spec` (a JSON array of `ScSpecEntry`).
    pub fn from_json(spec: &serde_json::Value) -> Result<Self, String> {
        if !spec.is_array() {
            return Err(
                "a Stellar contract_spec must be an array of SEP-48 spec entries".to_owned(),
            );
        }
        let entries: Vec<ScSpecEntry> = serde_json::from_value(spec.clone())
            .map_err(|e| format!("invalid SEP-48 contract spec: {e}"))?;
        Ok(Self::from_entries(&entries))
    }

    pub fn from_entries(entries: &[ScSpecEntry]) -> Self {
        let mut spec = Self::default();
        for entry in entries {
            if let ScSpecEntry::FunctionV0(f) = entry {
                let name = f.name.0.to_utf8_string_lossy();
                spec.kinds.insert(
                    name.clone(),
                    f.inputs.iter().map(|i| type_name(&i.type_)).collect(),
                );
                spec.functions.insert(
                    name,
                    f.inputs
                        .iter()
                        .map(|i| i.name.to_utf8_string_lossy())
                        .collect(),
                );
            }
        }
        spec
    }

    /// Input kinds of `function`, if the spec declares it.
    pub fn kinds(&self, function: &str) -> Option<&[String]> {
        self.kinds.get(function).map(Vec::as_slice)
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
        assert_eq!(
            parsed.kinds("swap").unwrap(),
            ["Address", "Map<String,U128>"]
        );
        assert!(parsed.inputs("other").is_none());
        let err = ContractSpec::from_json(&serde_json::json!([{"function_v9": {}}])).unwrap_err();
        assert!(err.contains("invalid SEP-48"), "{err}");
        assert!(ContractSpec::from_json(&serde_json::json!({})).is_err());
    }
}
