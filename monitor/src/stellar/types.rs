//! Stellar data as Stellar RPC returns it (`getLedgers`, `getTransactions`, `getEvents`
//! entries): the fields the engine reads are typed, the rest kept verbatim.

use serde::{Deserialize, Serialize};

pub type Extra = serde_json::Map<String, serde_json::Value>;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StellarLedger {
    pub hash: String,
    pub sequence: u32,
    #[serde(flatten)]
    pub other: Extra,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StellarTransaction {
    /// `SUCCESS`, `FAILED` (or `NOT_FOUND` from `getTransaction`).
    pub status: String,
    pub tx_hash: String,
    pub ledger: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_order: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_bump: Option<bool>,
    /// Base64 `TransactionEnvelope` XDR.
    pub envelope_xdr: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_xdr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_meta_xdr: Option<String>,
    #[serde(flatten)]
    pub other: Extra,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StellarEvent {
    /// `contract`, `system` or `diagnostic`.
    #[serde(rename = "type")]
    pub kind: String,
    pub ledger: u32,
    pub contract_id: String,
    pub id: String,
    pub tx_hash: String,
    /// Base64 `ScVal` XDR, one per topic.
    pub topic: Vec<String>,
    /// Base64 `ScVal` XDR.
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_successful_contract_call: Option<bool>,
    #[serde(flatten)]
    pub other: Extra,
}

/// A ledger with its transactions and contract events: what a watcher publishes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StellarBlockData {
    pub ledger: StellarLedger,
    pub transactions: Vec<StellarTransaction>,
    pub events: Vec<StellarEvent>,
}
