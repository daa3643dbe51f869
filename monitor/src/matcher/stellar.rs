//! The Stellar index (by account and contract) and its per-ledger evaluation: each
//! transaction's envelope and events are decoded once for every monitor.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::{BlockMatches, KeyedMatch, MonitorKey};
use crate::config::{Monitor, Problem};
use crate::stellar::monitor::DecodedTransaction;
use crate::stellar::{StellarBlockData, StellarEvent, StellarMonitor};

type SlotId = u32;

#[derive(Debug)]
struct Slot {
    key: MonitorKey,
    version: u64,
    network_slug: String,
    monitor: StellarMonitor,
}

/// Every tenant's monitors on one Stellar network.
#[derive(Debug, Default)]
pub struct StellarMatcher {
    slots: Vec<Option<Slot>>,
    free: Vec<SlotId>,
    by_key: HashMap<MonitorKey, SlotId>,
    by_address: HashMap<String, Vec<SlotId>>,
    global: Vec<SlotId>,
}

impl StellarMatcher {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    pub fn version(&self, key: &MonitorKey) -> Option<u64> {
        self.by_key
            .get(key)
            .and_then(|s| self.slots[*s as usize].as_ref())
            .map(|s| s.version)
    }

    /// Adds or replaces a monitor (see [`super::EvmMatcher::upsert`]).
    pub fn upsert(
        &mut self,
        key: MonitorKey,
        version: u64,
        monitor: Arc<Monitor>,
        network_slug: &str,
    ) -> Result<(), Vec<Problem>> {
        if self.version(&key) == Some(version) {
            return Ok(());
        }
        if monitor.paused {
            self.remove(&key);
            return Ok(());
        }
        let compiled = StellarMonitor::compile(monitor)?;
        self.remove(&key);
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as SlotId
            }
        };
        if compiled.addresses.is_empty() {
            self.global.push(slot);
        }
        for address in &compiled.addresses {
            self.by_address
                .entry(address.clone())
                .or_default()
                .push(slot);
        }
        self.slots[slot as usize] = Some(Slot {
            key: key.clone(),
            version,
            network_slug: network_slug.to_owned(),
            monitor: compiled,
        });
        self.by_key.insert(key, slot);
        Ok(())
    }

    pub fn remove(&mut self, key: &MonitorKey) -> bool {
        let Some(slot) = self.by_key.remove(key) else {
            return false;
        };
        let Some(held) = self.slots[slot as usize].take() else {
            return false;
        };
        self.global.retain(|s| *s != slot);
        for address in &held.monitor.addresses {
            if let Some(slots) = self.by_address.get_mut(address) {
                slots.retain(|s| *s != slot);
                if slots.is_empty() {
                    self.by_address.remove(address);
                }
            }
        }
        self.free.push(slot);
        true
    }

    pub fn evaluate(&self, block: &StellarBlockData) -> BlockMatches {
        let mut events_by_tx: HashMap<&str, Vec<&StellarEvent>> = HashMap::new();
        for e in &block.events {
            events_by_tx.entry(e.tx_hash.as_str()).or_default().push(e);
        }
        let mut out = BlockMatches::default();
        for (t, tx) in block.transactions.iter().enumerate() {
            let events = events_by_tx
                .get(tx.tx_hash.as_str())
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let Some(decoded) = DecodedTransaction::new(tx, events) else {
                continue;
            };
            let mut candidates: Vec<SlotId> = self.global.clone();
            let mut seen: HashSet<SlotId> = candidates.iter().copied().collect();
            for address in decoded.addresses() {
                for slot in self.by_address.get(address).into_iter().flatten() {
                    if seen.insert(*slot) {
                        candidates.push(*slot);
                    }
                }
            }
            let mut found = Vec::new();
            for slot in candidates {
                let held = self.slots[slot as usize]
                    .as_ref()
                    .expect("indexed slots are live");
                if let Some(matched) =
                    held.monitor
                        .evaluate_decoded(block, &decoded, &held.network_slug)
                {
                    let event_index = first_matched_event(&matched, &decoded);
                    found.push(KeyedMatch {
                        key: held.key.clone(),
                        version: held.version,
                        transaction_index: t,
                        event_index,
                        matched,
                    });
                }
            }
            out.push_transaction(found);
        }
        out
    }
}

/// Position, among the transaction's events, of the first event that matched.
fn first_matched_event(
    matched: &crate::matches::MonitorMatch,
    decoded: &DecodedTransaction<'_>,
) -> Option<u64> {
    let args = matched.matched_on_args()?.events.as_ref()?.first()?;
    decoded
        .events
        .iter()
        .position(|(_, d)| {
            d.as_ref()
                .is_some_and(|(e, _)| e.signature() == args.signature)
        })
        .map(|p| p as u64)
}
