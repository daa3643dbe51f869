//! One network as a worker sees it: the matcher over every held tenant's monitors on it,
//! and each tenant's cursor (the last stream message fully processed for it).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bus::blocks::ChainBlock;
use monitor::config::NetworkType;
use monitor::matcher::{BlockMatches, EvmMatcher, MonitorKey, StellarMatcher};
use uuid::Uuid;

use super::alerts::Cursor;
use super::config::{LoadedMonitor, NetworkRef};

enum Matcher {
    Evm(Box<EvmMatcher>),
    Stellar(StellarMatcher),
}

/// What the alert writer needs of a placed monitor.
#[derive(Clone, Debug)]
pub struct Placed {
    pub tenant: Uuid,
    pub monitor: Uuid,
    pub triggers: Vec<Uuid>,
    pub conditions: std::sync::Arc<Vec<crate::scripts::Compiled>>,
    pub severity: String,
}

pub struct NetworkState {
    pub key: String,
    matcher: Matcher,
    placed: HashMap<MonitorKey, Placed>,
    /// Tenants with at least one monitor here, and where each stands.
    pub cursors: BTreeMap<Uuid, Cursor>,
    /// Cursors advanced since the last flush.
    pub dirty: BTreeSet<Uuid>,
}

#[derive(Debug, thiserror::Error)]
#[error("a {got} block on a {expected} network")]
pub struct WrongChain {
    got: &'static str,
    expected: &'static str,
}

impl NetworkState {
    pub fn new(key: &str, kind: NetworkType) -> Self {
        Self {
            key: key.to_owned(),
            matcher: match kind {
                NetworkType::Evm => Matcher::Evm(Box::new(EvmMatcher::new())),
                NetworkType::Stellar => Matcher::Stellar(StellarMatcher::new()),
            },
            placed: HashMap::new(),
            cursors: BTreeMap::new(),
            dirty: BTreeSet::new(),
        }
    }

    /// Where reading resumes: the least advanced tenant.
    pub fn position(&self) -> Option<u64> {
        self.cursors.values().map(|c| c.seq).min()
    }

    /// Makes the tenant's monitors here exactly `wanted` (monitor, the tenant's ref for
    /// this network). Unchanged versions are left alone; a monitor that does not compile
    /// is logged and left out (its older version, if any, stays).
    pub fn sync_tenant(&mut self, tenant: Uuid, wanted: &[(&LoadedMonitor, &NetworkRef)]) {
        let tenant_text = tenant.to_string();
        let keep: BTreeSet<MonitorKey> = wanted
            .iter()
            .map(|(m, _)| MonitorKey::new(tenant_text.clone(), m.id.to_string()))
            .collect();
        let stale: Vec<MonitorKey> = self
            .placed
            .iter()
            .filter(|(k, p)| p.tenant == tenant && !keep.contains(*k))
            .map(|(k, _)| k.clone())
            .collect();
        for k in stale {
            self.remove_monitor(&k);
        }
        for (m, net) in wanted {
            let key = MonitorKey::new(tenant_text.clone(), m.id.to_string());
            let result = match &mut self.matcher {
                Matcher::Evm(x) => x.upsert(key.clone(), m.version, m.monitor.clone(), &net.slug),
                Matcher::Stellar(x) => {
                    x.upsert(key.clone(), m.version, m.monitor.clone(), &net.slug)
                }
            };
            match result {
                Ok(()) => {
                    self.placed.insert(
                        key,
                        Placed {
                            tenant,
                            monitor: m.id,
                            triggers: m.triggers.clone(),
                            conditions: m.conditions.clone(),
                            severity: m.severity.clone(),
                        },
                    );
                }
                Err(problems) => {
                    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
                    tracing::warn!(
                        network = %self.key, %tenant, monitor = %m.id,
                        problems = %text.join("; "), "monitor does not compile here; skipped"
                    );
                    metrics::counter!("stellar_monitor_worker_config_errors_total").increment(1);
                }
            }
        }
    }

    fn remove_monitor(&mut self, key: &MonitorKey) {
        match &mut self.matcher {
            Matcher::Evm(x) => x.remove(key),
            Matcher::Stellar(x) => x.remove(key),
        };
        self.placed.remove(key);
    }

    /// Drops a tenant entirely; returns its cursor if it moved since the last flush.
    pub fn remove_tenant(&mut self, tenant: Uuid) -> Option<Cursor> {
        self.sync_tenant(tenant, &[]);
        let cursor = self.cursors.remove(&tenant);
        if self.dirty.remove(&tenant) {
            cursor
        } else {
            None
        }
    }

    pub fn placed(&self, key: &MonitorKey) -> Option<&Placed> {
        self.placed.get(key)
    }

    /// Every held monitor's matches in `block`.
    pub fn evaluate(&self, block: &ChainBlock) -> Result<BlockMatches, WrongChain> {
        match (&self.matcher, block) {
            (Matcher::Evm(m), ChainBlock::Evm(b)) => Ok(m.evaluate(b)),
            (Matcher::Stellar(m), ChainBlock::Stellar(b)) => Ok(m.evaluate(b)),
            (Matcher::Evm(_), ChainBlock::Stellar(_)) => Err(WrongChain {
                got: "Stellar",
                expected: "EVM",
            }),
            (Matcher::Stellar(_), ChainBlock::Evm(_)) => Err(WrongChain {
                got: "EVM",
                expected: "Stellar",
            }),
        }
    }

    /// Tenants not yet past stream position `seq`.
    pub fn due(&self, seq: u64) -> Vec<Uuid> {
        self.cursors
            .iter()
            .filter(|(_, c)| c.seq < seq)
            .map(|(t, _)| *t)
            .collect()
    }

    /// Moves `tenants` past position `seq` (block `number`/`hash`).
    pub fn advance(&mut self, tenants: &[Uuid], seq: u64, number: u64, hash: &str) {
        for t in tenants {
            if let Some(c) = self.cursors.get_mut(t) {
                *c = Cursor {
                    seq,
                    block_number: number,
                    block_hash: hash.to_owned(),
                };
                self.dirty.insert(*t);
            }
        }
    }

    /// The dirty cursors, clearing the dirty set.
    pub fn take_dirty(&mut self) -> Vec<(Uuid, Cursor)> {
        let dirty = std::mem::take(&mut self.dirty);
        dirty
            .into_iter()
            .filter_map(|t| self.cursors.get(&t).map(|c| (t, c.clone())))
            .collect()
    }
}
