//! The EVM client: what a watcher needs per block — the block with its transactions and
//! every transaction's receipt (status, gas used, logs) — in one batched request where
//! the node supports `eth_getBlockReceipts`, one batch of `eth_getTransactionReceipt`
//! otherwise.

use std::sync::atomic::{AtomicBool, Ordering};

use alloy_primitives::{B256, U64};
use serde::Deserialize;
use serde_json::{Value, json};

use super::transport::{Endpoint, RpcError, Transport, TransportOptions, decode};
use crate::evm::{EvmBlock, EvmBlockData, EvmReceipt};

pub struct EvmClient {
    transport: Transport,
    /// Cleared when the node answers that `eth_getBlockReceipts` does not exist.
    block_receipts: AtomicBool,
}

impl std::fmt::Debug for EvmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EvmClient")
    }
}

/// The identity of a block, for chain checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockHeader {
    pub number: U64,
    pub hash: B256,
    pub parent_hash: B256,
}

fn hex(n: u64) -> String {
    format!("0x{n:x}")
}

impl EvmClient {
    pub fn new(
        endpoints: Vec<Endpoint>,
        options: TransportOptions,
        network: &str,
    ) -> Result<Self, RpcError> {
        Ok(Self {
            transport: Transport::new(endpoints, options, network)?,
            block_receipts: AtomicBool::new(true),
        })
    }

    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    pub async fn block_number(&self) -> Result<u64, RpcError> {
        let n: U64 = self.transport.call("eth_blockNumber", json!([])).await?;
        Ok(n.to())
    }

    /// The header of block `number` (cheap: no transactions).
    pub async fn header(&self, number: u64) -> Result<BlockHeader, RpcError> {
        self.transport
            .call("eth_getBlockByNumber", json!([hex(number), false]))
            .await
    }

    /// Block `number` with every transaction and its receipt.
    pub async fn block(&self, number: u64) -> Result<EvmBlockData, RpcError> {
        let block_call = ("eth_getBlockByNumber", json!([hex(number), true]));
        if self.block_receipts.load(Ordering::Relaxed) {
            let mut results = self
                .transport
                .batch(&[
                    block_call.clone(),
                    ("eth_getBlockReceipts", json!([hex(number)])),
                ])
                .await?;
            let receipts = results.pop().expect("two results");
            let block = results.pop().expect("two results");
            let block: EvmBlock = decode("eth_getBlockByNumber", block?)?;
            match receipts {
                Ok(r) => {
                    let receipts: Vec<EvmReceipt> = decode("eth_getBlockReceipts", r)?;
                    return checked(block, receipts);
                }
                Err(e) if e.is_unsupported() => {
                    tracing::info!("node lacks eth_getBlockReceipts; fetching receipts one by one");
                    self.block_receipts.store(false, Ordering::Relaxed);
                    let receipts = self.receipts_one_by_one(&block).await?;
                    return checked(block, receipts);
                }
                Err(e) => return Err(e),
            }
        }
        let block: EvmBlock = self.transport.call(block_call.0, block_call.1).await?;
        let receipts = self.receipts_one_by_one(&block).await?;
        checked(block, receipts)
    }

    async fn receipts_one_by_one(&self, block: &EvmBlock) -> Result<Vec<EvmReceipt>, RpcError> {
        if block.transactions.is_empty() {
            return Ok(Vec::new());
        }
        let calls: Vec<(&str, Value)> = block
            .transactions
            .iter()
            .map(|t| {
                (
                    "eth_getTransactionReceipt",
                    json!([format!("{:#x}", t.hash)]),
                )
            })
            .collect();
        self.transport
            .batch(&calls)
            .await?
            .into_iter()
            .map(|r| decode("eth_getTransactionReceipt", r?))
            .collect()
    }
}

/// A block whose receipts are exactly its transactions' (a node answering for another
/// block, or a partial answer, is an error rather than silently missing logs).
fn checked(block: EvmBlock, receipts: Vec<EvmReceipt>) -> Result<EvmBlockData, RpcError> {
    if receipts.len() != block.transactions.len() {
        return Err(RpcError::Malformed {
            method: "eth_getBlockReceipts".into(),
            reason: format!(
                "{} receipts for {} transactions",
                receipts.len(),
                block.transactions.len()
            ),
        });
    }
    for (tx, receipt) in block.transactions.iter().zip(&receipts) {
        if tx.hash != receipt.transaction_hash {
            return Err(RpcError::Malformed {
                method: "eth_getBlockReceipts".into(),
                reason: format!(
                    "receipt {:#x} does not belong to transaction {:#x}",
                    receipt.transaction_hash, tx.hash
                ),
            });
        }
    }
    Ok(EvmBlockData { block, receipts })
}
