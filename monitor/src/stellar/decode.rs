//! XDR decoding with `stellar-xdr`: `ScVal`s into [`Value`]s with their Stellar kinds,
//! transaction envelopes (fee-bump included) into the calls and payments they make,
//! contract events into a name and parameters.

use alloy_primitives::{I256, U256};
use stellar_xdr::{
    FeeBumpTransactionInnerTx, HostFunction, Limits, MuxedAccount, Operation, OperationBody,
    ReadXdr, ScVal, TransactionEnvelope,
};

use crate::value::{Num, Param, Value};

/// Bounds on decoding untrusted XDR: nesting depth and total length.
fn limits() -> Limits {
    Limits {
        depth: 200,
        len: 16 * 1024 * 1024,
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XdrError {
    #[error("invalid {what} XDR: {reason}")]
    Invalid { what: &'static str, reason: String },
}

pub fn scval_from_base64(b64: &str) -> Result<ScVal, XdrError> {
    ScVal::from_xdr_base64(b64, limits()).map_err(|e| XdrError::Invalid {
        what: "ScVal",
        reason: e.to_string(),
    })
}

pub fn envelope_from_base64(b64: &str) -> Result<TransactionEnvelope, XdrError> {
    TransactionEnvelope::from_xdr_base64(b64, limits()).map_err(|e| XdrError::Invalid {
        what: "TransactionEnvelope",
        reason: e.to_string(),
    })
}

fn u128_of(hi: u64, lo: u64) -> u128 {
    (u128::from(hi) << 64) | u128::from(lo)
}

fn words(hi_hi: u64, hi_lo: u64, lo_hi: u64, lo_lo: u64) -> U256 {
    U256::from_limbs([lo_lo, lo_hi, hi_lo, hi_hi])
}

/// Converts an `ScVal` to a value and its kind (`Address`, `I128`, `Map<String,String>`...).
pub fn scval(v: &ScVal) -> (Value, String) {
    match v {
        ScVal::Bool(b) => (Value::Bool(*b), "Bool".into()),
        ScVal::Void => (Value::Void, "Void".into()),
        ScVal::Error(e) => (Value::Str(format!("{e:?}")), "Error".into()),
        ScVal::U32(n) => (Value::Num(Num::from_u128((*n).into())), "U32".into()),
        ScVal::I32(n) => (Value::Num(Num::from_i128((*n).into())), "I32".into()),
        ScVal::U64(n) => (Value::Num(Num::from_u128((*n).into())), "U64".into()),
        ScVal::I64(n) => (Value::Num(Num::from_i128((*n).into())), "I64".into()),
        ScVal::Timepoint(t) => (Value::Num(Num::from_u128(t.0.into())), "Timepoint".into()),
        ScVal::Duration(d) => (Value::Num(Num::from_u128(d.0.into())), "Duration".into()),
        ScVal::U128(p) => (
            Value::Num(Num::from_u128(u128_of(p.hi, p.lo))),
            "U128".into(),
        ),
        ScVal::I128(p) => {
            let n = u128_of(p.hi as u64, p.lo) as i128;
            (Value::Num(Num::from_i128(n)), "I128".into())
        }
        ScVal::U256(p) => (
            Value::Num(Num::from_u256(words(p.hi_hi, p.hi_lo, p.lo_hi, p.lo_lo))),
            "U256".into(),
        ),
        ScVal::I256(p) => {
            let raw = words(p.hi_hi as u64, p.hi_lo, p.lo_hi, p.lo_lo);
            (
                Value::Num(Num::from_i256(I256::from_raw(raw))),
                "I256".into(),
            )
        }
        ScVal::Bytes(b) => (Value::Bytes(b.0.to_vec()), "Bytes".into()),
        ScVal::String(s) => (Value::Str(s.0.to_utf8_string_lossy()), "String".into()),
        ScVal::Symbol(s) => (Value::Str(s.0.to_utf8_string_lossy()), "Symbol".into()),
        ScVal::Address(a) => (Value::Str(a.to_string()), "Address".into()),
        ScVal::Vec(items) => {
            let converted: Vec<(Value, String)> =
                items.iter().flat_map(|v| v.0.iter()).map(scval).collect();
            let kind = container_kind("Vec", converted.iter().map(|(_, k)| k.as_str()));
            (
                Value::Array(converted.into_iter().map(|(v, _)| v).collect()),
                kind,
            )
        }
        ScVal::Map(entries) => {
            let converted: Vec<((Value, String), (Value, String))> = entries
                .iter()
                .flat_map(|m| m.0.iter())
                .map(|e| (scval(&e.key), scval(&e.val)))
                .collect();
            let keys = container_kind("", converted.iter().map(|((_, k), _)| k.as_str()));
            let vals = container_kind("", converted.iter().map(|(_, (_, k))| k.as_str()));
            let kind = if converted.is_empty() {
                "Map".to_owned()
            } else {
                format!(
                    "Map<{},{}>",
                    keys.trim_matches(['<', '>']),
                    vals.trim_matches(['<', '>'])
                )
            };
            (
                Value::Map(
                    converted
                        .into_iter()
                        .map(|((k, _), (v, _))| (k, v))
                        .collect(),
                ),
                kind,
            )
        }
        ScVal::ContractInstance(_) => (
            Value::Str("ContractInstance".into()),
            "ContractInstance".into(),
        ),
        ScVal::LedgerKeyContractInstance => (Value::Void, "LedgerKeyContractInstance".into()),
        ScVal::ExecutableTag(t) => (Value::Str(format!("{t:?}")), "ExecutableTag".into()),
        ScVal::LedgerKeyNonce(n) => (
            Value::Num(Num::from_i128(n.nonce.into())),
            "LedgerKeyNonce".into(),
        ),
    }
}

/// `Vec<T>` when every element has kind `T`, else the bare name.
fn container_kind<'a>(name: &str, kinds: impl Iterator<Item = &'a str>) -> String {
    let mut kinds = kinds.peekable();
    let Some(first) = kinds.peek().copied() else {
        return name.to_owned();
    };
    if kinds.all(|k| k == first) {
        format!("{name}<{first}>")
    } else {
        name.to_owned()
    }
}

/// A contract call made by a transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct Invocation {
    /// Contract strkey (`C...`).
    pub contract: String,
    pub function: String,
    pub args: Vec<(Value, String)>,
}

impl Invocation {
    /// `name(Kind,Kind,...)` from the decoded argument kinds.
    pub fn signature(&self) -> String {
        let kinds: Vec<&str> = self.args.iter().map(|(_, k)| k.as_str()).collect();
        format!("{}({})", self.function, kinds.join(","))
    }
}

/// What a transaction envelope says, in the terms monitors use.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct DecodedEnvelope {
    /// Source account (`G...`), of the inner transaction for fee bumps.
    pub source: String,
    pub invocations: Vec<Invocation>,
    /// The first payment's destination and amount (stroops), if any.
    pub payment: Option<(String, i64)>,
}

fn account(m: &MuxedAccount) -> String {
    match m {
        MuxedAccount::Ed25519(k) => stellar_strkey::ed25519::PublicKey(k.0)
            .to_string()
            .as_str()
            .to_owned(),
        MuxedAccount::MuxedEd25519(mx) => stellar_strkey::ed25519::PublicKey(mx.ed25519.0)
            .to_string()
            .as_str()
            .to_owned(),
    }
}

pub fn decode_envelope(envelope: &TransactionEnvelope) -> DecodedEnvelope {
    let (source, operations): (String, &[Operation]) = match envelope {
        TransactionEnvelope::TxV0(e) => (
            stellar_strkey::ed25519::PublicKey(e.tx.source_account_ed25519.0)
                .to_string()
                .as_str()
                .to_owned(),
            &e.tx.operations,
        ),
        TransactionEnvelope::Tx(e) => (account(&e.tx.source_account), &e.tx.operations),
        TransactionEnvelope::TxFeeBump(e) => match &e.tx.inner_tx {
            FeeBumpTransactionInnerTx::Tx(inner) => {
                (account(&inner.tx.source_account), &inner.tx.operations)
            }
        },
    };
    let mut decoded = DecodedEnvelope {
        source,
        ..Default::default()
    };
    for op in operations {
        match &op.body {
            OperationBody::InvokeHostFunction(invoke) => {
                if let HostFunction::InvokeContract(call) = &invoke.host_function {
                    decoded.invocations.push(Invocation {
                        contract: call.contract_address.to_string(),
                        function: call.function_name.0.to_utf8_string_lossy(),
                        args: call.args.iter().map(scval).collect(),
                    });
                }
            }
            OperationBody::Payment(p) if decoded.payment.is_none() => {
                decoded.payment = Some((account(&p.destination), p.amount));
            }
            _ => {}
        }
    }
    decoded
}

/// A contract event decoded: its name (the first topic, a symbol or string) and its
/// parameters (the other topics, indexed, then the data: each element of a vec, or
/// the value itself).
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedEvent {
    pub name: String,
    pub params: Vec<Param>,
}

impl DecodedEvent {
    pub fn signature(&self) -> String {
        let kinds: Vec<&str> = self.params.iter().map(|p| p.kind.as_str()).collect();
        format!("{}({})", self.name, kinds.join(","))
    }
}

pub fn decode_event(topics: &[String], data: &str) -> Result<DecodedEvent, XdrError> {
    let mut topics = topics.iter().map(|t| scval_from_base64(t));
    let name = match topics.next().transpose()? {
        Some(ScVal::Symbol(s)) => s.0.to_utf8_string_lossy(),
        Some(ScVal::String(s)) => s.0.to_utf8_string_lossy(),
        Some(other) => scval(&other).0.render(),
        None => String::new(),
    };
    let mut params = Vec::new();
    for topic in topics {
        let (value, kind) = scval(&topic?);
        params.push(Param {
            name: params.len().to_string(),
            kind,
            value,
            indexed: true,
        });
    }
    let data = scval_from_base64(data)?;
    let data_values: Vec<(Value, String)> = match &data {
        ScVal::Vec(Some(items)) => items.0.iter().map(scval).collect(),
        other => vec![scval(other)],
    };
    for (value, kind) in data_values {
        params.push(Param {
            name: params.len().to_string(),
            kind,
            value,
            indexed: false,
        });
    }
    Ok(DecodedEvent { name, params })
}

#[cfg(test)]
mod tests {
    use super::*;
    use stellar_xdr::{
        Int128Parts, Int256Parts, ScMap, ScMapEntry, ScSymbol, ScVec, StringM, UInt128Parts,
        WriteXdr,
    };

    fn sym(s: &str) -> ScVal {
        ScVal::Symbol(ScSymbol(StringM::try_from(s).unwrap()))
    }

    #[test]
    fn numbers_of_every_width() {
        let cases = [
            (ScVal::U32(7), "7", "U32"),
            (ScVal::I32(-7), "-7", "I32"),
            (
                ScVal::I128(Int128Parts {
                    hi: -1,
                    lo: u64::MAX - 4,
                }),
                "-5",
                "I128",
            ),
            (
                ScVal::U128(UInt128Parts { hi: 1, lo: 0 }),
                "18446744073709551616",
                "U128",
            ),
            (
                ScVal::I256(Int256Parts {
                    hi_hi: -1,
                    hi_lo: u64::MAX,
                    lo_hi: u64::MAX,
                    lo_lo: u64::MAX,
                }),
                "-1",
                "I256",
            ),
        ];
        for (v, rendered, kind) in cases {
            let (value, k) = scval(&v);
            assert_eq!((value.render().as_str(), k.as_str()), (rendered, kind));
        }
    }

    #[test]
    fn containers_get_element_kinds() {
        let map = ScVal::Map(Some(ScMap(
            vec![ScMapEntry {
                key: sym("a"),
                val: ScVal::U32(1),
            }]
            .try_into()
            .unwrap(),
        )));
        assert_eq!(scval(&map).1, "Map<Symbol,U32>");
        let mixed = ScVal::Vec(Some(ScVec(
            vec![ScVal::U32(1), ScVal::Bool(true)].try_into().unwrap(),
        )));
        assert_eq!(scval(&mixed).1, "Vec");
        assert_eq!(
            scval(&ScVal::Vec(Some(ScVec(vec![].try_into().unwrap())))).1,
            "Vec"
        );
    }

    #[test]
    fn fee_bump_envelopes_decode_to_the_inner_transaction() {
        use stellar_xdr::{
            ContractId, FeeBumpTransaction, FeeBumpTransactionEnvelope, FeeBumpTransactionExt,
            Hash, InvokeContractArgs, InvokeHostFunctionOp, Memo, Preconditions, ScAddress,
            SequenceNumber, Transaction, TransactionExt, TransactionV1Envelope, Uint256,
        };
        let inner_source = [7u8; 32];
        let fee_source = [9u8; 32];
        let contract = [3u8; 32];
        let call = InvokeContractArgs {
            contract_address: ScAddress::Contract(ContractId(Hash(contract))),
            function_name: ScSymbol(StringM::try_from("transfer").unwrap()),
            args: vec![ScVal::U32(5)].try_into().unwrap(),
        };
        let op = Operation {
            source_account: None,
            body: OperationBody::InvokeHostFunction(InvokeHostFunctionOp {
                host_function: HostFunction::InvokeContract(call),
                auth: vec![].try_into().unwrap(),
            }),
        };
        let inner = TransactionV1Envelope {
            tx: Transaction {
                source_account: MuxedAccount::Ed25519(Uint256(inner_source)),
                fee: 100,
                seq_num: SequenceNumber(1),
                cond: Preconditions::None,
                memo: Memo::None,
                operations: vec![op].try_into().unwrap(),
                ext: TransactionExt::V0,
            },
            signatures: vec![].try_into().unwrap(),
        };
        let envelope = TransactionEnvelope::TxFeeBump(FeeBumpTransactionEnvelope {
            tx: FeeBumpTransaction {
                fee_source: MuxedAccount::Ed25519(Uint256(fee_source)),
                fee: 400,
                inner_tx: FeeBumpTransactionInnerTx::Tx(inner),
                ext: FeeBumpTransactionExt::V0,
            },
            signatures: vec![].try_into().unwrap(),
        });
        // Through base64, as RPC delivers it.
        let b64 = envelope.to_xdr_base64(Limits::none()).unwrap();
        let decoded = decode_envelope(&envelope_from_base64(&b64).unwrap());
        assert_eq!(
            decoded.source,
            stellar_strkey::ed25519::PublicKey(inner_source)
                .to_string()
                .as_str()
        );
        assert_eq!(decoded.invocations.len(), 1);
        assert_eq!(
            decoded.invocations[0].contract,
            stellar_strkey::Contract(contract).to_string().as_str()
        );
        assert_eq!(decoded.invocations[0].signature(), "transfer(U32)");
    }

    #[test]
    fn malformed_xdr_is_an_error() {
        assert!(scval_from_base64("not base64!").is_err());
        assert!(scval_from_base64("AAAA").is_err());
        assert!(envelope_from_base64("AAAAAgAAAA==").is_err());
        let ok = sym("transfer").to_xdr_base64(Limits::none()).unwrap();
        let e = decode_event(&[ok], &ScVal::U32(1).to_xdr_base64(Limits::none()).unwrap()).unwrap();
        assert_eq!(e.signature(), "transfer(U32)");
        assert!(decode_event(&[], "AAAA").is_err());
    }
}
