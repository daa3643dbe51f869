//! EVM chain data as JSON-RPC returns it (`eth_getBlockByNumber(full)`,
//! `eth_getBlockReceipts`, `eth_getLogs`): the fields the engine reads are typed (so a
//! malformed response is a clear error at the edge), everything else is kept verbatim
//! so matches carry the transaction exactly as the node gave it.

use alloy_primitives::{Address, B256, Bytes, U64, U256};
use serde::{Deserialize, Serialize};

pub type Extra = serde_json::Map<String, serde_json::Value>;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvmBlock {
    pub number: U64,
    pub hash: B256,
    pub parent_hash: B256,
    pub timestamp: U64,
    pub transactions: Vec<EvmTransaction>,
    #[serde(flatten)]
    pub other: Extra,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvmTransaction {
    pub hash: B256,
    pub nonce: U256,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_hash: Option<B256>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_number: Option<U64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_index: Option<U64>,
    pub from: Address,
    /// `None` for contract creation.
    #[serde(default)]
    pub to: Option<Address>,
    pub value: U256,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gas_price: Option<U256>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_fee_per_gas: Option<U256>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_priority_fee_per_gas: Option<U256>,
    /// The gas limit.
    pub gas: U256,
    pub input: Bytes,
    #[serde(flatten)]
    pub other: Extra,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvmReceipt {
    pub transaction_hash: B256,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_index: Option<U64>,
    /// `0x1` success, `0x0` failure; absent on pre-Byzantium receipts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<U64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gas_used: Option<U256>,
    pub logs: Vec<EvmLog>,
    #[serde(flatten)]
    pub other: Extra,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvmLog {
    pub address: Address,
    pub topics: Vec<B256>,
    pub data: Bytes,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_index: Option<U64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_hash: Option<B256>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_index: Option<U64>,
    #[serde(flatten)]
    pub other: Extra,
}

/// Outcome of a transaction, from its own receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxStatus {
    Success,
    Failure,
    /// No receipt (or no status in it): only `Any` conditions apply.
    Unknown,
}

impl EvmReceipt {
    pub fn status(&self) -> TxStatus {
        match self.status {
            Some(s) if s == U64::from(1) => TxStatus::Success,
            Some(_) => TxStatus::Failure,
            None => TxStatus::Unknown,
        }
    }
}

/// A block with a receipt per transaction: what a watcher publishes and the matcher
/// reads. Receipts are matched to transactions by hash, so partial receipt sets work.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvmBlockData {
    pub block: EvmBlock,
    pub receipts: Vec<EvmReceipt>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_fields_are_clear_errors() {
        let err =
            serde_json::from_str::<EvmLog>(r#"{"address": "0x12", "topics": [], "data": "0x"}"#)
                .unwrap_err()
                .to_string();
        assert!(err.contains("invalid"), "{err}");
        let err = serde_json::from_str::<EvmReceipt>(r#"{"transactionHash": null, "logs": []}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid type: null"), "{err}");
        let log: EvmLog = serde_json::from_str(
            r#"{"address": "0x0000000000000000000000000000000000000001", "topics": [], "data": "0x", "removed": false}"#,
        )
        .unwrap();
        assert_eq!(log.other["removed"], false, "unknown fields are kept");
    }
}
