//! Health of the workers of this process, for `/readyz`: a worker that falls too far
//! behind on a network makes the process not ready.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::membership::Heartbeat;

/// The latest report of each worker running in this process.
#[derive(Debug)]
pub struct FleetHealth {
    /// Stream messages a worker may be behind before the process is not ready.
    pub max_lag: u64,
    reports: Mutex<BTreeMap<String, Heartbeat>>,
}

impl FleetHealth {
    pub fn new(max_lag: u64) -> Self {
        Self {
            max_lag,
            reports: Mutex::new(BTreeMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Heartbeat>> {
        self.reports.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn report(&self, hb: &Heartbeat) {
        self.lock().insert(hb.worker.clone(), hb.clone());
    }

    pub fn remove(&self, worker: &str) {
        self.lock().remove(worker);
    }

    pub fn snapshot(&self) -> BTreeMap<String, Heartbeat> {
        self.lock().clone()
    }

    /// `(worker, network, lag)` for every network a worker is too far behind on.
    pub fn lagging(&self) -> Vec<(String, String, u64)> {
        self.lock()
            .values()
            .flat_map(|hb| {
                hb.lag
                    .iter()
                    .filter(|(_, lag)| **lag > self.max_lag)
                    .map(|(n, lag)| (hb.worker.clone(), n.clone(), *lag))
            })
            .collect()
    }
}
