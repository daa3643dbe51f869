//! Dry runs: evaluate one monitor over a block range of a network, fetching the blocks
//! from the network's RPC, sending nothing (OZ's `--monitor-path --network --block`, over
//! a range).

use std::sync::Arc;

use crate::config::{Monitor, Network, NetworkType};
use crate::evm::EvmMonitor;
use crate::matches::MonitorMatch;
use crate::rpc::evm::EvmClient;
use crate::rpc::stellar::StellarClient;
use crate::rpc::{Endpoint, TransportOptions};
use crate::stellar::StellarMonitor;

/// Most blocks one dry run may span.
pub const MAX_RANGE: u64 = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum DryRunError {
    #[error("the block range is empty or reversed ({from}..={to})")]
    EmptyRange { from: u64, to: u64 },
    #[error("a dry run covers at most {MAX_RANGE} blocks")]
    TooLong,
    #[error("the monitor does not compile for this network: {0}")]
    Invalid(String),
    #[error("unsupported network type {0:?}")]
    Unsupported(String),
    #[error("RPC: {0}")]
    Rpc(#[from] crate::rpc::RpcError),
}

fn endpoints(network: &Network) -> Vec<Endpoint> {
    network
        .rpc_urls
        .iter()
        .filter_map(|u| {
            u.url.plain().map(|url| Endpoint {
                url: url.to_owned(),
                weight: u.weight,
            })
        })
        .collect()
}

/// What `monitor` would have matched in blocks `from..=to` of `network`.
pub async fn run(
    monitor: &Monitor,
    network: &Network,
    from: u64,
    to: u64,
) -> Result<Vec<MonitorMatch>, DryRunError> {
    if to < from {
        return Err(DryRunError::EmptyRange { from, to });
    }
    if to - from + 1 > MAX_RANGE {
        return Err(DryRunError::TooLong);
    }
    let shared = Arc::new(Monitor {
        paused: false,
        ..monitor.clone()
    });
    let problems = |p: Vec<crate::config::Problem>| {
        DryRunError::Invalid(
            p.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )
    };
    let mut matches = Vec::new();
    match network.kind() {
        Some(NetworkType::Evm) => {
            let compiled = EvmMonitor::compile(shared).map_err(problems)?;
            let client = EvmClient::new(
                endpoints(network),
                TransportOptions::default(),
                &network.slug,
            )?;
            for n in from..=to {
                matches.extend(compiled.evaluate(&client.block(n).await?, &network.slug));
            }
        }
        Some(NetworkType::Stellar) => {
            let compiled = StellarMonitor::compile(shared).map_err(problems)?;
            let client = StellarClient::new(
                endpoints(network),
                TransportOptions::default(),
                &network.slug,
            )?;
            for n in from..=to {
                let ledger = u32::try_from(n).map_err(|_| DryRunError::EmptyRange { from, to })?;
                matches.extend(compiled.evaluate(&client.block(ledger).await?, &network.slug));
            }
        }
        None => return Err(DryRunError::Unsupported(network.network_type.clone())),
    }
    Ok(matches)
}
