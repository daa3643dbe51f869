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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn beat(worker: &str, lag: &[(&str, u64)]) -> Heartbeat {
        Heartbeat {
            worker: worker.into(),
            hostname: "h".into(),
            started_at: chrono::Utc::now(),
            at: chrono::Utc::now(),
            draining: false,
            epoch: 1,
            tenants: 1,
            lag: lag
                .iter()
                .map(|(n, l)| (n.to_string(), *l))
                .collect::<BTreeMap<_, _>>(),
            errors: 0,
            blocks_processed: 0,
        }
    }

    #[test]
    fn only_workers_past_the_limit_are_lagging() {
        let h = FleetHealth::new(10);
        h.report(&beat("a", &[("eth", 10), ("xlm", 3)]));
        h.report(&beat("b", &[("eth", 11)]));
        assert_eq!(h.lagging(), vec![("b".into(), "eth".into(), 11)]);
        h.report(&beat("b", &[("eth", 0)]));
        assert!(h.lagging().is_empty());
        h.report(&beat("c", &[("eth", 500)]));
        h.remove("c");
        assert!(h.lagging().is_empty());
        assert_eq!(h.snapshot().len(), 2);
    }
}
