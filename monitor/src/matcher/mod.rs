//! The multi-tenant matcher: every tenant's monitors on one network, indexed so that a
//! block costs work in proportion to its transactions, logs and actual hits, not to the
//! number of monitors.
//!
//! Monitors are compiled once per config version ([`crate::evm::EvmMonitor`],
//! [`crate::stellar::StellarMonitor`]) and indexed by watched address, then by function
//! selector / event topic0 per address (Stellar: by contract). Each call or log is decoded
//! once per distinct ABI item however many monitors watch it; each monitor's compiled
//! expression then runs on the decoded values, and the monitor's own rule table decides
//! (the very code monitor-by-monitor evaluation uses, so both agree). Adding, changing or
//! removing a monitor touches only that monitor's entries.

pub mod evm;
pub mod plan;
pub mod stellar;

pub use evm::EvmMatcher;
pub use stellar::StellarMatcher;

use std::collections::BTreeMap;

use crate::matches::MonitorMatch;

/// Identifies a monitor across the fleet.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MonitorKey {
    pub tenant: String,
    pub monitor: String,
}

impl MonitorKey {
    pub fn new(tenant: impl Into<String>, monitor: impl Into<String>) -> Self {
        Self {
            tenant: tenant.into(),
            monitor: monitor.into(),
        }
    }
}

/// One match, with what the alert writer needs beside the OZ-shaped match.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyedMatch {
    pub key: MonitorKey,
    /// The monitor's config version that produced the match.
    pub version: u64,
    /// Position of the transaction in the block.
    pub transaction_index: usize,
    /// Log index (EVM) / event position (Stellar) of the first matched event, if any.
    pub event_index: Option<u64>,
    pub matched: MonitorMatch,
}

/// A block's matches, grouped by tenant (sorted), each tenant's in transaction order,
/// then monitor order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BlockMatches {
    pub by_tenant: BTreeMap<String, Vec<KeyedMatch>>,
}

impl BlockMatches {
    pub fn len(&self) -> usize {
        self.by_tenant.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_tenant.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &KeyedMatch> {
        self.by_tenant.values().flatten()
    }

    /// Adds one transaction's matches, sorted by monitor for a stable order.
    pub(crate) fn push_transaction(&mut self, mut matches: Vec<KeyedMatch>) {
        matches.sort_by(|a, b| a.key.cmp(&b.key));
        for m in matches {
            self.by_tenant
                .entry(m.key.tenant.clone())
                .or_default()
                .push(m);
        }
    }
}

#[cfg(test)]
mod tests;
