//! ABI handling with the alloy crates: contract specs, canonical signatures, and
//! decoding of logs and calldata into [`Param`]s, for every Solidity type (odd-width
//! integers, `bytesN`, fixed and nested arrays, tuples).

use alloy_dyn_abi::{DynSolValue, EventExt, JsonAbiExt};
use alloy_json_abi::{Event, Function, JsonAbi, Param as AbiParam};
use alloy_primitives::{B256, hex};

use super::types::EvmLog;
use crate::value::{Field, Num, Param, Value};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("log has no topics")]
    NoTopics,
    #[error("log topic0 {found} is not {expected}")]
    WrongTopic { expected: String, found: String },
    #[error("calldata shorter than a selector")]
    ShortInput,
    #[error("could not decode: {0}")]
    Abi(String),
}

/// Parses a contract spec (a JSON ABI array).
pub fn parse_abi(spec: &serde_json::Value) -> Result<JsonAbi, String> {
    if !spec.is_array() {
        return Err("an EVM contract_spec must be a JSON ABI array".to_owned());
    }
    serde_json::from_value::<JsonAbi>(spec.clone()).map_err(|e| format!("invalid ABI: {e}"))
}

/// The comparable form of an EVM signature: whitespace removed, lower-cased, `tuple(`
/// written `(`, and `uint`/`int` spelled `uint256`/`int256`.
pub fn normalize_evm_signature(signature: &str) -> String {
    let compact: String = crate::config::normalize_signature(signature).replace("tuple(", "(");
    let mut out = String::with_capacity(compact.len() + 8);
    let chars: Vec<char> = compact.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let boundary_before = i == 0 || matches!(chars[i - 1], '(' | ',');
        let rest: String = chars[i..].iter().take(4).collect();
        let word = if rest.starts_with("uint") {
            Some("uint")
        } else if rest.starts_with("int") {
            Some("int")
        } else {
            None
        };
        if let (true, Some(word)) = (boundary_before, word) {
            let after = chars.get(i + word.len()).copied();
            out.push_str(word);
            i += word.len();
            if !after.is_some_and(|c| c.is_ascii_digit()) {
                out.push_str("256");
            }
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

fn display_name(name: &str, position: usize) -> String {
    if name.is_empty() {
        position.to_string()
    } else {
        name.to_owned()
    }
}

/// Converts a decoded value, naming tuple fields from the ABI components.
pub fn to_value(value: &DynSolValue, components: &[AbiParam]) -> Value {
    match value {
        DynSolValue::Bool(b) => Value::Bool(*b),
        DynSolValue::Int(i, _) => Value::Num(Num::from_i256(*i)),
        DynSolValue::Uint(u, _) => Value::Num(Num::from_u256(*u)),
        DynSolValue::FixedBytes(word, size) => Value::Bytes(word[..*size].to_vec()),
        DynSolValue::Address(a) => Value::Address(format!("{a:#x}")),
        DynSolValue::Function(f) => Value::Bytes(f.as_slice().to_vec()),
        DynSolValue::Bytes(b) => Value::Bytes(b.clone()),
        DynSolValue::String(s) => Value::Str(s.clone()),
        DynSolValue::Array(items) | DynSolValue::FixedArray(items) => {
            Value::Array(items.iter().map(|v| to_value(v, components)).collect())
        }
        DynSolValue::Tuple(items) => Value::Tuple(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let component = components.get(i);
                    Field {
                        name: component.map(|c| c.name.clone()).filter(|n| !n.is_empty()),
                        value: to_value(
                            v,
                            component.map(|c| c.components.as_slice()).unwrap_or(&[]),
                        ),
                    }
                })
                .collect(),
        ),
        #[allow(unreachable_patterns)]
        _ => Value::Void,
    }
}

/// An event of a contract spec, prepared for matching and decoding.
#[derive(Clone, Debug)]
pub struct EventItem {
    pub event: Event,
    /// Canonical signature, e.g. `Transfer(address,address,uint256)`.
    pub signature: String,
    pub topic0: B256,
    /// The topic0 as `matched_on_args` shows it (lower-case hex, no `0x`).
    pub hex: String,
    /// Parameter names (position when unnamed), in ABI order.
    pub names: Vec<String>,
}

impl EventItem {
    pub fn new(event: Event) -> Self {
        let names = event
            .inputs
            .iter()
            .enumerate()
            .map(|(i, p)| display_name(&p.name, i))
            .collect();
        Self {
            signature: event.signature(),
            topic0: event.selector(),
            hex: hex::encode(event.selector()),
            names,
            event,
        }
    }

    /// Decodes a log of this event into its parameters, in ABI order.
    pub fn decode(&self, log: &EvmLog) -> Result<Vec<Param>, DecodeError> {
        let Some(topic0) = log.topics.first() else {
            return Err(DecodeError::NoTopics);
        };
        if *topic0 != self.topic0 && !self.event.anonymous {
            return Err(DecodeError::WrongTopic {
                expected: format!("{:#x}", self.topic0),
                found: format!("{topic0:#x}"),
            });
        }
        let decoded = self
            .event
            .decode_log_parts(log.topics.iter().copied(), &log.data)
            .map_err(|e| DecodeError::Abi(e.to_string()))?;
        let (mut indexed, mut body) = (decoded.indexed.into_iter(), decoded.body.into_iter());
        let mut params = Vec::with_capacity(self.event.inputs.len());
        for (i, input) in self.event.inputs.iter().enumerate() {
            let value = if input.indexed {
                indexed.next()
            } else {
                body.next()
            };
            let value = value.ok_or_else(|| DecodeError::Abi("missing parameter".to_owned()))?;
            params.push(Param {
                name: self.names[i].clone(),
                kind: input.selector_type().into_owned(),
                value: to_value(&value, &input.components),
                indexed: input.indexed,
            });
        }
        Ok(params)
    }
}

/// A function of a contract spec (or parsed from a signature), for calldata.
#[derive(Clone, Debug)]
pub struct FunctionItem {
    pub function: Function,
    pub signature: String,
    pub selector: [u8; 4],
    /// The selector as `matched_on_args` shows it (lower-case hex, no `0x`).
    pub hex: String,
    pub names: Vec<String>,
}

impl FunctionItem {
    pub fn new(function: Function) -> Self {
        let names = function
            .inputs
            .iter()
            .enumerate()
            .map(|(i, p)| display_name(&p.name, i))
            .collect();
        Self {
            signature: function.signature(),
            selector: function.selector().0,
            hex: hex::encode(function.selector()),
            names,
            function,
        }
    }

    /// From a bare signature such as `transfer(address,uint256)`, when no ABI is given;
    /// parameters are then addressed by position.
    pub fn parse(signature: &str) -> Result<Self, String> {
        Function::parse(signature)
            .map(Self::new)
            .map_err(|e| format!("not a valid function signature: {e}"))
    }

    /// Decodes calldata (selector included) into the arguments, in ABI order.
    pub fn decode(&self, input: &[u8]) -> Result<Vec<Param>, DecodeError> {
        if input.len() < 4 {
            return Err(DecodeError::ShortInput);
        }
        let values = self
            .function
            .abi_decode_input(&input[4..])
            .map_err(|e| DecodeError::Abi(e.to_string()))?;
        Ok(values
            .iter()
            .zip(&self.function.inputs)
            .enumerate()
            .map(|(i, (value, input))| Param {
                name: self.names[i].clone(),
                kind: input.selector_type().into_owned(),
                value: to_value(value, &input.components),
                indexed: false,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_dyn_abi::DynSolType;
    use alloy_primitives::{Address, Bytes, U256};

    #[test]
    fn signatures_normalize() {
        assert_eq!(
            normalize_evm_signature("Transfer(address, address, uint)"),
            "transfer(address,address,uint256)"
        );
        assert_eq!(
            normalize_evm_signature("f(int,uint8[],tuple(int,bytes32))"),
            "f(int256,uint8[],(int256,bytes32))"
        );
        assert_eq!(normalize_evm_signature("mint(uint24)"), "mint(uint24)");
    }

    fn log(topics: Vec<B256>, data: Vec<u8>) -> EvmLog {
        EvmLog {
            address: Address::ZERO,
            topics,
            data: Bytes::from(data),
            log_index: None,
            transaction_hash: None,
            transaction_index: None,
            other: Default::default(),
        }
    }

    #[test]
    fn decodes_odd_widths_bytes_n_nested_arrays_and_tuples() {
        let event: Event = serde_json::from_value(serde_json::json!({
        "type": "event", "name": "E", "anonymous": false, "inputs": [
            {"name": "a", "type": "uint24", "indexed": true},
            {"name": "b", "type": "int24", "indexed": false},
            {"name": "c", "type": "bytes3", "indexed": false},
            {"name": "d", "type": "uint16[2][]", "indexed": false},
            {"name": "e", "type": "tuple[]", "indexed": false, "components": [
                {"name": "who", "type": "address"}, {"name": "amt", "type": "uint160"}]},
            {"name": "s", "type": "string", "indexed": true}
        ]}))
        .unwrap();
        let item = EventItem::new(event);
        assert_eq!(
            item.signature,
            "E(uint24,int24,bytes3,uint16[2][],(address,uint160)[],string)"
        );
        let body = DynSolValue::Tuple(vec![
            DynSolValue::Int(alloy_primitives::I256::try_from(-5).unwrap(), 24),
            DynSolValue::FixedBytes(B256::left_padding_from(&[0; 0]), 3),
            DynSolValue::Array(vec![DynSolValue::FixedArray(vec![
                DynSolValue::Uint(U256::from(1), 16),
                DynSolValue::Uint(U256::from(2), 16),
            ])]),
            DynSolValue::Array(vec![DynSolValue::Tuple(vec![
                DynSolValue::Address(Address::repeat_byte(0xab)),
                DynSolValue::Uint(U256::from(7), 160),
            ])]),
        ]);
        let data = body.abi_encode_params();
        let topics = vec![
            item.topic0,
            B256::from(U256::from(70_000)),
            B256::repeat_byte(0x11),
        ];
        let params = item.decode(&log(topics, data)).unwrap();
        let rendered: Vec<(&str, &str, String, bool)> = params
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.kind.as_str(),
                    p.value.render(),
                    p.indexed,
                )
            })
            .collect();
        assert_eq!(
            rendered,
            [
                ("a", "uint24", "70000".to_owned(), true),
                ("b", "int24", "-5".to_owned(), false),
                ("c", "bytes3", "0x000000".to_owned(), false),
                ("d", "uint16[2][]", "[[1,2]]".to_owned(), false),
                (
                    "e",
                    "(address,uint160)[]",
                    format!("[\"(0x{},7)\"]", "ab".repeat(20)),
                    false
                ),
                // Indexed dynamic values are only their keccak hash on chain.
                ("s", "string", format!("0x{}", "11".repeat(32)), true),
            ]
        );
        match &params[4].value {
            Value::Array(items) => match &items[0] {
                Value::Tuple(fields) => assert_eq!(fields[1].name.as_deref(), Some("amt")),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
        let _ = DynSolType::Bool;
    }

    #[test]
    fn bad_logs_and_calldata_are_errors_not_panics() {
        let item = EventItem::new(
            Event::parse("event Transfer(address indexed from, address indexed to, uint256 value)")
                .unwrap(),
        );
        assert_eq!(
            item.decode(&log(vec![], vec![])),
            Err(DecodeError::NoTopics)
        );
        assert!(matches!(
            item.decode(&log(vec![B256::ZERO], vec![])),
            Err(DecodeError::WrongTopic { .. })
        ));
        assert!(matches!(
            item.decode(&log(vec![item.topic0], vec![1, 2, 3])),
            Err(DecodeError::Abi(_))
        ));
        let f = FunctionItem::parse("transfer(address,uint256)").unwrap();
        assert_eq!(f.hex, "a9059cbb");
        assert_eq!(f.names, ["0", "1"]);
        assert_eq!(f.decode(&[0xa9]), Err(DecodeError::ShortInput));
        assert!(matches!(
            f.decode(&[0xa9, 0x05, 0x9c, 0xbb, 1]),
            Err(DecodeError::Abi(_))
        ));
    }
}
