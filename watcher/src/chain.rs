//! One interface over the chains a watcher polls.

use std::time::Duration;

use bus::blocks::ChainBlock;
use monitor::config::{Network, NetworkType};
use monitor::rpc::evm::EvmClient;
use monitor::rpc::stellar::StellarClient;
use monitor::rpc::{Endpoint, RpcError, TransportOptions};

/// A fetched block and its identity.
pub struct Fetched {
    pub number: u64,
    pub hash: String,
    pub parent_hash: String,
    pub block: ChainBlock,
}

pub enum Chain {
    Evm(EvmClient),
    Stellar(StellarClient),
}

impl Chain {
    /// Clients for the network's endpoints (secrets already opened).
    pub fn connect(network: &Network, label: &str) -> Result<Self, RpcError> {
        let endpoints: Vec<Endpoint> = network
            .rpc_urls
            .iter()
            .filter_map(|u| {
                u.url.plain().map(|url| Endpoint {
                    url: url.to_owned(),
                    weight: u.weight,
                })
            })
            .collect();
        let options = TransportOptions {
            timeout: Duration::from_secs(10),
            ..Default::default()
        };
        match network.kind() {
            Some(NetworkType::Stellar) => Ok(Chain::Stellar(StellarClient::new(
                endpoints, options, label,
            )?)),
            _ => Ok(Chain::Evm(EvmClient::new(endpoints, options, label)?)),
        }
    }

    /// The newest block (ledger) number.
    pub async fn head(&self) -> Result<u64, RpcError> {
        match self {
            Chain::Evm(c) => c.block_number().await,
            Chain::Stellar(c) => Ok(c.latest_ledger().await?.sequence.into()),
        }
    }

    pub async fn fetch(&self, number: u64) -> Result<Fetched, RpcError> {
        match self {
            Chain::Evm(c) => {
                let data = c.block(number).await?;
                Ok(Fetched {
                    number,
                    hash: format!("{:#x}", data.block.hash),
                    parent_hash: format!("{:#x}", data.block.parent_hash),
                    block: ChainBlock::Evm(data),
                })
            }
            Chain::Stellar(c) => {
                let sequence = u32::try_from(number).map_err(|_| RpcError::Malformed {
                    method: "getLedgers".into(),
                    reason: format!("ledger {number} out of range"),
                })?;
                let data = c.block(sequence).await?;
                Ok(Fetched {
                    number,
                    hash: data.ledger.hash.clone(),
                    parent_hash: String::new(),
                    block: ChainBlock::Stellar(data),
                })
            }
        }
    }

    /// The canonical hash at `number` now.
    pub async fn hash_of(&self, number: u64) -> Result<String, RpcError> {
        match self {
            Chain::Evm(c) => Ok(format!("{:#x}", c.header(number).await?.hash)),
            Chain::Stellar(c) => Ok(c.ledger(number as u32).await?.hash),
        }
    }

    /// Whether blocks name their parent (EVM), so reorganisations can be seen.
    /// Stellar ledgers are final once closed.
    pub fn links_parents(&self) -> bool {
        matches!(self, Chain::Evm(_))
    }

    /// RPC endpoint rotations so far.
    pub fn rotations(&self) -> u64 {
        match self {
            Chain::Evm(c) => c.transport().rotations(),
            Chain::Stellar(c) => c.transport().rotations(),
        }
    }
}
