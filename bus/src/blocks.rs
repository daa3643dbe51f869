//! What block streams carry: one message per published block, or per block a reorg
//! orphaned, in publication order.

use monitor::evm::EvmBlockData;
use monitor::stellar::StellarBlockData;
use serde::{Deserialize, Serialize};

/// A block of any chain we watch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ChainBlock {
    Evm(EvmBlockData),
    Stellar(StellarBlockData),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// A block of the canonical chain, confirmed.
    Block,
    /// A block published earlier that a reorganisation removed from the chain.
    Orphaned,
}

/// One stream message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockMessage {
    pub kind: MessageKind,
    /// The network's stream key.
    pub network: String,
    pub number: u64,
    pub hash: String,
    pub parent_hash: String,
    /// The watcher that published it.
    pub publisher: String,
    /// The block itself (absent for orphan notices).
    pub block: Option<ChainBlock>,
    /// When it was published (Unix milliseconds), for block-to-alert latency.
    #[serde(default)]
    pub published_at_ms: Option<i64>,
}

impl BlockMessage {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("block messages serialize")
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}
